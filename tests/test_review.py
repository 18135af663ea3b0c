"""The year-end review page: suggested grades, the meeting's decisions, locking, reopening, print and export."""
from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import (AuditLog, Branch, Community, Member, MemberType, PointEntry, Publication,
                           RectificationCase, ReviewGrade, Setting, User, YearReview)
from qscore.scheme import Scheme, default_scheme_data

from .conftest import SNAPSHOTS, load_demo_street, make_member

S = Scheme.from_dict(default_scheme_data())
Y = 2025
HX = {"HX-Request": "true"}
PAGE = "/branches/{b}/review/2025"


def add(member, code: str, day: date, points=None, **kw) -> PointEntry:
    ind = S.indicators[code]
    e = PointEntry(member_id=member.id, branch_id=member.branch_id, year=day.year, indicator_code=code,
                   category=ind.category, points=Decimal(str(points if points is not None else ind.points)),
                   earned_on=day, note=kw.pop("note", "test" if ind.category == "K" else ""), **kw)
    db.session.add(e)
    return e


def full_basic_d(m) -> None:
    """A type D member's basic requirements up to the cap of 20: J3, J5, J6, J7 every quarter, J4 twice."""
    for month in (2, 5, 8, 11):
        for code in ("J3", "J5", "J6", "J7"):
            add(m, code, date(Y, month, 10))
    add(m, "J4", date(Y, 3, 20))
    add(m, "J4", date(Y, 9, 20))


def publish_q4(branch_id: int, year: int = Y) -> Publication:
    pub = Publication(branch_id=branch_id, year=year, quarter=4, snapshot="[]", sha256="0" * 64,
                      supervision_ends_on=date(year + 1, 1, 20), meeting_on=date(year + 1, 1, 10),
                      published_at=datetime(year + 1, 1, 10, 2, 0))
    db.session.add(pub)
    db.session.flush()
    return pub


@pytest.fixture
def members(app, org):
    """The edge cases of the suggested grade, in one branch (ids by a short key)."""
    return SNAPSHOTS.build(app, (__name__, "members"), lambda: _build_members(app, org))


def _build_members(app, org):
    with app.app_context():
        ids = {}
        m = make_member(org.branch_id, "周九十", "D", phone="13900001111")
        full_basic_d(m)
        add(m, "Z5", date(Y, 2, 12), 2)
        add(m, "Z2", date(Y, 5, 12), 1)
        add(m, "Z5", date(Y, 8, 12), 2)
        ids["ninety"] = m.id
        m = make_member(org.branch_id, "吴六十", "D")
        add(m, "K3", date(Y, 3, 10), -3)
        add(m, "K1", date(Y, 4, 10), -2)
        ids["sixty"] = m.id
        m = make_member(org.branch_id, "郑五七", "D")
        add(m, "K3", date(Y, 3, 10), -3)
        add(m, "K3", date(Y, 6, 10), -3)
        add(m, "K1", date(Y, 4, 10), -2)
        ids["low"] = m.id
        m = make_member(org.branch_id, "王否决", "B")
        add(m, "V", date(Y, 10, 15), 0, note="党内严重警告处分")
        ids["veto"] = m.id
        m = make_member(org.branch_id, "冯赌博", "D")
        full_basic_d(m)
        for month in (2, 5, 8):
            add(m, "Z5", date(Y, month, 12), 2)
            add(m, "Z4", date(Y, month, 14), 3)
        add(m, "K4", date(Y, 5, 3), -5)
        ids["k4"] = m.id
        m = make_member(org.branch_id, "陈转类", "A")
        db.session.add(MemberType(member_id=m.id, type_code="D", effective_from=date(Y, 7, 1), reason="病"))
        for month in (2, 5, 8, 11):
            add(m, "J3", date(Y, month, 10))
            add(m, "J5", date(Y, month, 10))
        add(m, "J6", date(Y, 2, 10))
        ids["type_change"] = m.id
        m = make_member(org.branch_id, "褚缺席", "D")
        full_basic_d(m)
        for month in range(1, 7):
            add(m, "K1", date(Y, month, 25), -2)
        ids["absent"] = m.id
        m = make_member(org.branch_id, "卫预备", "A", probationary=True, on_roll_since=date(2024, 6, 1))
        for month in (2, 5, 8, 11):
            add(m, "J3", date(Y, month, 10))
            add(m, "J5", date(Y, month, 10))
        add(m, "J4", date(Y, 3, 20))
        ids["probationary"] = m.id
        db.session.commit()
    return ids


