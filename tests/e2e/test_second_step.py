"""The second step in a browser: the demo administrator logs in with the code of the published secret, as
anyone trying qscore would with an authenticator app; a secretary turns it on from the account menu."""
from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect

from qscore.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET

from ..conftest import TEST_PASSWORD, load_demo_street, truncate_all
from .conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def demo(fresh_db):
    load_demo_street(fresh_db)
    yield fresh_db
    with fresh_db.app_context():
        truncate_all()
    fresh_db.extensions.pop("qscore_setup_done", None)


def test_the_demo_admin_enters_the_code_of_the_published_secret(page, demo, a11y):
    page.goto("/login")
    page.get_by_label("用户名").fill("street")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/login/code")
    expect(page.get_by_role("heading", name="两步验证")).to_be_visible()
    expect(page.get_by_text("密码正确。请打开手机上的身份验证器，输入账号 street 当前显示的 6 位数字。")).to_be_visible()
    code_box = page.get_by_label("6 位验证码")
    expect(code_box).to_be_focused()
    # Big digits: a code a person can check against the phone at a glance.
    assert float(code_box.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    a11y.check(page)
    code_box.fill("000000" if pyotp.TOTP(DEMO_TOTP_SECRET).now() != "000000" else "111111")
    page.get_by_role("button", name="验证并登录").click()
    expect(page.locator("#code-errors")).to_contain_text("验证码不正确或已用过")
    # No other page while the code is missing.
    page.goto("/admin/accounts")
    page.wait_for_url("**/login/code")
    expect(page.locator("#code-errors")).to_have_count(0)
    page.get_by_label("6 位验证码").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
    screenshot(page, "second-step-code")
    page.get_by_role("button", name="验证并登录").click()
    page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator(".whoami-name")).to_have_text("示范街道党工委")
    page.get_by_role("link", name="两步验证").click()
    expect(page.locator(".totp-status")).to_contain_text("已开启")
    a11y.check(page)
    screenshot(page, "second-step-security")


def test_a_secretary_turns_it_on_from_the_account_menu(page, street, login, a11y):
    login("bs", TEST_PASSWORD)
    page.get_by_role("link", name="两步验证").click()
    expect(page.locator(".totp-status")).to_contain_text("未开启")
    page.get_by_role("link", name="开启两步验证").click()
    expect(page.get_by_text("打开手机上的身份验证器（如 微信小程序“腾讯身份验证器”、Google Authenticator、"
                            "Microsoft Authenticator），扫描二维码。")).to_be_visible()
    qr = page.get_by_role("img", name="用身份验证器扫描的二维码")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 200
    a11y.check(page)
    screenshot(page, "second-step-enrol")

    # The phone: the key typed by hand, as a person does who cannot scan.
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6 位验证码").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="开启两步验证").click()
    expect(page.get_by_text("两步验证已开启。")).to_be_visible()
    codes = page.locator(".totp-codes code")
    expect(codes).to_have_count(10)
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes.all_inner_texts())
    a11y.check(page)
    screenshot(page, "second-step-recovery-codes")

    # The phone is lost: the street administrator resets it from the accounts page, with a reason.
    page.get_by_role("button", name="退出").click()
    login("admin", TEST_PASSWORD)
    page.goto("/admin/accounts")
    row = page.locator("tr", has_text="bs")
    expect(row).to_contain_text("已开启两步验证")
    row.get_by_role("link", name="重置两步验证").click()
    expect(page.get_by_role("heading", name="重置 bs 的两步验证")).to_be_visible()
    a11y.check(page)
    screenshot(page, "second-step-reset")
    page.get_by_label("原因").fill("手机丢失，已电话确认本人")
    page.get_by_role("button", name="重置两步验证").click()
    expect(page.get_by_text("已重置 bs 的两步验证")).to_be_visible()
    expect(page.locator("tr", has_text="bs")).not_to_contain_text("已开启两步验证")
