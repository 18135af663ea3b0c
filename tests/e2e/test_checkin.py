"""Sign-in at the door in a browser: the secretary opens a meeting and puts its page on the office screen;
three members sign in on their own phones (two with the screen's code and their name, one logged in), one
taps their name on the tablet; the secretary ends the sign-in and records the meeting in one save."""
from __future__ import annotations

import io
import time
from datetime import date

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy import select

from qscore.db import db
from qscore.models import Branch, CheckinMeeting, PointEntry

from ..conftest import TEST_PASSWORD, make_member
from .conftest import screenshot

pytestmark = pytest.mark.e2e

NAMES = ("张伟", "王秀英", "李娜", "刘洋", "欧阳明华")


@pytest.fixture
def branch(fresh_db, street):
    with fresh_db.app_context(), fresh_db.test_request_context():
        b = db.session.get(Branch, street.branch_id)
        ids = {name: make_member(b.id, name, "A", on_roll_since=date(2019, 1, 1)).id for name in NAMES}
        street.user("lina", "member", member_id=ids["李娜"])
        db.session.commit()
        return b.id, ids


def _phone(browser, base_url):
    return browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, locale="zh-CN",
                               is_mobile=True, has_touch=True)


def test_three_phones_and_a_tablet_sign_in_and_one_save_records_the_meeting(page, browser, base_url, fresh_db,
                                                                            branch, login, a11y):
    branch_id, ids = branch
    page.set_viewport_size({"width": 1366, "height": 900})
    login("bs")
    page.goto(f"/branches/{branch_id}/roster")
    page.get_by_role("link", name="会议签到").click()
    expect(page.get_by_role("heading", name="会议签到", exact=True)).to_be_visible()
    a11y.check(page)
    page.get_by_label("主题或名称").fill("五月主题党日")
    page.get_by_label("签到开始时间").fill("00:00")
    page.get_by_label("签到结束时间").fill("23:59")
    page.get_by_role("button", name="开启签到").click()
    expect(page.locator(".flash-success")).to_contain_text("已开启签到")
    a11y.check(page)

    # The office screen, in its own tab: the QR code decodes to the meeting's address.
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="在办公室大屏显示").click()
    screen = opened.value
    screen.set_viewport_size({"width": 1920, "height": 1080})
    expect(screen.get_by_role("heading", name="五月主题党日")).to_be_visible()
    started = time.perf_counter()
    qr_png = screen.locator(".checkin-qr").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr_png)))
    with fresh_db.app_context():
        token = db.session.scalars(select(CheckinMeeting.token)).one()
    assert [r.text for r in found] == [f"{base_url}/checkin/{token}"]
    code = screen.locator(".checkin-code").inner_text().strip()
    assert len(code) == 4 and code.isdigit()
    a11y.check(screen)

    # Two phones with the code and a name; one logged in.
    url = found[0].text
    for name in ("张伟", "王秀英"):
        phone = _phone(browser, base_url)
        p = phone.new_page()
        p.goto(url)
        expect(p.get_by_role("heading", name="五月主题党日")).to_be_visible()
        p.get_by_label("屏幕上的签到码").fill(code)
        p.get_by_label("您的姓名").fill(name)
        p.get_by_role("button", name="签到", exact=True).click()
        expect(p.get_by_text(f"已签到：{name}")).to_be_visible()
        if name == "张伟":
            screenshot(p, "checkin-phone")
            a11y.check(p)
        phone.close()
    phone = _phone(browser, base_url)
    p = phone.new_page()
    p.goto(f"/login?next=/checkin/{token}")
    p.get_by_label("用户名").fill("lina")
    p.get_by_label("密码").fill(TEST_PASSWORD)
    p.get_by_role("button", name="登录").click()
    p.get_by_role("button", name="以李娜的身份签到").click()
    expect(p.get_by_text("已签到：李娜")).to_be_visible()
    phone.close()

    # The tablet at the door, a device of its own with no login: 刘洋 taps his name under L.
    page.goto(f"/branches/{branch_id}/checkin")
    page.get_by_role("link", name="五月主题党日").click()
    tablet_url = page.locator(".checkin-url code").nth(1).inner_text()
    tablet = browser.new_context(base_url=base_url, viewport={"width": 1024, "height": 768}, locale="zh-CN",
                                 has_touch=True)
    t = tablet.new_page()
    t.goto(tablet_url)
    expect(t.get_by_role("navigation", name="主导航")).to_have_count(0)
    t.get_by_role("link", name="L", exact=True).click()
    t.get_by_role("button", name="刘洋", exact=True).click()
    expect(t.get_by_role("button", name="刘洋 ✓ 已签到")).to_be_visible()
    screenshot(t, "checkin-tablet")
    a11y.check(t)
    tablet.close()

    # The screen counts them without a reload.
    expect(screen.locator(".checkin-count-n")).to_have_text("4")
    screenshot(screen, "checkin-screen")

    # The secretary ends the sign-in: the meeting form has the four as attended; 欧阳明华 is marked absent.
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"/branches/{branch_id}/checkin")
    page.get_by_role("link", name="五月主题党日").click()
    expect(page.locator("#checkin-signed li")).to_have_count(4)
    page.get_by_role("button", name="结束签到并记录会议").click()
    expect(page.locator(".checkin-banner")).to_contain_text("已签到 4 人")
    for name in ("张伟", "王秀英", "李娜", "刘洋"):
        expect(page.locator(f"input[name='status-{ids[name]}'][value='attended']")).to_be_checked()
    page.get_by_role("button", name="未选择的都记为无故缺席").click()
    expect(page.locator(f"input[name='status-{ids['欧阳明华']}'][value='absent']")).to_be_checked()
    a11y.check(page)
    page.get_by_role("button", name="登记会议").click()
    expect(page.locator(".flash-success")).to_contain_text("共写入 5 条积分")
    elapsed = time.perf_counter() - started
    with fresh_db.app_context():
        entries = db.session.execute(select(PointEntry.member_id, PointEntry.indicator_code)).all()
    assert sorted(entries) == sorted([(ids[n], "J1") for n in ("张伟", "王秀英", "李娜", "刘洋")]
                                     + [(ids["欧阳明华"], "K1")])
    # The sign-in is over: the screen says so, and a late phone is refused.
    expect(screen.get_by_role("heading", name="签到已结束")).to_be_visible()
    phone = _phone(browser, base_url)
    p = phone.new_page()
    p.goto(url)
    expect(p.get_by_text("签到已结束")).to_be_visible()
    expect(p.get_by_label("屏幕上的签到码")).to_have_count(0)
    phone.close()
    print(f"\nsign-in path, screen to entries: {elapsed:.1f} s in the browser (4 sign-ins, 1 save)")
