"""Rectification cases through to the street's approval: mentor, plan, follow-ups, outcomes, proposals."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import (AuditLog, Branch, BranchSpell, CaseFollowUp, Community, Member, Proposal,
                           RectificationCase, Street, User, UserSession)
from qscore.models._common import utcnow

from .conftest import SNAPSHOTS, TEST_PASSWORD, make_member
from .test_migrations import empty_database_url  # noqa: F401  (a fixture)
from .test_review import HX, add, publish_q4

Y = 2025


@pytest.fixture
def cases(app, org):
    """A confirmed 2025 review of the branch with three rectification cases, and the people around them."""
    return SNAPSHOTS.build(app, (__name__, "cases"), lambda: _build_cases(app, org))


def _build_cases(app, org) -> dict[str, int]:
    from qscore.review.data import load_rows, problems_text
    from qscore.review.grading import confirm_review, decide, ensure_review, record_meeting
    from qscore.scheme_versions import scheme_for_year

    with app.app_context(), app.test_request_context():
        community = db.session.get(Community, org.community_id)
        low = make_member(org.branch_id, "郑五七", "D", phone="13900001111", address="前进新村3号")
        add(low, "K3", date(Y, 3, 10), -3)
        add(low, "K3", date(Y, 6, 10), -3)
        add(low, "K1", date(Y, 4, 10), -2)
        probationary = make_member(org.branch_id, "卫预备", "A", probationary=True, on_roll_since=date(2024, 6, 1))
        other = make_member(org.branch_id, "王否决", "B")
        add(other, "V", date(Y, 10, 15), 0, note="处分")
        ok = make_member(org.branch_id, "李合格", "D")
        helper_member = make_member(org.branch_id, "何帮扶", "D")
        mentor = org.user("mentor1", "member", branch=db.session.get(Branch, org.branch_id), member_id=helper_member.id)
        sibling_member = make_member(org.sibling_branch_id, "何再就业", "A")
        gone = make_member(org.branch_id, "何转出", "D", status="transferred_out", left_roll_on=date(2026, 3, 1))
        sibling_secretary = org.user("bs3", "branch_secretary", branch=db.session.get(Branch, org.sibling_branch_id))
        outsider = org.user("outsider", "member", branch=db.session.get(Branch, org.other_branch_id))
        low_account = org.user("low", "member", branch=db.session.get(Branch, org.branch_id), member_id=low.id)
        org.user("admin2", "street_admin")
        org.user("cs2", "community_secretary", community=db.session.get(Community, org.other_community_id))
        other_street = Street(name="别的街道")
        db.session.add(other_street)
        db.session.flush()
        foreign = User(username="foreign", display_name="外街", password_hash="x", role="member",
                       street_id=other_street.id, community_id=None)
        db.session.add(foreign)
        publish_q4(org.branch_id)
        db.session.flush()
        bs = db.session.get(User, org.branch_secretary_id)
        review = ensure_review(org.branch_id, Y, bs)
        record_meeting(review, meeting_on=date(2026, 1, 15), present=5, total=6, chair="张书记", minutes="",
                       user=bs, today=date(2026, 1, 15))
        scheme = scheme_for_year(Y)
        rows = load_rows(org.branch_id, Y, date(2026, 1, 15), scheme, review)
        for r in rows:
            grade = "rectify" if r.member.id == probationary.id else r.suggested
            decide(review, r.member, suggested=r.suggested, score=r.score.score, reasons_json=r.reasons_json,
                   grade=grade, reason="试用期间不参加组织生活" if grade != r.suggested else "", user=bs)
        rows = load_rows(org.branch_id, Y, date(2026, 1, 15), scheme, review)
        confirm_review(review, current={r.member.id: (r.suggested, r.score.score, r.reasons_json) for r in rows},
                       problems={r.member.id: problems_text(r, Y, lambda s: s) for r in rows
                                 if r.decision.grade == "rectify"},
                       period_months=6, user=bs, today=date(2026, 1, 15), at=datetime(2026, 1, 15, 10, 0))
        db.session.commit()
        by_member = {c.member_id: c.id for c in db.session.scalars(select(RectificationCase))}
        assert set(by_member) == {low.id, probationary.id, other.id}
        ids = dict(low=by_member[low.id], probationary=by_member[probationary.id], other=by_member[other.id],
                   low_member=low.id, probationary_member=probationary.id, ok_member=ok.id,
                   mentor=mentor.id, helper_member=helper_member.id, outsider=outsider.id,
                   sibling_member=sibling_member.id, gone_member=gone.id, other_member=other.id,
                   sibling_secretary=sibling_secretary.id, foreign=foreign.id, low_account=low_account.id,
                   community=community.id)
    return ids


def case_url(case_id: int, tail: str = "") -> str:
    return f"/cases/{case_id}{tail}"


def get(app, model, id_):
    with app.app_context():
        obj = db.session.get(model, id_)
        db.session.expunge_all()
        return obj


def n(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def en(client):
    client.set_cookie("qscore_lang", "en")


def assign(client, case_id, mentor_id):
    return client.post(case_url(case_id, "/mentor"), data={"mentor_id": str(mentor_id)})


def plan(client, case_id, **data):
    form = {"problems": "连续缺席、积分低", "plan": "每月谈心一次，带领参加志愿服务", "deadline": "2026-07-15", **data}
    return client.post(case_url(case_id, "/plan"), data=form)


def follow_up(client, case_id, **data):
    return client.post(case_url(case_id, "/follow-ups"), data={"on": "2026-05-10", "text": "上门谈心", **data})


def proposal(client, case_id, **data):
    form = {"kind": "expel", "meeting_on": "2026-07-16", "members_present": "5", "members_total": "6",
            "votes_for": "5", "votes_against": "0", "votes_abstain": "0",
            "member_statement": "本人表示接受组织处理", **data}
    return client.post(case_url(case_id, "/proposal"), data=form)


def ready(client, auth, cases, key="low", login="bs"):
    """Mentor, plan and a follow-up: the case can go on to an outcome or a proposal."""
    auth.login(login)
    assert assign(client, cases[key], cases["helper_member"]).status_code == 302
    assert plan(client, cases[key]).status_code == 302
    assert follow_up(client, cases[key]).status_code == 302


AFTER_DEADLINE = date(2026, 7, 20)  # the plan's deadline is 2026-07-15: proposals are possible from 2026-07-16


def pass_deadline(client, day: date = AFTER_DEADLINE) -> None:
    client.application.config["FIXED_TODAY"] = day


# ---------------------------------------------------------------------------------------------
# Mentor, plan, deadline, follow-ups
# ---------------------------------------------------------------------------------------------

def test_mentor_is_a_member_of_the_branch_chosen_by_name(client, auth, org, cases, app):
    en(client)
    auth.login("bs")
    resp = client.get(case_url(cases["low"], "/mentors?q=何"), headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Choose 何帮扶" in body
    assert "何再就业" not in body   # another branch of the community
    assert "何转出" not in body     # no longer on the roll
    body = client.get(case_url(cases["low"], "/mentors?q=郑"), headers=HX).get_data(as_text=True)
    assert "Choose 郑五七" not in body and "No member on the roll of 第一党支部 matches" in body  # not the member
    body = client.get(case_url(cases["low"], "/mentors?q=李"), headers=HX).get_data(as_text=True)
    assert "Choose 李合格" in body   # a member without any login account
    body = client.get(case_url(cases["low"], "/mentors?q=mentor"), headers=HX).get_data(as_text=True)
    assert "Choose" not in body      # accounts are not searched: members are, by name
    page = client.get(case_url(cases["low"], "?q=何")).get_data(as_text=True)  # without htmx
    assert "Choose 何帮扶" in page
    for refused in ("sibling_member", "gone_member", "low_member"):
        resp = assign(client, cases["low"], cases[refused])
        assert resp.status_code == 422, refused
    assert "The mentor must be a member on the roll of 第一党支部." in \
        assign(client, cases["low"], cases["sibling_member"]).get_data(as_text=True)
    assert "A member cannot mentor their own case." in \
        assign(client, cases["low"], cases["low_member"]).get_data(as_text=True)
    assert assign(client, cases["low"], 999999).status_code == 404
    assert assign(client, cases["low"], "x").status_code == 404
    assert get(app, RectificationCase, cases["low"]).mentor_member_id is None
    assert assign(client, cases["low"], cases["ok_member"]).status_code == 302  # no account needed
    assert get(app, RectificationCase, cases["low"]).mentor_member_id == cases["ok_member"]
    assert "<strong>李合格</strong>" in client.get(case_url(cases["low"])).get_data(as_text=True)
    assert "李合格" in client.get("/cases").get_data(as_text=True)  # the branch's list shows the mentor
    with app.app_context():
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "case_mentor_assigned"))
        assert log.member_id == cases["low_member"] and log.after == {"mentor_member_id": cases["ok_member"]}
        assert log.username == "bs" and "李合格" in log.summary


def test_a_mentor_from_another_street_is_not_found(client, auth, org, cases, app):
    with app.app_context():
        foreign_street = db.session.get(User, cases["foreign"]).street_id
        community = Community(street_id=foreign_street, name="外社区")
        db.session.add(community)
        db.session.flush()
        branch = Branch(community_id=community.id, name="外支部")
        db.session.add(branch)
        db.session.flush()
        foreign_member = make_member(branch.id, "外街党员", "A").id
        db.session.commit()
    auth.login("bs")
    assert assign(client, cases["low"], foreign_member).status_code == 404
    assert get(app, RectificationCase, cases["low"]).mentor_member_id is None


def test_the_mentor_account_is_the_one_linked_to_the_mentor_member(client, auth, org, cases, app):
    """Mentoring rights follow the member: whoever's account is linked to the mentor's member record."""
    auth.login("bs")
    assert assign(client, cases["low"], cases["ok_member"]).status_code == 302
    auth.logout()
    auth.login("mentor1")  # linked to 何帮扶, who does not mentor this case
    assert client.get(case_url(cases["low"])).status_code == 404
    assert "郑五七" not in client.get("/cases").get_data(as_text=True)
    auth.logout()
    auth.login("bs")
    assert assign(client, cases["low"], cases["helper_member"]).status_code == 302
    auth.logout()
    auth.login("mentor1")
    assert client.get(case_url(cases["low"])).status_code == 200
    from qscore.review import case_alerts, mentored_case_count

    with app.app_context():
        assert mentored_case_count(cases["mentor"]) == 1 and mentored_case_count(org.branch_secretary_id) == 0
        # opened 2026-01-15 without a follow-up: silent by 2026-05-20
        assert [a.case.id for a in case_alerts(db.session.get(User, cases["mentor"]), date(2026, 5, 20))] == \
            [cases["low"]]
        assert case_alerts(db.session.get(User, cases["outsider"]), date(2026, 5, 20)) == []


def test_plan_and_deadline(client, auth, org, cases, app):
    en(client)
    auth.login("cs")  # the community secretary may act for the branch
    resp = plan(client, cases["low"], deadline="2026-05-19")
    assert resp.status_code == 422 and "The deadline cannot be in the past." in resp.get_data(as_text=True)
    assert plan(client, cases["low"], plan=" ").status_code == 422
    assert plan(client, cases["low"], deadline="").status_code == 422
    case = get(app, RectificationCase, cases["low"])
    assert case.plan == "" and case.deadline == date(2026, 7, 15)  # default: 6 months after the lock
    assert plan(client, cases["low"], deadline="2026-05-20").status_code == 302  # today is fine
    case = get(app, RectificationCase, cases["low"])
    assert case.plan.startswith("每月谈心") and case.deadline == date(2026, 5, 20)


def test_the_mentor_sees_plan_log_and_deadline_and_nothing_else(client, auth, org, cases, app):
    en(client)
    ready(client, auth, cases)
    auth.logout()
    auth.login("mentor1")
    mine = client.get("/cases").get_data(as_text=True)
    assert "郑五七" in mine and "王否决" not in mine
    page = client.get(case_url(cases["low"])).get_data(as_text=True)
    assert "每月谈心一次" in page and "上门谈心" in page and "2026-07-15" in page
    assert "13900001111" not in page and "前进新村3号" not in page and "score" not in page.lower().split("<main")[1]
    assert 'action="/cases/%d/proposal"' % cases["low"] not in page and "/plan" not in page
    assert follow_up(client, cases["low"], text="陪同参加主题党日").status_code == 302
    assert plan(client, cases["low"], plan="改计划").status_code == 403
    assert client.post(case_url(cases["low"], "/outcome"), data={"action": "rectified"}).status_code == 403
    assert proposal(client, cases["low"]).status_code == 403
    assert client.get(case_url(cases["other"])).status_code == 404  # not theirs
    assert client.get(f"/branches/{org.branch_id}/review/2025").status_code == 404
    assert n(app, CaseFollowUp, CaseFollowUp.by_id == cases["mentor"]) == 1


def test_follow_up_refusals(client, auth, org, cases, app):
    auth.login("bs")
    assert follow_up(client, cases["low"], on="2026-05-21").status_code == 422   # in the future
    assert follow_up(client, cases["low"], on="2025-12-01").status_code == 422   # before the case
    assert follow_up(client, cases["low"], on="").status_code == 422
    assert follow_up(client, cases["low"], text="").status_code == 422
    assert n(app, CaseFollowUp) == 0


def test_scope_of_a_case(client, auth, org, cases, app):
    for username in ("bs2", "cs2", "outsider", "bs3"):
        auth.login(username)
        for method, tail in (("get", ""), ("get", "/mentors?q=a"), ("post", "/plan"), ("post", "/follow-ups"),
                             ("post", "/mentor"), ("post", "/outcome"), ("post", "/proposal")):
            resp = getattr(client, method)(case_url(cases["low"], tail))
            assert resp.status_code == 404, (username, tail)
        auth.logout()
    # The member sees their case in the booklet, not on the secretaries' case page.
    auth.login("low")
    assert client.get(case_url(cases["low"])).status_code == 404
    assert client.get("/cases").status_code == 200
    assert client.get("/approvals").status_code == 403
    assert client.get(case_url(999999)).status_code == 404


# ---------------------------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------------------------

def test_no_outcome_before_mentor_and_plan(client, auth, org, cases, app):
    auth.login("bs")
    assert client.post(case_url(cases["low"], "/outcome"), data={"action": "rectified"}).status_code == 409
    assert client.post(case_url(cases["low"], "/outcome"), data={
        "action": "extended", "new_deadline": "2026-10-01", "extension_reason": "x"}).status_code == 409
    assert proposal(client, cases["low"]).status_code == 409
    assert get(app, RectificationCase, cases["low"]).status == "open"


def test_rectified_closes_the_case(client, auth, org, cases, app):
    ready(client, auth, cases)
    resp = client.post(case_url(cases["low"], "/outcome"), data={"action": "rectified", "note": "按时参加组织生活"})
    assert resp.status_code == 302
    case = get(app, RectificationCase, cases["low"])
    assert (case.status, case.outcome, case.outcome_reason) == ("rectified", "rectified", "按时参加组织生活")
    assert follow_up(client, cases["low"]).status_code == 409
    assert proposal(client, cases["low"]).status_code == 409
    assert client.post(case_url(cases["low"], "/outcome"), data={"action": "rectified"}).status_code == 409


def test_extension_needs_a_later_deadline_and_a_reason(client, auth, org, cases, app):
    ready(client, auth, cases)
    url = case_url(cases["low"], "/outcome")
    assert client.post(url, data={"action": "extended", "new_deadline": "2026-05-01",
                                  "extension_reason": "x"}).status_code == 422   # in the past
    assert client.post(url, data={"action": "extended", "new_deadline": "2026-07-15",
                                  "extension_reason": "x"}).status_code == 422   # not later
    assert client.post(url, data={"action": "extended", "new_deadline": "2026-10-15",
                                  "extension_reason": ""}).status_code == 422
    assert get(app, RectificationCase, cases["low"]).deadline == date(2026, 7, 15)
    assert client.post(url, data={"action": "extended", "new_deadline": "2026-10-15",
                                  "extension_reason": "有转变，需继续观察"}).status_code == 302
    case = get(app, RectificationCase, cases["low"])
    assert (case.status, case.outcome, case.deadline) == ("open", "extended", date(2026, 10, 15))
    with app.app_context():
        texts = list(db.session.scalars(select(CaseFollowUp.text).where(CaseFollowUp.case_id == cases["low"])))
    assert any("2026-07-15 → 2026-10-15" in t and "继续观察" in t for t in texts)


# ---------------------------------------------------------------------------------------------
# Proposals
# ---------------------------------------------------------------------------------------------

def test_no_proposal_without_help_and_education(client, auth, org, cases, app):
    auth.login("bs")
    assign(client, cases["low"], cases["helper_member"])
    plan(client, cases["low"])
    pass_deadline(client)
    resp = proposal(client, cases["low"])
    assert resp.status_code == 409 and n(app, Proposal) == 0


@pytest.mark.parametrize("data", [
    {"meeting_on": ""},                                   # without the meeting date
    {"meeting_on": "2026-07-21"},                         # in the future
    {"meeting_on": "2026-01-10"},                         # before the case was opened
    {"meeting_on": "2026-01-15", "early_reason": "长期失联"},  # on the day it was opened, even with a reason
    {"meeting_on": "2026-07-15"},                         # on the deadline: early, and no reason
    {"meeting_on": "2026-05-15", "early_reason": "  "},   # early, and no reason
    {"members_present": "3"},                             # no quorum: 3 of 6
    {"members_present": "7"},                             # more than the total
    {"votes_for": "3", "votes_against": "2"},             # 3 of 6 is not more than half
    {"votes_for": "5", "votes_against": "1"},             # 6 votes, 5 present
    {"votes_for": "x"},
    {"member_statement": ""},
    {"kind": "cancel_probation"},                         # a full member has no probation
    {"kind": "bogus"},
])
def test_proposal_refusals(client, auth, org, cases, app, data):
    ready(client, auth, cases)
    pass_deadline(client)
    resp = proposal(client, cases["low"], **data)
    assert resp.status_code == 422
    assert n(app, Proposal) == 0 and get(app, RectificationCase, cases["low"]).status == "open"


def test_a_probationary_member_is_not_persuaded_to_withdraw(client, auth, org, cases, app):
    en(client)
    ready(client, auth, cases, key="probationary")
    pass_deadline(client)
    page = client.get(case_url(cases["probationary"])).get_data(as_text=True)
    assert 'value="persuade_withdraw"' not in page and 'value="cancel_probation"' in page
    assert "extend the case, or propose cancelling the probation" in page
    resp = proposal(client, cases["probationary"], kind="persuade_withdraw")
    assert resp.status_code == 422 and n(app, Proposal) == 0
    assert proposal(client, cases["probationary"], kind="cancel_probation").status_code == 302
    assert get(app, RectificationCase, cases["probationary"]).status == "proposed"


def test_proposal_goes_to_the_street_and_cannot_be_made_twice(client, auth, org, cases, app):
    en(client)
    ready(client, auth, cases)
    pass_deadline(client)
    assert proposal(client, cases["low"]).status_code == 302
    with app.app_context():
        p = db.session.scalar(select(Proposal))
        assert (p.kind, p.status, p.proposed_by_id, p.votes_for) == ("expel", "pending", org.branch_secretary_id, 5)
        assert db.session.scalar(select(AuditLog).where(AuditLog.action == "proposal_made")).member_id == \
            cases["low_member"]
    assert get(app, RectificationCase, cases["low"]).status == "proposed"
    assert proposal(client, cases["low"]).status_code == 409
    assert follow_up(client, cases["low"]).status_code == 409
    assert n(app, Proposal) == 1


# ---------------------------------------------------------------------------------------------
# When an outcome that ends membership can be proposed (issue 14, item 7)
# ---------------------------------------------------------------------------------------------

OPENED = date(2026, 1, 15)   # the fixture's review was locked on 2026-01-15
DEADLINE = date(2026, 7, 15)  # six months later


def _helped(app, cases, key="low"):
    """Mentor, plan and a follow-up written directly, so any 'today' can be tried."""
    with app.app_context():
        case = db.session.get(RectificationCase, cases[key])
        case.mentor_member_id, case.plan = cases["helper_member"], "每月谈心一次"
        db.session.add(CaseFollowUp(case_id=case.id, on=OPENED, text="上门谈心"))
        db.session.commit()


@pytest.mark.parametrize("kind", ["expel", "persuade_withdraw"])
@pytest.mark.parametrize("today, meeting_on, reason, refused, early", [
    (OPENED, OPENED, "", "proposal_opening_day", False),                     # the day the case opens
    (OPENED, OPENED, "长期失联", "proposal_opening_day", False),             # ... even with a reason
    (date(2026, 2, 1), OPENED, "长期失联", "proposal_opening_day", False),    # a meeting held on that day
    (date(2026, 1, 16), date(2026, 1, 16), "", "proposal_before_deadline", False),
    (date(2026, 1, 16), date(2026, 1, 16), "长期失联", None, True),           # early, with the reason
    (DEADLINE, DEADLINE, "", "proposal_before_deadline", False),              # the deadline day is still early
    (DEADLINE, DEADLINE, "长期失联", None, True),
    (date(2026, 9, 1), DEADLINE, "", "proposal_before_deadline", False),      # a meeting held before it passed
    (date(2026, 7, 16), date(2026, 7, 16), "", None, False),                  # the day after the deadline
    (date(2026, 9, 1), date(2026, 7, 16), "不需要的理由", None, False),       # not early: no reason kept
])
def test_when_a_proposal_can_be_made(app, cases, today, meeting_on, reason, refused, early, kind):
    from qscore.review.rectification import propose
    from qscore.review.rules import ReviewError

    _helped(app, cases)
    with app.app_context(), app.test_request_context():
        case = db.session.get(RectificationCase, cases["low"])
        member = db.session.get(Member, cases["low_member"])
        bs = db.session.get(User, org_bs(app))
        call = dict(kind=kind, meeting_on=meeting_on, present=5, total=6, votes_for=5, votes_against=0,
                    votes_abstain=0, statement="本人表示接受组织处理", user=bs, today=today, opened_on=OPENED,
                    early_reason=reason)
        if refused:
            with pytest.raises(ReviewError) as err:
                propose(case, member, **call)
            assert err.value.key == refused and err.value.params["earliest"] == "2026-07-16"
            db.session.rollback()
            assert n(app, Proposal) == 0 and get(app, RectificationCase, cases["low"]).status == "open"
            return
        p = propose(case, member, **call)
        db.session.commit()
        assert p.early_reason == (reason if early else "")
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "proposal_made"))
        assert log.after.get("early", False) is early and log.username == "bs"
        if early:
            assert log.after["early_reason"] == reason and log.after["deadline"] == "2026-07-15"
            assert "early, before the deadline 2026-07-15: 长期失联" in log.summary


def org_bs(app) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == "bs"))


def test_an_early_proposal_is_refused_in_chinese_with_the_date_it_becomes_possible(client, auth, org, cases, app):
    ready(client, auth, cases)  # today 2026-05-20: before the deadline
    page = client.get(case_url(cases["low"])).get_data(as_text=True)
    assert "整改期限为 2026-07-15，2026-07-16 起支部党员大会可以提出。" in page
    assert 'name="early_reason"' in page
    resp = proposal(client, cases["low"], meeting_on="2026-05-15")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and n(app, Proposal) == 0
    assert "整改期限为 2026-07-15，2026-07-16 起支部党员大会才可以提出" in body and "提前提出的理由" in body
    assert 'id="early_reason-errors"' in body and "本人表示接受组织处理" in body  # the form keeps what was typed
    # The opening day is refused with the dates that follow.
    app.config["FIXED_TODAY"] = OPENED
    body = proposal(client, cases["low"], meeting_on="2026-01-15", early_reason="长期失联").get_data(as_text=True)
    assert "立案当天（2026-01-15）不能提出" in body and "2026-07-16 起" in body and "2026-01-16 起" in body
    assert n(app, Proposal) == 0


def test_after_the_deadline_the_form_asks_no_reason(client, auth, org, cases, app):
    ready(client, auth, cases)
    pass_deadline(client)
    page = client.get(case_url(cases["low"])).get_data(as_text=True)
    assert 'name="early_reason"' not in page and 'id="proposal-timing"' not in page


def test_an_extended_deadline_moves_the_earliest_proposal(client, auth, org, cases, app):
    ready(client, auth, cases)
    assert client.post(case_url(cases["low"], "/outcome"), data={
        "action": "extended", "new_deadline": "2026-10-15", "extension_reason": "有转变，继续观察"}).status_code == 302
    pass_deadline(client)  # 2026-07-20: past the first deadline, not the new one
    resp = proposal(client, cases["low"])
    assert resp.status_code == 422 and "2026-10-16" in resp.get_data(as_text=True)
    assert proposal(client, cases["low"], early_reason="本人明确表示不再参加组织生活").status_code == 302


def test_an_early_proposal_is_flagged_to_the_street_and_approved_with_its_reason(client, auth, org, cases, app):
    ready(client, auth, cases)  # today 2026-05-20
    resp = proposal(client, cases["low"], meeting_on="2026-05-15", early_reason="本人明确表示不再参加组织生活")
    assert resp.status_code == 302
    assert "提前提出的提议已连同理由报街道党工委审批。" in client.get(resp.headers["Location"]).get_data(as_text=True)
    auth.logout()
    auth.login("admin")
    queue = client.get("/approvals").get_data(as_text=True)
    assert "提前提出：整改期限未到" in queue and "支部提出的理由：本人明确表示不再参加组织生活" in queue
    assert "2026-05-15 的支部党员大会在整改期限（2026-07-15）前提出此项提议。" in queue
    with app.app_context():
        pid = db.session.scalar(select(Proposal.id))
    assert decide(client, pid, comment="失联一年以上，同意提前除名").status_code == 302
    with app.app_context():
        assert db.session.get(Member, cases["low_member"]).status == "expelled"
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "proposal_approved"))
        assert log.user_id == org.admin_id and log.after["early"] is True
        assert log.after["early_reason"] == "本人明确表示不再参加组织生活"
        assert log.summary.startswith("early proposal approved: ")
    decided = client.get("/approvals").get_data(as_text=True).split('id="decided-title"')[1]
    assert "提前提出" in decided
    # The branch sees the early reason with the proposal on the case page.
    auth.logout()
    auth.login("bs")
    page = client.get(case_url(cases["low"])).get_data(as_text=True)
    assert "在整改期限前提出，理由：本人明确表示不再参加组织生活" in page


def test_a_proposal_after_the_deadline_is_not_flagged(client, auth, org, cases, app):
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    queue = client.get("/approvals").get_data(as_text=True)
    assert f'id="proposal-{pid}-early"' not in queue and "提前提出" not in queue


# ---------------------------------------------------------------------------------------------
# The street's approval
# ---------------------------------------------------------------------------------------------

def _proposed(client, auth, cases, login="bs", key="low", **data) -> int:
    ready(client, auth, cases, key=key, login=login)
    pass_deadline(client)
    assert proposal(client, cases[key], **data).status_code == 302
    auth.logout()
    with client.application.app_context():
        return db.session.scalar(select(Proposal.id).order_by(Proposal.id.desc()))


def decide(client, proposal_id, decision="approve", password=TEST_PASSWORD, comment="经街道党工委研究，同意"):
    data = {"decision": decision, "comment": comment}
    if password is not None:
        data["password"] = password
    return client.post(f"/approvals/{proposal_id}", data=data)


def stale_login(app):
    with app.app_context():
        for s in db.session.scalars(select(UserSession)):
            s.fresh_at = utcnow() - timedelta(minutes=10)
        db.session.commit()


def test_only_the_street_decides(client, auth, org, cases, app):
    pid = _proposed(client, auth, cases)
    for username, status in (("bs", 403), ("cs", 403), ("mentor1", 404)):
        auth.login(username)
        assert client.get("/approvals").status_code == 403
        # Secretaries see the member (403: not theirs to decide); a member account does not see them at all.
        assert decide(client, pid).status_code == status, username
        auth.logout()
    assert get(app, Proposal, pid).status == "pending"


def test_the_proposer_cannot_approve(client, auth, org, cases, app):
    en(client)
    pid = _proposed(client, auth, cases, login="admin")  # the street admin proposed it themselves
    auth.login("admin")
    resp = decide(client, pid)
    assert resp.status_code == 403 and "another street-level user must decide" in resp.get_data(as_text=True)
    assert get(app, Proposal, pid).status == "pending"
    auth.logout()
    auth.login("admin2")
    assert decide(client, pid).status_code == 302
    assert get(app, Proposal, pid).status == "approved"


def test_approval_needs_a_fresh_login(client, auth, org, cases, app):
    en(client)
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    stale_login(app)
    resp = decide(client, pid, password=None)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "Re-enter your password" in body and 'type="password"' in body
    resp = decide(client, pid, password="wrong-password")
    assert resp.status_code == 403 and "The password is wrong." in resp.get_data(as_text=True)
    assert get(app, Proposal, pid).status == "pending"
    assert get(app, Member, cases["low_member"]).status == "active"
    # Within 5 minutes of entering it, the password is not asked again.
    assert decide(client, pid, password=TEST_PASSWORD, comment="").status_code == 422
    assert decide(client, pid, password=None).status_code == 302


def test_approval_takes_the_member_off_the_roll_and_the_roster(client, auth, org, cases, app):
    en(client)
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    queue = client.get("/approvals").get_data(as_text=True)
    assert "郑五七" in queue and "本人表示接受组织处理" in queue and "5 / 0 / 0" in queue
    assert decide(client, pid).status_code == 302
    with app.app_context():
        p = db.session.get(Proposal, pid)
        assert (p.status, p.decided_by_id, p.comment) == ("approved", org.admin_id, "经街道党工委研究，同意")
        m = db.session.get(Member, cases["low_member"])
        assert (m.status, m.left_roll_on) == ("expelled", AFTER_DEADLINE)
        spells = db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == m.id)).all()
        assert [s.ends_on for s in spells] == [AFTER_DEADLINE]
        case = db.session.get(RectificationCase, cases["low"])
        assert (case.status, case.outcome) == ("closed", "expel")
        log = db.session.scalar(select(AuditLog).where(AuditLog.action == "proposal_approved"))
        assert log.before["status"] == "active" and log.after["status"] == "expelled"
    assert decide(client, pid).status_code == 409  # decided already
    roster = client.get(f"/branches/{org.branch_id}/roster").get_data(as_text=True)
    assert "郑五七" not in roster and "李合格" in roster
    # History stays: the confirmed grade is still in the review.
    review = client.get(f"/branches/{org.branch_id}/review/2025").get_data(as_text=True)
    assert "郑五七" in review


def test_rejection_sends_the_case_back_to_the_branch(client, auth, org, cases, app):
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    assert decide(client, pid, decision="reject", comment="帮扶时间不足，继续教育").status_code == 302
    assert get(app, Proposal, pid).status == "rejected"
    assert get(app, RectificationCase, cases["low"]).status == "open"
    assert get(app, Member, cases["low_member"]).status == "active"
    assert decide(client, pid).status_code == 409
    assert decide(client, pid, decision="maybe").status_code == 409


def test_cancelled_probation(client, auth, org, cases, app):
    pid = _proposed(client, auth, cases, key="probationary", kind="cancel_probation")
    auth.login("admin")
    assert decide(client, pid).status_code == 302
    m = get(app, Member, cases["probationary_member"])
    assert m.status == "probation_cancelled" and m.left_roll_on == AFTER_DEADLINE


# ---------------------------------------------------------------------------------------------
# What the lead wires: the member's decisions and the start page's alerts
# ---------------------------------------------------------------------------------------------

def test_decisions_for_member_and_their_partial(client, auth, org, cases, app):
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    decide(client, pid)
    from flask import render_template

    from qscore.review import decisions_for_member

    with app.app_context(), app.test_request_context(headers={"Cookie": "qscore_lang=en"}):
        decisions = decisions_for_member(cases["low_member"])
        assert [g.grade for g in decisions.grades] == ["rectify"] and decisions.grades[0].year == 2025
        assert len(decisions.cases) == 1 and decisions.cases[0].mentor == "何帮扶"
        (p, decided_on), = decisions.cases[0].proposals
        assert p.kind == "expel" and decided_on is not None
        html = render_template("review/_member_decisions.html", decisions=decisions)
        assert "Decisions about me" in html and "Expel" in html and "本人表示接受组织处理" in html
        assert "Approved by the street" in html
        ok = decisions_for_member(cases["ok_member"])
        assert [g.grade for g in ok.grades] == ["qualified"] and ok.cases == []
        assert not decisions_for_member(999999)
        assert render_template("review/_member_decisions.html", decisions=decisions_for_member(999999)).strip() == ""


def test_case_alerts_for_overdue_and_silent_cases(client, auth, org, cases, app):
    from qscore.review import case_alerts

    ready(client, auth, cases)  # low: a follow-up on 2026-05-10, deadline 2026-07-15
    with app.app_context():
        cs = db.session.get(User, org.community_secretary_id)
        alerts = {a.case.id: a for a in case_alerts(cs, date(2026, 5, 20))}
        # opened 2026-01-15, no follow-up: silent since 2026-03-20
        assert set(alerts) == {cases["probationary"], cases["other"]}
        assert alerts[cases["other"]].silent and not alerts[cases["other"]].overdue
        assert cases["low"] not in {a.case.id for a in case_alerts(cs, date(2026, 7, 9))}  # followed up May 10
        alerts = {a.case.id: a for a in case_alerts(cs, date(2026, 7, 16))}
        assert alerts[cases["low"]].overdue and alerts[cases["low"]].silent
        assert alerts[cases["low"]].last_activity == date(2026, 5, 10)
        assert case_alerts(db.session.get(User, org.other_secretary_id), date(2026, 7, 16)) == []
        mentor = db.session.get(User, cases["mentor"])
        assert [a.case.id for a in case_alerts(mentor, date(2026, 7, 16))] == [cases["low"]]
    app.config["FIXED_TODAY"] = date(2026, 7, 16)
    en(client)
    page = client.get("/review").get_data(as_text=True)
    assert "Overdue since 2026-07-15" in page


# ---------------------------------------------------------------------------------------------
# The migration that made the mentor a member
# ---------------------------------------------------------------------------------------------

def test_the_upgrade_turns_mentor_accounts_into_their_members(make_app, empty_database_url):  # noqa: F811
    """A mentor account linked to a member record becomes that member; one without is cleared, with an
    audit row saying who it was. Proposals made before get no early reason."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    with app.app_context():
        upgrade(revision="ec281920976c")
        with db.engine.begin() as conn:
            run = lambda sql, **kw: conn.execute(text(sql), kw)  # noqa: E731
            run("INSERT INTO street (id, name, demo, created_at) VALUES (1, '幸福街道', false, '2026-01-01')")
            run("INSERT INTO community (id, street_id, name, retired, created_at) VALUES (1, 1, '前进社区', false, "
                "'2026-01-01')")
            run("INSERT INTO branch (id, community_id, name, kind, retired, quick_indicators, created_at) "
                "VALUES (1, 1, '第一党支部', 'ordinary', false, '', '2026-01-01')")
            for mid, name in ((1, '郑五七'), (2, '何帮扶'), (3, '李书记')):
                run("INSERT INTO member (id, street_id, branch_id, name, gender, on_roll_since, probationary, "
                    "booklet_no, phone, address, status, created_at) VALUES (:id, 1, 1, :name, 'M', '2020-01-01', "
                    "false, '', '', '', 'active', '2026-01-01')", id=mid, name=name)
            for uid, username, member_id in ((1, 'mentor1', 2), (2, 'helper', None)):
                run("INSERT INTO \"user\" (id, username, display_name, password_hash, role, street_id, community_id, "
                    "member_id, active, must_change_password, created_at) VALUES (:id, :u, :u, 'x', 'member', 1, 1, "
                    ":m, true, false, '2026-01-01')", id=uid, u=username, m=member_id)
            for cid, mentor in ((1, 1), (2, 2), (3, None)):
                run("INSERT INTO rectification_case (id, member_id, problems, mentor_id, plan, deadline, status, "
                    "outcome, outcome_reason, opened_at) VALUES (:id, 1, '', :mentor, '', '2026-07-15', 'open', '', "
                    "'', '2026-01-15 10:00:00')", id=cid, mentor=mentor)
            run("INSERT INTO proposal (id, case_id, kind, meeting_on, members_present, members_total, votes_for, "
                "votes_against, votes_abstain, member_statement, proposed_at, status, comment) VALUES "
                "(1, 1, 'expel', '2026-07-20', 5, 6, 5, 0, 0, '接受', '2026-07-20 10:00:00', 'pending', '')")
        upgrade(revision="a7ed59ed3030")
        with db.engine.connect() as conn:
            mentors = dict(conn.execute(text("SELECT id, mentor_member_id FROM rectification_case")).all())
            early = conn.execute(text("SELECT early_reason FROM proposal")).scalar_one()
            cleared = conn.execute(text("SELECT object_id, member_id, before FROM audit_log "
                                        "WHERE action = 'case_mentor_cleared'")).all()
        downgrade(revision="ec281920976c")
        with db.engine.connect() as conn:
            back = dict(conn.execute(text("SELECT id, mentor_id FROM rectification_case")).all())
        db.session.remove()
        db.engine.dispose()
    assert mentors == {1: 2, 2: None, 3: None} and early == ""
    assert [(c, m) for c, m, _b in cleared] == [(2, 1)]
    before = cleared[0][2] if isinstance(cleared[0][2], dict) else json.loads(cleared[0][2])
    assert before["username"] == "helper" and before["mentor_user_id"] == 2
    assert back == {1: 1, 2: None, 3: None}


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
    """What the case forms write: the cases as they stand, follow-ups, proposals, audit rows."""
    with app.app_context():
        cases_now = tuple(db.session.execute(select(
            RectificationCase.id, RectificationCase.mentor_member_id, RectificationCase.plan, RectificationCase.problems,
            RectificationCase.deadline, RectificationCase.status).order_by(RectificationCase.id)).all())
        return (cases_now, *(db.session.scalar(select(func.count()).select_from(m))
                             for m in (CaseFollowUp, Proposal, AuditLog)))


