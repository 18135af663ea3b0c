"""The dues register in a browser: a secretary ticks who paid this month and saves once, then closes the
quarter's months and sees J3 and K2 appear in the roster from the register, once."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import Branch, DuesLine, DuesRate, PointEntry

from ..conftest import make_member
from .conftest import screenshot

pytestmark = pytest.mark.e2e

NAMES = ("张伟", "王秀英", "李娜", "欧阳明华")


@pytest.fixture
def branch(fresh_db, street):
    with fresh_db.app_context(), fresh_db.test_request_context():
        b = db.session.get(Branch, street.branch_id)
        ids = {name: make_member(b.id, name, "A", on_roll_since=date(2019, 1, 1)).id for name in NAMES}
        for mid in ids.values():
            db.session.add(DuesRate(member_id=mid, monthly=Decimal("5.00"), effective_from=date(2026, 1, 1)))
        db.session.commit()
        return b.id, ids


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_month_paid_in_one_save_and_the_quarter_closed_into_points_once(page, fresh_db, branch, login, a11y):
    branch_id, ids = branch
    login("bs")
    page.get_by_role("link", name="党费收缴").click()
    expect(page.get_by_role("heading", name="2026年党费收缴")).to_be_visible()
    a11y.check(page)
    # January to March for three members, each month in one save; 欧阳明华 pays nothing.
    for month in ("2026-01", "2026-02", "2026-03"):
        page.get_by_label("登记月份").select_option(month)
        page.get_by_role("button", name="显示").click()
        expect(page.get_by_role("columnheader", name=f"{month} 已交")).to_be_visible()
        page.get_by_label("交纳日期").fill(f"{month}-10")
        for name in ("张伟", "王秀英", "李娜"):
            page.get_by_label(f"{name} {month} 已交").check()
        page.get_by_role("button", name="保存：本月已交").click()
        expect(page.locator(".flash-success")).to_contain_text(f"已登记 3 名党员 {month} 的党费")
    assert _count(fresh_db, DuesLine) == 9
    row = page.locator("tr", has_text="欧阳明华")
    expect(row.locator(".dues-unpaid")).to_have_count(5)  # January to May (May has begun: due, unpaid)
    screenshot(page, "dues-grid")
    a11y.check(page)

    # Catching up on the quarter on 20 May: J3 for the three who paid each month on time; January's close
    # came after February had ended, so it reminded nobody in time and no K2 follows (the page says why).
    for month in ("2026-01", "2026-02", "2026-03"):
        page.get_by_label("结算月份").select_option(month)
        page.get_by_role("button", name="结算所选月份").click()
        expect(page.locator(".flash-success")).to_contain_text(f"{month} 已结算")
    expect(page.locator(".flash-success")).to_contain_text("记按时交纳党费 3 条，欠缴党费扣分 0 条")
    expect(page.locator(".flash-info").first).to_contain_text("催缴不及时")
    # Closing March again writes nothing twice.
    page.get_by_label("结算月份").select_option("2026-03")
    page.get_by_role("button", name="结算所选月份").click()
    expect(page.locator(".flash-info", has_text="未重复记分")).to_be_visible()
    assert _count(fresh_db, PointEntry, PointEntry.indicator_code == "J3") == 3
    assert _count(fresh_db, PointEntry, PointEntry.indicator_code == "K2") == 0

    # The roster shows the points the register produced.
    page.goto(f"/members/{ids['张伟']}")
    expect(page.get_by_text("按时足额交纳").first).to_be_visible()
    expect(page.get_by_text("党费登记").first).to_be_visible()