def row_html(page: str, member_id: int) -> str:
    match = re.search(rf'<tr id="review-member-{member_id}-row".*?</tr>', page, re.S)
    assert match, f"no row for member {member_id}"
    return match.group(0)


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def en(client):
    client.set_cookie("qscore_lang", "en")


@pytest.fixture
def q4(app, org):
    with app.app_context():
        publish_q4(org.branch_id)
        db.session.commit()


def meeting(client, org, **data):
    form = {"meeting_on": "2026-01-15", "present": "7", "total": "8", "chair": "张书记", "minutes": "评议", **data}
    return client.post(PAGE.format(b=org.branch_id) + "/meeting", data=form)


def confirm_all(client, org):
    return client.post(PAGE.format(b=org.branch_id) + "/confirm-all", headers=HX)


def lock(client, org):
    return client.post(PAGE.format(b=org.branch_id) + "/confirm")


# ---------------------------------------------------------------------------------------------
# The suggested grade on the page
# ---------------------------------------------------------------------------------------------

def test_suggested_grades_and_reasons_on_the_edge_cases(client, auth, org, members, q4):
    en(client)
    auth.login("bs")
    page = client.get(PAGE.format(b=org.branch_id)).get_data(as_text=True)

    ninety = row_html(page, members["ninety"])
    assert ">90<" in ninety and "grade-advanced" in ninety
    assert "Score 90.0 reaches 90" in ninety

    sixty = row_html(page, members["sixty"])
    assert ">60<" in sixty and "grade-qualified" in sixty and "grade-rectify" not in sixty

    low = row_html(page, members["low"])
    assert ">57<" in low and "grade-rectify" in low
    assert "Score 57.0 is below the qualified minimum 60." in low

    veto = row_html(page, members["veto"])
    assert ">0<" in veto and "grade-rectify" in veto
    assert "Veto (V, 2025-10-15): the year score is 0." in veto
    assert "flag-danger" in veto

    k4 = row_html(page, members["k4"])
    assert ">95<" in k4 and "grade-qualified" in k4 and "grade-advanced" not in k4
    assert "A heavier deduction (K4, 2025-05-03) bars &#39;advanced&#39;." in k4
    assert "K4 on 2025-05-03" in k4  # the flag

    change = row_html(page, members["type_change"])
    # base (50 x 6 + 65 x 6) / 12 = 57.5, plus 9: qualified; as type A all year it would be 59 (rectify)
    assert ">66.5<" in change and "grade-qualified" in change and "type-d" in change

    absent = row_html(page, members["absent"])
    assert "grade-rectify" in absent
    assert "Unexcused absence in 6 consecutive months (2025-01 to 2025-06)." in absent
    assert "Absent 6 months in a row (2025-01 to 2025-06)" in absent

    probationary = row_html(page, members["probationary"])
    assert "Probationary member" in probationary
    assert "13900001111" not in page  # no private data on a page for the wall


def test_the_reasons_at_exactly_ninety_say_what_is_true_in_chinese(client, auth, org, members, q4, app):
    """Issue 14 item 8: 90.0 with a heavier deduction is qualified, and no reason says "低于 90"."""
    with app.app_context():
        m = make_member(org.branch_id, "蒋九十", "D")
        full_basic_d(m)
        for month, code in ((2, "Z5"), (5, "Z4"), (8, "Z5"), (11, "Z4")):
            add(m, code, date(Y, month, 12))
        add(m, "K4", date(Y, 6, 3), -5)
        db.session.commit()
        mid = m.id
    auth.login("bs")
    page = client.get(PAGE.format(b=org.branch_id)).get_data(as_text=True)  # Chinese, the default
    row = row_html(page, mid)
    assert ">90<" in row and "grade-qualified" in row and "grade-advanced" not in row
    assert "得分 90.0，已达到 90，但有下列情形，不能评为先进：" in row
    assert "有加重扣分（K4，2025-06-03），不能评为先进。" in row
    assert "低于" not in row
    # Just below: the score alone says why, and says it truly.
    sixty = row_html(page, members["sixty"])
    assert "得分 60.0：不低于 60，未达到 90。" in sixty
    ninety = row_html(page, members["ninety"])
    assert "得分 90.0，达到 90" in ninety and "低于" not in ninety


