"""What the review pages show, gathered with a constant number of grouped queries per branch."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import aliased

from ..access import branches_in_scope, is_secretary
from ..db import db, read_columns
from ..dues import owed_months
from ..models import (Branch, CaseFollowUp, Community, Member, Proposal, Publication, RectificationCase, ReviewGrade,
                      User, YearReview)
from ..publication import live_publication, members_on_roll
from ..scheme import Scheme
from ..scheme_versions import scheme_for_year
from ..scoring import (N_, MemberScore, MissingTypeHistory, Reason, ReviewFlags, fetch_ledgers, fetch_type_histories,
                       review_flags, score_member)
from .rules import GRADES, add_months, meeting_recorded

FLAG_TEXTS = {
    "veto": N_("Veto ({indicator}, {date})"),
    "heavier": N_("{indicator} on {date}"),
    "absence_run": N_("Absent {months} months in a row ({start} to {end})"),
    "arrears_run": N_("Dues unpaid {months} months in a row ({start} to {end})"),
    "probationary": N_("Probationary member"),
    "meeting": N_("The meeting: {reason}"),
}


def reasons_to_json(reasons: Iterable[Reason]) -> str:
    """A suggestion's reasons as stored with the grade (ReviewGrade.suggested_reason)."""
    return json.dumps([{"key": r.key, "params": r.params} for r in reasons], ensure_ascii=False, sort_keys=True)


def local_date(value: datetime | None) -> date | None:
    """A stored UTC timestamp as a date in the street's time zone."""
    if value is None:
        return None
    tz = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return value.replace(tzinfo=timezone.utc).astimezone(tz).date()


@dataclass(frozen=True)
class Flag:
    level: str   # danger, warn, info
    key: str
    params: dict[str, str]

    def text(self, gettext=lambda s: s) -> str:
        return gettext(FLAG_TEXTS[self.key]).format(**self.params)


def flags_of(flags: ReviewFlags, scheme: Scheme, year: int, member: Member) -> list[Flag]:
    """The flags the meeting sees: veto, heavier deductions, streaks of 3+ (warn) and 6+ months (danger)."""
    th = scheme.thresholds
    out = [Flag("danger", "veto", {"indicator": c, "date": d.isoformat()}) for c, d in flags.vetoes]
    out += [Flag("danger", "heavier", {"indicator": c, "date": d.isoformat()}) for c, d in flags.heavier]
    for key, run in (("absence_run", flags.absence_run), ("arrears_run", flags.arrears_run)):
        if run[0] >= th.warning_streak_months:
            start, end = flags.run_label(run, year)
            out.append(Flag("danger" if run[0] >= th.rectify_streak_months else "warn", key,
                            {"months": str(run[0]), "start": start, "end": end}))
    if member.probationary:
        out.append(Flag("info", "probationary", {}))
    return out


@dataclass
class ReviewRow:
    member: Member
    score: MemberScore
    flags: list[Flag]
    decision: ReviewGrade | None = None
    case: RectificationCase | None = None

    @property
    def suggested(self) -> str:
        return self.score.grade.code or "none"

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.score.grade.reasons

    @property
    def reasons_json(self) -> str:
        return reasons_to_json(self.score.grade.reasons)

    @property
    def stale(self) -> bool:
        """Decided against a suggestion that has changed since (a late entry of the year)."""
        return self.decision is not None and self.decision.suggested != self.suggested

    @property
    def overridden(self) -> bool:
        return self.decision is not None and self.decision.grade != self.decision.suggested


@dataclass
class ReviewCounts:
    members: int = 0
    decided: dict[str, int] = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        return self.members - sum(self.decided.values())


@dataclass
class ReviewData:
    branch: Branch
    community: Community
    year: int
    day: date
    scheme: Scheme
    review: YearReview | None
    q4: Publication | None
    rows: list[ReviewRow]
    counts: ReviewCounts
    users: dict[int, User] = field(default_factory=dict)
    mentors: dict[int, str] = field(default_factory=dict)  # a case's mentor: member id -> name

    @property
    def status(self) -> str:
        return "none" if self.review is None else self.review.status

    @property
    def draft_only(self) -> bool:
        return self.q4 is None

    @property
    def editable(self) -> bool:
        return self.q4 is not None and self.status != "confirmed"

    @property
    def suggested_counts(self) -> Counter:
        return Counter(r.suggested for r in self.rows)

    @property
    def stale_count(self) -> int:
        return sum(1 for r in self.rows if r.stale)

    @property
    def lock(self) -> "LockState":
        return LockState(self.q4 is not None, meeting_recorded(self.review), self.counts.remaining, self.status)


@dataclass(frozen=True)
class LockState:
    q4: bool
    meeting: bool
    remaining: int
    status: str

    @property
    def ready(self) -> bool:
        return self.q4 and self.meeting and self.remaining == 0 and self.status != "confirmed"


