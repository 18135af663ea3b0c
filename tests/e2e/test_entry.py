"""A branch secretary at work: inline points, a whole meeting, an undo — without page reloads."""
from __future__ import annotations


import pytest
from playwright.sync_api import expect

from qscore.db import db

from ..conftest import make_member
from .conftest import screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def members(street, fresh_db):
    with fresh_db.app_context():
        ids = [make_member(street.branch_id, name, t).id
               for name, t in (("张伟", "A"), ("李娜", "B"), ("王秀英", "D"))]
        db.session.commit()
    return ids


def test_inline_add_updates_row_and_totals_without_reload(page, members, login, a11y):
    login("bs")
    page.get_by_role("link", name="花名册与积分").click()
    expect(page.get_by_role("heading", name="第一党支部")).to_be_visible()
    a11y.check(page)
    page.evaluate("window.__marker = 'no reload'")
    row = page.locator(f"#member-{members[0]}-row")
    expect(row.locator(".score-cell")).to_have_text("50")
    row.get_by_role("button", name="记分").click()
    form_row = page.locator(f"#member-{members[0]}-row")
    expect(form_row.get_by_label("积分指标")).to_be_focused()  # htmx has settled the new row
    form_row.get_by_label("积分指标").select_option("Z4")
    points = form_row.get_by_role("combobox", name="分值")  # the form re-renders for K4's options
    expect(points).to_be_visible()
    points.select_option("5")
    form_row.get_by_label("备注").fill("防汛值守")
    a11y.check(page)
    screenshot(page, "roster-inline-form")
    form_row.get_by_role("button", name="记分", exact=True).click()
    expect(row.locator(".score-cell")).to_have_text("55")
    expect(row.get_by_role("status")).to_contain_text("已记录")
    expect(page.locator("#branch-average")).to_have_text("58.3")  # (55 + 55 + 65) / 3
    assert page.evaluate("window.__marker") == "no reload"


def test_keyboard_only_entry_and_escape(page, members, login):
    login("bs")
    page.goto("/roster")
    row = page.locator(f"#member-{members[1]}-row")
    row.get_by_role("button", name="记分").focus()
    page.keyboard.press("Enter")
    select = page.locator(f"#member-{members[1]}-row").get_by_label("积分指标")
    expect(select).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(f"#member-{members[1]}-row").get_by_role("button", name="记分")).to_be_focused()
    page.keyboard.press("Enter")
    expect(select).to_be_focused()
    page.keyboard.press("Tab")  # the points of J1 are fixed: next is the date, then the note
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # submits the form
    expect(page.locator(f"#member-{members[1]}-row .score-cell")).to_have_text("56")


def test_meeting_for_the_whole_branch(page, members, login, a11y):
    login("bs")
    page.goto("/roster")
    page.get_by_role("link", name="登记会议或活动").click()
    page.get_by_label("主题或名称").fill("五月主题党日")
    a11y.check(page)
    page.get_by_role("group", name="王秀英 的出勤").get_by_label("无故缺席").check()
    page.get_by_role("button", name="其余全部出席").click()
    screenshot(page, "meeting-form")
    page.get_by_role("button", name="登记会议").click()
    expect(page.get_by_text("会议已登记，共写入 3 条积分")).to_be_visible()
    expect(page.locator(f"#member-{members[0]}-row .score-cell")).to_have_text("51")
    expect(page.locator(f"#member-{members[2]}-row .score-cell")).to_have_text("63")


def test_undo_an_entry(page, members, login, a11y):
    login("bs")
    page.goto("/roster")
    row = page.locator(f"#member-{members[0]}-row")
    row.get_by_role("button", name="出席 +1").click()  # the quick button says what it does
    expect(row.locator(".score-cell")).to_have_text("51")
    row.get_by_role("button", name="撤销", exact=True).click()
    page.get_by_label("更正原因").fill("点错了人")
    a11y.check(page)
    page.get_by_role("button", name="记录更正").click()
    expect(row.locator(".score-cell")).to_have_text("50")
    expect(row.get_by_role("status")).to_contain_text("已更正")
    screenshot(page, "roster-after-undo")


def test_roster_swaps_log_no_console_error(page, members, login, a11y):
    """htmx's swaps on an ordinary page break no CSP rule (no inline style) and raise nothing (issue 14, item 10)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    login("bs")
    page.goto("/roster")
    row = page.locator(f"#member-{members[0]}-row")
    row.get_by_role("button", name="记分").click()
    form_row = page.locator(f"#member-{members[0]}-row")
    expect(form_row.get_by_label("积分指标")).to_be_focused()
    form_row.get_by_label("积分指标").select_option("Z4")  # the form swaps itself for Z4's choices
    points = form_row.get_by_role("combobox", name="分值")
    expect(points.locator("option[value='5']")).to_be_attached()  # wait for Z4's form, not the one it replaces
    points.select_option("5")
    form_row.get_by_label("备注").fill("防汛值守")
    a11y.check(page)
    form_row.get_by_role("button", name="记分", exact=True).click()
    expect(row.locator(".score-cell")).to_have_text("55")  # the row and the totals (out of band) swapped
    other = page.locator(f"#member-{members[1]}-row")
    other.get_by_role("button", name="记分").click()
    expect(other.get_by_label("积分指标")).to_be_focused()
    page.keyboard.press("Escape")  # app.js swaps the row back through htmx
    expect(other.get_by_role("button", name="记分")).to_be_focused()
    a11y.check(page)
    assert errors == []