def test_draft_before_q4_is_published(client, auth, org, members, app):
    en(client)
    auth.login("bs")
    page = client.get(PAGE.format(b=org.branch_id)).get_data(as_text=True)
    assert "review-banner banner-draft" in page and "suggestions only" in page
    assert "Confirm suggestion" not in page and "Confirm all remaining" not in page
    assert 'name="meeting_on"' not in page
    mid = members["ninety"]
    assert client.post(f"{PAGE.format(b=org.branch_id)}/members/{mid}/grade", data={"action": "confirm"},
                       headers=HX).status_code == 409
    assert client.get(f"{PAGE.format(b=org.branch_id)}/members/{mid}/override", headers=HX).status_code == 409
    assert meeting(client, org).status_code == 409
    assert confirm_all(client, org).status_code == 409
    assert lock(client, org).status_code == 409
    assert count(app, YearReview) == 0 and count(app, ReviewGrade) == 0
    # A retracted Q4 does not count as published.
    with app.app_context():
        pub = publish_q4(org.branch_id)
        pub.retracted_at, pub.retract_reason = datetime(2026, 1, 12), "wrong"
        db.session.commit()
    assert confirm_all(client, org).status_code == 409


# ---------------------------------------------------------------------------------------------
# Deciding, inline
# ---------------------------------------------------------------------------------------------

def test_confirm_one_suggestion_inline_with_counts_out_of_band(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    mid = members["ninety"]
    resp = client.post(f"{PAGE.format(b=org.branch_id)}/members/{mid}/grade", data={"action": "confirm"}, headers=HX)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert f'id="review-member-{mid}-row"' in body and "Saved" in body
    assert 'id="review-counts"' in body and 'hx-swap-oob="true"' in body
    assert re.search(r'id="count-advanced">1<', body) and re.search(r'id="count-remaining">7<', body)
    assert 'id="review-lock"' in body
    with app.app_context():
        g = db.session.scalar(select(ReviewGrade))
        assert (g.member_id, g.grade, g.suggested, g.score) == (mid, "advanced", "advanced", "90.0")
        assert g.decided_by_id == org.branch_secretary_id
        assert db.session.scalar(select(YearReview)).status == "draft"
        assert db.session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "grade_confirmed")) == 1


def test_override_needs_a_reason(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    mid = members["k4"]
    url = f"{PAGE.format(b=org.branch_id)}/members/{mid}/grade"
    form = client.get(f"{PAGE.format(b=org.branch_id)}/members/{mid}/override", headers=HX)
    assert form.status_code == 200 and 'name="reason"' in form.get_data(as_text=True)
    resp = client.post(url, data={"action": "override", "grade": "advanced", "reason": "  "}, headers=HX)
    assert resp.status_code == 422
    assert "Give the meeting&#39;s reason" in resp.get_data(as_text=True)
    assert count(app, ReviewGrade) == 0
    resp = client.post(url, data={"action": "override", "grade": "bogus", "reason": "x"}, headers=HX)
    assert resp.status_code == 422 and count(app, ReviewGrade) == 0
    resp = client.post(url, data={"action": "override", "grade": "advanced",
                                  "reason": "K4 系误录，已另案更正；支部大会同意评为先进"}, headers=HX)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "changed by the meeting" in body and "支部大会同意" in body
    with app.app_context():
        g = db.session.scalar(select(ReviewGrade))
        assert (g.grade, g.suggested) == ("advanced", "qualified") and "误录" in g.override_reason
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "grade_overridden"))
        assert log.member_id == mid and log.after["grade"] == "advanced"
    # The same grade as the suggestion needs no reason.
    resp = client.post(url, data={"action": "override", "grade": "qualified", "reason": ""}, headers=HX)
    assert resp.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(ReviewGrade)).grade == "qualified"


