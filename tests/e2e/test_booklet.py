"""A member writes a completed item into their booklet; the branch secretary confirms it."""
from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from qscore.db import db
from qscore.ledger import correct_entry, record_entry
from qscore.models import Branch, User
from qscore.security import hash_password

from ..conftest import FIXED_TODAY, TEST_PASSWORD, make_member
from .conftest import screenshot

pytestmark = pytest.mark.e2e

J5 = "积分手册自记、学习笔记"


@pytest.fixture
def member_id(fresh_db, street):
    """张三, a retired member of 第一党支部 with the account m1 and a few entries by the branch secretary."""
    with fresh_db.app_context(), fresh_db.test_request_context():
        branch = db.session.scalar(select(Branch).where(Branch.name == "第一党支部"))
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        bs.display_name = "赵书记"
        m = make_member(branch.id, "张三", "B", on_roll_since=date(2018, 3, 1), booklet_no="QJ-0017")
        db.session.add(User(username="m1", display_name="张三", password_hash=hash_password(TEST_PASSWORD),
                            role="member", street_id=m.street_id, community_id=branch.community_id,
                            branch_id=branch.id, member_id=m.id))
        for code, value, day, note in [
            ("J1", None, date(2026, 1, 16), "一月主题党日"), ("J3", None, date(2026, 1, 20), ""),
            ("J1", None, date(2026, 2, 13), "二月主题党日"), ("Z2", None, date(2026, 2, 25), "走访联系户 3 户"),
            ("J1", None, date(2026, 3, 12), "三月主题党日"), ("Z3", "4", date(2026, 3, 28), "社区环境整治志愿服务"),
            ("J1", None, date(2026, 4, 10), "四月主题党日"), ("J3", None, date(2026, 4, 15), ""),
            ("Z1", None, date(2026, 5, 6), "楼道长奉献岗"),
        ]:
            record_entry(member=m, indicator_code=code, value=value, earned_on=day, note=note, user=bs,
                         today=FIXED_TODAY)
        wrong = record_entry(member=m, indicator_code="Z4", value="5", earned_on=date(2026, 5, 9), note="防汛值守",
                             user=bs, today=FIXED_TODAY).entry
        correct_entry(entry=wrong, reason="误录：当天由李四值守", user=bs, today=FIXED_TODAY)
        db.session.commit()
        return m.id


def test_member_self_records_and_secretary_confirms(page, member_id, login, a11y):
    login("m1")
    page.get_by_role("link", name="我的积分手册").click()
    expect(page).to_have_url(re.compile(rf"/members/{member_id}$"))
    expect(page.get_by_role("heading", name="张三", level=1)).to_be_visible()
    expect(page.locator("#month-5")).to_contain_text("误录：当天由李四值守")
    a11y.check(page)
    screenshot(page, "booklet-member")

    page.locator("select[name=indicator]").select_option("J5")
    expect(page.locator("input[name=earned_on]")).to_have_value("2026-05-20")
    page.locator("textarea[name=note]").fill("整理了五月份学习笔记，交支部查看")
    page.locator("#self-records button[type=submit]").click()
    waiting = page.locator("#self-records .selfrec-item")
    expect(waiting).to_have_count(1)
    expect(waiting).to_contain_text(J5)
    expect(waiting).to_contain_text("整理了五月份学习笔记")
    expect(page.locator("#booklet-months")).not_to_contain_text(J5)
    a11y.check(page)

    # an invalid item comes back with the error next to its field, and nothing else changes
    page.locator("select[name=indicator]").select_option("Z3")
    page.locator("textarea[name=note]").fill("社区义诊")
    page.locator("#self-records button[type=submit]").click()
    expect(page.locator("#hours-errors")).to_be_visible()
    expect(page.locator("#self-records .selfrec-item")).to_have_count(1)
    a11y.check(page)

    page.get_by_role("button", name="退出").click()
    login("bs")
    page.goto(f"/members/{member_id}")
    item = page.locator("#booklet-pending .selfrec-item")
    expect(item).to_contain_text(J5)
    a11y.check(page)
    item.locator("button[value=confirm]").click()
    expect(page.locator("#booklet-pending .selfrec-confirmed")).to_be_visible()
    expect(page.locator("#month-5")).to_contain_text(J5)
    expect(page.locator("#month-5")).to_contain_text("整理了五月份学习笔记")
    a11y.check(page)
    screenshot(page, "booklet")

    page.locator(".year-tabs").get_by_role("link", name="2025").click()
    expect(page).to_have_url(re.compile(r"year=2025"))
    expect(page.locator("#month-12")).to_be_visible()
    expect(page.locator("#booklet-months")).not_to_contain_text(J5)
    a11y.check(page)

    page.goto(f"/members/{member_id}/print")
    expect(page.get_by_role("heading", name="党员积分手册")).to_be_visible()
    a11y.check(page)
    screenshot(page, "booklet-print")
