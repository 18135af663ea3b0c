"""The review's transitions: draft -> confirmed -> case -> proposal -> approved/rejected.

Every function checks its state and input, raises ReviewError (nothing written) or writes and audits
(flushed, not committed). They take the user, today and the time explicitly, so the demo street
can run the same transitions on its own dates.
"""
from __future__ import annotations

import calendar
import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import func, select

from .. import audit
from ..access import own_record
from ..db import db
from ..models import (Branch, BranchSpell, CaseFollowUp, Member, Proposal, RectificationCase, ReviewGrade, User,
                      YearReview)
from ..models._common import utcnow
from ..scoring import N_, Reason
from ..refusals import Refusal

GRADES = ("advanced", "qualified", "rectify", "none")
PROPOSAL_KINDS = ("persuade_withdraw", "expel", "cancel_probation")
# What an approved proposal makes of the member (MEMBER_STATUSES).
STATUS_AFTER = {"persuade_withdraw": "persuaded_withdraw", "expel": "expelled",
                "cancel_probation": "probation_cancelled"}
TEXT_MAX = 2000
LONG_TEXT_MAX = 5000

REVIEW_ERROR_TEXTS: dict[str, str] = {
    "q4_unpublished": N_("Draft only: the branch has not published quarter 4 of {year} yet. The meeting decides "
                         "once it is published."),
    "review_confirmed": N_("The {year} review is confirmed and locked. Only the street office can reopen it."),
    "review_not_confirmed": N_("The review is not confirmed."),
    "meeting_required": N_("Record the branch general meeting first: its date, members present and total."),
    "meeting_date": N_("The meeting date must be in {next_year} or later, and not after today."),
    "meeting_counts": N_("Members present must be a whole number between 0 and the total, and the total above 0."),
    "undecided": N_("{n} member(s) have no decision yet."),
    "stale": N_("The suggested grade changed for {n} member(s) since they were decided: decide them again."),
    "grade_invalid": N_("Choose a grade."),
    "override_reason": N_("Give the meeting's reason for a grade that differs from the suggestion."),
    "own_grade": N_("Your own grade is recorded by another person: the community secretary or another member of "
                    "the branch committee."),
    "case_progressed": N_("{name}'s rectification case has moved on; the grade can no longer change."),
    "reopen_reason": N_("Give the reason for reopening the review."),
    "too_long": N_("The text is too long (at most {max} characters)."),
    "case_not_open": N_("This case is not open."),
    "mentor_and_plan_first": N_("Assign a mentor and write the plan first."),
    "follow_up_first": N_("Record at least one follow-up (help and education) before a proposal."),
    "mentor_outside": N_("The mentor must be a member on the roll of {branch}."),
    "mentor_self": N_("A member cannot mentor their own case."),
    "plan_required": N_("Write the plan."),
    "deadline_required": N_("Enter a deadline."),
    "deadline_past": N_("The deadline cannot be in the past."),
    "extend_later": N_("The new deadline must be later than the current one ({deadline})."),
    "extension_reason": N_("Give the reason for the extension."),
    "follow_up_date": N_("The date must be between the opening of the case ({opened}) and today."),
    "follow_up_text": N_("Say what was done."),
    "proposal_kind": N_("Choose what the meeting proposes."),
    "probationary_withdraw": N_("A probationary member is not persuaded to withdraw: extend the case, or propose "
                                "cancelling the probation."),
    "not_probationary": N_("Only a probationary member's probation can be cancelled."),
    "proposal_meeting_date": N_("Enter the date of the branch general meeting: after the case was opened "
                                "({opened}), not after today."),
    "proposal_opening_day": N_("Nothing that ends membership is proposed on the day the case is opened ({opened}): "
                               "help and education come first. The meeting can propose from {earliest}, after the "
                               "deadline ({deadline}); from {next} only as an early proposal with its reason, for "
                               "the street's approval."),
    "proposal_before_deadline": N_("The case's deadline is {deadline}: the branch meeting can propose from {earliest}. "
                                   "A meeting held before then needs the reason for proposing early; the street "
                                   "office approves it with the proposal."),
    "proposal_counts": N_("Enter the members present and in total, and the votes for, against and abstaining, "
                          "as whole numbers."),
    "proposal_quorum": N_("More than half of the {total} members must be present."),
    "proposal_votes_sum": N_("The votes add up to more than the members present."),
    "proposal_majority": N_("The decision passes only with more than half of all {total} members voting for it."),
    "statement_required": N_("Record the member's own statement, or that they declined to make one."),
    "not_pending": N_("This proposal has already been decided."),
    "member_not_on_roll": N_("{name} is no longer on the roll."),
    "own_proposal": N_("You made this proposal: another street-level user must decide it."),
    "fresh_login": N_("Re-enter your password to confirm this decision."),
    "wrong_password": N_("The password is wrong."),
    "too_many_attempts": N_("Too many failed attempts. Please wait 15 minutes and try again."),
    "comment_required": N_("Give a comment with the decision."),
    "decision_invalid": N_("Choose approve or reject."),
    "year_not_ended": N_("{year} has not ended yet."),
    "choose_branches": N_("Choose at least one branch from the ranking."),
}


