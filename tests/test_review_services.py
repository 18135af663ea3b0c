"""The review's services called directly, in an app context with no request and no client.

grading.py (the meeting, grades, the lock, the red-flag choice) and rectification.py (cases, proposals,
the street's decision). Every refusal is checked to write nothing: the rows and states of the tables
the review writes are read before and after in the same session (the services flush, and a query
flushes what is pending, so a half-done write would show).
"""
from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from flask import has_request_context
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import (AuditLog, Branch, CaseFollowUp, Community, Member, Proposal, RectificationCase,
                           ReviewGrade, Setting, Street, User, YearReview)
from qscore.review.grading import (choose_red_flag, confirm_remaining, grade_member, lock_review, open_review,
                                   record_review_meeting)
from qscore.review.rectification import (add_follow_up, assign_mentor, check_decidable, close_rectified,
                                         decide_proposal, extend_case, propose, write_plan)
from qscore.review.rules import ReviewError

from .conftest import FIXED_TODAY, make_member
from .test_cases import cases  # noqa: F401  (a fixture)
from .test_review import Y, add, members, publish_q4, q4  # noqa: F401  (fixtures)

TODAY = FIXED_TODAY  # 2026-05-20: the 2025 review is open once quarter 4 is published
MEETING = dict(meeting_on=date(2026, 1, 15), present=7, total=8, chair="张书记", minutes="评议")


def written() -> tuple:
    """What the review writes: row counts and the states a refused call must leave as they were."""
    counts = tuple(db.session.scalar(select(func.count()).select_from(t)) for t in
                   (YearReview, ReviewGrade, RectificationCase, CaseFollowUp, Proposal, Setting, AuditLog))
    states = (
        db.session.execute(select(YearReview.status, YearReview.meeting_on, YearReview.members_present,
                                  YearReview.chair).order_by(YearReview.id)).all(),
        db.session.execute(select(ReviewGrade.member_id, ReviewGrade.grade, ReviewGrade.suggested,
                                  ReviewGrade.override_reason, ReviewGrade.decided_by_id)
                           .order_by(ReviewGrade.id)).all(),
        db.session.execute(select(RectificationCase.status, RectificationCase.mentor_member_id, RectificationCase.plan,
                                  RectificationCase.deadline).order_by(RectificationCase.id)).all(),
        db.session.execute(select(Proposal.status, Proposal.comment).order_by(Proposal.id)).all(),
        db.session.execute(select(Member.status, Member.left_roll_on).order_by(Member.id)).all(),
        db.session.execute(select(Setting.key, Setting.value).order_by(Setting.id)).all(),
    )
    return counts, states


def refused(call, key: str, status: int, field: str | None = None) -> ReviewError:
    """``call`` raises ReviewError(key) with that status (and field), and nothing is written."""
    before = written()
    with pytest.raises(ReviewError) as caught:
        call()
    err = caught.value
    assert (err.key, err.status) == (key, status), err
    if field is not None:
        assert err.field == field
    assert written() == before
    return err


@pytest.fixture
def svc(app, org, members):
    """An app context without a request; the people and the branch of the review, as loaded rows."""
    with app.app_context():
        assert not has_request_context()
        yield SimpleNamespace(
            branch=db.session.get(Branch, org.branch_id), bs=db.session.get(User, org.branch_secretary_id),
            cs=db.session.get(User, org.community_secretary_id), admin=db.session.get(User, org.admin_id),
            street_id=org.street_id, m={k: db.session.get(Member, v) for k, v in members.items()}, org=org)


def grade_(s, key: str, by=None, *, confirm=True, grade="", reason=""):
    return grade_member(s.branch, Y, s.m[key], confirm=confirm, grade=grade, reason=reason, by=by or s.bs,
                        today=TODAY)


def test_nothing_is_written_before_quarter_4_is_published(svc):
    s = svc
    for call in (lambda: open_review(s.branch, Y), lambda: grade_(s, "ninety"),
                 lambda: confirm_remaining(s.branch, Y, by=s.bs, today=TODAY),
                 lambda: record_review_meeting(s.branch, Y, **MEETING, by=s.bs, today=TODAY),
                 lambda: lock_review(s.branch, Y, by=s.bs, today=TODAY, gettext=str)):
        err = refused(call, "q4_unpublished", 409)
        assert err.params == {"year": "2025"}
    publish_q4(s.branch.id)
    assert open_review(s.branch, Y) is None  # open, and no review started by asking


