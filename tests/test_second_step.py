"""The second step of logging in (ASVS 4.3.1): enrolment with a QR code, the code page after the password,
recovery codes, the throttle, the forced enrolment of street administrators, the lost-phone reset by another
administrator, and the approvals' re-entry.

Time-steps are pinned by replacing ``second_step.current_step``: no test waits for a clock.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from qscore import second_step, throttle
from qscore.config import SECOND_STEP_REQUIRED_ROLES
from qscore.db import db
from qscore.models import AccountEvent, AuditLog, Proposal, RecoveryCode, RectificationCase, User, UserSession

from .conftest import TEST_PASSWORD, make_member

STEP = 59_000_000  # a time-step of 2026; each test moves on from here


@pytest.fixture
def clock(monkeypatch):
    """The current time-step, as the app sees it."""
    class Clock:
        step = STEP

        def tick(self, n: int = 1) -> None:
            self.step += n

    c = Clock()
    monkeypatch.setattr(second_step, "current_step", lambda: c.step)
    return c


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def wrong_code(secret: str, step: int) -> str:
    """Six digits that are the code of no step in the window."""
    window = {code_at(secret, s) for s in range(step - 2, step + 3)}
    return next(c for c in ("000000", "123456", "999999", "424242") if c not in window)


def user(app, username: str) -> User:
    with app.app_context():
        u = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(u)
        return u


def enrolled(app, username: str, step: int = STEP - 10) -> tuple[str, list[str]]:
    """Turn the account's second step on directly (the HTTP enrolment is tested on its own): secret and codes."""
    secret = pyotp.random_base32()
    with app.app_context(), app.test_request_context():
        u = db.session.scalar(select(User).where(User.username == username))
        codes = second_step.enrol(u, secret, step)
        db.session.commit()
    return secret, codes


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def login_password(client, username="admin", password=TEST_PASSWORD, **query):
    return client.post("/login", query_string=query, data={"username": username, "password": password})


# ---------------------------------------------------------------------------------------------
# Enrolment
# ---------------------------------------------------------------------------------------------

def test_enrolment_shows_a_qr_code_refuses_a_wrong_code_and_shows_ten_recovery_codes_once(client, auth, org, app,
                                                                                           clock):
    auth.login("admin")
    page = client.get("/account/security/enrol")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in body and 'class="totp-qr"' in body and "扫描二维码" in body
    assert "打开手机上的身份验证器（如 微信小程序“腾讯身份验证器”、Google Authenticator、Microsoft Authenticator）" in body
    secret = re.search(r'id="totp-secret"><code>([A-Z2-7 ]+)</code>', body).group(1).replace(" ", "")
    assert len(secret) == 32
    # A reload shows the same secret (the person may have scanned it already).
    assert secret in client.get("/account/security/enrol").get_data(as_text=True).replace(" ", "")

    resp = client.post("/account/security/enrol", data={"code": wrong_code(secret, clock.step)})
    assert resp.status_code == 422 and "这不是验证器为此二维码显示的验证码" in resp.get_data(as_text=True)
    assert not user(app, "admin").has_second_step
    assert client.post("/account/security/enrol", data={"code": "12ab"}).status_code == 422

    # Full-width digits, as a Chinese keyboard may type them, with a space in the middle.
    typed = code_at(secret, clock.step).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    resp = client.post("/account/security/enrol", data={"code": typed[:3] + " " + typed[3:]})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "两步验证已开启" in body and "只显示这一次" in body
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", body)
    assert len(set(codes)) == 10
    u = user(app, "admin")
    assert u.has_second_step and u.totp_last_step == clock.step
    # Stored sealed and hashed: neither the secret nor a code is in the database as typed.
    assert secret not in u.totp_secret
    with app.app_context():
        assert second_step.unseal(u.totp_secret) == secret
        hashes = db.session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(hashes) == 10 and not any(c.replace("-", "") in h for c in codes for h in hashes)
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "second_step_enrolled")).user_id == u.id
    # Never shown again.
    assert client.get("/account/security/enrol").status_code == 302
    security = client.get("/account/security").get_data(as_text=True)
    assert "已开启" in security and "还剩 10 个未用的恢复码" in security
    assert not any(c in security for c in codes) and secret not in security.replace(" ", "")