def year_end(year: int) -> date:
    return date(year, 12, 31)


def load_rows(branch_id: int, year: int, day: date, scheme: Scheme, review: YearReview | None,
              only: list[int] | None = None) -> list[ReviewRow]:
    """Members on the branch's roll at year end with score, flags, the meeting's decision and case."""
    members = members_on_roll(branch_id, year_end(year))
    if only is not None:
        members = [m for m in members if m.id in only]
    members.sort(key=lambda m: (m.name_key, m.name, m.id))
    ids = [m.id for m in members]
    if not ids:
        return []
    as_of = min(day, year_end(year))
    last_month = as_of.month if as_of.year == year else 12
    ledgers = fetch_ledgers(db.session, ids, year, as_of)
    histories = fetch_type_histories(db.session, ids)
    decisions: dict[int, ReviewGrade] = {}
    cases: dict[int, RectificationCase] = {}
    if review is not None:
        decisions = {g.member_id: g for g in db.session.scalars(select(ReviewGrade).where(
            ReviewGrade.review_id == review.id, ReviewGrade.member_id.in_(ids)))}
        if decisions:
            cases = {c.review_grade_id: c for c in db.session.scalars(select(RectificationCase).where(
                RectificationCase.review_grade_id.in_([g.id for g in decisions.values()])))}
    # Members on the dues register: its months owed make the arrears run from the month it starts (the
    # ledger's K2 follow a month later); the months before it are the ledger's.
    owed = owed_months(members, as_of, months=last_month)
    rows = []
    for m in members:
        history = histories.get(m.id)
        if not history:
            raise MissingTypeHistory(f"member {m.id} has no type record")
        score = score_member(scheme, year, as_of, history, ledgers[m.id], on_roll_since=m.on_roll_since,
                             left_roll_on=m.left_roll_on, status=m.status, member_id=m.id)
        flags = flags_of(review_flags(scheme, ledgers[m.id], last_month, register=owed.get(m.id), year=year),
                         scheme, year, m)
        decision = decisions.get(m.id)
        rows.append(ReviewRow(m, score, flags, decision, cases.get(decision.id) if decision else None))
    return rows


def review_counts(review: YearReview | None, member_ids: list[int]) -> ReviewCounts:
    decided: dict[str, int] = {g: 0 for g in GRADES}
    if review is not None and member_ids:
        for grade, n in db.session.execute(
                select(ReviewGrade.grade, func.count()).where(ReviewGrade.review_id == review.id,
                                                              ReviewGrade.member_id.in_(member_ids))
                .group_by(ReviewGrade.grade)):
            decided[grade] = int(n)
    return ReviewCounts(len(member_ids), decided)


def roll_ids(branch_id: int, year: int) -> list[int]:
    return [m.id for m in members_on_roll(branch_id, year_end(year))]


def review_data(branch: Branch, community: Community, year: int, day: date, review: YearReview | None) -> ReviewData:
    scheme = scheme_for_year(year)
    rows = load_rows(branch.id, year, day, scheme, review)
    counts = review_counts(review, [r.member.id for r in rows])
    user_ids = {r.decision.decided_by_id for r in rows if r.decision and r.decision.decided_by_id}
    mentor_ids = {r.case.mentor_member_id for r in rows if r.case and r.case.mentor_member_id}
    if review is not None and review.confirmed_by_id:
        user_ids.add(review.confirmed_by_id)
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))} if user_ids else {}
    mentors = dict(db.session.execute(select(Member.id, Member.name).where(Member.id.in_(mentor_ids))).all()) \
        if mentor_ids else {}
    return ReviewData(branch, community, year, day, scheme, review, live_publication(branch.id, year, 4), rows,
                      counts, users, mentors)


def problems_text(row: ReviewRow, year: int, gettext) -> str:
    """A rectification case's starting problems: the rectify reasons, the flags and the meeting's reason."""
    lines: list[str] = []
    if row.suggested == "rectify":
        lines += [r.text(gettext) for r in row.reasons]
    lines += [f.text(gettext) for f in row.flags if f.key != "probationary" or row.member.probationary]
    if row.decision is not None and row.decision.override_reason:
        lines.append(Flag("info", "meeting", {"reason": row.decision.override_reason}).text(gettext))
    seen: list[str] = []
    for line in lines:
        if line not in seen:
            seen.append(line)
    return "\n".join(f"- {line}" for line in seen)


# ---------------------------------------------------------------------------------------------
# What the lead wires elsewhere: the member's decisions (booklet) and case alerts (start page)
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GradeDecision:
    year: int
    grade: str
    branch: str
    meeting_on: date | None
    reason: str


@dataclass
class CaseDecision:
    case: RectificationCase
    year: int | None
    mentor: str
    opened_on: date | None
    proposals: list[tuple[Proposal, date | None]] = field(default_factory=list)  # (proposal, decided on)