def test_a_grade_is_the_suggestion_or_another_with_the_meetings_reason(q4, svc):
    s = svc
    # Refused before any review exists: the refusal does not start one either.
    refused(lambda: grade_(s, "k4", confirm=False, grade="advanced", reason="  "), "override_reason", 422, "reason")
    refused(lambda: grade_(s, "k4", confirm=False, grade="bogus", reason="x"), "grade_invalid", 422, "grade")
    refused(lambda: grade_(s, "k4", confirm=False, grade="advanced", reason="长" * 2001), "too_long", 422, "reason")
    assert db.session.scalar(select(func.count()).select_from(YearReview)) == 0

    g = grade_(s, "ninety")
    assert (g.member_id, g.grade, g.suggested, g.score, g.decided_by_id) == (s.m["ninety"].id, "advanced", "advanced",
                                                                             "90.0", s.bs.id)
    g = grade_(s, "k4", confirm=False, grade="advanced", reason="K4 系误录，支部大会同意评为先进")
    assert (g.grade, g.suggested) == ("advanced", "qualified") and "误录" in g.override_reason
    # "Confirm" takes the suggestion whatever grade and reason come with it.
    g = grade_(s, "k4", grade="rectify", reason="ignored")
    assert (g.grade, g.override_reason) == ("qualified", "")
    assert db.session.scalar(select(YearReview.status)) == "draft"
    actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["review_started", "grade_confirmed", "grade_overridden", "grade_confirmed"]
    assert set(db.session.scalars(select(AuditLog.user_id))) == {s.bs.id}


def test_the_secretarys_own_grade_is_recorded_by_another_person(q4, svc):
    s = svc
    s.bs.member_id = s.m["low"].id
    db.session.commit()
    refused(lambda: grade_(s, "low"), "own_grade", 403)
    refused(lambda: grade_(s, "low", confirm=False, grade="qualified", reason="我自己"), "own_grade", 403)
    assert confirm_remaining(s.branch, Y, by=s.bs, today=TODAY) == len(s.m) - 1  # the own line waits
    assert db.session.scalar(select(ReviewGrade).where(ReviewGrade.member_id == s.m["low"].id)) is None
    g = grade_(s, "low", by=s.cs)
    assert (g.grade, g.decided_by_id) == ("rectify", s.cs.id)


def test_confirm_remaining_keeps_the_decisions_already_made(q4, svc):
    s = svc
    grade_(s, "k4", confirm=False, grade="advanced", reason="理由")
    assert confirm_remaining(s.branch, Y, by=s.bs, today=TODAY) == len(s.m) - 1
    grades = {g.member_id: g.grade for g in db.session.scalars(select(ReviewGrade))}
    assert grades[s.m["k4"].id] == "advanced" and grades[s.m["veto"].id] == "rectify"
    assert confirm_remaining(s.branch, Y, by=s.bs, today=TODAY) == 0


@pytest.mark.parametrize("change, key, field", [
    ({"meeting_on": None}, "meeting_date", "meeting_on"),
    ({"meeting_on": date(2025, 12, 30)}, "meeting_date", "meeting_on"),   # before the year ended
    ({"meeting_on": date(2026, 5, 21)}, "meeting_date", "meeting_on"),    # after today
    ({"present": 9}, "meeting_counts", "present"),                        # more than the total
    ({"present": None}, "meeting_counts", "present"),
    ({"present": 0, "total": 0}, "meeting_counts", "present"),
    ({"chair": "张" * 101}, "too_long", "chair"),
    ({"minutes": "记" * 5001}, "too_long", "minutes"),
])
def test_a_refused_meeting_starts_no_review(q4, svc, change, key, field):
    s = svc
    refused(lambda: record_review_meeting(s.branch, Y, **{**MEETING, **change}, by=s.bs, today=TODAY), key, 422, field)
    assert db.session.scalar(select(func.count()).select_from(YearReview)) == 0
    review = record_review_meeting(s.branch, Y, **MEETING, by=s.bs, today=TODAY)
    assert (review.meeting_on, review.members_present, review.members_total, review.chair) == (
        date(2026, 1, 15), 7, 8, "张书记")


