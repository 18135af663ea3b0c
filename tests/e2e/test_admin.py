"""The street office at work: a member's type changes and the roster follows; a roster workbook is
imported (and a bad one reported row by row); every administration page passes the accessibility check."""
from __future__ import annotations

import re
from datetime import date

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from qscore.db import db
from qscore.ledger import record_entry

from ..conftest import FIXED_TODAY, make_member
from .conftest import screenshot

pytestmark = pytest.mark.e2e
HEADERS = ["姓名", "性别", "出生年份", "入党日期", "列入街道名册日期", "类别", "预备党员", "社区", "支部", "联系电话",
           "住址", "积分手册编号"]


@pytest.fixture
def people(street, fresh_db):
    with fresh_db.app_context(), fresh_db.test_request_context():
        zhang = make_member(street.branch_id, "张伟", "A", birth_year=1952, booklet_no="QJ-001",
                            phone="13800000001", address="幸福路1号")
        make_member(street.branch_id, "李娜", "B", birth_year=1958)
        make_member(street.branch_id, "王秀英", "D", birth_year=1938)
        make_member(street.sibling_branch_id, "赵强", "C", birth_year=1979)
        record_entry(member=zhang, indicator_code="J1", value=None, earned_on=date(2026, 5, 8), note="",
                     user=None, today=FIXED_TODAY)
        db.session.commit()
        return {"zhang": zhang.id}


def english(page, base_url):
    page.context.add_cookies([{"name": "qscore_lang", "value": "en", "url": base_url}])


def chinese(page, base_url):
    page.context.add_cookies([{"name": "qscore_lang", "value": "zh_CN", "url": base_url}])