def test_a_secretarys_own_grade_is_recorded_by_another_person(client, auth, org, members, q4, app):
    with app.app_context():
        u = db.session.get(User, org.branch_secretary_id)
        u.member_id = members["low"]
        db.session.commit()
    en(client)
    auth.login("bs")
    base = f"{PAGE.format(b=org.branch_id)}/members/{members['low']}"
    assert client.get(base + "/override", headers=HX).status_code == 403
    resp = client.post(base + "/grade", data={"action": "override", "grade": "qualified", "reason": "我自己"},
                       headers=HX)
    assert resp.status_code == 403 and count(app, ReviewGrade) == 0
    # Not even the suggestion: the meeting decides it, another person records it.
    assert client.post(base + "/grade", data={"action": "confirm"}, headers=HX).status_code == 403
    assert count(app, ReviewGrade) == 0
    row = row_html(client.get(PAGE.format(b=org.branch_id)).get_data(as_text=True), members["low"])
    assert "/override" not in row and "/grade" not in row and "another person records it" in row
    # "Confirm all" records everyone else and leaves the secretary's own line waiting.
    assert confirm_all(client, org).status_code == 200
    assert count(app, ReviewGrade) == len(members) - 1
    assert count(app, ReviewGrade, ReviewGrade.member_id == members["low"]) == 0
    auth.logout()
    auth.login("cs")
    assert client.post(base + "/grade", data={"action": "confirm"}, headers=HX).status_code == 200
    with app.app_context():
        own = db.session.scalar(select(ReviewGrade).where(ReviewGrade.member_id == members["low"]))
        assert own.decided_by_id == org.community_secretary_id


def test_confirm_all_remaining_keeps_decisions_already_made(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    url = f"{PAGE.format(b=org.branch_id)}/members/{members['k4']}/grade"
    client.post(url, data={"action": "override", "grade": "advanced", "reason": "理由"}, headers=HX)
    resp = confirm_all(client, org)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert body.startswith('<tbody id="review-rows"') and re.search(r'id="count-remaining">0<', body)
    with app.app_context():
        grades = {g.member_id: g for g in db.session.scalars(select(ReviewGrade))}
    assert len(grades) == 8
    assert grades[members["k4"]].grade == "advanced"  # the override stays
    assert grades[members["veto"]].grade == "rectify" and grades[members["ninety"]].grade == "advanced"
    assert client.post(PAGE.format(b=org.branch_id) + "/confirm-all").status_code == 302  # without htmx


# ---------------------------------------------------------------------------------------------
# Recording the meeting and locking
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, field", [
    ({"meeting_on": ""}, "meeting_on"),
    ({"meeting_on": "2025-12-30"}, "meeting_on"),      # before the year ended
    ({"meeting_on": "2026-05-21"}, "meeting_on"),      # after today
    ({"present": "9"}, "present"),                     # more than the total
    ({"present": "x"}, "present"),
    ({"total": "0", "present": "0"}, "present"),
])
def test_meeting_refusals(client, auth, org, members, q4, app, data, field):
    auth.login("bs")
    resp = meeting(client, org, **data)
    assert resp.status_code == 422
    assert f'id="{field}-errors"' in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(YearReview.meeting_on)) is None


