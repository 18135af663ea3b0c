"""A person who has been throttled: told how long to wait, in Chinese, with what they typed kept."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from qscore import throttle
from qscore.db import db

from ..conftest import TEST_PASSWORD
from .conftest import screenshot


def _failures(app, username: str, times: int) -> None:
    """Earlier wrong passwords of this account from this browser's address (the live server's clock)."""
    with app.app_context(), app.test_request_context():
        for _ in range(times):
            throttle.record("login", username, "127.0.0.1", ok=False)
        db.session.commit()


def test_a_throttled_login_says_how_long_to_wait_and_keeps_the_username(page, street, login, a11y, fresh_db):
    _failures(fresh_db, "admin", 10)  # the pair's wait is now 128 s
    login("admin", TEST_PASSWORD)
    error = page.locator("#password-errors")
    expect(error).to_have_text(re.compile(r"密码错误次数过多，请 [23] 分钟后再试。"))
    expect(page.get_by_label("用户名")).to_have_value("admin")
    expect(page.get_by_label("密码")).to_have_value("")
    a11y.check(page)
    screenshot(page, "login-throttled")
    # Another account from the same machine is not held up.
    login("cs", TEST_PASSWORD)
    expect(page.locator(".whoami-role")).to_have_text("社区党组织书记")


def test_a_throttled_password_change_says_how_long_to_wait(page, street, login, a11y, fresh_db):
    login("admin", TEST_PASSWORD)
    _failures(fresh_db, "admin", 8)  # 32 s: still waiting when the form is sent
    page.goto("/password")
    page.get_by_label("当前密码").fill(TEST_PASSWORD)
    page.get_by_label("新密码", exact=True).fill("brand-new-pass-1")
    page.get_by_label("再次输入新密码").fill("brand-new-pass-1")
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator("#current-errors")).to_have_text(re.compile(r"密码错误次数过多，请 \d+ 秒后再试"))
    a11y.check(page)
    screenshot(page, "password-throttled")
