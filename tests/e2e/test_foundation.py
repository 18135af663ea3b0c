"""What a person does first: set up the street, log in as each role, switch language, lose a session."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from qscore.db import db
from qscore.models import UserSession

from ..conftest import read_setup_token
from .conftest import screenshot

pytestmark = pytest.mark.e2e


def test_first_visit_sets_up_the_street(page, fresh_db, a11y):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="欢迎使用党员积分管理系统")).to_be_visible()
    a11y.check(page)
    # The person who started the server opens the link it printed: the setup code is in it.
    page.goto(f"/setup?token={read_setup_token(fresh_db)}")
    page.get_by_label("街道名称").fill("幸福街道")
    page.get_by_label("街道管理员用户名").fill("admin")
    page.get_by_label("密码", exact=True).fill("short")
    page.get_by_label("再次输入密码").fill("short")
    page.get_by_role("button", name="创建街道").click()
    expect(page.locator(".field-errors")).to_have_text("至少 12 个字符。")
    a11y.check(page)
    page.get_by_label("密码", exact=True).fill("a-long-password")
    page.get_by_label("再次输入密码").fill("a-long-password")
    page.get_by_role("button", name="创建街道").click()
    expect(page.get_by_role("heading", name="概览")).to_be_visible()
    expect(page.locator(".brand-sub")).to_have_text("幸福街道")
    a11y.check(page)
    screenshot(page, "setup-done-overview")
    page.goto("/setup")
    expect(page.get_by_role("heading", name="页面不存在")).to_be_visible()


@pytest.mark.parametrize(("username", "role", "sees", "not_sees"), [
    ("admin", "街道党工委管理员", ["前进社区", "和平社区"], []),
    ("cs", "社区党组织书记", ["前进社区"], ["和平社区"]),
    ("bs", "党支部书记", ["第一党支部"], ["和平社区", "再就业党支部"]),
])
def test_each_role_logs_in_and_out(page, street, login, a11y, username, role, sees, not_sees):
    login(username)
    expect(page.locator(".whoami-role")).to_have_text(role)
    for text in sees:
        expect(page.get_by_text(text).first).to_be_visible()
    for text in not_sees:
        expect(page.get_by_text(text)).to_have_count(0)
    a11y.check(page)
    page.get_by_role("button", name="退出").click()
    expect(page.get_by_text("您已退出登录")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login"))


def test_wrong_password_shows_message(page, street, login):
    login("admin", "not-the-password")
    expect(page.get_by_text("用户名或密码错误")).to_be_visible()


def test_language_switch_sticks(page, street, login, a11y):
    login("admin")
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    a11y.check(page)
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="概览")).to_be_visible()


def test_expired_session_during_htmx_action_goes_to_login_and_back(page, street, login, fresh_db):
    login("admin")
    page.get_by_role("button", name="前进社区").click()
    expect(page.get_by_role("link", name="第一党支部")).to_be_visible()
    with fresh_db.app_context():
        for s in db.session.scalars(db.select(UserSession)):
            s.ended_at = s.created_at
        db.session.commit()
    page.get_by_role("button", name="和平社区").click()
    expect(page).to_have_url(re.compile(r"/login\?next=/"))
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("correct-horse-9")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="概览")).to_be_visible()
