"""Passwords to OWASP ASVS 2.1 (qscore/passwords.py): one rule wherever a password is chosen (setup, the
password page, `flask qscore add-user`), the strength meter that says what the form will say, and
first-time passwords that stop working after FIRST_PASSWORD_DAYS."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from qscore import passwords
from qscore.db import db
from qscore.models import LoginAttempt, User, UserSession
from qscore.security import hash_password

from .conftest import TEST_PASSWORD, make_member
from .test_migrations import empty_database_url  # noqa: F401  (a fixture, used by name)

# A passphrase with no pattern in it, cut to any length.
PHRASE = "tea garden 7 lantern, river moon 42; " * 4
EXPIRED = "这个初始密码已过期，请联系管理员重新设置"
FIRST_TIME_RE = r'<code class="password">([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>'


@pytest.fixture
def rule(ctx):
    """The rule as the password page applies it, in Chinese (the default language)."""
    return passwords.problem


# --- The rule ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("length", "accepted"), [(11, False), (12, True), (64, True), (128, True), (129, False)])
def test_length_counts_characters_from_12_to_128(rule, length, accepted):
    password = PHRASE[:length]
    assert len(password) == length
    reason = rule(password)
    assert (reason is None) == accepted, reason
    if length == 11:
        assert reason == "至少 12 个字符。"
    if length == 129:
        assert reason == "最多 128 个字符。"


def test_the_minimum_is_a_setting(make_app):
    app = make_app(MIN_PASSWORD_LENGTH=16)
    with app.app_context(), app.test_request_context():
        assert passwords.problem(PHRASE[:15]) == "至少 16 个字符。"
        assert passwords.problem(PHRASE[:16]) is None


@pytest.mark.parametrize("password", [
    "我家住在幸福街道三号楼二单元",   # Chinese: one character each
    "🐼🍎🚲🌙🎈🐟🍵🌸⚽🎵🐢🍉",        # 12 emoji, 24 UTF-16 units: still 12 characters
    "ＡｂＣ　全角也可以　１２３４",        # full-width, as a Chinese input method types it
    "tea  garden  lantern",           # inner spaces
])
def test_any_unicode_and_spaces_are_allowed_and_no_kind_of_character_is_required(rule, password):
    assert rule(password) is None


def test_a_code_point_counts_once(rule):
    assert rule("🐼🍎🚲🌙🎈🐟🍵🌸⚽🎵🐢") == "至少 12 个字符。"  # 11 emoji are 22 UTF-16 units, still too short


@pytest.mark.parametrize("password", ["1234567890", "password12", "qwertyuiop"])
def test_the_issues_examples_are_refused_for_what_they_are_even_with_a_lower_minimum(make_app, password):
    app = make_app(MIN_PASSWORD_LENGTH=10)
    with app.app_context(), app.test_request_context():
        reason = passwords.problem(password)
    assert reason in ("这是常见密码，容易被猜中，请换一个。", "连续或重复的字符（如 123456、qwerty、aaaa）容易被猜中，请换一个。")


@pytest.mark.parametrize(("password", "why"), [
    ("qwertyuiop12", "常见密码"),            # common passwords of 12 characters and more, from the shipped list
    ("123456789012", "常见密码"),
    ("password1234", "常见密码"),
    ("1qaz2wsx3edc", "常见密码"),
    ("PassWord1234", "常见密码"),            # case does not matter
    ("ｐａｓｓｗｏｒｄ１２３４", "常见密码"),  # nor full width
    ("iloveyou1314", "前后加了几个数字或符号"),
    ("woaini1314!!", "前后加了几个数字或符号"),
    ("dragon19640315", "前后加了几个数字或符号"),  # a birthday after a common word
    ("abcdefghijkl", "连续或重复"),
    ("1234567890ab", "连续或重复"),          # two runs
    ("987654321098", "连续或重复"),
    ("abcabcabcabc", "连续或重复"),
    ("aaaaaaaaaaaa", "连续或重复"),
    ("我我我我我我我我我我我我", "连续或重复"),
])
def test_common_decorated_and_patterned_passwords_are_refused_with_the_reason(rule, password, why):
    reason = rule(password)
    assert reason and why in reason and reason.endswith("请换一个。")


def test_the_list_is_shipped_with_the_package():
    common = passwords.common_passwords()
    assert 40_000 < len(common) < 100_000
    assert {"123456", "password", "qwertyuiop", "iloveyou", "woaini"} <= common
    assert not any(p.startswith("#") for p in common)


@pytest.mark.parametrize("password", ["zhang.wei-garden", "my ZHANG.WEI pass", "garden-zhang.wei"])
def test_a_password_holding_the_username_is_refused(rule, password):
    assert rule(password, "zhang.wei") == "密码不能包含用户名。"


def test_control_characters_are_refused_in_a_new_password(rule):
    for password in ("tea garden\x00 lantern", "tea garden\u202e lantern", "tea garden\tlantern"):
        assert rule(password) == "含有看不见的控制字符，请重新输入。"


def test_the_meter_words(ctx):
    assert passwords.strength("qwertyuiop12").level == "weak"
    assert passwords.strength("zhangsan1964").level == "fair"   # accepted; short and only letters and digits
    assert passwords.strength("tea garden lantern").level == "strong"  # long
    assert passwords.strength("Tea-garden-7").level == "strong"  # three kinds of character
    assert passwords.strength("zhangsan1964").word == "密码强度：一般"


# --- Through the pages and the command ----------------------------------------------------------------------------------

def change(client, new, current=TEST_PASSWORD):
    return client.post("/password", data={"current": current, "password": new, "confirm": new})


def logs_in(app, username, password) -> bool:
    return app.test_client().post("/login", data={"username": username, "password": password}).status_code == 302


@pytest.mark.parametrize("new", ["我家住在幸福街道三号楼二单元", "🐼🍎🚲🌙🎈🐟🍵🌸⚽🎵🐢🍉", PHRASE[:128]])
def test_chinese_emoji_and_128_character_passwords_can_be_chosen_and_used(app, client, auth, org, new):
    auth.login("bs")
    assert change(client, new).status_code == 302
    assert logs_in(app, "bs", new)
    assert not logs_in(app, "bs", TEST_PASSWORD)


def test_inner_spaces_are_kept_and_count(app, client, auth, org):
    auth.login("bs")
    assert change(client, "tea garden  lantern").status_code == 302
    assert logs_in(app, "bs", "tea garden  lantern")
    for near in ("tea garden lantern", "teagarden  lantern", " tea garden  lantern"):
        assert not logs_in(app, "bs", near), near


def test_two_long_passwords_differing_only_in_the_last_character_are_different(app, client, auth, org):
    first, second = PHRASE[:127] + "A", PHRASE[:127] + "B"
    auth.login("bs")
    assert change(client, first).status_code == 302
    assert not logs_in(app, "bs", second)
    assert logs_in(app, "bs", first)


@pytest.mark.parametrize(("new", "message"), [
    ("qwertyuiop12", "这是常见密码，容易被猜中，请换一个。"),
    ("cs.admin-garden", "密码不能包含用户名。"),       # the user's own name, without a username field
    (PHRASE[:11], "至少 12 个字符。"),
    (PHRASE[:129], "最多 128 个字符。"),
])
def test_the_password_page_refuses_with_the_reason_in_chinese(app, client, auth, org, new, message):
    auth.login("admin")
    resp = change(client, new)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert logs_in(app, "admin", TEST_PASSWORD)


def test_an_old_password_with_a_control_character_still_logs_in(app, org):
    """The control-character rule is for passwords being chosen: one set before it keeps working."""
    with app.app_context():
        db.session.get(User, org.branch_secretary_id).password_hash = hash_password("old\x01password")
        db.session.commit()
    assert logs_in(app, "bs", "old\x01password")


def test_setup_applies_the_rule_and_takes_a_chinese_password(app, client, setup_token):
    data = {"street_name": "幸福街道", "username": "admin", "token": setup_token}
    resp = client.post("/setup", data={**data, "password": "password1234", "confirm": "password1234"})
    assert resp.status_code == 422 and "这是常见密码" in resp.get_data(as_text=True)
    resp = client.post("/setup", data={**data, "password": "admin-of-the-street", "confirm": "admin-of-the-street"})
    assert resp.status_code == 422 and "密码不能包含用户名。" in resp.get_data(as_text=True)
    chosen = "我们街道的党员积分管理"
    assert len(chosen) == 11
    resp = client.post("/setup", data={**data, "password": chosen + "！", "confirm": chosen + "！"})
    assert resp.status_code == 302
    assert logs_in(app, "admin", chosen + "！")


@pytest.mark.parametrize(("password", "message"), [
    ("qwertyuiop12", "这是常见密码"),
    ("li.ming-garden-9", "密码不能包含用户名"),
    (PHRASE[:129], "最多 128 个字符"),
])
def test_add_user_prints_the_reason_and_fails(app, runner, password, message):
    runner.invoke(args=["qscore", "add-org", "--street", "幸福街道"])
    result = runner.invoke(args=["qscore", "add-user", "li.ming", "--role", "street_admin", "--street", "幸福街道",
                                 "--password", password])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_add_user_takes_a_chinese_password(app, runner):
    runner.invoke(args=["qscore", "add-org", "--street", "幸福街道"])
    result = runner.invoke(args=["qscore", "add-user", "li.ming", "--role", "street_admin", "--street", "幸福街道"],
                           env={"QSCORE_NEW_PASSWORD": "我家住在幸福街道三号楼二单元"})
    assert result.exit_code == 0, result.output
    assert logs_in(app, "li.ming", "我家住在幸福街道三号楼二单元")


# --- The meter ------------------------------------------------------------------------------------------------------

def meter(client, password, **extra):
    return client.post("/password/strength", data={"password": password, **extra}, headers={"HX-Request": "true"})


def test_the_meter_says_what_the_form_will_say(client, auth, org):
    auth.login("bs")
    body = meter(client, "qwertyuiop12").get_data(as_text=True)
    assert "密码强度：弱" in body and "这是常见密码，容易被猜中，请换一个。" in body and "已输入 12 个字符" in body
    body = meter(client, "tea garden lantern").get_data(as_text=True)
    assert "密码强度：强" in body and "meter-strong" in body
    assert "密码强度：一般" in meter(client, "zhangsan1964").get_data(as_text=True)
    # The signed-in user's own name, whatever the page sends.
    client.post("/logout")
    auth.login("admin")
    assert "密码不能包含用户名" in meter(client, "admin-garden-lantern", username="someone").get_data(as_text=True)
    assert meter(client, "").get_data(as_text=True).strip() == ""


def test_the_meter_works_on_the_forced_password_page(app, client, auth, org):
    """An account that must change its password reaches nothing but that page: its meter still answers."""
    with app.app_context():
        db.session.get(User, org.branch_secretary_id).must_change_password = True
        db.session.commit()
    auth.login("bs")
    resp = meter(client, "qwertyuiop12")
    assert resp.status_code == 200 and "常见密码" in resp.get_data(as_text=True)


def test_the_meter_answers_before_any_account_exists(client):
    """Before setup every other page leads to /setup; the setup page's meter takes the username typed beside it."""
    assert client.get("/login").status_code == 302
    resp = meter(client, "admin-of-the-street", username="admin")
    assert resp.status_code == 200 and "密码不能包含用户名" in resp.get_data(as_text=True)