def test_a_sealed_secret_refuses_a_changed_byte_and_another_secret_key(app, make_app):
    with app.app_context():
        sealed = second_step.seal("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        assert second_step.unseal(sealed) == "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        flipped = sealed[:10] + ("A" if sealed[10] != "A" else "B") + sealed[11:]
        assert second_step.unseal(flipped) is None
        assert second_step.unseal("v2.!!!") is None and second_step.unseal("plain") is None
    with make_app(SECRET_KEY="another-key").app_context():
        assert second_step.unseal(sealed) is None


# ---------------------------------------------------------------------------------------------
# Logging in
# ---------------------------------------------------------------------------------------------

def test_the_password_alone_leaves_you_at_the_code_page(client, org, app, clock):
    secret, _codes = enrolled(app, "admin")
    resp = login_password(client, next="/admin/accounts")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code")
    assert count(app, UserSession) == 0  # no login exists yet
    page = client.get("/login/code").get_data(as_text=True)
    assert "两步验证" in page and "6 位验证码" in page and "admin" in page and 'autocomplete="one-time-code"' in page
    # Every other page leads back to the code page; htmx gets 401 with HX-Redirect.
    for url in ("/", "/admin/accounts", "/account/security", "/board", "/login", "/password"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code"), url
    resp = client.get(f"/branches/{org.branch_id}/roster", headers={"HX-Request": "true"})
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].endswith("/login/code")
    assert client.post("/logout").status_code == 302 and count(app, UserSession) == 0

    resp = client.post("/login/code", data={"code": code_at(secret, clock.step)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/accounts")
    assert client.get("/admin/accounts").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == 1
        assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "login")) == "login"


def test_a_code_is_accepted_one_step_early_or_late_and_never_twice(client, auth, org, app, clock):
    app.config["LOGIN_FREE_FAILURES"] = 10  # the refusals here are about the code, not the throttle
    secret, _codes = enrolled(app, "admin")

    def try_code(code: str):
        auth.logout()
        login_password(client)
        return client.post("/login/code", data={"code": code})

    assert try_code(code_at(secret, clock.step - 1)).status_code == 302
    resp = try_code(code_at(secret, clock.step - 1))  # the same code again, still within its 90 seconds
    assert resp.status_code == 422 and "验证码不正确或已用过" in resp.get_data(as_text=True)
    assert client.get("/").headers["Location"].endswith("/login/code")
    assert try_code(code_at(secret, clock.step + 1)).status_code == 302  # the phone's clock 30 s ahead
    assert try_code(code_at(secret, clock.step)).status_code == 422  # older than the last one used
    clock.tick(3)
    assert try_code(code_at(secret, clock.step - 2)).status_code == 422  # 60 s old: outside the window
    assert try_code(code_at(secret, clock.step + 2)).status_code == 422
    assert try_code(code_at(secret, clock.step)).status_code == 302


def test_a_recovery_code_works_once(client, auth, org, app, clock):
    _secret, codes = enrolled(app, "admin")
    login_password(client)
    page = client.get("/login/code").get_data(as_text=True)
    assert "手机不在身边？使用恢复码" in page
    # As printed, in capitals, or full-width: the same code.
    resp = client.post("/login/code", data={"recovery": codes[0].upper()})
    assert resp.status_code == 302
    assert "还剩 9 个" in client.get(resp.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AuditLog.action).where(AuditLog.action == "recovery_code_used"))
    auth.logout()
    login_password(client)
    resp = client.post("/login/code", data={"recovery": codes[0]})
    assert resp.status_code == 422 and "恢复码不正确或已用过" in resp.get_data(as_text=True)
    assert client.post("/login/code", data={"recovery": "not-a-code"}).status_code == 422
    assert client.post("/login/code", data={"recovery": codes[1]}).status_code == 302
    assert count(app, RecoveryCode, RecoveryCode.used_at.is_(None)) == 8