@dataclass
class MemberDecisions:
    grades: list[GradeDecision] = field(default_factory=list)
    cases: list[CaseDecision] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.grades or self.cases)


# The booklet's reads of the decisions about a member, built once (only the member changes).
_MENTOR = aliased(Member)
_GRADES_OF_MEMBER = (select(YearReview.year, ReviewGrade.grade, Branch.name, YearReview.meeting_on,
                            ReviewGrade.suggested, ReviewGrade.override_reason)
                     .select_from(ReviewGrade).join(YearReview, YearReview.id == ReviewGrade.review_id)
                     .join(Branch, Branch.id == YearReview.branch_id)
                     .where(ReviewGrade.member_id == bindparam("member_id"), YearReview.status == "confirmed")
                     .order_by(YearReview.year.desc()))
_CASES_OF_MEMBER = (select(RectificationCase, YearReview.year, _MENTOR.name)
                    .outerjoin(ReviewGrade, ReviewGrade.id == RectificationCase.review_grade_id)
                    .outerjoin(YearReview, YearReview.id == ReviewGrade.review_id)
                    .outerjoin(_MENTOR, _MENTOR.id == RectificationCase.mentor_member_id)
                    .where(RectificationCase.member_id == bindparam("member_id"))
                    .order_by(RectificationCase.opened_at.desc(), RectificationCase.id.desc()))


def decisions_for_member(member_id: int) -> MemberDecisions:
    """Every decision about the member: confirmed grades, rectification cases, proposals and the
    street's decisions (for templates/review/_member_decisions.html, context ``decisions``)."""
    out = MemberDecisions()
    for year, grade, branch_name, meeting_on, suggested, reason in read_columns(_GRADES_OF_MEMBER,
                                                                                {"member_id": member_id}):
        out.grades.append(GradeDecision(year, grade, branch_name, meeting_on, reason if grade != suggested else ""))
    by_id: dict[int, CaseDecision] = {}
    for case, year, mentor_name in db.session.execute(_CASES_OF_MEMBER, {"member_id": member_id}).all():
        by_id[case.id] = CaseDecision(case, year, mentor_name or "", local_date(case.opened_at))
        out.cases.append(by_id[case.id])
    if by_id:
        for p in db.session.scalars(select(Proposal).where(Proposal.case_id.in_(list(by_id)))
                                    .order_by(Proposal.proposed_at, Proposal.id)):
            by_id[p.case_id].proposals.append((p, local_date(p.decided_at)))
    return out


@dataclass(frozen=True)
class CaseAlert:
    case: RectificationCase
    member_name: str
    branch_name: str
    overdue: bool
    silent: bool
    last_activity: date | None


def case_alerts(user: User, today: date | None = None) -> list[CaseAlert]:
    """Open cases in the user's scope (or mentored by them) that are overdue, or without a follow-up
    for 2 months (counted from the case's opening when there is none yet)."""
    from ..clock import today as clock_today

    day = today or clock_today()
    scope = [RectificationCase.mentor_member_id == user.member_id] if user.member_id is not None else []
    if is_secretary(user):
        scope.append(Member.branch_id.in_(branches_in_scope(user).with_only_columns(Branch.id)))
    if not scope:
        return []
    rows = db.session.execute(
        select(RectificationCase, Member.name, Branch.name)
        .join(Member, Member.id == RectificationCase.member_id)
        .join(Branch, Branch.id == Member.branch_id)
        .where(RectificationCase.status == "open", Member.street_id == user.street_id, or_(*scope))
        .order_by(RectificationCase.deadline, RectificationCase.id)).all()
    if not rows:
        return []
    last = dict(db.session.execute(
        select(CaseFollowUp.case_id, func.max(CaseFollowUp.on))
        .where(CaseFollowUp.case_id.in_([c.id for c, _m, _b in rows])).group_by(CaseFollowUp.case_id)).all())
    quiet_since = add_months(day, -2)
    out = []
    for case, member_name, branch_name in rows:
        latest = last.get(case.id)
        latest = latest if latest is None or isinstance(latest, date) else date.fromisoformat(str(latest))
        activity = latest or local_date(case.opened_at)
        overdue = case.deadline < day
        silent = activity is not None and activity < quiet_since
        if overdue or silent:
            out.append(CaseAlert(case, member_name, branch_name, overdue, silent, latest))
    return out


def mentored_case_count(user_id: int) -> int:
    """Open rectification cases this account's member mentors (a member account reaches them from its start page)."""
    return db.session.scalar(select(func.count()).select_from(RectificationCase).join(
        User, User.member_id == RectificationCase.mentor_member_id).where(
        User.id == user_id, RectificationCase.status.not_in(("rectified", "closed")))) or 0