def test_the_new_password_fields_carry_the_meter_and_every_password_field_a_toggle(client, auth, org):
    auth.login("bs")
    page = client.get("/password").get_data(as_text=True)
    assert page.count('type="password"') == 3 and page.count("data-password-toggle") == 3
    assert 'hx-post="/password/strength"' in page and 'id="password-meter" aria-live="polite"' in page
    assert 'autocomplete="new-password"' in page and 'autocomplete="current-password"' in page
    # A browser's maxlength counts UTF-16 units and would cut an emoji password short.
    assert not [i for i in re.findall(r'<input[^>]*type="password"[^>]*>', page) if "maxlength" in i]
    client.post("/logout")
    login = client.get("/login").get_data(as_text=True)
    assert login.count("data-password-toggle") == 1 and "password-meter" not in login


# --- First-time passwords expire ----------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = datetime(2026, 5, 20, 1, 0, 0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(passwords, "utcnow", c)
    return c


@pytest.fixture
def admin(client, auth, org):
    auth.login("admin")
    return client


def new_account(admin, org) -> str:
    resp = admin.post("/admin/accounts/new", data={"username": "wang.bs", "display_name": "王书记",
                                                   "role": "branch_secretary", "community_id": 0,
                                                   "branch_id": org.sibling_branch_id, "member_ref": ""})
    assert resp.status_code == 200
    (password,) = re.findall(FIRST_TIME_RE, resp.get_data(as_text=True))
    assert "此初始密码在 2026-06-03 09:00 前有效" in resp.get_data(as_text=True)  # 14 days, in Beijing time
    return password


