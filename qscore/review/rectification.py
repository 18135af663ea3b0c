"""Rectification cases (限期整改) and the proposals that end membership: case -> proposal -> approved/rejected.

Each function checks the case's state and its input first and raises ReviewError with nothing
written, then writes and audits: flushed, never committed. They take the user, today and the time
explicitly, so the demo street can run the same transitions on its own dates.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from .. import audit
from ..db import db
from ..models import Branch, BranchSpell, CaseFollowUp, Member, Proposal, RectificationCase, User
from ..models._common import utcnow
from .rules import LONG_TEXT_MAX, PROPOSAL_KINDS, STATUS_AFTER, TEXT_MAX, ReviewError, clean_text


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
    problems = clean_text(problems, LONG_TEXT_MAX, "problems")
    plan = clean_text(plan, LONG_TEXT_MAX, "plan")
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
    text = clean_text(text, TEXT_MAX, "text")
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
    note = clean_text(note, TEXT_MAX, "note")
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
    reason = clean_text(reason, TEXT_MAX, "extension_reason")
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
    early_reason = clean_text(early_reason, TEXT_MAX, "early_reason") if early else ""
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
    statement = clean_text(statement, LONG_TEXT_MAX, "member_statement")
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


def check_decidable(proposal: Proposal, user: User) -> None:
    """A pending proposal, decided by another street-level user than its proposer (asked before the password)."""
    if proposal.status != "pending":
        raise ReviewError("not_pending", 409)
    if proposal.proposed_by_id == user.id:
        raise ReviewError("own_proposal", 403)


def decide_proposal(proposal: Proposal, case: RectificationCase, member: Member, *, approve: bool, comment: str,
                    user: User, today: date, at: datetime | None = None) -> None:
    """The street's decision. Freshness of the login and the role are checked by the view."""
    check_decidable(proposal, user)
    comment = clean_text(comment, TEXT_MAX, "comment")
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
