"""People are told about their own account (ASVS 2.2.3, 2.5.5) and one account has a guessing ceiling (2.2.1).

- after logging in: the previous login (time, address) and the wrong passwords since;
- a password reset or change: a banner on every page until "知道了";
- "my sign-ins": one's own logins, wrong passwords and changes, and signing another login out;
- many addresses at one account: the 51st failure an hour waits, the owner's familiar address does not.

Time is a fixed clock: 2026-12-06 06:05 UTC is 14:05 in Shanghai.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from qscore import account, account_events, sessions, throttle
from qscore.db import db
from qscore.models import AccountEvent, LoginAttempt, User, UserSession
from qscore.security import hash_password

from .conftest import TEST_PASSWORD

OFFICE = "10.0.3.17"
HOME = "10.20.30.40"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.6099.109 Safari/537.36")
NEW_PASSWORD = "Lantern-river-5821"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 12, 6, 6, 5, 0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    for module in (sessions, throttle, account_events, account):
        monkeypatch.setattr(module, "utcnow", c)
    return c


@pytest.fixture
def people(org, app):
    """The street administrator is called 张三 on screen; the branch secretary is bs."""
    with app.app_context():
        db.session.get(User, org.admin_id).display_name = "张三"
        db.session.commit()
    return org


def login(client, username="bs", password=TEST_PASSWORD, address=OFFICE, agent=CHROME):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent})


def page(client, path="/", address=OFFICE) -> str:
    resp = client.get(path, environ_base={"REMOTE_ADDR": address})
    assert resp.status_code == 200, (path, resp.status_code, resp.headers.get("Location"))
    return resp.get_data(as_text=True)


def text(html: str) -> str:
    """What a person reads: tags gone, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def sessions_of(app, username: str) -> list[UserSession]:
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
        return db.session.scalars(select(UserSession).where(UserSession.user_id == uid)
                                  .order_by(UserSession.id)).all()


def reset_by_admin(app, people, username="bs") -> str:
    """The street administrator resets the account's password; returns the first-time password shown once."""
    admin = app.test_client()
    assert login(admin, "admin", address=HOME).status_code == 302
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.username == username))
    resp = admin.post(f"/admin/accounts/{uid}/reset", environ_base={"REMOTE_ADDR": HOME})
    assert resp.status_code == 200
    return re.findall(r'<code class="password">([^<]+)</code>', resp.get_data(as_text=True))[-1]


def change_password(client, current: str, new: str = NEW_PASSWORD, address=OFFICE):
    return client.post("/password", data={"current": current, "password": new, "confirm": new},
                       environ_base={"REMOTE_ADDR": address})


# ---------------------------------------------------------------------------------------------
# After logging in
# ---------------------------------------------------------------------------------------------

def test_the_first_login_says_so(app, client, people, clock):
    assert login(client).status_code == 302
    body = text(page(client))
    assert "这是您第一次登录。" in body
    assert "上次登录" not in body and "密码错误" not in body
    assert "查看我的登录记录" in body


def test_the_next_login_shows_the_previous_one_with_time_and_address(app, client, people, clock):
    assert login(client, address=OFFICE).status_code == 302
    client.post("/logout")
    clock.advance(hours=20)
    assert login(client, address=HOME).status_code == 302
    body = text(page(client, address=HOME))
    assert "上次登录：2026年12月6日 14:05，来自 10.0.3.17。" in body  # the previous login, not this one
    assert "此后有" not in body
    # Shown once: the next page no longer repeats it.
    assert "上次登录" not in text(page(client, address=HOME))


def test_failed_attempts_since_the_last_login_are_counted(app, client, people, clock):
    assert login(client).status_code == 302
    client.post("/logout")
    stranger = app.test_client()
    for i in range(3):
        clock.advance(minutes=5)
        assert login(stranger, password=f"guess-{i}", address=f"198.51.100.{i}").status_code == 422
    login(app.test_client(), username="cs", password="wrong-password")  # another account's failures are not ours
    clock.advance(hours=2)
    assert login(client, address=HOME).status_code == 302
    html = page(client, address=HOME)
    assert "flash-signin-alert" in html  # the warning colours, not the plain notice
    assert "上次登录：2026年12月6日 14:05，来自 10.0.3.17。 此后有 3 次密码错误的尝试。" in text(html)


