"""Accounts: first-time passwords, roles and scopes, member links, disabling (sessions end at once),
the last administrator, resets and member accounts in bulk."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, User, UserSession

from .conftest import TEST_PASSWORD, make_member

HX = {"HX-Request": "true"}
PASSWORD_RE = re.compile(r'<code class="password">([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>')


@pytest.fixture
def admin(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    return client


def user(app, username) -> User | None:
    with app.app_context():
        u = db.session.scalar(select(User).where(User.username == username))
        if u is not None:
            db.session.expunge(u)
        return u


def audits(app, action):
    with app.app_context():
        return db.session.scalars(select(AuditLog).where(AuditLog.action == action)).all()


def open_sessions(app, user_id) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserSession).where(
            UserSession.user_id == user_id, UserSession.ended_at.is_(None)))


def new_account(admin, **data):
    form = {"username": "wang.bs", "display_name": "王书记", "role": "branch_secretary", "community_id": 0,
            "branch_id": 0, "member_ref": "", **data}
    return admin.post("/admin/accounts/new", data=form)


def test_create_account_shows_a_first_time_password_once(app, admin, org, make_app):
    resp = new_account(admin, branch_id=org.sibling_branch_id)
    assert resp.status_code == 200
    (password,) = PASSWORD_RE.findall(resp.get_data(as_text=True))
    u = user(app, "wang.bs")
    assert (u.role, u.branch_id, u.community_id, u.must_change_password) == (
        "branch_secretary", org.sibling_branch_id, org.community_id, True)
    (row,) = audits(app, "account_created")
    assert password not in str(row.after) and "password" not in str(row.after).replace("must_change_password", "")
    # The holder logs in with it and must choose their own password first.
    other = make_app().test_client()
    resp = other.post("/login", data={"username": "wang.bs", "password": password})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/password")
    # The password is not shown again anywhere.
    assert password not in admin.get("/admin/accounts").get_data(as_text=True)


@pytest.mark.parametrize(("data", "field_message"), [
    ({"username": "A b"}, "3 to 64 letters"),
    ({"username": "bs"}, "at least"),  # too short for the rule (3 characters)
    ({"username": "admin", "branch_id": "BRANCH"}, "This username is taken."),
    ({"role": "community_secretary"}, "Choose the community this secretary works for."),
    ({"role": "branch_secretary"}, "Choose the branch this secretary works for."),
    ({"role": "member"}, "A member&#39;s account must be linked to their member record."),
    ({"role": "member", "member_ref": "999"}, "No member with this number in the street."),
    ({"role": "nonsense"}, "Not a valid choice."),
])
def test_bad_accounts_are_refused(app, admin, org, data, field_message):
    data = {k: (org.branch_id if v == "BRANCH" else v) for k, v in data.items()}
    before = len(audits(app, "account_created"))
    resp = new_account(admin, **data)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    if field_message == "at least":
        assert "3 to 64 letters" in body
    else:
        assert field_message in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 4
    assert len(audits(app, "account_created")) == before


def test_member_record_links_once(app, admin, org):
    with app.app_context():
        mid = make_member(org.branch_id, "张伟").id
        db.session.commit()
    assert new_account(admin, username="zhangwei", role="member", member_ref=str(mid)).status_code == 200
    u = user(app, "zhangwei")
    assert (u.member_id, u.branch_id, u.community_id) == (mid, org.branch_id, org.community_id)
    resp = new_account(admin, username="zw2", role="branch_secretary", branch_id=org.branch_id, member_ref=str(mid))
    assert resp.status_code == 422
    assert "already linked to another account" in resp.get_data(as_text=True)
    # A secretary's own account may be linked to their member record (edit: link it).
    with app.app_context():
        mid2 = make_member(org.branch_id, "李娜").id
        db.session.commit()
    resp = admin.post(f"/admin/accounts/{org.branch_secretary_id}/edit", data={
        "display_name": "bs", "role": "branch_secretary", "community_id": 0, "branch_id": org.branch_id,
        "member_ref": str(mid2)})
    assert resp.status_code == 302
    assert user(app, "bs").member_id == mid2
    (row,) = audits(app, "account_updated")
    assert row.before["member_id"] is None and row.after["member_id"] == mid2


def test_change_role_and_scope(app, admin, org):
    resp = admin.post(f"/admin/accounts/{org.branch_secretary_id}/edit", data={
        "display_name": "升任", "role": "community_secretary", "community_id": org.other_community_id,
        "branch_id": 0, "member_ref": ""})
    assert resp.status_code == 302
    u = user(app, "bs")
    assert (u.role, u.community_id, u.branch_id, u.display_name) == (
        "community_secretary", org.other_community_id, None, "升任")


def test_disabling_ends_every_session_at_once(app, admin, org, make_app):
    other = make_app().test_client()
    other.post("/login", data={"username": "bs", "password": TEST_PASSWORD})
    assert other.get(f"/branches/{org.branch_id}/roster").status_code == 200
    assert open_sessions(app, org.branch_secretary_id) == 1
    resp = admin.post(f"/admin/accounts/{org.branch_secretary_id}/disable", headers=HX)
    assert resp.status_code == 200 and "Disabled" in resp.get_data(as_text=True)
    assert open_sessions(app, org.branch_secretary_id) == 0
    resp = other.get(f"/branches/{org.branch_id}/roster")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert other.post("/login", data={"username": "bs", "password": TEST_PASSWORD}).status_code == 422
    assert audits(app, "account_disabled")[0].after["active"] is False
    admin.post(f"/admin/accounts/{org.branch_secretary_id}/enable", headers=HX)
    assert user(app, "bs").active


def test_the_last_street_admin_can_be_neither_disabled_nor_demoted(app, admin, org):
    resp = admin.post(f"/admin/accounts/{org.admin_id}/disable", headers=HX)
    assert resp.status_code == 409
    assert "last active administrator" in resp.get_data(as_text=True)
    resp = admin.post(f"/admin/accounts/{org.admin_id}/edit", data={
        "display_name": "admin", "role": "branch_secretary", "community_id": 0, "branch_id": org.branch_id,
        "member_ref": ""})
    assert resp.status_code == 422 and "last active administrator" in resp.get_data(as_text=True)
    u = user(app, "admin")
    assert u.active and u.role == "street_admin"
    assert not audits(app, "account_disabled") and not audits(app, "account_updated")


def test_with_a_second_admin_the_first_can_be_disabled(app, admin, org):
    new_account(admin, username="admin2", role="street_admin")
    resp = admin.post(f"/admin/accounts/{user(app, 'admin2').id}/disable", headers=HX)
    assert resp.status_code == 200
    # admin2 is disabled, so admin is the last one again.
    assert admin.post(f"/admin/accounts/{org.admin_id}/disable", headers=HX).status_code == 409


def test_reset_password(app, admin, org, make_app):
    other = make_app().test_client()
    other.post("/login", data={"username": "bs", "password": TEST_PASSWORD})
    resp = admin.post(f"/admin/accounts/{org.branch_secretary_id}/reset", headers=HX)
    assert resp.status_code == 200
    (password,) = PASSWORD_RE.findall(resp.get_data(as_text=True))
    assert len(password.replace("-", "")) >= 10
    assert open_sessions(app, org.branch_secretary_id) == 0
    assert user(app, "bs").must_change_password
    fresh = make_app().test_client()
    assert fresh.post("/login", data={"username": "bs", "password": TEST_PASSWORD}).status_code == 422
    resp = fresh.post("/login", data={"username": "bs", "password": password})
    assert resp.headers["Location"].endswith("/password")
    assert audits(app, "password_reset")


def test_member_accounts_in_bulk(app, admin, org, make_app):
    with app.app_context():
        ids = [make_member(org.branch_id, n).id for n in ("张伟", "李娜", "王秀英")]
        make_member(org.other_branch_id, "陈静")
        db.session.add(User(username="has.one", password_hash="x", role="member", street_id=org.street_id,
                            branch_id=org.branch_id, member_id=ids[0]))
        db.session.commit()
    page = admin.get("/admin/accounts/bulk").get_data(as_text=True)
    assert "第一党支部 (2)" in page
    resp = admin.post("/admin/accounts/bulk", data={"branch_id": org.branch_id})
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    passwords = PASSWORD_RE.findall(body)
    assert len(passwords) == 2  # one slip each for the two members without an account
    with app.app_context():
        made = db.session.scalars(select(User).where(User.member_id.in_(ids[1:])).order_by(User.member_id)).all()
        assert [u.role for u in made] == ["member", "member"]
        assert all(u.must_change_password and u.branch_id == org.branch_id for u in made)
        usernames = [u.username for u in made]
    assert "李娜" in body and "王秀英" in body and "张伟" not in body.split("slips")[1]
    # Each slip's password works once, then must be changed.
    slips = re.findall(r'<code class="password">([^<]+)</code>', body)
    pairs = dict(zip(slips[0::2], slips[1::2]))
    assert set(pairs) == set(usernames)
    for username, password in pairs.items():
        assert len(password) >= 10 and not set(password) & set("01loi")
        c = make_app().test_client()
        assert c.post("/login", data={"username": username, "password": password}).headers["Location"].endswith(
            "/password")
    assert len(audits(app, "account_created")) == 2 and audits(app, "accounts_bulk_created")
    # Everyone in the branch has an account now: nothing left to create there.
    assert admin.post("/admin/accounts/bulk", data={"branch_id": org.branch_id}).status_code == 422


def test_community_secretary_cannot_manage_accounts(client, auth, org):
    auth.login("cs")
    assert client.get("/admin/accounts").status_code == 403
    assert client.post(f"/admin/accounts/{org.branch_secretary_id}/disable").status_code == 403