def test_lock_needs_the_meeting_and_every_decision_then_opens_cases(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    assert lock(client, org).status_code == 409  # nothing yet
    confirm_all(client, org)
    resp = lock(client, org)
    assert resp.status_code == 409 and "Record the branch general meeting first" in resp.get_data(as_text=True)
    assert meeting(client, org).status_code == 302
    with app.app_context():
        extra = make_member(org.branch_id, "新成员", "D", on_roll_since=date(2024, 1, 1))
        db.session.commit()
        extra_id = extra.id
    resp = lock(client, org)
    assert resp.status_code == 409 and "1 member(s) have no decision yet." in resp.get_data(as_text=True)
    client.post(f"{PAGE.format(b=org.branch_id)}/members/{extra_id}/grade", data={"action": "confirm"}, headers=HX)
    resp = lock(client, org)
    assert resp.status_code == 302
    with app.app_context():
        review = db.session.scalar(select(YearReview))
        assert review.status == "confirmed" and review.confirmed_by_id == org.branch_secretary_id
        assert review.confirmed_at is not None and review.meeting_on == date(2026, 1, 15)
        cases = db.session.scalars(select(RectificationCase)).all()
        assert {c.member_id for c in cases} == {members["low"], members["veto"], members["absent"]}
        assert all(c.deadline == date(2026, 11, 20) and c.status == "open" and c.mentor_member_id is None for c in cases)
        veto_case = next(c for c in cases if c.member_id == members["veto"])
        assert "Veto (V, 2025-10-15)" in veto_case.problems
        actions = set(db.session.scalars(select(AuditLog.action)))
        assert {"review_started", "review_meeting_recorded", "review_confirmed", "case_opened"} <= actions
    page = client.get(PAGE.format(b=org.branch_id)).get_data(as_text=True)
    assert "banner-confirmed" in page and "Confirm suggestion" not in page and "Rectification cases" in page


def test_a_locked_review_refuses_every_change(client, auth, org, members, q4, app):
    auth.login("bs")
    confirm_all(client, org)
    meeting(client, org)
    assert lock(client, org).status_code == 302
    assert lock(client, org).status_code == 409
    mid = members["sixty"]
    assert client.post(f"{PAGE.format(b=org.branch_id)}/members/{mid}/grade",
                       data={"action": "override", "grade": "advanced", "reason": "x"}, headers=HX).status_code == 409
    assert confirm_all(client, org).status_code == 409
    assert meeting(client, org, chair="别人").status_code == 409
    with app.app_context():
        assert db.session.scalar(select(ReviewGrade.grade).where(ReviewGrade.member_id == mid)) == "qualified"
        assert db.session.scalar(select(YearReview.chair)) == "张书记"
        assert db.session.scalar(select(func.count()).select_from(RectificationCase)) == 3
    # The ledger refuses entries dated in the reviewed year now (DOMAIN.md).
    resp = client.post(f"/branches/{org.branch_id}/members/{mid}/entries", headers=HX,
                       data={"indicator": "J1", "earned_on": "2025-12-20", "note": "补录", "value": ""})
    assert resp.status_code == 422


def test_reopen_is_the_street_admins_alone_with_a_reason(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    confirm_all(client, org)
    meeting(client, org)
    lock(client, org)
    url = PAGE.format(b=org.branch_id) + "/reopen"
    assert client.post(url, data={"reason": "x"}).status_code == 403
    auth.logout()
    auth.login("cs")
    assert client.post(url, data={"reason": "x"}).status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.post(url, data={"reason": " "}).status_code == 422
    with app.app_context():
        assert db.session.scalar(select(YearReview.status)) == "confirmed"
    assert client.post(url, data={"reason": "社区反映评议程序不完整，重新评议"}).status_code == 302
    with app.app_context():
        review = db.session.scalar(select(YearReview))
        assert review.status == "draft" and review.confirmed_at is None
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "review_reopened"))
        assert log.user_id == org.admin_id and "重新评议" in log.after["reason"]
    assert client.post(url, data={"reason": "again"}).status_code == 409
    # The branch changes a rectify grade and locks again: that member's open case closes, the others stay.
    auth.logout()
    auth.login("bs")
    resp = client.post(f"{PAGE.format(b=org.branch_id)}/members/{members['absent']}/grade", headers=HX,
                       data={"action": "override", "grade": "qualified", "reason": "缺席期间住院，补交证明"})
    assert resp.status_code == 200
    assert lock(client, org).status_code == 302
    with app.app_context():
        cases = {c.member_id: c for c in db.session.scalars(select(RectificationCase))}
        assert len(cases) == 3
        assert cases[members["absent"]].status == "closed" and cases[members["absent"]].outcome == "grade_changed"
        assert cases[members["veto"]].status == "open"


