"""The year-end review in a browser: a branch meeting grades and locks, a case gets its mentor and a
follow-up, and the street approves a proposal so the member leaves the roster.

The pages are driven in English (the qscore_lang cookie, set after the Chinese login) so the selectors
hold whatever the translations say.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from qscore.db import db
from qscore.models import Branch, Member, PointEntry, Proposal, Publication, RectificationCase, User
from qscore.scheme import Scheme, default_scheme_data
from qscore.security import hash_password

from ..conftest import TEST_PASSWORD, load_demo_street, make_member, phone_code
from .conftest import screenshot

pytestmark = pytest.mark.e2e
S = Scheme.from_dict(default_scheme_data())


def english(page, base_url):
    page.context.add_cookies([{"name": "qscore_lang", "value": "en", "url": base_url}])


def add(m, code, day, points=None):
    ind = S.indicators[code]
    db.session.add(PointEntry(member_id=m.id, branch_id=m.branch_id, year=day.year, indicator_code=code,
                              category=ind.category, points=Decimal(str(points if points is not None else ind.points)),
                              earned_on=day, note="记录" if ind.category == "K" else ""))


@pytest.fixture
def branch(fresh_db, street):
    """第一党支部 with five members and their 2025 ledger; quarter 4 of 2025 is published; a member account
    of the community (mentor1) can mentor."""
    with fresh_db.app_context(), fresh_db.test_request_context():
        b = db.session.scalar(select(Branch).where(Branch.name == "第一党支部"))
        ids = {}
        for name, t in (("张伟", "D"), ("李娜", "D"), ("王秀英", "B"), ("刘洋", "B"), ("陈静", "D")):
            ids[name] = make_member(b.id, name, t).id
        zhang, li, wang, liu = (db.session.get(Member, ids[n]) for n in ("张伟", "李娜", "王秀英", "刘洋"))
        for month in (2, 5, 8, 11):
            for code in ("J3", "J5", "J6", "J7"):
                add(zhang, code, date(2025, month, 10))
                add(li, code, date(2025, month, 10))
            add(zhang, "Z5" if month != 11 else "Z2", date(2025, month, 12), 2 if month != 11 else 1)
        add(zhang, "J4", date(2025, 3, 20))
        add(zhang, "J4", date(2025, 9, 20))
        add(li, "K4", date(2025, 5, 3), -5)          # qualified, not advanced
        add(wang, "K3", date(2025, 6, 10), -3)        # 52: rectification
        add(liu, "K3", date(2025, 6, 10), -3)        # 52 too: the meeting decides otherwise
        db.session.add(Publication(branch_id=b.id, year=2025, quarter=4, snapshot="[]", sha256="0" * 64,
                                   supervision_ends_on=date(2026, 1, 20), meeting_on=date(2026, 1, 10),
                                   published_at=datetime(2026, 1, 10, 2, 0)))
        helper = make_member(b.id, "何帮扶", "D")
        db.session.add(User(username="mentor1", display_name="何帮扶", password_hash=hash_password(TEST_PASSWORD),
                            role="member", street_id=helper.street_id, community_id=b.community_id, branch_id=b.id,
                            member_id=helper.id))
        db.session.commit()
        return {"id": b.id, **ids}


def test_a_branch_meeting_grades_locks_and_opens_a_case(page, branch, login, a11y, base_url):
    login("bs")
    english(page, base_url)
    page.goto("/review")
    a11y.check(page)
    page.get_by_role("row", name=re.compile("第一党支部")).get_by_role("link", name="Ready for the meeting").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Year-end review 2025")
    a11y.check(page)

    # The meeting is recorded first.
    page.get_by_label("Date of the meeting").fill("2026-01-15")
    page.get_by_label("Members present").fill("5")
    page.get_by_label("Chaired by").fill("赵书记")
    page.get_by_role("button", name="Record the meeting").click()
    expect(page.get_by_text("The meeting is recorded.")).to_be_visible()
    page.evaluate("window.__marker = 'no reload'")

    # One suggestion confirmed in one click; the counts update out of band.
    row = page.locator(f"#review-member-{branch['张伟']}-row")
    expect(row.locator(".suggestion-cell")).to_contain_text("Advanced")
    row.get_by_role("button", name="Confirm suggestion").click()
    expect(row.get_by_role("status")).to_contain_text("Saved")
    expect(page.locator("#count-advanced")).to_have_text("1")

    # One override with the meeting's reason (a reason is required).
    row = page.locator(f"#review-member-{branch['刘洋']}-row")
    row.get_by_role("button", name="Other grade…").click()
    form = page.locator(f"#review-member-{branch['刘洋']}-row")
    form.get_by_label("Qualified").check()
    form.get_by_role("button", name="Save the decision").click()
    expect(form.locator(".field-errors")).to_contain_text("Give the meeting's reason")
    a11y.check(page)
    form.get_by_label("The meeting's reason").fill("未履行承诺系因照顾病重家属，支部大会同意评为合格")
    form.get_by_role("button", name="Save the decision").click()
    expect(page.locator(f"#review-member-{branch['刘洋']}-row")).to_contain_text("changed by the meeting")

    # The rest in one go, then lock.
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Confirm all remaining suggestions").click()
    expect(page.locator("#count-remaining")).to_have_text("0")
    expect(page.locator("#count-rectify")).to_have_text("1")
    assert page.evaluate("window.__marker") == "no reload"
    screenshot(page, "review-meeting")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Confirm and lock the review").click()
    expect(page.locator(".banner-confirmed")).to_contain_text("Confirmed")
    expect(page.get_by_text("1 rectification case(s) opened")).to_be_visible()
    a11y.check(page)
    screenshot(page, "review")
    page.get_by_role("link", name="Print the grade table").click()
    expect(page.locator("h1")).to_contain_text("grades of 2025")
    a11y.check(page)
    screenshot(page, "review-print")
    page.go_back()

    # The rectification case: a mentor found by name, the plan, a follow-up.
    page.get_by_role("link", name="王秀英").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("王秀英")
    a11y.check(page)
    page.get_by_label(re.compile("Find a member of")).fill("何")
    page.get_by_role("button", name="Choose 何帮扶").click()
    expect(page.get_by_text("何帮扶 is the mentor of this case.")).to_be_visible()
    page.get_by_label("Plan for help and education").fill("每月谈心一次；带领参加志愿服务")
    page.get_by_role("button", name="Save the plan").click()
    expect(page.get_by_text("The plan is saved.")).to_be_visible()
    page.get_by_label("What was done").fill("上门谈心，了解家庭困难")
    page.get_by_role("button", name="Add to the log").click()
    expect(page.locator("#case-log")).to_contain_text("上门谈心，了解家庭困难")
    a11y.check(page)
    screenshot(page, "review-case")

    # The mentor sees the case, and nothing else of the member.
    page.get_by_role("button", name="Log out").click()
    page.context.clear_cookies()
    login("mentor1")
    english(page, base_url)
    page.goto("/cases")
    a11y.check(page)
    page.get_by_role("link", name="王秀英").click()
    expect(page.locator("#case-log")).to_contain_text("上门谈心")
    expect(page.get_by_role("button", name="Save the plan")).to_have_count(0)


@pytest.fixture
def demo(fresh_db):
    load_demo_street(fresh_db)
    with fresh_db.app_context():
        p = db.session.scalar(select(Proposal).where(Proposal.status == "pending"))
        case = db.session.get(RectificationCase, p.case_id)
        m = db.session.get(Member, case.member_id)
        confirmed = db.session.scalar(select(Branch).where(Branch.name == "前进社区第一党支部"))
        return {"proposal": p.id, "member": m.name, "member_id": m.id, "branch": m.branch_id,
                "review_branch": confirmed.id}


def test_the_street_approves_a_proposal_and_the_member_leaves_the_roster(page, demo, login, a11y, base_url,
                                                                          live_app):
    login("street", "qscore-demo")
    english(page, base_url)
    page.goto(f"/branches/{demo['review_branch']}/review/2025")
    expect(page.locator(".banner-confirmed")).to_be_visible()
    a11y.check(page)
    screenshot(page, "review-demo")
    page.goto(f"/branches/{demo['branch']}/roster")
    expect(page.locator(f"#member-{demo['member_id']}-row")).to_be_visible()

    # The street's use of the results: the red-flag ranking with a recorded choice, the advanced members.
    page.goto("/review/red-flag/2025")
    a11y.check(page)
    first = page.locator("table.ranking tbody tr").first
    first.get_by_role("checkbox").check()
    page.get_by_label("Note on the choice").fill("综合指数第一，组织生活规范")
    page.get_by_role("button", name="Record the chosen branches").click()
    expect(page.locator(".red-flag-record")).to_contain_text("综合指数第一")
    screenshot(page, "review-red-flag")
    page.goto("/review/commendations/2025")
    expect(page.get_by_role("heading", name="前进社区")).to_be_visible()
    a11y.check(page)

    page.goto("/review")
    a11y.check(page)
    screenshot(page, "review-index")
    page.get_by_role("link", name="Open the approval queue").click()
    a11y.check(page)
    card = page.locator(".proposal-card").filter(has_text=demo["member"])
    expect(card).to_contain_text("Expel")
    card.get_by_label("Comment of the street party working committee").fill("经街道党工委会议研究，同意除名")
    card.get_by_label("Your password, to confirm").fill("qscore-demo")
    card.get_by_label("And the 6-digit code from your phone").fill(phone_code(live_app, "street"))  # two-step
    screenshot(page, "review-approvals")
    page.once("dialog", lambda d: d.accept())
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"Approved: {demo['member']} has left the roll")).to_be_visible()
    a11y.check(page)

    page.goto(f"/branches/{demo['branch']}/roster")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator(f"#member-{demo['member_id']}-row")).to_have_count(0)
    a11y.check(page)