def test_the_lock_needs_the_meeting_and_every_decision_then_opens_cases_in_the_given_language(q4, svc):
    s = svc

    def lock():
        return lock_review(s.branch, Y, by=s.bs, today=TODAY, gettext=lambda text: "译:" + text)

    refused(lock, "meeting_required", 409)  # no review yet
    confirm_remaining(s.branch, Y, by=s.bs, today=TODAY)
    refused(lock, "meeting_required", 409)
    record_review_meeting(s.branch, Y, **MEETING, by=s.bs, today=TODAY)
    late = make_member(s.branch.id, "新成员", "D", on_roll_since=date(2024, 1, 1))
    err = refused(lock, "undecided", 409)
    assert err.params == {"n": "1"}
    grade_member(s.branch, Y, late, confirm=True, grade="", reason="", by=s.bs, today=TODAY)
    opened = lock()
    assert {c.member_id for c in opened} == {s.m["low"].id, s.m["veto"].id, s.m["absent"].id}
    assert all(c.deadline == date(2026, 11, 20) and c.status == "open" for c in opened)
    veto = next(c for c in opened if c.member_id == s.m["veto"].id)
    assert "- 译:Veto" in veto.problems  # the confirming secretary's language, as passed
    review = db.session.scalar(select(YearReview))
    assert (review.status, review.confirmed_by_id) == ("confirmed", s.bs.id)
    refused(lock, "review_confirmed", 409)
    refused(lambda: grade_(s, "sixty", confirm=False, grade="advanced", reason="x"), "review_confirmed", 409)
    refused(lambda: confirm_remaining(s.branch, Y, by=s.bs, today=TODAY), "review_confirmed", 409)
    refused(lambda: record_review_meeting(s.branch, Y, **{**MEETING, "chair": "别人"}, by=s.bs, today=TODAY),
            "review_confirmed", 409)


def test_a_suggestion_that_changed_since_it_was_decided_blocks_the_lock(q4, svc):
    s = svc
    confirm_remaining(s.branch, Y, by=s.bs, today=TODAY)
    record_review_meeting(s.branch, Y, **MEETING, by=s.bs, today=TODAY)
    add(s.m["sixty"], "K3", date(Y, 12, 1), -3, note="late")  # 60 -> 57: qualified -> rectify
    db.session.flush()
    err = refused(lambda: lock_review(s.branch, Y, by=s.bs, today=TODAY, gettext=str), "stale", 409)
    assert err.params == {"n": "1"}
    assert db.session.scalar(select(YearReview.status)) == "draft"
    assert grade_(s, "sixty").grade == "rectify"
    opened = lock_review(s.branch, Y, by=s.bs, today=TODAY, gettext=str)
    assert s.m["sixty"].id in {c.member_id for c in opened}


def test_the_red_flag_choice_takes_only_branches_of_the_ranking(q4, svc):
    s = svc
    o = s.org
    elsewhere = Street(name="别的街道")
    db.session.add(elsewhere)
    db.session.flush()
    community = Community(street_id=elsewhere.id, name="别的社区")
    db.session.add(community)
    db.session.flush()
    foreign = Branch(community_id=community.id, name="别的支部")
    db.session.add(foreign)
    db.session.get(Branch, o.sibling_branch_id).retired = True
    db.session.commit()

    def choose(chosen, note="党员积分领先", year=Y):
        return choose_red_flag(s.street_id, year, chosen, note, by=s.admin, today=TODAY)

    refused(lambda: choose([o.branch_id], year=2026), "year_not_ended", 409)
    for chosen in ([], [999999], [foreign.id], [o.sibling_branch_id], [o.branch_id, 999999], [str(o.branch_id)],
                   [None]):
        refused(lambda: choose(chosen), "choose_branches", 422, "branch")
    refused(lambda: choose([o.branch_id], note="长" * 2001), "too_long", 422, "note")

    row = choose([o.other_branch_id, o.branch_id, o.branch_id])
    assert row.key == "red_flag_2025" and row.street_id == s.street_id
    assert row.value["chosen"] == sorted([o.branch_id, o.other_branch_id]) and row.value["note"] == "党员积分领先"
    assert [c["branch_id"] for c in row.value["computed"]][0] == o.branch_id  # the only branch with members
    assert {c["branch_id"] for c in row.value["computed"]} == {o.branch_id, o.other_branch_id}  # not the retired one
    assert row.value["recorded_by_id"] == s.admin.id
    row = choose([o.branch_id], note="")  # a second choice replaces the first, and the log keeps both
    assert db.session.scalars(select(Setting.key).where(Setting.key.like("red_flag_%"))).all() == ["red_flag_2025"]
    assert row.value["chosen"] == [o.branch_id]
    logs = db.session.scalars(select(AuditLog).where(AuditLog.action == "red_flag_chosen").order_by(AuditLog.id)).all()
    assert [log.user_id for log in logs] == [s.admin.id, s.admin.id]
    assert logs[1].before["chosen"] == sorted([o.branch_id, o.other_branch_id])


# ---------------------------------------------------------------------------------------------
# Rectification: each transition refused with nothing written, then the street's decision
# ---------------------------------------------------------------------------------------------

OPENED = date(2026, 1, 15)
AFTER_DEADLINE = date(2026, 7, 20)  # the plan below sets 2026-07-15