def test_a_suggestion_that_changed_since_it_was_decided_blocks_the_lock(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    confirm_all(client, org)
    meeting(client, org)
    with app.app_context():
        m = db.session.get(Member, members["sixty"])
        add(m, "K3", date(Y, 12, 1), -3, note="late")
        db.session.commit()
    page = client.get(PAGE.format(b=org.branch_id)).get_data(as_text=True)
    assert "is-stale" in row_html(page, members["sixty"])
    resp = lock(client, org)
    assert resp.status_code == 409 and "decide them again" in resp.get_data(as_text=True)
    client.post(f"{PAGE.format(b=org.branch_id)}/members/{members['sixty']}/grade", data={"action": "confirm"},
                headers=HX)
    assert lock(client, org).status_code == 302


# ---------------------------------------------------------------------------------------------
# Print, export, index, scope
# ---------------------------------------------------------------------------------------------

def test_print_view_and_excel_export(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    draft = client.get(PAGE.format(b=org.branch_id) + "/print").get_data(as_text=True)
    assert "grades of 2025" in draft and "Draft: suggested grades" in draft
    assert client.get(PAGE.format(b=org.branch_id) + "/export.xlsx").status_code == 409
    with app.app_context():
        m = db.session.get(Member, members["sixty"])
        m.name = "=HYPERLINK(\"x\")"
        db.session.commit()
    confirm_all(client, org)
    meeting(client, org)
    lock(client, org)
    printed = client.get(PAGE.format(b=org.branch_id) + "/print").get_data(as_text=True)
    assert "Draft" not in printed and "Confirmed by bs" in printed and "周九十" in printed
    resp = client.get(PAGE.format(b=org.branch_id) + "/export.xlsx")
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in resp.headers["Content-Disposition"]
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(resp.data)).active
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    names = [r[1] for r in cells[6:]]
    assert "周九十" in names and len(names) == 8
    ninety = next(r for r in cells[6:] if r[1] == "周九十")
    assert ninety[6] == 90 and ninety[8] == "Advanced"
    injected = next(c for row in ws.iter_rows() for c in row if c.value == "'=HYPERLINK(\"x\")")
    assert injected.data_type == "s"  # text, never a formula


def test_index_lists_branches_in_scope_with_their_state(client, auth, org, members, q4):
    en(client)
    auth.login("cs")
    page = client.get("/review").get_data(as_text=True)
    assert "第一党支部" in page and "再就业党支部" in page and "和平第一支部" not in page
    assert "Ready for the meeting" in page and "Draft: quarter 4 not published" in page
    auth.logout()
    auth.login("admin")
    page = client.get("/review").get_data(as_text=True)
    assert "和平第一支部" in page and "Approval queue" in page


def test_scope_refusals_for_every_role(client, auth, org, members, q4, app):
    with app.app_context():
        org.user("cs2", "community_secretary", community=db.session.get(Community, org.other_community_id))
        org.user("member", "member", branch=db.session.get(Branch, org.branch_id), member_id=members["ninety"])
        db.session.commit()
    base = PAGE.format(b=org.branch_id)
    mid = members["ninety"]
    urls = [("get", base), ("get", base + "/print"), ("get", base + "/export.xlsx"),
            ("get", f"{base}/members/{mid}/override"), ("post", f"{base}/members/{mid}/grade"),
            ("post", base + "/meeting"), ("post", base + "/confirm-all"), ("post", base + "/confirm"),
            ("post", base + "/reopen")]
    for username in ("bs2", "cs2", "member"):
        auth.login(username)
        for method, url in urls:
            resp = getattr(client, method)(url, data={"action": "confirm"} if method == "post" else None)
            assert resp.status_code == 404, (username, url, resp.status_code)
        auth.logout()
    auth.login("member")
    assert client.get("/review").status_code == 403
    assert client.get("/review/commendations/2025").status_code == 403
    assert client.get("/review/red-flag/2025").status_code == 403
    assert count(app, YearReview) == 0
    # A sibling branch of the secretary's own community is out of a branch secretary's scope.
    auth.logout()
    auth.login("bs")
    assert client.get(f"/branches/{org.sibling_branch_id}/review/2025").status_code == 404
    assert client.get(f"{base}/members/999999/override").status_code == 404
    assert client.get("/branches/{b}/review/2027".format(b=org.branch_id)).status_code == 404


# ---------------------------------------------------------------------------------------------
# Commendation and the red-flag branch
# ---------------------------------------------------------------------------------------------

def test_commendation_list_of_confirmed_advanced_members(client, auth, org, members, q4, app):
    en(client)
    auth.login("bs")
    assert "周九十" not in client.get("/review/commendations/2025").get_data(as_text=True)  # not confirmed yet
    confirm_all(client, org)
    meeting(client, org)
    lock(client, org)
    page = client.get("/review/commendations/2025").get_data(as_text=True)
    assert "前进社区" in page and "周九十" in page and "冯赌博" not in page
    printed = client.get("/review/commendations/2025/print").get_data(as_text=True)
    assert "Advanced party members of 2025" in printed and "周九十" in printed
    auth.logout()
    auth.login("bs2")
    assert "周九十" not in client.get("/review/commendations/2025").get_data(as_text=True)


def test_red_flag_ranking_and_recorded_choice(client, auth, org, members, q4, app):
    en(client)
    auth.login("cs")
    assert client.get("/review/red-flag/2025").status_code == 403
    assert client.post("/review/red-flag/2025", data={"branch": str(org.branch_id)}).status_code == 403
    auth.logout()
    auth.login("admin")
    page = client.get("/review/red-flag/2025").get_data(as_text=True)
    assert "第一党支部" in page and "和平第一支部" in page and "× 0.4" in page
    assert client.post("/review/red-flag/2025", data={"note": "x"}).status_code == 422
    assert client.post("/review/red-flag/2025", data={"branch": "999999"}).status_code == 422
    assert client.post("/review/red-flag/2026", data={"branch": str(org.branch_id)}).status_code == 409
    assert count(app, Setting, Setting.key.like("red_flag_%")) == 0
    resp = client.post("/review/red-flag/2025", data={"branch": str(org.branch_id), "note": "党员积分领先"})
    assert resp.status_code == 302
    with app.app_context():
        row = db.session.scalar(select(Setting).where(Setting.key == "red_flag_2025"))
        assert row.value["chosen"] == [org.branch_id] and row.value["note"] == "党员积分领先"
        computed = row.value["computed"]
        assert [c["rank"] for c in computed] == [1, 2, 3]
        assert computed[0]["branch_id"] == org.branch_id  # the only branch with members
        assert set(computed[0]["components"]) == {"average_member_score_share", "attendance_rate", "dues_on_time_rate",
                                                  "on_time_publication_share", "queries_answered_share"}
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "red_flag_chosen")) is not None
    page = client.get("/review/red-flag/2025").get_data(as_text=True)
    assert "Recorded choice" in page and "党员积分领先" in page


