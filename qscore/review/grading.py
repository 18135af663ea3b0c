"""The year's review of a branch: the meeting, each member's grade, the lock, reopening, the red-flag choice.

The services (open_review, grade_member, confirm_remaining, lock_review, record_review_meeting,
choose_red_flag) take plain values, ``by`` (who acts) and ``today``. Each checks state and input
first and raises ReviewError with nothing written, then writes and audits: flushed, never committed.
The transitions under them (ensure_review, record_meeting, decide, decide_many, confirm_review) also
take the time, so the demo street runs them on its own dates.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable, Iterable

from flask import current_app
from sqlalchemy import select

from .. import audit
from ..access import own_record
from ..db import db
from ..models import Branch, Community, Member, RectificationCase, ReviewGrade, Setting, User, YearReview
from ..models._common import utcnow
from ..publication import live_publication
from ..scheme_versions import scheme_for_year
from ..scoring import BRANCH_INDEX_COMPONENTS, BranchIndex, branch_indices, rank_branch_indices
from .data import ReviewRow, load_rows, problems_text
from .rules import GRADES, LONG_TEXT_MAX, TEXT_MAX, ReviewError, add_months, clean_text, meeting_recorded


# ---------------------------------------------------------------------------------------------
# The services the review page calls
# ---------------------------------------------------------------------------------------------

def open_review(branch: Branch, year: int) -> YearReview | None:
    """The branch's review of the year (None before its first write), refused (409) unless writes are open."""
    review = get_review(branch.id, year)
    check_open(review, year, live_publication(branch.id, year, 4) is not None)
    return review


def grade_member(branch: Branch, year: int, member: Member, *, confirm: bool, grade: str, reason: str, by: User,
                 today: date) -> ReviewGrade:
    """The meeting's grade of one member on the roll: the suggestion confirmed, or another grade with its reason."""
    review = open_review(branch, year)
    row = _row_of(branch, year, member, review, today)
    chosen, reason = (row.suggested, "") if confirm else (grade, reason)
    check_grade(member, suggested=row.suggested, grade=chosen, reason=reason, user=by)  # before a review is started
    review = ensure_review(branch.id, year, by)
    return decide(review, member, suggested=row.suggested, score=row.score.score, reasons_json=row.reasons_json,
                  grade=chosen, reason=reason, user=by, existing=row.decision)


def confirm_remaining(branch: Branch, year: int, *, by: User, today: date) -> int:
    """Confirm the suggestion of every member not decided yet; returns how many. ``by``'s own line waits."""
    open_review(branch, year)
    review = ensure_review(branch.id, year, by)
    rows = load_rows(branch.id, year, today, scheme_for_year(year), review)
    return len(decide_many(review, [(r.member, r.suggested, r.score.score, r.reasons_json, r.suggested, "")
                                    for r in rows if r.decision is None], user=by))


def lock_review(branch: Branch, year: int, *, by: User, today: date,
                gettext: Callable[[str], str]) -> list[RectificationCase]:
    """Confirm the review; returns the rectification cases it opened.

    ``gettext`` writes a new case's starting problems in the confirming secretary's language.
    """
    review = open_review(branch, year)
    if review is None:
        raise ReviewError("meeting_required", 409)
    scheme = scheme_for_year(year)
    rows = load_rows(branch.id, year, today, scheme, review)
    current = {r.member.id: (r.suggested, r.score.score, r.reasons_json) for r in rows}
    problems = {r.member.id: problems_text(r, year, gettext) for r in rows
                if r.decision and r.decision.grade == "rectify"}
    return confirm_review(review, current=current, problems=problems,
                          period_months=scheme.rectification_period_months, user=by, today=today)


def record_review_meeting(branch: Branch, year: int, *, meeting_on: date | None, present: int | None,
                          total: int | None, chair: str, minutes: str, by: User, today: date) -> YearReview:
    """The branch general meeting that decides the grades: its date, who was there, chair and minutes."""
    open_review(branch, year)
    check_meeting(year, meeting_on=meeting_on, present=present, total=total, chair=chair, minutes=minutes,
                  today=today)  # before a review is started
    review = ensure_review(branch.id, year, by)
    record_meeting(review, meeting_on=meeting_on, present=present, total=total, chair=chair, minutes=minutes,
                   user=by, today=today)
    return review


def _row_of(branch: Branch, year: int, member: Member, review: YearReview | None, today: date) -> ReviewRow:
    rows = load_rows(branch.id, year, today, scheme_for_year(year), review, only=[member.id])
    if not rows:
        raise ReviewError("member_not_on_roll", 409, name=member.name)
    return rows[0]


# ---------------------------------------------------------------------------------------------
# The review (draft -> confirmed)
# ---------------------------------------------------------------------------------------------

def get_review(branch_id: int, year: int) -> YearReview | None:
    return db.session.scalar(select(YearReview).where(YearReview.branch_id == branch_id, YearReview.year == year))


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


def check_meeting(year: int, *, meeting_on: date | None, present: int | None, total: int | None, chair: str,
                  minutes: str, today: date) -> tuple[str, str]:
    """The meeting's date and counts, refused when impossible; returns chair and minutes cleaned."""
    if meeting_on is None or not (date(year + 1, 1, 1) <= meeting_on <= today):
        raise ReviewError("meeting_date", 422, "meeting_on", next_year=year + 1)
    if present is None or total is None or total <= 0 or not (0 <= present <= total):
        raise ReviewError("meeting_counts", 422, "present")
    return clean_text(chair, 100, "chair"), clean_text(minutes, LONG_TEXT_MAX, "minutes")