def expires_at(app, username):
    with app.app_context():
        return db.session.scalar(select(User.password_expires_at).where(User.username == username))


def login(app, username, password):
    return app.test_client().post("/login", data={"username": username, "password": password})


def test_a_first_time_password_works_for_14_days_then_is_refused(app, admin, org, clock):
    password = new_account(admin, org)
    assert expires_at(app, "wang.bs") == datetime(2026, 6, 3, 1, 0, 0)
    clock.now += timedelta(days=14) - timedelta(minutes=1)
    assert login(app, "wang.bs", password).headers["Location"] == "/password"
    clock.now += timedelta(minutes=1)
    with app.app_context():
        sessions_before = db.session.scalar(select(func.count()).select_from(UserSession))
    resp = login(app, "wang.bs", password)
    assert resp.status_code == 422 and EXPIRED in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == sessions_before  # no session
        # The right password, too late, is not a guess: the throttle counted no failure.
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.success.is_(False))) == 0
    # A wrong one is still a wrong one, and says nothing about the expiry.
    resp = login(app, "wang.bs", "not-the-password")
    assert resp.status_code == 422 and EXPIRED not in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt).where(
            LoginAttempt.success.is_(False))) == 1


def test_choosing_ones_own_password_ends_the_expiry(app, admin, org, clock):
    password = new_account(admin, org)
    clock.now += timedelta(days=3)
    holder = app.test_client()
    assert holder.post("/login", data={"username": "wang.bs", "password": password}).headers["Location"] == "/password"
    assert change(holder, "tea garden lantern", current=password).status_code == 302
    assert expires_at(app, "wang.bs") is None
    clock.now += timedelta(days=365)
    assert logs_in(app, "wang.bs", "tea garden lantern")