class ReviewError(Refusal):
    """A refused transition: ``status`` is the HTTP status (403, 409, 422), ``field`` the form field."""

    TEXTS = REVIEW_ERROR_TEXTS

    def __init__(self, key: str, status: int = 422, field: str = "", **params: Any):
        super().__init__(key, field, status=status, **params)


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def reasons_to_json(reasons: Iterable[Reason]) -> str:
    return json.dumps([{"key": r.key, "params": r.params} for r in reasons], ensure_ascii=False, sort_keys=True)


def reasons_from_json(text: str) -> list[Reason]:
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return []
    return [Reason(i["key"], i.get("params", {})) for i in items if isinstance(i, dict) and "key" in i]


def _text(value: str | None, limit: int = TEXT_MAX, field: str = "") -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ReviewError("too_long", 422, field, max=limit)
    return value


def user_label(u: User | None) -> str:
    return (u.display_name or u.username) if u is not None else ""


# ---------------------------------------------------------------------------------------------
# The review (draft -> confirmed)
# ---------------------------------------------------------------------------------------------

def get_review(branch_id: int, year: int) -> YearReview | None:
    return db.session.scalar(select(YearReview).where(YearReview.branch_id == branch_id, YearReview.year == year))


def review_status(review: YearReview | None) -> str:
    return "none" if review is None else review.status


def ensure_review(branch_id: int, year: int, user: User | None) -> YearReview:
    review = get_review(branch_id, year)
    if review is None:
        review = YearReview(branch_id=branch_id, year=year, status="draft")
        db.session.add(review)
        db.session.flush()
        audit.record("review_started", review, user=user, summary=f"branch {branch_id} {year}")
    return review


def check_open(review: YearReview | None, year: int, q4_published: bool) -> None:
    """Writes need the year's last quarter published and a review not yet confirmed (409 otherwise)."""
    if not q4_published:
        raise ReviewError("q4_unpublished", 409, year=year)
    if review is not None and review.status == "confirmed":
        raise ReviewError("review_confirmed", 409, year=year)


def parse_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        return None


def record_meeting(review: YearReview, *, meeting_on: date | None, present: int | None, total: int | None,
                   chair: str, minutes: str, user: User | None, today: date) -> None:
    if meeting_on is None or not (date(review.year + 1, 1, 1) <= meeting_on <= today):
        raise ReviewError("meeting_date", 422, "meeting_on", next_year=review.year + 1)
    if present is None or total is None or total <= 0 or not (0 <= present <= total):
        raise ReviewError("meeting_counts", 422, "present")
    chair = _text(chair, 100, "chair")
    minutes = _text(minutes, LONG_TEXT_MAX, "minutes")
    before = _meeting_dict(review)
    review.meeting_on, review.members_present, review.members_total = meeting_on, present, total
    review.chair, review.minutes = chair, minutes
    audit.record("review_meeting_recorded", review, user=user, before=before, after=_meeting_dict(review),
                 summary=f"{review.year} meeting {meeting_on}: {present}/{total}")


