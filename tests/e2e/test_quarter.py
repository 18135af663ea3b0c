"""A branch secretary's quarter in Chinese, as they click through it: a meeting they attend themselves,
an undo from the booklet, a question before a likely mistake, the reconciliation in one click, and the
same pages on a phone."""
from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from qscore.db import db
from qscore.ledger import record_entry
from qscore.models import Branch, Member, PointEntry, Reconciliation, SelfRecord, User
from qscore.security import hash_password

from ..conftest import FIXED_TODAY, TEST_PASSWORD, make_member
from .conftest import screenshot

pytestmark = pytest.mark.e2e

NAMES = ("张伟", "王秀英", "李娜", "欧阳明华", "赵书记", "陈建国", "刘芳", "周敏")


@pytest.fixture
def branch(fresh_db, street):
    """第一党支部 with eight members; the secretary bs is one of them (赵书记), and m1 is 张伟's account."""
    with fresh_db.app_context(), fresh_db.test_request_context():
        b = db.session.get(Branch, street.branch_id)
        bs = db.session.scalar(select(User).where(User.username == "bs"))
        ids = {name: make_member(b.id, name, "ABCD"[i % 4] if name != "赵书记" else "A",
                                 on_roll_since=date(2019, 1, 1)).id for i, name in enumerate(NAMES)}
        bs.member_id, bs.display_name = ids["赵书记"], "赵书记"
        db.session.add(User(username="m1", display_name="张伟", password_hash=hash_password(TEST_PASSWORD),
                            role="member", street_id=street.street_id,
                            community_id=b.community_id, branch_id=b.id, member_id=ids["张伟"]))
        zhang = db.session.get(Member, ids["张伟"])
        for day in (date(2026, 1, 15), date(2026, 2, 12), date(2026, 3, 12), date(2026, 4, 9)):
            record_entry(member=zhang, indicator_code="J1", value=None, earned_on=day, note=f"{day.month}月主题党日",
                         user=bs, today=FIXED_TODAY)
        db.session.commit()
        return ids


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_the_secretary_records_a_meeting_they_attended_in_one_save(page, browser, base_url, fresh_db, branch,
                                                                     login, a11y):
    login("bs")
    page.goto(f"/branches/{_branch_id(fresh_db)}/meetings/new")
    page.get_by_label("主题").fill("五月主题党日：学习党章")
    page.get_by_role("button", name="其余全部出席").click()
    own_row = page.locator("tr", has_text="赵书记")
    expect(own_row).to_contain_text("确认后计分")
    a11y.check(page)
    screenshot(page, "meeting-with-own-line")
    page.get_by_role("button", name="登记会议").click()  # one save
    expect(page.locator(".flash")).to_contain_text("需由社区党组织书记或其他支委确认")
    assert _count(fresh_db, PointEntry) == 4 + 7  # seven lines recorded, the secretary's waits
    assert _count(fresh_db, SelfRecord, SelfRecord.status == "pending") == 1
    screenshot(page, "roster-after-meeting")

    # The community secretary sees it waiting on the roster and confirms it on the booklet.
    other = browser.new_context(base_url=base_url, locale="zh-CN")
    cs = other.new_page()
    cs.goto("/login")
    cs.get_by_label("用户名").fill("cs")
    cs.get_by_label("密码").fill(TEST_PASSWORD)
    cs.get_by_role("button", name="登录").click()
    cs.goto(f"/branches/{_branch_id(fresh_db)}/roster")
    cs.locator(f"#member-{branch['赵书记']}-row").get_by_role("link", name=re.compile("待确认")).click()
    cs.get_by_role("button", name="确认").first.click()
    expect(cs.locator("#booklet-months")).to_contain_text("五月主题党日")
    other.close()
    assert _count(fresh_db, PointEntry, PointEntry.member_id == branch["赵书记"]) == 1


def test_a_meeting_with_a_line_to_correct_records_nothing_until_it_is_corrected(page, fresh_db, branch, login, a11y):
    from qscore.models import Leave, Meeting

    login("bs")
    page.goto(f"/branches/{_branch_id(fresh_db)}/meetings/new")
    page.get_by_label("主题").fill("五月主题党日")
    li, wang = page.locator("tr", has_text="李娜"), page.locator("tr", has_text="王秀英")
    # 李娜 (type 3) is excused and the reason is typed in her line's one box; 王秀英 is excused with no reason.
    li.get_by_role("radio", name="请假").check()
    li.get_by_label("李娜 的请假原因或证明").fill("住院")
    wang.get_by_role("radio", name="请假").check()
    page.get_by_role("button", name="其余全部出席").click()
    page.get_by_role("button", name="登记会议").click()
    expect(page.locator(".flash-error")).to_contain_text("未写入任何记录：下方有 1 名党员的信息需要修改。")
    expect(wang.get_by_role("alert")).to_contain_text("该日没有登记请假：请填写原因以登记请假。")
    expect(li.get_by_role("alert")).to_have_count(0)
    expect(li.get_by_label("李娜 的请假原因或证明")).to_have_value("住院")  # what was typed is kept
    assert (_count(fresh_db, PointEntry), _count(fresh_db, Meeting), _count(fresh_db, Leave)) == (4, 0, 0)
    a11y.check(page)
    screenshot(page, "meeting-line-to-correct")

    wang.get_by_label("王秀英 的请假原因或证明").fill("外出探亲")
    page.get_by_role("button", name="登记会议").click()
    expect(page.locator(".flash")).to_contain_text("会议已登记")
    with fresh_db.app_context():
        reasons = dict(db.session.execute(select(Member.name, Leave.reason).join(Leave, Leave.member_id == Member.id)).all())
    assert reasons == {"李娜": "住院", "王秀英": "外出探亲"}
    assert _count(fresh_db, Meeting) == 1