def test_a_reset_gives_a_new_period_and_an_expired_account_can_be_reset(app, admin, org, clock):
    password = new_account(admin, org)
    clock.now += timedelta(days=20)
    assert EXPIRED in login(app, "wang.bs", password).get_data(as_text=True)
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "wang.bs"))
    resp = admin.post(f"/admin/accounts/{user_id}/reset")
    (fresh,) = re.findall(FIRST_TIME_RE, resp.get_data(as_text=True))
    assert expires_at(app, "wang.bs") == clock.now + timedelta(days=14)
    assert login(app, "wang.bs", fresh).headers["Location"] == "/password"


def test_bulk_member_accounts_expire_too_and_the_slips_say_when(app, admin, org, clock):
    with app.app_context():
        for name in ("张三", "李四"):
            make_member(org.branch_id, name)
        db.session.commit()
    resp = admin.post("/admin/accounts/bulk", data={"branch_id": org.branch_id})
    assert resp.status_code == 200
    assert resp.get_data(as_text=True).count("请在 2026-06-03 09:00 前登录，过期后此密码失效。") == 2
    with app.app_context():
        made = db.session.scalars(select(User).where(User.role == "member")).all()
        assert len(made) == 2 and all(u.password_expires_at == datetime(2026, 6, 3, 1, 0, 0) for u in made)


def test_the_period_is_a_setting(make_app, org, clock):
    app = make_app(FIRST_PASSWORD_DAYS=3)
    client = app.test_client()
    client.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    resp = client.post("/admin/accounts/new", data={"username": "wang.bs", "display_name": "王书记",
                                                    "role": "branch_secretary", "community_id": 0,
                                                    "branch_id": org.sibling_branch_id, "member_ref": ""})
    assert resp.status_code == 200
    assert expires_at(app, "wang.bs") == datetime(2026, 5, 23, 1, 0, 0)


def test_accounts_made_by_setup_or_the_command_never_expire(app, runner, org, clock):
    runner.invoke(args=["qscore", "add-user", "li.ming", "--role", "street_admin", "--street", "幸福街道",
                        "--password", "tea garden lantern"])
    assert expires_at(app, "li.ming") is None
    clock.now += timedelta(days=400)
    assert logs_in(app, "li.ming", "tea garden lantern")


def test_the_upgrade_gives_waiting_first_time_passwords_the_period_from_today(make_app, empty_database_url):  # noqa: F811
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="21905febe235")
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO street (id, name, demo, created_at) VALUES (1, '幸福街道', false, '2026-01-01')"))
            for uid, name, must in ((1, "waiting", True), (2, "chosen", False)):
                conn.execute(text(
                    "INSERT INTO \"user\" (id, username, display_name, password_hash, role, street_id, active, "
                    "must_change_password, created_at) VALUES (:id, :name, :name, 'x', 'member', 1, true, :must, "
                    "'2026-01-01')"), {"id": uid, "name": name, "must": must})
        upgrade(revision="a19b00000001")
        with db.engine.connect() as conn:
            rows = dict(conn.execute(text('SELECT username, password_expires_at FROM "user"')).all())
        db.session.remove()
        db.engine.dispose()
    assert rows["chosen"] is None
    waiting = rows["waiting"] if isinstance(rows["waiting"], datetime) else datetime.fromisoformat(str(rows["waiting"]))
    assert timedelta(days=13, hours=23) < waiting - datetime.now(timezone.utc).replace(tzinfo=None) <= timedelta(days=14)