def _meeting_dict(review: YearReview) -> dict[str, Any]:
    return {"meeting_on": review.meeting_on.isoformat() if review.meeting_on else None,
            "present": review.members_present, "total": review.members_total, "chair": review.chair,
            "minutes": review.minutes}


def meeting_recorded(review: YearReview | None) -> bool:
    return review is not None and review.meeting_on is not None and review.members_total is not None \
        and review.members_present is not None


def case_of_grade(grade_id: int) -> RectificationCase | None:
    return db.session.scalar(select(RectificationCase).where(RectificationCase.review_grade_id == grade_id))


_LOOK_UP = object()


def decide(review: YearReview, member: Member, *, suggested: str, score: Decimal, reasons_json: str, grade: str,
           reason: str, user: User | None, at: datetime | None = None,
           existing: ReviewGrade | None | object = _LOOK_UP) -> ReviewGrade:
    """Record the meeting's grade of one member: the suggestion, or an override with a reason.

    ``existing`` is the member's current decision when the caller has it (None: none yet).
    """
    if user is not None and own_record(member.id, user):
        raise ReviewError("own_grade", 403)
    if grade not in GRADES:
        raise ReviewError("grade_invalid", 422, "grade")
    reason = _text(reason, TEXT_MAX, "reason")
    if grade != suggested and not reason:
        raise ReviewError("override_reason", 422, "reason")
    row = existing if existing is not _LOOK_UP else db.session.scalar(select(ReviewGrade).where(
        ReviewGrade.review_id == review.id, ReviewGrade.member_id == member.id))
    if row is not None and row.grade != grade:
        case = case_of_grade(row.id)
        if case is not None and case.status != "open":
            raise ReviewError("case_progressed", 409, name=member.name)
    before = _grade_dict(row) if row is not None else None
    if row is None:
        row = ReviewGrade(review_id=review.id, member_id=member.id, grade=grade)
        db.session.add(row)
    row.score, row.suggested, row.suggested_reason = str(score), suggested, reasons_json
    row.grade = grade
    row.override_reason = reason  # an override's reason (a confirmation may carry a note too)
    row.decided_by_id = getattr(user, "id", None)
    row.decided_at = at or utcnow()
    db.session.flush()
    audit.record("grade_overridden" if grade != suggested else "grade_confirmed", row, user=user,
                 member_id=member.id, before=before, after=_grade_dict(row),
                 summary=f"{review.year} {member.name}: {grade} (suggested {suggested})" + (f": {reason}" if reason else ""))
    return row


def decide_many(review: YearReview, items: Iterable[tuple[Member, str, Decimal, str, str, str]], *,
                user: User | None, at: datetime | None = None) -> list[ReviewGrade]:
    """Grades of members not decided yet, in one go ("confirm all remaining suggestions").

    Each item is (member, suggested, score, reasons json, grade, reason); the same rules as ``decide``.
    One audit row lists the confirmed suggestions; each override gets its own. The recorder's own
    member record is left undecided (four eyes).
    """
    rows: list[tuple[Member, ReviewGrade]] = []
    for member, suggested, score, reasons_json, grade, reason in items:
        if user is not None and own_record(member.id, user):
            continue  # the recorder's own grade waits for another person
        if grade not in GRADES:
            raise ReviewError("grade_invalid", 422, "grade")
        reason = _text(reason, TEXT_MAX, "reason")
        if grade != suggested and not reason:
            raise ReviewError("override_reason", 422, "reason")
        rows.append((member, ReviewGrade(review_id=review.id, member_id=member.id, score=str(score), suggested=suggested,
                                         suggested_reason=reasons_json, grade=grade, override_reason=reason,
                                         decided_by_id=getattr(user, "id", None), decided_at=at or utcnow())))
    if not rows:
        return []
    db.session.add_all([g for _m, g in rows])
    db.session.flush()
    confirmed = [g for _m, g in rows if g.grade == g.suggested]
    if confirmed:
        audit.record("grades_confirmed", review, user=user,
                     after={str(g.member_id): g.grade for g in confirmed},
                     summary=f"{review.year}: {len(confirmed)} suggestion(s) confirmed")
    for member, g in rows:
        if g.grade != g.suggested:
            audit.record("grade_overridden", g, user=user, member_id=member.id, after=_grade_dict(g),
                         summary=f"{review.year} {member.name}: {g.grade} (suggested {g.suggested}): {g.override_reason}")
    return [g for _m, g in rows]