def test_undo_any_entry_from_the_booklet(page, fresh_db, branch, login, a11y):
    login("bs")
    page.goto(f"/members/{branch['张伟']}")
    january = page.locator("#month-1")
    january.get_by_role("button", name="撤销").click()
    reason = january.get_by_label("更正原因")
    expect(reason).to_be_focused()
    reason.fill("一月未参加，误记")
    a11y.check(page)
    screenshot(page, "booklet-undo-form")
    january.get_by_role("button", name="记录更正").click()
    expect(page.locator("#month-1")).to_contain_text("一月未参加，误记")
    expect(page.locator("#month-1 .tag-struck")).to_be_visible()
    assert _count(fresh_db, PointEntry, PointEntry.corrects_id.isnot(None)) == 1


def test_a_second_attendance_the_same_day_is_asked_about(page, fresh_db, branch, login):
    login("bs")
    page.goto(f"/branches/{_branch_id(fresh_db)}/roster")
    row = page.locator(f"#member-{branch['李娜']}-row")

    def add_j1_today():
        row.get_by_role("button", name="记分").click()
        expect(row.get_by_label("积分指标")).to_be_focused()  # the form is in (htmx has swapped the row)
        row.get_by_role("button", name="记分", exact=True).click()

    add_j1_today()
    expect(row.get_by_role("status")).to_contain_text("已记录")
    add_j1_today()
    expect(row).to_contain_text("确定吗")
    screenshot(page, "roster-are-you-sure")
    assert _count(fresh_db, PointEntry, PointEntry.member_id == branch["李娜"]) == 1
    row.get_by_role("button", name="确定，记录").click()
    expect(row.get_by_role("status")).to_contain_text("已记录")
    assert _count(fresh_db, PointEntry, PointEntry.member_id == branch["李娜"]) == 2


def test_a_branch_whose_booklets_all_agree_is_reconciled_in_one_click(page, fresh_db, branch, login, a11y):
    login("bs")
    page.goto(f"/branches/{_branch_id(fresh_db)}/quarters/2026/1")
    clicks = 0
    page.once("dialog", lambda d: d.accept())  # "are you sure?" (the confirm)
    page.get_by_role("button", name=re.compile("全部一致")).click()
    clicks += 1
    expect(page.locator("#readiness")).to_contain_text("每名党员均已核对")
    expect(page.get_by_role("button", name=re.compile("全部一致"))).to_have_count(0)
    a11y.check(page)
    screenshot(page, "reconciliation-all-agree")
    assert clicks == 1
    assert _count(fresh_db, Reconciliation, Reconciliation.status == "agrees") == len(NAMES)
    # Names in pinyin order, as on the roster.
    names = page.locator("#recon-rows th[scope=row]").all_inner_texts()
    assert [n.split()[0] for n in names] == ["陈建国", "李娜", "刘芳", "欧阳明华", "王秀英", "张伟", "赵书记", "周敏"]


# Widest right edge of anything visible, and the viewport's width: a table that scrolls inside its own box
# counts too (the cells beyond the edge are out of sight all the same).
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  let right = 0, culprit = "";
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el);
    if (style.display === "none" || style.visibility === "hidden") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > right) { right = r.right; culprit = el.tagName + "." + el.className; }
  }
  return {width, right: Math.ceil(right), scroll: document.documentElement.scrollWidth, culprit};
}"""


@pytest.mark.parametrize("who, path", [("bs", "roster"), ("bs", "booklet"), ("m1", "booklet")])
def test_phone_pages_fit_without_sideways_scroll(browser, base_url, fresh_db, branch, who, path):
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, locale="zh-CN",
                                  is_mobile=True, has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("用户名").fill(who)
    page.get_by_label("密码").fill(TEST_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    page.goto(f"/branches/{_branch_id(fresh_db)}/roster" if path == "roster" else f"/members/{branch['张伟']}")
    measured = [page.evaluate(_OVERFLOW)]
    screenshot(page, f"phone-{who}-{path}")
    if path == "roster":  # the inline form opens and fits too
        row = page.locator(f"#member-{branch['张伟']}-row")
        row.get_by_role("button", name="记分").click()
        expect(row.get_by_label("积分指标")).to_be_focused()
        measured.append(page.evaluate(_OVERFLOW))
        screenshot(page, f"phone-{who}-{path}-form")
    elif who == "m1":  # the member's self-record form is on the same page
        expect(page.get_by_role("button", name="记入我的积分手册")).to_be_visible()
    context.close()
    for m in measured:
        assert m["scroll"] <= m["width"] and m["right"] <= m["width"], m


def _branch_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Branch.id).where(Branch.name == "第一党支部"))