def refused(app, resp, message: str, before: tuple) -> None:
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422, (resp.status_code, body[:300])
    assert message in body
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("problems", v, m) for v, m in TEXT_ATTACKS], *[("plan", v, m) for v, m in TEXT_ATTACKS],
    *[("deadline", v, m) for v, m in DATE_ATTACKS],
])
def test_hostile_input_to_a_plan_is_refused_in_chinese(client, auth, cases, app, field, value, message):
    auth.login("bs")
    before = written(app)
    refused(app, plan(client, cases["low"], **{field: value}), message, before)
    assert plan(client, cases["low"]).status_code == 302


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("text", v, m) for v, m in TEXT_ATTACKS], *[("on", v, m) for v, m in DATE_ATTACKS],
])
def test_hostile_input_to_a_follow_up_is_refused_in_chinese(client, auth, cases, app, field, value, message):
    auth.login("bs")
    assert assign(client, cases["low"], cases["helper_member"]).status_code == 302
    before = written(app)
    refused(app, follow_up(client, cases["low"], **{field: value}), message, before)
    assert follow_up(client, cases["low"]).status_code == 302


@pytest.mark.parametrize(("data", "message"), [
    *[({"action": "rectified", "note": v}, m) for v, m in TEXT_ATTACKS],
    *[({"action": "extended", "extension_reason": v, "new_deadline": "2026-09-30"}, m) for v, m in TEXT_ATTACKS],
    *[({"action": "extended", "extension_reason": "仍需观察", "new_deadline": v}, m) for v, m in DATE_ATTACKS],
])
def test_hostile_input_to_an_outcome_is_refused_in_chinese(client, auth, cases, app, data, message):
    ready(client, auth, cases)
    before = written(app)
    refused(app, client.post(case_url(cases["low"], "/outcome"), data=data), message, before)