# ---------------------------------------------------------------------------------------------
# The demo street's past year
# ---------------------------------------------------------------------------------------------

def test_the_demo_has_a_confirmed_past_year_with_cases_under_way(app, client, auth):
    from qscore.demo import DEMO_PASSWORD
    from qscore.models import CaseFollowUp, Proposal

    load_demo_street(app, date(2026, 5, 20))
    with app.app_context(), app.test_request_context():
        branches = db.session.scalar(select(func.count()).select_from(Branch))
        reviews = db.session.scalars(select(YearReview)).all()
        assert len(reviews) == branches and all(r.year == 2025 and r.status == "confirmed" for r in reviews)
        assert all(r.meeting_on and r.meeting_on.year == 2026 and 0 < r.members_present <= r.members_total
                   for r in reviews)
        overrides = db.session.scalars(select(ReviewGrade).where(ReviewGrade.grade != ReviewGrade.suggested)).all()
        assert len(overrides) == 1 and overrides[0].override_reason
        # Every grade was recorded by someone other than the member it grades (four eyes).
        own = db.session.execute(select(ReviewGrade.id).join(User, User.id == ReviewGrade.decided_by_id)
                                 .where(User.member_id == ReviewGrade.member_id)).all()
        assert own == [] and count(app, ReviewGrade) > 0
        cases = db.session.scalars(select(RectificationCase)).all()
        in_progress = [c for c in cases if c.status == "open"]
        assert in_progress and all(c.mentor_member_id and c.plan and c.deadline > date(2026, 5, 20)
                                   for c in in_progress)
        for c in in_progress:
            n = db.session.scalar(select(func.count()).select_from(CaseFollowUp).where(CaseFollowUp.case_id == c.id))
            assert 1 <= n <= 6  # the mentor's talks, about monthly since the review, and an extension
        pending = db.session.scalars(select(Proposal).where(Proposal.status == "pending")).all()
        assert len(pending) == 1
        assert db.session.get(RectificationCase, pending[0].case_id).status == "proposed"
        branch01 = db.session.scalar(select(User).where(User.username == "branch01")).branch_id
    client.post("/login", data={"username": "branch01", "password": DEMO_PASSWORD})
    page = client.get(f"/branches/{branch01}/review/2025")
    assert page.status_code == 200 and "banner-confirmed" in page.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Hostile input: each field of each form in turn, and the pages' query parameters
# ---------------------------------------------------------------------------------------------

CONTROL = "含有看不见的控制字符，请重新输入。"
TEXT_ATTACKS = [("名\x00字", CONTROL), ("名\x01\x1f字", CONTROL), ("名\u202e字\u2066", CONTROL), ("长" * 100_000, "最多 ")]
DATE_ATTACKS = [("99999-01-01", "请填写日期。"), ("2026-02-30", "请填写日期。"), ("1e309", "请填写日期。"),
                ("名\x00", "请填写日期。"), ("1999-12-31", "2100")]