def test_the_notice_speaks_english_too(app, client, people, clock):
    client.set_cookie("qscore_lang", "en")
    login(client)
    client.post("/logout")
    clock.advance(minutes=1)
    login(client, password="wrong-password")
    login(client)
    body = text(page(client))
    assert "Last login: 6 Dec 2026, 14:05, from 10.0.3.17. Since then there has been 1 failed password attempt." in body


def test_the_notice_links_to_my_sign_ins_and_quotes_the_stored_address_as_text(app, client, people, clock):
    assert login(client).status_code == 302
    client.post("/logout")
    with app.app_context():  # whatever a stored address holds, the notice shows it as text, never as markup
        first = db.session.scalar(select(UserSession).order_by(UserSession.id))
        first.ip = '<b onclick="x()">10.0.3.17</b>'
        db.session.commit()
    clock.advance(hours=1)
    assert login(client, address=HOME).status_code == 302
    html = page(client, address=HOME)
    notice = re.search(r'<div class="flash flash-signin" role="status">(.*?)</div>', html, re.S).group(1)
    assert notice == ('<span>上次登录：2026年12月6日 14:05，来自 &lt;b onclick=&#34;x()&#34;&gt;10.0.3.17&lt;/b&gt;。</span> '
                      '<a href="/account/sign-ins">查看我的登录记录</a>')
    assert "我的登录记录" in page(client, "/account/sign-ins", address=HOME)


# ---------------------------------------------------------------------------------------------
# Changes to the way in: a banner until acknowledged
# ---------------------------------------------------------------------------------------------

RESET = "您的密码已于 2026年12月6日 14:05 由 张三 重置。"