def test_admin_changes_a_members_type_and_the_roster_follows(page, people, street, login, a11y, base_url):
    login("admin")
    english(page, base_url)
    page.goto("/admin/members")
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    a11y.check(page)
    screenshot(page, "admin-members")
    page.evaluate("window.__marker = 'no reload'")
    page.get_by_label("Type today").select_option("D")  # htmx filters, no reload
    expect(page.locator("#members-table")).to_contain_text("王秀英")
    expect(page.locator("#members-table")).not_to_contain_text("张伟")
    page.get_by_label("Type today").select_option("")
    page.get_by_label("Name, booklet or member number").fill("张")
    expect(page.locator("#members-table")).not_to_contain_text("李娜")
    assert page.evaluate("window.__marker") == "no reload"
    page.get_by_role("link", name="张伟").click()
    expect(page.get_by_role("heading", name="张伟")).to_be_visible()
    expect(page.locator("#member-figures")).to_contain_text("51")
    a11y.check(page)
    page.get_by_role("button", name="Show phone and address").click()
    expect(page.locator("#private-fields")).to_contain_text("13800000001")
    card = page.locator("#type")
    card.get_by_label("New type").select_option("D")
    card.get_by_label("Effective from").fill("2026-04-01")
    card.get_by_label("Reason (change in work, health or residence)").fill("中风后行动不便，居家养病")
    card.get_by_label("The member's own wish").fill("本人申请，同意调整")
    card.get_by_role("button", name="Change the type").click()
    expect(page.locator("#type .flash-success")).to_contain_text("The type of 张伟 is changed from 2026-04-01")
    history = page.locator("#type table tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("中风后行动不便")
    expect(history.first).to_contain_text("本人申请，同意调整")
    # 1 point of J1 on a pro-rated base: (3 x 50 + 9 x 65) / 12 = 61.25, plus 1.
    expect(page.locator("#member-figures")).to_contain_text("62.3")
    a11y.check(page)
    screenshot(page, "admin-member-type-changed")
    # An effective date before the earliest allowed one is refused next to the field.
    card = page.locator("#type")
    card.get_by_label("New type").select_option("C")
    card.get_by_label("Effective from").fill("2019-06-01")
    card.get_by_label("Reason (change in work, health or residence)").fill("测试")
    card.get_by_label("The member's own wish").fill("测试")
    card.get_by_role("button", name="Change the type").click()
    expect(page.locator("#effective_from-errors")).to_contain_text("came onto the roll on 2020-01-01")
    a11y.check(page)

    chinese(page, base_url)
    page.goto(f"/branches/{street.branch_id}/roster")
    row = page.locator(f"#member-{people['zhang']}-row")
    expect(row.locator(".type-badge")).to_have_text("第四类")
    expect(row.locator(".score-cell")).to_have_text("62.3")
    a11y.check(page)
    screenshot(page, "admin-roster-after-type-change")


def workbook_file(tmp_path, name, rows):
    wb = Workbook()
    wb.active.append(HEADERS)
    for r in rows:
        wb.active.append(r)
    path = tmp_path / name
    wb.save(path)
    return path


def test_admin_imports_a_roster_and_sees_the_report_for_a_bad_one(page, people, street, login, a11y, base_url,
                                                                  tmp_path):
    bad = workbook_file(tmp_path, "bad.xlsx", [
        ["刘洋", "男", 1966, "1990-07-01", "2015-03-01", "B", "否", "前进社区", "第一党支部", "", "", ""],
        ["", "女", 1970, "1995-07-01", "2015-03-01", "A", "否", "前进社区", "第一党支部", "", "", ""],
        ["周敏", "女", 1971, "1995-07-01", "2015-13-01", "A", "否", "前进社区", "第一党支部", "", "", ""],
        ["吴刚", "男", 1965, "1989-07-01", "2015-03-01", "A", "否", "前进社区", "第九支部", "", "", ""],
        ["张伟", "男", 1952, "", "2015-03-01", "A", "否", "前进社区", "第一党支部", "", "", ""],
        ["郑红", "女", 1968, "", "2015-03-01", "X", "否", "前进社区", "第一党支部", "", "", ""],
    ])
    good = workbook_file(tmp_path, "good.xlsx", [
        ["刘洋", "男", 1966, "1990-07-01", "2015-03-01", "B", "否", "前进社区", "第一党支部", "", "", ""],
        ["孙丽", "女", 1980, "2005-07-01", "2018-09-01", "C", "是", "", "再就业党支部", "13900000000", "", "QJ-9"],
    ])
    login("admin")
    english(page, base_url)
    page.goto("/admin/members/import")
    a11y.check(page)
    page.get_by_label("Roster workbook (.xlsx)").set_input_files(bad)
    page.get_by_role("button", name="Check and import").click()
    report = page.locator(".error-report")
    expect(page.get_by_role("heading", name="Nothing was imported")).to_be_visible()
    expect(report.locator("tbody tr")).to_have_count(5)
    expect(report).to_contain_text("The name is missing.")
    expect(report).to_contain_text("is not a date")
    expect(report).to_contain_text("Unknown branch “第九支部”")
    expect(report).to_contain_text("Already on the roll of this branch")
    expect(report).to_contain_text("Unknown type code “X”")
    a11y.check(page)
    screenshot(page, "admin-import-report")
    page.get_by_label("Roster workbook (.xlsx)").set_input_files(good)
    page.get_by_role("button", name="Check and import").click()
    expect(page.locator("#import-result")).to_contain_text("2 members are on the roll now")
    a11y.check(page)
    page.get_by_role("link", name="See the members").click()
    expect(page.locator("#members-table")).to_contain_text("孙丽")
    expect(page.locator("#members-table")).to_contain_text("刘洋")


ADMIN_PAGES = [
    ("/admin/", "admin-index"), ("/admin/organisations", "admin-organisations"), ("/admin/accounts", "admin-accounts"),
    ("/admin/accounts/bulk", None), ("/admin/accounts/new", None), ("/admin/members/type-review", "admin-type-review"),
    ("/admin/opening-balances", None), ("/admin/members/{zhang}/opening", "admin-opening-member"),
    ("/admin/members/{zhang}/edit", "admin-member-edit"), ("/admin/members/{zhang}/transfer", None),
    ("/admin/members/{zhang}/status", None), ("/admin/members/new", None),
    ("/admin/scheme/2026", "admin-scheme"), ("/admin/scheme/2026/edit", "admin-scheme-edit"),
    ("/admin/settings", "admin-settings"), ("/admin/audit", "admin-audit"),
]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_every_administration_page_is_accessible(page, people, street, login, a11y, base_url, lang):
    login("admin")
    page.context.add_cookies([{"name": "qscore_lang", "value": lang, "url": base_url}])
    for path, shot in ADMIN_PAGES:
        page.goto(path.format(**people))
        expect(page.locator("h1")).to_be_visible()
        a11y.check(page)
        if shot and lang == "en":
            screenshot(page, shot)


def test_inline_rename_and_bulk_accounts(page, people, street, login, a11y, base_url):
    login("admin")
    english(page, base_url)
    page.goto("/admin/organisations")
    row = page.locator(f"#branch-{street.sibling_branch_id}-row")
    row.get_by_role("button", name="Edit").click()
    row = page.locator(f"#branch-{street.sibling_branch_id}-row")
    row.get_by_label("Name of the branch").fill("")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".field-errors")).to_contain_text("Fill this in.")
    a11y.check(page)
    row.get_by_label("Name of the branch").fill("再就业第一支部")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#branch-{street.sibling_branch_id}-row")).to_contain_text("再就业第一支部")
    page.goto("/admin/accounts/bulk")
    page.get_by_label("Branch").select_option(str(street.branch_id))
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Create accounts and show the sheet").click()
    expect(page.locator(".slip")).to_have_count(3)
    expect(page.locator(".slip").first).to_contain_text(re.compile(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}"))
    a11y.check(page)
    screenshot(page, "admin-password-sheet")