COUNT_ATTACKS = [("9" * 40, "应在 0 到 100000 之间"), ("-1", "应在 0 到 100000 之间"), ("1e309", "请输入整数"),
                 ("NaN", "请输入整数"), ("名\x00", "请输入整数")]


def written(app) -> tuple:
    with app.app_context():
        review = db.session.scalar(select(YearReview))
        state = (review.meeting_on, review.chair, review.minutes, review.status) if review else None
        return (state, *(db.session.scalar(select(func.count()).select_from(m))
                         for m in (ReviewGrade, Setting, AuditLog)))


def refused(app, resp, message: str, before: tuple) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422, (resp.status_code, body[:300])
    assert message in body
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("chair", v, m) for v, m in TEXT_ATTACKS], *[("minutes", v, m) for v, m in TEXT_ATTACKS],
    *[("meeting_on", v, m) for v, m in DATE_ATTACKS],
    *[("present", v, m) for v, m in COUNT_ATTACKS], *[("total", v, m) for v, m in COUNT_ATTACKS],
])
def test_hostile_input_to_the_review_meeting_is_refused_in_chinese(client, auth, org, members, q4, app, field, value,
                                                                   message):
    auth.login("bs")
    before = written(app)
    refused(app, meeting(client, org, **{field: value}), message, before)
    assert meeting(client, org).status_code == 302  # the form as filled in above is recorded


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("reason", v, m) for v, m in TEXT_ATTACKS],
    *[("grade", v, m) for v, m in TEXT_ATTACKS[:3]], ("grade", "长" * 100_000, "最多 12"),
    *[("action", v, m) for v, m in TEXT_ATTACKS],
])
@pytest.mark.parametrize("headers", [HX, {}])
def test_hostile_input_to_a_grade_is_refused_in_chinese(client, auth, org, members, q4, app, field, value, message,
                                                        headers):
    auth.login("bs")
    url = f"{PAGE.format(b=org.branch_id)}/members/{members['k4']}/grade"
    before = written(app)
    data = {"action": "override", "grade": "advanced", "reason": "支部大会同意", field: value}
    refused(app, client.post(url, data=data, headers=headers), message, before)


@pytest.mark.parametrize(("value", "message"), TEXT_ATTACKS)
def test_hostile_reason_to_reopen_a_review_is_refused_in_chinese(client, auth, org, members, q4, app, value, message):
    auth.login("bs")
    confirm_all(client, org)
    meeting(client, org)
    assert lock(client, org).status_code == 302
    auth.logout()
    auth.login("admin")
    before = written(app)
    refused(app, client.post(PAGE.format(b=org.branch_id) + "/reopen", data={"reason": value}), message, before)


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("note", v, m) for v, m in TEXT_ATTACKS],
    *[("branch", v, "请从排名中至少选择一个党支部") for v in ("9" * 40, "-5", "1e309", "名\x00", str(2**31), "")],
])
def test_hostile_input_to_the_red_flag_choice_is_refused_in_chinese(client, auth, org, members, q4, app, field, value,
                                                                    message):
    auth.login("admin")
    before = written(app)
    data = {"branch": [str(org.branch_id)], "note": "党员积分领先", field: value}
    refused(app, client.post("/review/red-flag/2025", data=data), message, before)
    assert client.post("/review/red-flag/2025", data={"branch": [str(org.branch_id)]}).status_code == 302


@pytest.mark.parametrize("value", ["名\x00", "长" * 5_000, "9" * 40, "-1", "1e309", "NaN", "99999-01-01", "%00"])
def test_hostile_query_parameters_of_the_review_pages_never_answer_500(client, auth, org, members, q4, value):
    from urllib.parse import quote

    auth.login("admin")
    b = org.branch_id
    for page in ("/review", PAGE.format(b=b), f"{PAGE.format(b=b)}/print", f"{PAGE.format(b=b)}/members/{members['k4']}",
                 "/review/commendations/2025", "/review/red-flag/2025", "/approvals", "/cases"):
        resp = client.get(f"{page}?year={quote(value)}&q={quote(value)}&page={quote(value)}")
        assert resp.status_code == 200, (page, resp.status_code)
