"""A person choosing a password: the meter says, while they type, what the form will say, and the
show-password button lets them read what they typed (by mouse or keyboard)."""
from __future__ import annotations

import re
from datetime import datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from qscore.db import db
from qscore.models import User

from ..conftest import TEST_PASSWORD, make_member, read_setup_token
from .conftest import screenshot

pytestmark = pytest.mark.e2e


def test_typing_a_new_password_shows_its_strength_and_the_toggle_shows_it(page, street, login, a11y):
    login("bs")
    page.get_by_role("link", name="密码", exact=True).click()
    expect(page.get_by_role("heading", name="修改密码")).to_be_visible()
    new = page.get_by_label("新密码", exact=True)
    field = page.locator(".password-field", has=new)
    toggle = field.get_by_role("button", name="显示密码")
    meter = field.locator(".password-meter")
    expect(toggle).to_be_visible()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(meter).to_have_attribute("aria-live", "polite")

    new.press_sequentially("qwertyuiop12", delay=20)
    expect(meter).to_contain_text("密码强度：弱")
    expect(meter).to_contain_text("这是常见密码，容易被猜中，请换一个。")
    expect(new).to_have_attribute("type", "password")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(new).to_have_attribute("type", "text")
    expect(new).to_have_value("qwertyuiop12")  # what a person now reads in the box

    new.fill("")
    new.press_sequentially("tea garden lantern", delay=20)
    expect(meter).to_contain_text("密码强度：强")
    expect(meter).to_contain_text("已输入 18 个字符")
    expect(meter.locator(".meter-strong")).to_be_visible()
    a11y.check(page)
    screenshot(page, "password-change-meter-shown")

    # The keyboard reaches the button from the box, and Space hides the password again.
    new.focus()
    page.keyboard.press("Tab")
    expect(toggle).to_be_focused()
    page.keyboard.press("Space")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(new).to_have_attribute("type", "password")

    # The other two boxes have their own buttons, and no meter.
    for label in ("当前密码", "再次输入新密码"):
        other = page.locator(".password-field", has=page.get_by_label(label, exact=True))
        expect(other.get_by_role("button", name="显示密码")).to_be_visible()
        expect(other.locator(".password-meter")).to_have_count(0)

    page.get_by_label("当前密码", exact=True).fill(TEST_PASSWORD)
    page.get_by_label("再次输入新密码", exact=True).fill("tea garden lantern")
    page.get_by_role("button", name="修改密码").click()
    expect(page.get_by_text("密码已修改。")).to_be_visible()


def test_the_form_refuses_what_the_meter_called_weak(page, street, login):
    login("bs")
    page.goto("/password")
    new = page.get_by_label("新密码", exact=True)
    new.press_sequentially("tea garden", delay=20)
    meter = page.locator("#password-meter")
    expect(meter).to_contain_text("至少 12 个字符。")
    page.get_by_label("当前密码", exact=True).fill(TEST_PASSWORD)
    page.get_by_label("再次输入新密码", exact=True).fill("tea garden")
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator("#password-errors")).to_have_text("至少 12 个字符。")
    screenshot(page, "password-change-refused")


def test_the_login_password_can_be_shown(page, street, a11y):
    page.goto("/login")
    page.get_by_label("密码").fill(TEST_PASSWORD)
    toggle = page.get_by_role("button", name="显示密码")
    toggle.click()
    expect(page.get_by_label("密码")).to_have_attribute("type", "text")
    a11y.check(page)
    screenshot(page, "login-password-shown")
    page.get_by_label("用户名").fill("bs")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/roster|/$"))


def test_the_setup_page_meter_knows_the_username_typed_above_it(page, fresh_db, a11y):
    page.goto(f"/setup?token={read_setup_token(fresh_db)}")
    page.get_by_label("街道管理员用户名").fill("zhangwei")
    password = page.get_by_label("密码", exact=True)
    password.press_sequentially("zhangwei-office", delay=20)
    meter = page.locator("#password-meter")
    expect(meter).to_contain_text("密码不能包含用户名。")
    password.fill("")
    password.press_sequentially("幸福街道党工委办公室", delay=20)  # 10 Chinese characters
    expect(meter).to_contain_text("至少 12 个字符。")
    password.press_sequentially("三楼", delay=20)
    expect(meter).to_contain_text("密码强度：一般")
    page.locator(".password-field", has=password).get_by_role("button", name="显示密码").click()
    expect(password).to_have_value("幸福街道党工委办公室三楼")
    a11y.check(page)
    screenshot(page, "setup-password-meter")


def test_a_slip_says_until_when_and_an_expired_one_is_refused_in_words(page, street, login, a11y, fresh_db):
    with fresh_db.app_context(), fresh_db.test_request_context():
        for name in ("张三", "李四"):
            make_member(street.branch_id, name)
        db.session.commit()
    login("admin")
    page.goto("/admin/accounts/bulk")
    page.get_by_label("党支部").select_option(str(street.branch_id))
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="创建账号并显示密码表").click()
    slip = page.locator(".slip").first
    expect(slip).to_contain_text(re.compile(r"请在 \d{4}-\d\d-\d\d \d\d:\d\d 前登录，过期后此密码失效。"))
    a11y.check(page)
    screenshot(page, "admin-password-sheet-expiry")
    username = slip.locator("code.password").first.inner_text()
    password = slip.locator("code.password").nth(1).inner_text()
    with fresh_db.app_context():
        u = db.session.scalar(select(User).where(User.username == username))
        u.password_expires_at = datetime(2026, 1, 1)  # the slip lay in a drawer too long
        db.session.commit()
    page.get_by_role("button", name="退出").click()
    page.goto("/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#password-errors")).to_have_text("这个初始密码已过期，请联系管理员重新设置。")
    a11y.check(page)
    screenshot(page, "login-first-password-expired")