def test_wrong_codes_are_throttled_and_retyping_the_password_does_not_reset_them(client, org, app, clock,
                                                                                   monkeypatch):
    now = [datetime(2026, 5, 20, 1, 0, 0)]
    monkeypatch.setattr(throttle, "utcnow", lambda: now[0])  # the throttle's clock moves only when told
    secret, _codes = enrolled(app, "admin")
    login_password(client)
    wrong = wrong_code(secret, clock.step)
    statuses = [client.post("/login/code", data={"code": wrong}).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]  # LOGIN_FREE_FAILURES, then waits of 1 s, 2 s, 4 s …
    resp = client.post("/login/code", data={"code": code_at(secret, clock.step)})  # even the right one waits
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert "验证码错误次数过多，请 1 秒后再试。" in resp.get_data(as_text=True)
    assert count(app, UserSession) == 0
    # Starting again with the right password waits just the same …
    client.post("/login/code/cancel")
    assert login_password(client).status_code == 429
    # … and once the wait is over, the right password does not wipe out the wrong codes: the next one
    # wrong code is followed by a longer wait, not by three free tries.
    now[0] += timedelta(seconds=1)
    assert login_password(client).headers["Location"].endswith("/login/code")
    assert client.post("/login/code", data={"code": wrong}).status_code == 422
    resp = client.post("/login/code", data={"code": wrong})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "2"
    # Another account from the same address is not held up.
    client.post("/login/code/cancel")
    enrolled(app, "cs")
    assert login_password(client, "cs").status_code == 302
    # The right code after the wait logs in, and a success starts the count afresh.
    now[0] += timedelta(seconds=2)
    client.post("/login/code/cancel")
    login_password(client)
    assert client.post("/login/code", data={"code": code_at(secret, clock.step)}).status_code == 302


def test_the_pending_password_expires_after_five_minutes(client, org, app, clock):
    enrolled(app, "admin")
    login_password(client)
    with client.session_transaction() as s:
        state = s["second_step"]
        state["until"] -= 5 * 60 + 1
        s["second_step"] = state
    resp = client.get("/admin/accounts")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert "请重新登录" in client.get("/login").get_data(as_text=True)
    assert client.get("/login/code").headers["Location"].endswith("/login")


def test_cancel_goes_back_to_the_login(client, org, app):
    enrolled(app, "admin")
    login_password(client)
    assert client.post("/login/code/cancel").headers["Location"].endswith("/login")
    assert client.get("/login").status_code == 200