@pytest.mark.parametrize("action", ["名\x00", "长" * 100_000, "", "RECTIFIED"])
def test_an_outcome_not_on_the_buttons_is_a_bad_request(client, auth, cases, app, action):
    ready(client, auth, cases)
    before = written(app)
    assert client.post(case_url(cases["low"], "/outcome"), data={"action": action, "note": "x"}).status_code == 400
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("member_statement", v, m) for v, m in TEXT_ATTACKS], *[("early_reason", v, m) for v, m in TEXT_ATTACKS],
    *[("kind", v, m) for v, m in TEXT_ATTACKS[:3]], ("kind", "长" * 100_000, "最多 20"),
    *[("meeting_on", v, m) for v, m in DATE_ATTACKS],
    *[(f, v, m) for f in ("members_present", "members_total", "votes_for", "votes_against", "votes_abstain")
      for v, m in COUNT_ATTACKS],
])
def test_hostile_input_to_a_proposal_is_refused_in_chinese(client, auth, cases, app, field, value, message):
    ready(client, auth, cases)
    pass_deadline(client)
    before = written(app)
    refused(app, proposal(client, cases["low"], **{field: value}), message, before)
    assert proposal(client, cases["low"]).status_code == 302  # the form as filled in above is sent


@pytest.mark.parametrize("value", ["9" * 40, "-5", "1e309", "名\x00", str(2**31), "", "长" * 100_000])
def test_a_mentor_id_that_is_no_id_is_not_found(client, auth, cases, app, value):
    auth.login("bs")
    before = written(app)
    assert client.post(case_url(cases["low"], "/mentor"), data={"mentor_id": value}).status_code == 404
    assert written(app) == before