def _grade_dict(row: ReviewGrade) -> dict[str, Any]:
    return {"grade": row.grade, "suggested": row.suggested, "score": row.score, "reason": row.override_reason}


def confirm_review(review: YearReview, *, current: dict[int, tuple[str, Decimal, str]], problems: dict[int, str],
                   period_months: int, user: User | None, today: date,
                   at: datetime | None = None) -> list[RectificationCase]:
    """Lock the review: every member decided against the current suggestion, the meeting recorded.

    ``current`` maps each member on the roll at year end to (suggested, score, reasons json) as
    computed now; ``problems`` gives a rectify member's case its starting problems.
    Opens a case for every member confirmed as rectify (once), and closes open cases whose grade changed.
    """
    if review.status == "confirmed":
        raise ReviewError("review_confirmed", 409, year=review.year)
    if not meeting_recorded(review):
        raise ReviewError("meeting_required", 409)
    grades = {g.member_id: g for g in db.session.scalars(select(ReviewGrade).where(ReviewGrade.review_id == review.id))}
    missing = [mid for mid in current if mid not in grades]
    if missing:
        raise ReviewError("undecided", 409, n=len(missing))
    stale = [mid for mid, (suggested, _s, _r) in current.items() if grades[mid].suggested != suggested]
    if stale:
        raise ReviewError("stale", 409, n=len(stale))
    # Members decided while on the roll who are no longer on it at year end (a late transfer) drop out.
    for mid, g in list(grades.items()):
        if mid not in current:
            case = case_of_grade(g.id)
            if case is None:
                audit.record("grade_dropped", g, user=user, member_id=mid, before=_grade_dict(g),
                             summary=f"{review.year}: no longer on the branch's roll at year end")
                db.session.delete(g)
                del grades[mid]
    for mid, (_suggested, score, reasons) in current.items():
        grades[mid].score, grades[mid].suggested_reason = str(score), reasons  # the score the meeting confirmed
    review.status = "confirmed"
    review.confirmed_by_id = getattr(user, "id", None)
    review.confirmed_at = at or utcnow()
    db.session.flush()
    counts: dict[str, int] = {}
    for g in grades.values():
        counts[g.grade] = counts.get(g.grade, 0) + 1
    audit.record("review_confirmed", review, user=user, after=counts,
                 summary=f"branch {review.branch_id} {review.year}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    opened: list[RectificationCase] = []
    existing = {c.review_grade_id: c for c in db.session.scalars(select(RectificationCase).where(
        RectificationCase.review_grade_id.in_([g.id for g in grades.values()])))} if grades else {}
    for g in grades.values():
        case = existing.get(g.id)
        if g.grade == "rectify" and case is None:
            case = RectificationCase(member_id=g.member_id, review_grade_id=g.id,
                                     problems=problems.get(g.member_id, "")[:LONG_TEXT_MAX],
                                     deadline=add_months(today, period_months), status="open",
                                     opened_by_id=getattr(user, "id", None), opened_at=at or utcnow())
            db.session.add(case)
            db.session.flush()
            audit.record("case_opened", case, user=user, member_id=g.member_id,
                         after={"deadline": case.deadline.isoformat()},
                         summary=f"{review.year} rectification, deadline {case.deadline}")
            opened.append(case)
        elif g.grade != "rectify" and case is not None and case.status == "open":
            case.status, case.outcome = "closed", "grade_changed"
            audit.record("case_closed", case, user=user, member_id=g.member_id,
                         summary=f"the reopened {review.year} review graded the member {g.grade}")
    return opened


def reopen_review(review: YearReview, *, reason: str, user: User | None) -> None:
    if review.status != "confirmed":
        raise ReviewError("review_not_confirmed", 409)
    reason = _text(reason, TEXT_MAX, "reason")
    if not reason:
        raise ReviewError("reopen_reason", 422, "reason")
    before = {"status": review.status, "confirmed_by_id": review.confirmed_by_id,
              "confirmed_at": review.confirmed_at.isoformat() if review.confirmed_at else None}
    review.status, review.confirmed_by_id, review.confirmed_at = "draft", None, None
    audit.record("review_reopened", review, user=user, before=before, after={"status": "draft", "reason": reason},
                 summary=f"branch {review.branch_id} {review.year}: {reason}")


# ---------------------------------------------------------------------------------------------
# Rectification cases
# ---------------------------------------------------------------------------------------------

def _require_open(case: RectificationCase) -> None:
    if case.status != "open":
        raise ReviewError("case_not_open", 409)


def _require_mentor_and_plan(case: RectificationCase) -> None:
    if case.mentor_member_id is None or not (case.plan or "").strip():
        raise ReviewError("mentor_and_plan_first", 409)


def check_mentor(mentor: Member, member: Member, branch: Branch) -> None:
    """A member on the roll of the member's branch, not the member; no login account is needed."""
    if mentor.id == member.id:
        raise ReviewError("mentor_self", 422, "mentor")
    if mentor.street_id != member.street_id or mentor.branch_id != branch.id or mentor.status != "active":
        raise ReviewError("mentor_outside", 422, "mentor", branch=branch.name)


def assign_mentor(case: RectificationCase, *, mentor: Member, member: Member, branch: Branch,
                  user: User | None) -> None:
    """The mentor (专人帮扶): a member of the branch. A mentor with an account also sees the case."""
    _require_open(case)
    check_mentor(mentor, member, branch)
    before = case.mentor_member_id
    case.mentor_member_id = mentor.id
    audit.record("case_mentor_assigned", case, user=user, member_id=member.id, before={"mentor_member_id": before},
                 after={"mentor_member_id": mentor.id}, summary=f"mentor {mentor.name}")


def write_plan(case: RectificationCase, *, problems: str, plan: str, deadline: date | None, user: User | None,
               today: date) -> None:
    _require_open(case)
    problems = _text(problems, LONG_TEXT_MAX, "problems")
    plan = _text(plan, LONG_TEXT_MAX, "plan")
    if not plan:
        raise ReviewError("plan_required", 422, "plan")
    if deadline is None:
        raise ReviewError("deadline_required", 422, "deadline")
    if deadline < today:
        raise ReviewError("deadline_past", 422, "deadline")
    before = {"problems": case.problems, "plan": case.plan, "deadline": case.deadline.isoformat()}
    case.problems, case.plan, case.deadline = problems, plan, deadline
    audit.record("case_plan_written", case, user=user, member_id=case.member_id, before=before,
                 after={"problems": problems, "plan": plan, "deadline": deadline.isoformat()},
                 summary=f"plan, deadline {deadline}")


def add_follow_up(case: RectificationCase, *, on: date | None, text: str, user: User | None, today: date,
                  opened_on: date, at: datetime | None = None) -> CaseFollowUp:
    _require_open(case)
    if on is None or not (opened_on <= on <= today):
        raise ReviewError("follow_up_date", 422, "on", opened=opened_on.isoformat())
    text = _text(text, TEXT_MAX, "text")
    if not text:
        raise ReviewError("follow_up_text", 422, "text")
    row = CaseFollowUp(case_id=case.id, on=on, text=text, by_id=getattr(user, "id", None), recorded_at=at or utcnow())
    db.session.add(row)
    db.session.flush()
    audit.record("case_follow_up", row, user=user, member_id=case.member_id, summary=f"{on}: {text[:200]}")
    return row


def close_rectified(case: RectificationCase, *, note: str, user: User | None) -> None:
    _require_open(case)
    _require_mentor_and_plan(case)
    note = _text(note, TEXT_MAX, "note")
    case.status, case.outcome, case.outcome_reason = "rectified", "rectified", note
    audit.record("case_rectified", case, user=user, member_id=case.member_id, summary=note[:500])


def extend_case(case: RectificationCase, *, deadline: date | None, reason: str, user: User | None, today: date,
                at: datetime | None = None) -> None:
    _require_open(case)
    _require_mentor_and_plan(case)
    if deadline is None:
        raise ReviewError("deadline_required", 422, "new_deadline")
    if deadline < today:
        raise ReviewError("deadline_past", 422, "new_deadline")
    if deadline <= case.deadline:
        raise ReviewError("extend_later", 422, "new_deadline", deadline=case.deadline.isoformat())
    reason = _text(reason, TEXT_MAX, "extension_reason")
    if not reason:
        raise ReviewError("extension_reason", 422, "extension_reason")
    before = case.deadline
    case.deadline, case.outcome, case.outcome_reason = deadline, "extended", reason
    # The extension is also a line of the case's log, so the mentor and the member see it in order.
    db.session.add(CaseFollowUp(case_id=case.id, on=today, by_id=getattr(user, "id", None), recorded_at=at or utcnow(),
                                text=f"{before.isoformat()} → {deadline.isoformat()}: {reason}"))
    audit.record("case_extended", case, user=user, member_id=case.member_id,
                 before={"deadline": before.isoformat()}, after={"deadline": deadline.isoformat(), "reason": reason},
                 summary=f"deadline {before} -> {deadline}: {reason}")


def follow_up_count(case_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(CaseFollowUp).where(CaseFollowUp.case_id == case_id))


def proposal_earliest(case: RectificationCase) -> date:
    """The first day the branch meeting may propose without the street approving an early proposal."""
    return case.deadline + timedelta(days=1)


def proposal_early_from(opened_on: date) -> date:
    """The first day of any proposal: never on the day the case is opened."""
    return opened_on + timedelta(days=1)


def propose(case: RectificationCase, member: Member, *, kind: str, meeting_on: date | None, present: int | None,
            total: int | None, votes_for: int | None, votes_against: int | None, votes_abstain: int | None,
            statement: str, user: User | None, today: date, opened_on: date, early_reason: str = "",
            at: datetime | None = None) -> Proposal:
    """The branch general meeting's decision to propose withdrawal, expulsion or cancelled probation.

    Each of them ends membership, so the meeting is held after the case's deadline; before it (and
    never on the day the case is opened) only with ``early_reason``, which the street approves too.
    """
    _require_open(case)
    _require_mentor_and_plan(case)
    if member.status != "active":
        raise ReviewError("member_not_on_roll", 409, name=member.name)
    if follow_up_count(case.id) == 0:
        raise ReviewError("follow_up_first", 409)
    if kind not in PROPOSAL_KINDS:
        raise ReviewError("proposal_kind", 422, "kind")
    if kind == "persuade_withdraw" and member.probationary:
        raise ReviewError("probationary_withdraw", 422, "kind")
    if kind == "cancel_probation" and not member.probationary:
        raise ReviewError("not_probationary", 422, "kind")
    if meeting_on is None or meeting_on > today or meeting_on < opened_on:
        raise ReviewError("proposal_meeting_date", 422, "meeting_on", opened=opened_on.isoformat())
    earliest = proposal_earliest(case)
    if meeting_on < proposal_early_from(opened_on):
        raise ReviewError("proposal_opening_day", 422, "meeting_on", opened=opened_on.isoformat(),
                          next=proposal_early_from(opened_on).isoformat(), deadline=case.deadline.isoformat(),
                          earliest=earliest.isoformat())
    early = meeting_on < earliest
    early_reason = _text(early_reason, TEXT_MAX, "early_reason") if early else ""
    if early and not early_reason:
        raise ReviewError("proposal_before_deadline", 422, "early_reason", deadline=case.deadline.isoformat(),
                          earliest=earliest.isoformat())
    numbers = (present, total, votes_for, votes_against, votes_abstain)
    if any(n is None or n < 0 for n in numbers) or not total:
        raise ReviewError("proposal_counts", 422, "members_present")
    if present > total or present * 2 <= total:
        raise ReviewError("proposal_quorum", 422, "members_present", total=total)
    if votes_for + votes_against + votes_abstain > present:
        raise ReviewError("proposal_votes_sum", 422, "votes_for")
    if votes_for * 2 <= total:
        raise ReviewError("proposal_majority", 422, "votes_for", total=total)
    statement = _text(statement, LONG_TEXT_MAX, "member_statement")
    if not statement:
        raise ReviewError("statement_required", 422, "member_statement")
    proposal = Proposal(case_id=case.id, kind=kind, meeting_on=meeting_on, members_present=present,
                        members_total=total, votes_for=votes_for, votes_against=votes_against,
                        votes_abstain=votes_abstain, member_statement=statement, early_reason=early_reason,
                        proposed_by_id=getattr(user, "id", None), proposed_at=at or utcnow(), status="pending")
    db.session.add(proposal)
    case.status = "proposed"
    db.session.flush()
    after = {"kind": kind, "meeting_on": meeting_on.isoformat(), "present": present, "total": total,
             "for": votes_for, "against": votes_against, "abstain": votes_abstain}
    if early:
        after.update(early=True, deadline=case.deadline.isoformat(), early_reason=early_reason)
    audit.record("proposal_made", proposal, user=user, member_id=member.id, after=after,
                 summary=f"{kind}: {votes_for} for, {votes_against} against, {votes_abstain} abstaining"
                 + (f"; early, before the deadline {case.deadline}: {early_reason}" if early else ""))
    return proposal


def decide_proposal(proposal: Proposal, case: RectificationCase, member: Member, *, approve: bool, comment: str,
                    user: User, today: date, at: datetime | None = None) -> None:
    """The street's decision. Freshness of the login and the role are checked by the view."""
    if proposal.status != "pending":
        raise ReviewError("not_pending", 409)
    if proposal.proposed_by_id == user.id:
        raise ReviewError("own_proposal", 403)
    comment = _text(comment, TEXT_MAX, "comment")
    if not comment:
        raise ReviewError("comment_required", 422, "comment")
    if approve and member.status != "active":
        raise ReviewError("member_not_on_roll", 409, name=member.name)
    proposal.status = "approved" if approve else "rejected"
    proposal.decided_by_id, proposal.decided_at, proposal.comment = user.id, at or utcnow(), comment
    if not approve:
        case.status = "open"  # back to the branch: extend, rectify or propose again
        audit.record("proposal_rejected", proposal, user=user, member_id=member.id, summary=comment[:500])
        return
    before = {"status": member.status, "left_roll_on": member.left_roll_on.isoformat() if member.left_roll_on else None}
    member.status = STATUS_AFTER[proposal.kind]
    member.left_roll_on = today
    # The member leaves the rosters and the board; their history (spells, ledger, grades) stays.
    for spell in db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == member.id,
                                                              BranchSpell.ends_on.is_(None))):
        spell.ends_on = today
    case.status, case.outcome, case.outcome_reason = "closed", proposal.kind, comment
    after = {"status": member.status, "left_roll_on": today.isoformat()}
    if proposal.early_reason:
        after.update(early=True, early_reason=proposal.early_reason)
    audit.record("proposal_approved", proposal, user=user, member_id=member.id, before=before, after=after,
                 summary=("early proposal approved: " if proposal.early_reason else "") + comment[:500])