def test_a_street_admin_without_a_second_step_must_set_one_up_first(client, auth, org, app, clock):
    assert SECOND_STEP_REQUIRED_ROLES == ("street_admin",)  # the default; the suite's config exempts its accounts
    app.config["SECOND_STEP_REQUIRED_ROLES"] = ("street_admin",)
    resp = auth.login("admin")
    assert resp.status_code == 302
    for url in ("/", "/admin/accounts", "/account/security", "/approvals"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/security/enrol"), url
    resp = client.get("/admin/accounts", headers={"HX-Request": "true"})
    assert resp.status_code == 401 and resp.headers["HX-Redirect"].endswith("/account/security/enrol")
    page = client.get("/account/security/enrol").get_data(as_text=True)
    assert "您的角色必须使用两步验证" in page
    secret = re.search(r'id="totp-secret"><code>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    assert client.post("/account/security/enrol", data={"code": code_at(secret, clock.step)}).status_code == 200
    assert client.get("/admin/accounts").status_code == 200
    # Required: it cannot be turned off.
    resp = client.post("/account/security/off", data={"off-password": TEST_PASSWORD, "off-code": "123456"})
    assert resp.status_code == 409 and user(app, "admin").has_second_step
    # Other roles are not made to: offered only.
    auth.logout()
    auth.login("bs")
    assert client.get("/").status_code == 200
    assert "开启两步验证" in client.get("/account/security").get_data(as_text=True)


def test_a_first_time_password_is_changed_before_the_phone_is_set_up(client, auth, org, app, clock):
    app.config["SECOND_STEP_REQUIRED_ROLES"] = ("street_admin",)
    with app.app_context():
        db.session.get(User, org.admin_id).must_change_password = True
        db.session.commit()
    auth.login("admin")
    assert client.get("/").headers["Location"].endswith("/password")
    assert client.get("/account/security/enrol").headers["Location"].endswith("/password")
    new = "Lantern orchard velvet 42"
    resp = client.post("/password", data={"current": TEST_PASSWORD, "password": new, "confirm": new})
    assert resp.status_code == 302 and not user(app, "admin").must_change_password
    assert client.get("/").headers["Location"].endswith("/account/security/enrol")


def test_enrolling_long_after_the_login_asks_for_the_password(client, auth, org, app, clock):
    from .test_cases import stale_login

    auth.login("bs")
    stale_login(app)
    page = client.get("/account/security/enrol").get_data(as_text=True)
    assert 'name="password"' in page
    secret = re.search(r'id="totp-secret"><code>([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")
    code = code_at(secret, clock.step)
    resp = client.post("/account/security/enrol", data={"code": code, "password": "wrong-password-1"})
    assert resp.status_code == 422 and not user(app, "bs").has_second_step
    assert client.post("/account/security/enrol", data={"code": code, "password": TEST_PASSWORD}).status_code == 200


def test_new_recovery_codes_and_turning_off_need_the_password_and_a_code(client, auth, org, app, clock):
    secret, old = enrolled(app, "bs")
    auth.login("bs")  # the test client completes no second step for bs: log in by hand
    client.post("/login/code", data={"code": code_at(secret, clock.step)})
    assert client.get("/account/security").status_code == 200
    clock.tick()
    resp = client.post("/account/security/recovery-codes",
                       data={"renew-password": "wrong-password-1", "renew-code": code_at(secret, clock.step)})
    assert resp.status_code == 422 and "密码或验证码不正确" in resp.get_data(as_text=True)
    resp = client.post("/account/security/recovery-codes",
                       data={"renew-password": TEST_PASSWORD, "renew-code": code_at(secret, clock.step)})
    new = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", resp.get_data(as_text=True))
    assert resp.status_code == 200 and len(new) == 10 and not set(new) & set(old)
    with app.app_context():
        u = db.session.scalar(select(User).where(User.username == "bs"))
        assert not second_step.use_recovery_code(u, second_step.normalise(old[0]))  # the old ones stopped working
        assert db.session.scalar(select(AccountEvent.kind).where(AccountEvent.user_id == u.id)
                                 .order_by(AccountEvent.id.desc()).limit(1)) == "recovery_codes_renewed"
    clock.tick()
    resp = client.post("/account/security/off",
                       data={"off-password": TEST_PASSWORD, "off-code": code_at(secret, clock.step)})
    assert resp.status_code == 302 and not user(app, "bs").has_second_step
    assert count(app, RecoveryCode) == 0
    auth.logout()
    assert auth.login("bs").headers["Location"].endswith("/")  # the password alone again


# ---------------------------------------------------------------------------------------------
# A lost phone
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def admin2(org, app):
    with app.app_context():
        u = User(username="admin2", display_name="王二", password_hash=db.session.get(User, org.admin_id).password_hash,
                 role="street_admin", street_id=org.street_id)
        db.session.add(u)
        db.session.commit()
        return u.id


def test_another_admin_resets_a_lost_phone_with_a_reason_audited_and_sessions_end(client, auth, org, app, admin2,
                                                                                  clock):
    secret, _codes = enrolled(app, "admin")
    phone_owner = app.test_client()
    phone_owner.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    assert phone_owner.post("/login/code", data={"code": code_at(secret, clock.step)}).status_code == 302
    assert phone_owner.get("/admin/accounts").status_code == 200

    auth.login("admin2")
    accounts = client.get("/admin/accounts").get_data(as_text=True)
    assert f"/admin/accounts/{org.admin_id}/second-step" in accounts and "已开启两步验证" in accounts
    page = client.get(f"/admin/accounts/{org.admin_id}/second-step")
    assert page.status_code == 200 and "先通过电话或当面确认" in page.get_data(as_text=True)
    resp = client.post(f"/admin/accounts/{org.admin_id}/second-step", data={"reason": "  "})
    assert resp.status_code == 422 and user(app, "admin").has_second_step
    resp = client.post(f"/admin/accounts/{org.admin_id}/second-step", data={"reason": "手机丢失，已电话确认本人"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/admin/accounts")
    assert not user(app, "admin").has_second_step and count(app, RecoveryCode) == 0
    with app.app_context():
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "second_step_reset"))
        assert (log.user_id, log.object_id) == (admin2, org.admin_id)
        assert log.summary == "admin: 手机丢失，已电话确认本人"
        event = db.session.scalar(select(AccountEvent).where(AccountEvent.user_id == org.admin_id,
                                                             AccountEvent.kind == "second_step_reset"))
        assert event.by_user_id == admin2
    # The person's logins ended at once.
    assert "/login" in phone_owner.get("/admin/accounts").headers["Location"]
    # A member of the street office cannot do it; neither can anyone for an account of another street (404:
    # tests/test_access_matrix.py).
    auth.logout()
    enrolled(app, "cs")
    auth.login("bs")
    assert client.post(f"/admin/accounts/{org.community_secretary_id}/second-step",
                       data={"reason": "x"}).status_code == 403
    assert user(app, "cs").has_second_step


def test_nobody_resets_their_own_second_step(client, auth, org, app, admin2, clock):
    enrolled(app, "admin2")
    secret, _codes = enrolled(app, "admin")
    auth.login("admin")
    client.post("/login/code", data={"code": code_at(secret, clock.step)})
    accounts = client.get("/admin/accounts").get_data(as_text=True)
    assert f"/admin/accounts/{org.admin_id}/second-step" not in accounts  # no button on one's own row
    assert f"/admin/accounts/{admin2}/second-step" in accounts
    resp = client.get(f"/admin/accounts/{org.admin_id}/second-step")
    assert resp.status_code == 409 and "请其他街道管理员" in resp.get_data(as_text=True)
    resp = client.post(f"/admin/accounts/{org.admin_id}/second-step", data={"reason": "自己重置"})
    assert resp.status_code == 409 and user(app, "admin").has_second_step
    # An account without a second step has nothing to reset.
    assert client.post(f"/admin/accounts/{org.branch_secretary_id}/second-step",
                       data={"reason": "x"}).status_code == 409
    assert count(app, AuditLog, AuditLog.action == "second_step_reset") == 0


# ---------------------------------------------------------------------------------------------
# The approvals' re-entry
# ---------------------------------------------------------------------------------------------

def test_a_decision_after_a_stale_login_needs_the_password_and_the_code(client, auth, org, app, admin2, clock):
    from .test_cases import stale_login

    with app.app_context():
        m = make_member(org.branch_id, "郑五七")
        case = RectificationCase(member_id=m.id, deadline=date(2026, 4, 1), status="proposed")
        db.session.add(case)
        db.session.flush()
        db.session.add(Proposal(case_id=case.id, kind="expel", meeting_on=date(2026, 5, 1), members_present=5,
                                members_total=6, votes_for=5, votes_against=0, votes_abstain=0,
                                member_statement="本人表示接受组织处理", proposed_by_id=admin2))
        db.session.commit()
        pid = db.session.scalar(select(Proposal.id))
    secret, _codes = enrolled(app, "admin")
    auth.login("admin")
    client.post("/login/code", data={"code": code_at(secret, clock.step)})
    stale_login(app)
    page = client.get("/approvals").get_data(as_text=True)
    assert 'name="code"' in page and "手机上的 6 位验证码" in page
    data = {"decision": "approve", "comment": "同意", "password": TEST_PASSWORD}
    resp = client.post(f"/approvals/{pid}", data=data)  # the password alone
    assert resp.status_code == 403 and "密码或验证码不正确" in resp.get_data(as_text=True)
    clock.tick()
    resp = client.post(f"/approvals/{pid}", data={**data, "password": "wrong-password-1",
                                                   "code": code_at(secret, clock.step)})
    assert resp.status_code == 403
    assert user(app, "admin").totp_last_step == clock.step - 1  # a wrong password spends no code
    assert client.post(f"/approvals/{pid}", data={**data, "code": code_at(secret, clock.step)}).status_code == 302
    with app.app_context():
        assert db.session.get(Proposal, pid).status == "approved"


def test_the_servers_console_resets_the_last_administrators_second_step(org, app, runner):
    """The only street administrator lost both phone and recovery codes: nobody in the app can reset it."""
    enrolled(app, "admin")
    result = runner.invoke(args=["qscore", "reset-second-step", "ADMIN", "--reason", "手机和恢复码都丢失，当面确认"])
    assert result.exit_code == 0 and "ok" in result.output
    assert not user(app, "admin").has_second_step
    with app.app_context():
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "second_step_reset"))
        assert (log.user_id, log.summary) == (None, "admin: 手机和恢复码都丢失，当面确认")
    assert runner.invoke(args=["qscore", "reset-second-step", "nobody", "--reason", "x"]).exit_code != 0
    assert "nothing to reset" in runner.invoke(args=["qscore", "reset-second-step", "admin", "--reason", "x"]).output