def record_meeting(review: YearReview, *, meeting_on: date | None, present: int | None, total: int | None,
                   chair: str, minutes: str, user: User | None, today: date) -> None:
    chair, minutes = check_meeting(review.year, meeting_on=meeting_on, present=present, total=total, chair=chair,
                                   minutes=minutes, today=today)
    before = _meeting_dict(review)
    review.meeting_on, review.members_present, review.members_total = meeting_on, present, total
    review.chair, review.minutes = chair, minutes
    audit.record("review_meeting_recorded", review, user=user, before=before, after=_meeting_dict(review),
                 summary=f"{review.year} meeting {meeting_on}: {present}/{total}")


def _meeting_dict(review: YearReview) -> dict[str, Any]:
    return {"meeting_on": review.meeting_on.isoformat() if review.meeting_on else None,
            "present": review.members_present, "total": review.members_total, "chair": review.chair,
            "minutes": review.minutes}


def case_of_grade(grade_id: int) -> RectificationCase | None:
    return db.session.scalar(select(RectificationCase).where(RectificationCase.review_grade_id == grade_id))


def check_grade(member: Member, *, suggested: str, grade: str, reason: str, user: User | None) -> str:
    """Who may record the grade and whether it stands without a reason; returns the reason cleaned."""
    if user is not None and own_record(member.id, user):
        raise ReviewError("own_grade", 403)
    if grade not in GRADES:
        raise ReviewError("grade_invalid", 422, "grade")
    reason = clean_text(reason, TEXT_MAX, "reason")
    if grade != suggested and not reason:
        raise ReviewError("override_reason", 422, "reason")
    return reason


_LOOK_UP = object()


def decide(review: YearReview, member: Member, *, suggested: str, score: Decimal, reasons_json: str, grade: str,
           reason: str, user: User | None, at: datetime | None = None,
           existing: ReviewGrade | None | object = _LOOK_UP) -> ReviewGrade:
    """Record the meeting's grade of one member: the suggestion, or an override with a reason.

    ``existing`` is the member's current decision when the caller has it (None: none yet).
    """
    reason = check_grade(member, suggested=suggested, grade=grade, reason=reason, user=user)
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
        reason = check_grade(member, suggested=suggested, grade=grade, reason=reason, user=user)
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
    reason = clean_text(reason, TEXT_MAX, "reason")
    if not reason:
        raise ReviewError("reopen_reason", 422, "reason")
    before = {"status": review.status, "confirmed_by_id": review.confirmed_by_id,
              "confirmed_at": review.confirmed_at.isoformat() if review.confirmed_at else None}
    review.status, review.confirmed_by_id, review.confirmed_at = "draft", None, None
    audit.record("review_reopened", review, user=user, before=before, after={"status": "draft", "reason": reason},
                 summary=f"branch {review.branch_id} {review.year}: {reason}")


# ---------------------------------------------------------------------------------------------
# The red-flag branches (红旗党支部): the street chooses from the computed ranking
# ---------------------------------------------------------------------------------------------

def red_flag_key(year: int) -> str:
    return f"red_flag_{year}"


def red_flag_ranking(street_id: int, year: int, today: date) -> list[tuple[int, BranchIndex, Branch, Community]]:
    """(rank, branch index, branch, community) of the street's branches that are not retired, best first."""
    branches = {b.id: (b, c) for b, c in db.session.execute(
        select(Branch, Community).join(Community, Community.id == Branch.community_id)
        .where(Community.street_id == street_id, Branch.retired.is_(False)))}
    indices = branch_indices(db.session, scheme_for_year(year), year, today, list(branches),
                             current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return [(rank, bi, *branches[bi.branch_id]) for rank, bi in rank_branch_indices(indices.values())]


def check_red_flag_choice(street_id: int, year: int, chosen: list[Any], *,
                          today: date) -> list[tuple[int, BranchIndex, Branch, Community]]:
    """The year has ended (409) and every chosen id is a branch of the ranking (422); returns the ranking."""
    if year >= today.year:
        raise ReviewError("year_not_ended", 409, year=year)
    ranking = red_flag_ranking(street_id, year, today)
    known = {bi.branch_id for _r, bi, _b, _c in ranking}
    if not chosen or any(type(c) is not int or c not in known for c in chosen):
        raise ReviewError("choose_branches", 422, "branch")
    return ranking


def choose_red_flag(street_id: int, year: int, chosen: list[int], note: str, *, by: User, today: date) -> Setting:
    """Record the chosen branches with a note; the computed ranking is stored beside the choice."""
    ranking = check_red_flag_choice(street_id, year, chosen, today=today)
    note = clean_text(note, TEXT_MAX, "note")
    computed = [{"rank": rank, "branch_id": bi.branch_id, "branch": b.name, "community": c.name,
                 "index": str(bi.rounded(places=4)),
                 "components": {k: str(bi.rounded(k, places=4)) for k in BRANCH_INDEX_COMPONENTS}}
                for rank, bi, b, c in ranking]
    value = {"year": year, "computed": computed, "chosen": sorted(set(chosen)), "note": note,
             "recorded_by_id": by.id, "recorded_by": by.display_name or by.username,
             "recorded_at": utcnow().isoformat(timespec="seconds")}
    row = db.session.scalar(select(Setting).where(Setting.street_id == street_id, Setting.key == red_flag_key(year)))
    before = row.value if row else None
    if row is None:
        row = Setting(street_id=street_id, key=red_flag_key(year), value=value)
        db.session.add(row)
    else:
        row.value = value
    db.session.flush()
    audit.record("red_flag_chosen", row, user=by, before=before, after={"chosen": value["chosen"], "note": note},
                 summary=f"{year}: branches {value['chosen']}")
    return row