def test_a_reset_is_shown_on_every_page_until_acknowledged_and_again_after_the_next_reset(app, client, people,
                                                                                         clock):
    first_time = reset_by_admin(app, people)
    clock.advance(minutes=30)
    assert login(client, password=first_time).headers["Location"] == "/password"
    assert RESET in text(page(client, "/password"))  # even while the new password must be chosen
    assert change_password(client, first_time).status_code == 302
    for path in ("/", "/account/sign-ins", "/password", f"/branches/{people.branch_id}/roster"):
        assert RESET in text(page(client, path)), path
    with app.app_context():
        notice = db.session.scalar(select(AccountEvent).where(AccountEvent.kind == "password_reset"))
    resp = client.post(f"/account/notices/{notice.id}/seen", data={"next": "/account/sign-ins"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/sign-ins"
    for path in ("/", "/account/sign-ins"):
        assert "重置。" not in text(page(client, path)).split("密码和登录方式的变动")[0], path
    assert RESET in text(page(client, "/account/sign-ins"))  # still listed with the account's changes
    # In another browser, later: nothing about the acknowledged reset.
    other = app.test_client()
    clock.advance(days=1)
    assert login(other, password=NEW_PASSWORD, address=HOME).status_code == 302
    assert "重置" not in text(page(other, address=HOME))
    # The next reset is shown again.
    clock.advance(days=1)
    first_time = reset_by_admin(app, people)
    login(other, password=first_time, address=HOME)
    assert "您的密码已于 2026年12月8日 14:35 由 张三 重置。" in text(page(other, "/password", address=HOME))


def test_a_reset_banner_waits_for_a_login_that_was_ended_by_it(app, client, people, clock):
    assert login(client).status_code == 302
    reset_by_admin(app, people)
    assert client.get("/").status_code == 302  # the reset ended this login
    with app.app_context():
        assert db.session.scalar(select(AccountEvent.acknowledged_at)) is None


def test_changing_ones_own_password_is_told_in_the_other_logins_not_here(app, client, people, clock):
    assert login(client).status_code == 302
    clock.advance(minutes=10)
    resp = change_password(client, TEST_PASSWORD)
    assert resp.status_code == 302
    body = text(page(client))
    assert "密码已修改。" in body              # the page's own confirmation …
    assert "您的密码已于" not in body          # … and no banner repeating it in this browser
    other = app.test_client()
    clock.advance(hours=3)
    assert login(other, password=NEW_PASSWORD, address=HOME).status_code == 302
    body = text(page(other, address=HOME))
    assert "您的密码已于 2026年12月6日 14:15 修改。" in body
    assert "如果不是您本人操作，也不是您请人办理的，请立即告知街道党工委。" in body
    assert "知道了" in body
    with app.app_context():
        notice_id = db.session.scalar(select(AccountEvent.id))
    other.post(f"/account/notices/{notice_id}/seen", data={"next": "/"})
    assert "您的密码已于" not in text(page(other, address=HOME))


def test_a_notice_of_someone_else_cannot_be_acknowledged(app, client, people, clock):
    reset_by_admin(app, people, username="cs")
    with app.app_context():
        notice_id = db.session.scalar(select(AccountEvent.id))
    login(client)
    assert client.post(f"/account/notices/{notice_id}/seen").status_code == 404
    with app.app_context():
        assert db.session.get(AccountEvent, notice_id).acknowledged_at is None


def test_note_is_the_one_call_for_other_changes(app, people, clock):
    """The second step's pages call account_events.note the same way (kinds in account_events.KINDS)."""
    with app.app_context(), app.test_request_context():
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        admin = db.session.get(User, people.admin_id)
        account_events.note(bs, "second_step_reset", by=admin)
        account_events.note(bs, "second_step_enrolled", by=bs)
        db.session.commit()
        shown = [account_events.describe(e) for e in account_events.waiting(bs, None)]
    assert shown == ["您的两步验证已于 2026年12月6日 14:05 由 张三 重置。", "您的账号已于 2026年12月6日 14:05 开启两步验证。"]


# ---------------------------------------------------------------------------------------------
# My sign-ins
# ---------------------------------------------------------------------------------------------

def test_my_sign_ins_lists_own_logins_failures_and_changes_only(app, client, people, clock):
    login(app.test_client(), address="10.0.0.99", agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
          "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")
    login(app.test_client(), password="wrong-password", address="10.9.9.9")
    login(app.test_client(), username="cs", address="10.7.7.7")                             # someone else's login
    login(app.test_client(), username="cs", password="wrong-password", address="10.8.8.8")  # … and failure
    clock.advance(hours=1)
    assert login(client).status_code == 302
    html = page(client, "/account/sign-ins")
    body = text(html)
    assert "我的登录记录" in body
    for seen in ("10.0.0.99", "Safari 17 · iPhone", "10.0.3.17", "Chrome 120 · Windows", "本次登录（当前浏览器）",
                 "仍在登录中", "10.9.9.9", "您的账号共有 1 次输错密码或验证码。"):
        assert seen in body, seen
    assert "10.7.7.7" not in body and "10.8.8.8" not in body
    assert html.count('action="/account/sign-ins/') == 1  # only the other login of this account has the button


def test_my_sign_ins_is_in_the_account_menu_for_every_role(app, people, clock):
    for username in ("admin", "cs", "bs"):
        c = app.test_client()
        login(c, username=username)
        assert 'href="/account/sign-ins">我的登录记录</a>' in page(c)


def test_signing_another_own_login_out_logs_that_browser_out(app, client, people, clock):
    office, home = app.test_client(), app.test_client()
    assert login(office, address=OFFICE).status_code == 302
    assert login(home, address=HOME).status_code == 302
    home_session = sessions_of(app, "bs")[-1]
    assert home_session.ip == HOME
    resp = office.post(f"/account/sign-ins/{home_session.id}/end")
    assert resp.status_code == 302 and resp.headers["Location"] == "/account/sign-ins"
    assert "该登录已退出：那个浏览器需要重新登录。" in text(page(office, "/account/sign-ins"))
    gone = home.get("/")
    assert gone.status_code == 302 and gone.headers["Location"].startswith("/login")
    assert page(office)  # this browser stays logged in
    body = text(page(office, "/account/sign-ins"))
    assert "已退出" in body and "仍在登录中" not in body


def test_another_persons_login_cannot_be_signed_out(app, client, people, clock):
    theirs = app.test_client()
    assert login(theirs, username="cs", address=HOME).status_code == 302
    their_session = sessions_of(app, "cs")[-1]
    assert login(client).status_code == 302
    assert client.post(f"/account/sign-ins/{their_session.id}/end").status_code == 404
    assert client.post("/account/sign-ins/99999999/end").status_code == 404
    assert theirs.get("/").status_code == 200  # still logged in
    assert sessions_of(app, "cs")[-1].ended_at is None


def test_the_stored_browser_is_bounded_and_has_no_control_characters(app, client, people, clock):
    login(client, agent="Evil\x1b[31m\x00Browser\u202e " + "A" * 500)
    stored = sessions_of(app, "bs")[-1].user_agent
    assert len(stored) == 200
    assert stored.startswith("Evil[31mBrowser ") and "\x1b" not in stored and "\u202e" not in stored
    assert "未知浏览器" in text(page(client, "/account/sign-ins"))


@pytest.mark.parametrize("agent, shown", [
    (CHROME, "Chrome 120 · Windows"),
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36 Edg/120.0.2210.91"), "Edge 120 · Windows"),
    (("Mozilla/5.0 (Linux; Android 13; V2227A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0.5304.141 "
      "Mobile Safari/537.36 MicroMessenger/8.0.42"), "WeChat 8 · Android"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0", "Firefox 121 · Linux"),
    ("", "Unknown browser"),
])
def test_browser_summaries(app, agent, shown):
    with app.test_request_context(headers={"Cookie": "qscore_lang=en"}):
        assert account_events.browser_summary(agent) == shown


# ---------------------------------------------------------------------------------------------
# One account from many addresses (ASVS 2.2.1)
# ---------------------------------------------------------------------------------------------

def test_sixty_addresses_at_one_account_the_owner_still_logs_in(app, client, people, clock):
    assert login(client, address=OFFICE).status_code == 302  # the owner's office PC: a familiar address
    client.post("/logout")
    clock.advance(days=3)
    answers = []
    for i in range(60):
        clock.advance(seconds=20)
        answers.append(login(app.test_client(), password=f"guess-{i}", address=f"203.0.113.{i + 1}"))
    assert [r.status_code for r in answers[:50]] == [422] * 50
    for r in answers[50:]:
        assert r.status_code == 429
        assert 0 < int(r.headers["Retry-After"]) <= 3600
        assert "密码错误次数过多，请" in r.get_data(as_text=True)
    # The 51st waited until the first failure is an hour old: 20 minutes after the first of them.
    assert int(answers[50].headers["Retry-After"]) == 3600 - 50 * 20
    # A new address with the right password waits too: no password is checked …
    assert login(app.test_client(), address="203.0.113.200").status_code == 429
    # … while the owner on the familiar address logs in at once.
    assert login(client, address=OFFICE).status_code == 302
    with app.app_context():
        failures = db.session.scalars(select(LoginAttempt).where(LoginAttempt.success.is_(False))).all()
    assert len(failures) == 50  # the refused tries were not even recorded
    assert "此后有 50 次密码错误的尝试。" in text(page(client))
    # Once the hour has room again, strangers may try again.
    clock.advance(seconds=int(answers[-1].headers["Retry-After"]))
    assert login(app.test_client(), password="guess-again", address="203.0.113.201").status_code == 422


def test_the_buttons_refuse_hostile_values_and_never_leave_the_site(app, client, people, clock):
    reset_by_admin(app, people)
    with app.app_context(), app.test_request_context():
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        bs.password_hash, bs.must_change_password = hash_password(TEST_PASSWORD), False  # as if chosen already
        db.session.commit()
        notice_id = db.session.scalar(select(AccountEvent.id))
    assert login(client).status_code == 302
    for value in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/a\x00b", "\u202e/x", "x" * 5000,
                  "javascript:alert(1)"):
        resp = client.post(f"/account/notices/{notice_id}/seen", data={"next": value})
        assert resp.status_code in (302, 400), (value, resp.status_code)
        if resp.status_code == 302:
            assert resp.headers["Location"] == "/", value
    for bad in ("abc", "-1", "99999999999999999999"):
        assert client.post(f"/account/notices/{bad}/seen").status_code == 404
        assert client.post(f"/account/sign-ins/{bad}/end").status_code == 404
