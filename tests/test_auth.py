"""Logging in and out, role start pages, and sessions that really end."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from qscore import throttle
from qscore.db import db
from qscore.models import LoginAttempt, User

from .conftest import TEST_PASSWORD


@pytest.mark.parametrize(("username", "role_zh"), [
    ("admin", "街道党工委管理员"),
    ("cs", "社区党组织书记"),
    ("bs", "党支部书记"),
])
def test_each_role_lands_on_its_start_page(client, auth, org, username, role_zh):
    resp = auth.login(username)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert role_zh in page
    assert "幸福街道" in page


def test_scope_of_start_page(client, auth, org):
    auth.login("cs")
    page = client.get("/").get_data(as_text=True)
    assert "前进社区" in page and "第一党支部" in page
    assert "和平社区" not in page and "和平第一支部" not in page
    auth.logout()
    auth.login("bs2")
    page = client.get("/").get_data(as_text=True)
    assert "和平第一支部" in page and "第一党支部" not in page


def test_member_account_sees_only_member_navigation(client, auth, org, app):
    with app.app_context():
        from .conftest import Org  # noqa: F401
        db.session.add(User(username="m1", display_name="张三", password_hash=db.session.get(User, org.admin_id).password_hash,
                            role="member", street_id=org.street_id, community_id=org.community_id, branch_id=org.branch_id))
        db.session.commit()
    auth.login("m1")
    page = client.get("/").get_data(as_text=True)
    assert "尚未关联党员档案" in page
    assert "管理</a>" not in page and "年终评议" not in page


def test_wrong_password_is_refused_with_a_message(client, auth, org):
    resp = auth.login("admin", "wrong-password")
    assert resp.status_code == 422
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_unknown_user_gets_the_same_message(client, auth, org):
    resp = auth.login("nobody", "whatever-password")
    assert resp.status_code == 422
    assert "用户名或密码错误" in resp.get_data(as_text=True)


def test_logins_are_throttled_per_account_and_address_not_per_account(client, auth, org, monkeypatch):
    """More in test_throttle.py: a stranger's failures never lock the owner out."""
    monkeypatch.setattr(throttle, "utcnow", lambda: datetime(2026, 5, 20, 1, 0, 0))  # a fixed clock
    for _ in range(3):
        assert auth.login("admin", "wrong-password").status_code == 422
    resp = auth.login("admin", TEST_PASSWORD)  # a fourth try in the same second waits
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert "密码错误次数过多，请 1 秒后再试。" in resp.get_data(as_text=True)
    other = client.application.test_client()
    resp = other.post("/login", data={"username": "admin", "password": TEST_PASSWORD},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert resp.status_code == 302  # the owner on another machine logs in at once
    assert auth.login("cs").status_code == 302  # other accounts from this address too


def test_session_cookie_is_replaced_at_login(client, auth, org):
    client.get("/login")
    with client.session_transaction() as s:
        s["planted"] = "by an attacker"
    auth.login()
    with client.session_transaction() as s:
        assert "planted" not in s and "sid" in s


def test_logout_refuses_a_replayed_cookie(client, auth, org):
    auth.login()
    with client.session_transaction() as s:
        stolen = dict(s)
    auth.logout()
    with client.session_transaction() as s:
        s.update(stolen)
    assert client.get("/").status_code == 302


def test_password_change_ends_other_sessions(app, org, auth, client):
    other = app.test_client()
    other.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    assert other.get("/").status_code == 200
    auth.login()
    resp = client.post("/password", data={"current": TEST_PASSWORD, "password": "brand-new-pass-1",
                                          "confirm": "brand-new-pass-1"})
    assert resp.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays logged in
    assert other.get("/").status_code == 302  # the other login has ended
    assert auth.login("admin", "brand-new-pass-1").status_code == 302


def test_password_change_validates(client, auth, org):
    auth.login()
    resp = client.post("/password", data={"current": "wrong-one", "password": "brand-new-pass-1",
                                          "confirm": "brand-new-pass-1"})
    assert resp.status_code == 422 and "当前密码不正确" in resp.get_data(as_text=True)
    resp = client.post("/password", data={"current": TEST_PASSWORD, "password": "short", "confirm": "short"})
    assert resp.status_code == 422 and "至少 12 个字符" in resp.get_data(as_text=True)


def test_disabling_an_account_ends_its_sessions(app, client, auth, org):
    auth.login("bs")
    assert client.get("/").status_code == 200
    with app.app_context():
        db.session.get(User, org.branch_secretary_id).active = False
        db.session.commit()
    assert client.get("/").status_code == 302
    assert auth.login("bs").status_code == 422


def test_must_change_password_goes_to_password_page(app, client, auth, org):
    with app.app_context():
        db.session.get(User, org.branch_secretary_id).must_change_password = True
        db.session.commit()
    resp = auth.login("bs")
    assert resp.headers["Location"] == "/password"
    # Nothing else opens until the password is changed.
    assert client.get("/").headers["Location"] == "/password"
    assert client.get("/roster").headers["Location"] == "/password"
    client.post("/password", data={"current": TEST_PASSWORD, "password": "my-own-password",
                                   "confirm": "my-own-password"})
    assert client.get("/").status_code == 200


def test_next_is_followed_within_the_site(client, org):
    """Hostile values: test_redirects.py."""
    resp = client.post("/login?next=/password", data={"username": "admin", "password": TEST_PASSWORD})
    assert resp.headers["Location"] == "/password"
    assert client.post("/login?next=//evil.example/", data={"username": "admin", "password": TEST_PASSWORD}
                       ).headers["Location"] == "/"


def test_anonymous_page_redirects_to_login_with_next(client, org):
    resp = client.get("/password")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=/password")


def test_expired_session_on_htmx_request_gets_401_and_hx_redirect(client, org):
    resp = client.get("/password", headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/password"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"].startswith("/login?next=/password")


def test_login_is_recorded(app, client, auth, org):
    auth.login()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.success)) == 1