@pytest.fixture
def case(app, cases):  # noqa: F811  (the fixture imported above)
    with app.app_context():
        assert not has_request_context()
        users = {u.username: u for u in db.session.scalars(select(User))}
        c = db.session.get(RectificationCase, cases["low"])
        member = db.session.get(Member, cases["low_member"])
        yield SimpleNamespace(case=c, member=member, branch=db.session.get(Branch, member.branch_id),
                              helper=db.session.get(Member, cases["helper_member"]),
                              other=db.session.get(Member, cases["sibling_member"]), users=users)


def _propose(k, by, **change):
    call = dict(kind="expel", meeting_on=date(2026, 7, 16), present=5, total=6, votes_for=5, votes_against=0,
                votes_abstain=0, statement="本人表示接受组织处理", user=by, today=AFTER_DEADLINE, opened_on=OPENED)
    return propose(k.case, k.member, **{**call, **change})


def test_each_case_transition_refuses_without_writing(case):
    k, bs = case, case.users["bs"]
    refused(lambda: close_rectified(k.case, note="", user=bs), "mentor_and_plan_first", 409)
    refused(lambda: assign_mentor(k.case, mentor=k.member, member=k.member, branch=k.branch, user=bs),
            "mentor_self", 422, "mentor")
    refused(lambda: assign_mentor(k.case, mentor=k.other, member=k.member, branch=k.branch, user=bs),
            "mentor_outside", 422, "mentor")
    assign_mentor(k.case, mentor=k.helper, member=k.member, branch=k.branch, user=bs)
    refused(lambda: write_plan(k.case, problems="", plan=" ", deadline=date(2026, 7, 15), user=bs, today=TODAY),
            "plan_required", 422, "plan")
    refused(lambda: write_plan(k.case, problems="", plan="谈心", deadline=date(2026, 5, 19), user=bs, today=TODAY),
            "deadline_past", 422, "deadline")
    write_plan(k.case, problems="缺席", plan="每月谈心一次", deadline=date(2026, 7, 15), user=bs, today=TODAY)
    refused(lambda: _propose(k, bs), "follow_up_first", 409)
    refused(lambda: add_follow_up(k.case, on=date(2026, 1, 14), text="谈心", user=bs, today=TODAY, opened_on=OPENED),
            "follow_up_date", 422, "on")
    add_follow_up(k.case, on=date(2026, 5, 10), text="上门谈心", user=bs, today=TODAY, opened_on=OPENED)
    refused(lambda: extend_case(k.case, deadline=date(2026, 7, 1), reason="住院", user=bs, today=TODAY),
            "extend_later", 422, "new_deadline")
    refused(lambda: _propose(k, bs, votes_for=3), "proposal_majority", 422, "votes_for")
    refused(lambda: _propose(k, bs, statement=""), "statement_required", 422, "member_statement")
    proposal = _propose(k, bs)
    assert (proposal.status, k.case.status) == ("pending", "proposed")
    refused(lambda: close_rectified(k.case, note="", user=bs), "case_not_open", 409)


def test_the_street_decides_a_proposal_its_proposer_cannot(case):
    k = case
    admin, admin2 = k.users["admin"], k.users["admin2"]
    assign_mentor(k.case, mentor=k.helper, member=k.member, branch=k.branch, user=admin)
    write_plan(k.case, problems="", plan="每月谈心一次", deadline=date(2026, 7, 15), user=admin, today=TODAY)
    add_follow_up(k.case, on=date(2026, 5, 10), text="上门谈心", user=admin, today=TODAY, opened_on=OPENED)
    proposal = _propose(k, admin)  # the street admin proposed it themselves

    refused(lambda: check_decidable(proposal, admin), "own_proposal", 403)
    refused(lambda: decide_proposal(proposal, k.case, k.member, approve=True, comment="同意", user=admin,
                                    today=AFTER_DEADLINE), "own_proposal", 403)
    check_decidable(proposal, admin2)  # another street-level user may
    refused(lambda: decide_proposal(proposal, k.case, k.member, approve=True, comment=" ", user=admin2,
                                    today=AFTER_DEADLINE), "comment_required", 422, "comment")
    decide_proposal(proposal, k.case, k.member, approve=True, comment="经街道党工委研究，同意", user=admin2,
                    today=AFTER_DEADLINE)
    assert (proposal.status, proposal.decided_by_id) == ("approved", admin2.id)
    assert (k.member.status, k.member.left_roll_on) == ("expelled", AFTER_DEADLINE)
    assert (k.case.status, k.case.outcome) == ("closed", "expel")
    refused(lambda: check_decidable(proposal, admin2), "not_pending", 409)
    refused(lambda: decide_proposal(proposal, k.case, k.member, approve=False, comment="再议", user=admin2,
                                    today=AFTER_DEADLINE), "not_pending", 409)
