"""A secretary logs in, is told of the last login and the wrong passwords since, and of a reset by the office;
opens 我的登录记录 and signs out a login left open on another PC."""
from __future__ import annotations

import re
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from qscore import account_events, throttle
from qscore.db import db
from qscore.models import User, UserSession
from qscore.models._common import utcnow

from ..conftest import TEST_PASSWORD
from .conftest import screenshot


def _history(app) -> None:
    """Yesterday's login from the office PC (still open there), two wrong passwords since, and a reset by 张三."""
    with app.app_context(), app.test_request_context():
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        admin.display_name = "张三"
        yesterday = utcnow() - timedelta(days=1)
        db.session.add(UserSession(
            token_hash="0" * 64, user_id=bs.id, created_at=yesterday, fresh_at=yesterday,
            expires_at=utcnow() + timedelta(hours=2), ip="10.0.3.17",
            user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/120.0.0.0 Safari/537.36 QQBrowser/12.2.5544.400"))
        for _ in range(2):
            throttle.record("login", "bs", "198.51.100.7", ok=False)
        account_events.note(bs, "password_reset", by=admin)
        db.session.commit()


def test_told_after_login_and_my_sign_ins(page, street, login, a11y, fresh_db):
    _history(fresh_db)
    login("bs", TEST_PASSWORD)
    notice = page.locator(".flash-signin-alert")
    expect(notice).to_contain_text(re.compile(r"上次登录：\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d，来自 10\.0\.3\.17。"))
    expect(notice).to_contain_text("此后有 2 次密码错误的尝试。")
    banner = page.locator(".account-notice")
    expect(banner).to_contain_text(re.compile(r"您的密码已于 .+ 由 张三 重置。"))
    a11y.check(page)
    screenshot(page, "sign-in-notice")

    notice.get_by_role("link", name="查看我的登录记录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("我的登录记录")
    office = page.locator("tr", has_text="10.0.3.17")
    expect(office).to_contain_text("QQ浏览器 12 · Windows")
    expect(office).to_contain_text("仍在登录中")
    expect(page.locator("tr.signin-current")).to_contain_text("本次登录（当前浏览器）")
    expect(page.locator("tr", has_text="198.51.100.7")).to_have_count(2)
    a11y.check(page)
    screenshot(page, "my-sign-ins")

    office.get_by_role("button", name="退出该登录").click()
    expect(page.locator(".flash-success")).to_have_text("该登录已退出：那个浏览器需要重新登录。")
    expect(page.locator("tr", has_text="10.0.3.17")).to_contain_text("已退出")

    # The reset stays on every page until 知道了; then it is gone, and stays listed here.
    page.get_by_role("link", name="概览").click()
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="知道了").click()
    expect(page.locator(".account-notice")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    page.get_by_role("link", name="我的登录记录").click()
    expect(page.locator(".event-list")).to_contain_text("由 张三 重置")
    expect(page.locator(".account-notice")).to_have_count(0)