@pytest.mark.parametrize(("field", "value", "message"), [
    *[("comment", v, m) for v, m in TEXT_ATTACKS],
    *[("decision", v, "请选择批准或不予批准") for v in ("名\x00", "长" * 100_000, "APPROVE", "")],
])
def test_hostile_input_to_a_street_decision_is_refused_in_chinese(client, auth, cases, app, field, value, message):
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    before = written(app)
    data = {"decision": "approve", "comment": "同意", "password": TEST_PASSWORD, field: value}
    refused(app, client.post(f"/approvals/{pid}", data=data), message, before)
    assert get(app, Proposal, pid).status == "pending"


@pytest.mark.parametrize("password", ["名\x00", "长" * 100_000, TEST_PASSWORD + "\x00", " " + TEST_PASSWORD])
def test_a_hostile_password_at_a_decision_is_a_wrong_password(client, auth, cases, app, password):
    pid = _proposed(client, auth, cases)
    auth.login("admin")
    stale_login(app)
    resp = decide(client, pid, password=password)
    assert resp.status_code == 403 and "密码错误" in resp.get_data(as_text=True)
    assert get(app, Proposal, pid).status == "pending"


@pytest.mark.parametrize("value", ["名\x00", "长" * 5_000, "9" * 40, "-1", "1e309", "NaN", "%00"])
def test_hostile_query_parameters_of_the_case_pages_never_answer_500(client, auth, cases, app, value):
    from urllib.parse import quote

    auth.login("bs")
    for page in (case_url(cases["low"]), case_url(cases["low"], "/mentors"), "/cases"):
        resp = client.get(f"{page}?q={quote(value)}&page={quote(value)}", headers=HX)
        assert resp.status_code == 200, (page, resp.status_code)
        assert "\x00" not in resp.get_data(as_text=True)
