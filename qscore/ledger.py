"""Writing to the points ledger: validated, append-only, attributed, audited.

Every screen that records points (inline entry, meetings, confirmed self-records, opening balances,
answers to residents' queries) goes through record_entry or correct_entry, so the rules hold
everywhere: no update or delete, corrections name what they correct, and entries dated in a
published quarter are prior-period adjustments that need a reason (DOMAIN.md).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, select

from . import audit
from .db import db
from .models import BranchSpell, Leave, Member, MemberType, PointEntry, Publication, User, YearReview
from .scheme import Indicator
from .scheme_versions import ensure_year, scheme_for_year
from .scoring import N_, EntryError, check_earned_on, check_note, entry_points, quarter_of, type_on

NOTE_MAX = 500

LEDGER_ERROR_TEXTS: dict[str, str] = {
    "note_too_long": N_("The note is longer than 500 characters."),
    "before_roll": N_("The member came onto the roll on {date}; the date earned cannot be earlier."),
    "year_closed": N_("The {year} review is confirmed: entries dated in {year} are no longer accepted."),
    "adjustment_needs_reason": N_("{period} is already published: say in the note why this is recorded now."),
    "duplicate_submit": N_("This form was already submitted: the entry is recorded once."),
    "already_corrected": N_("This entry has already been corrected."),
    "is_correction": N_("A correction cannot itself be corrected; record a new entry instead."),
    "reason_required": N_("Give a reason for the correction."),
    "excused_by_leave": N_("{name} has a registered leave or exemption on {date}: no deduction for absence."),
    "member_inactive": N_("{name} is no longer on the roll."),
}


class LedgerError(ValueError):
    """A refused write; ``field`` says which form field the message belongs next to."""

    def __init__(self, key: str, field: str = "", **params: Any):
        self.key = key
        self.field = field
        self.params = {k: str(v) for k, v in params.items()}
        super().__init__(self.text())

    def text(self, gettext=lambda s: s) -> str:
        texts = LEDGER_ERROR_TEXTS if self.key in LEDGER_ERROR_TEXTS else {}
        return gettext(texts.get(self.key, self.key)).format(**self.params)


# scoring.EntryError keys -> the form field they concern
ENTRY_ERROR_FIELDS = {
    "unknown_indicator": "indicator", "indicator_retired": "indicator", "indicator_not_applicable": "indicator",
    "hours_required": "value", "hours_invalid": "value", "points_not_allowed": "value",
    "date_in_future": "earned_on", "date_too_early": "earned_on", "note_required": "note",
}


def period_label(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


def type_history(member_id: int) -> list[tuple[date, str]]:
    return [(r.effective_from, r.type_code) for r in db.session.scalars(
        select(MemberType).where(MemberType.member_id == member_id)
        .order_by(MemberType.effective_from, MemberType.id))]


def branch_on(member: Member, day: date) -> int:
    """The member's branch on a day (branch spells are half-open); the current branch if unknown."""
    branch_id = db.session.scalar(
        select(BranchSpell.branch_id).where(
            BranchSpell.member_id == member.id, BranchSpell.starts_on <= day,
            (BranchSpell.ends_on.is_(None)) | (BranchSpell.ends_on > day))
        .order_by(BranchSpell.starts_on.desc()).limit(1))
    return branch_id or member.branch_id


def publication_covering(member: Member, day: date) -> Publication | None:
    """The live publication of the quarter containing ``day`` by the member's branch at that quarter."""
    quarter = quarter_of(day.month)
    quarter_end = date(day.year, quarter * 3, calendar.monthrange(day.year, quarter * 3)[1])
    branch_id = branch_on(member, quarter_end)
    return db.session.scalar(
        select(Publication).where(
            Publication.branch_id == branch_id, Publication.year == day.year, Publication.quarter == quarter,
            Publication.retracted_at.is_(None))
        .order_by(Publication.published_at.desc()).limit(1))


def year_review_confirmed(member: Member, year: int) -> bool:
    return bool(db.session.scalar(select(exists().where(
        YearReview.branch_id == branch_on(member, date(year, 12, 31)), YearReview.year == year,
        YearReview.status == "confirmed"))))


def on_leave(member_id: int, day: date) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Leave.member_id == member_id, Leave.starts_on <= day, Leave.ends_on >= day))))


@dataclass(frozen=True)
class Recorded:
    entry: PointEntry
    indicator: Indicator
    adjusts: Publication | None


def record_entry(*, member: Member, indicator_code: str, value: Any, earned_on: date, note: str, user: User | None,
                 today: date, source: str = "inline", meeting_id: int | None = None,
                 host_branch_id: int | None = None, idempotency_key: str | None = None,
                 self_record_id: int | None = None) -> Recorded:
    """Validate and add one ledger entry (flushed, not committed). Raises EntryError or LedgerError."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise LedgerError("note_too_long", "note")
    if member.status != "active":
        raise LedgerError("member_inactive", "", name=member.name)
    if idempotency_key and db.session.scalar(select(exists().where(PointEntry.idempotency_key == idempotency_key))):
        raise LedgerError("duplicate_submit", "")
    previous_open = not year_review_confirmed(member, today.year - 1)
    check_earned_on(earned_on, today, previous_year_open=previous_open)
    if earned_on.year < today.year and not previous_open:
        raise LedgerError("year_closed", "earned_on", year=earned_on.year)
    if earned_on < member.on_roll_since:
        raise LedgerError("before_roll", "earned_on", date=member.on_roll_since.isoformat())
    history = type_history(member.id)
    type_code = type_on(history, earned_on)
    scheme = scheme_for_year(earned_on.year)
    value_ = entry_points(scheme, indicator_code, type_code, value)
    indicator = scheme.indicators[indicator_code]
    check_note(indicator, note)
    if indicator.role == "absence" and on_leave(member.id, earned_on):
        raise LedgerError("excused_by_leave", "indicator", name=member.name, date=earned_on.isoformat())
    adjusts = publication_covering(member, earned_on)
    if adjusts is not None and not note:
        raise LedgerError("adjustment_needs_reason", "note", period=period_label(adjusts.year, adjusts.quarter))
    entry = PointEntry(
        member_id=member.id, branch_id=member.branch_id, year=earned_on.year, indicator_code=indicator.code,
        category=indicator.category, points=value_.points, quantity=value_.quantity, earned_on=earned_on,
        note=note, source=source, meeting_id=meeting_id, host_branch_id=host_branch_id,
        scheme_version_id=ensure_year(earned_on.year).id, recorded_by_id=getattr(user, "id", None),
        self_record_id=self_record_id, adjusts_publication_id=adjusts.id if adjusts else None,
        idempotency_key=idempotency_key or None,
    )
    db.session.add(entry)
    db.session.flush()
    audit.record("entry_added", entry, member_id=member.id, user=user,
                 summary=f"{member.name} {indicator.code} {value_.points} on {earned_on}"
                         + (f" (adjusts {period_label(adjusts.year, adjusts.quarter)})" if adjusts else ""),
                 after=_entry_dict(entry))
    return Recorded(entry, indicator, adjusts)


def is_live(entry: PointEntry) -> bool:
    return entry.corrects_id is None and not db.session.scalar(
        select(exists().where(PointEntry.corrects_id == entry.id)))


def correct_entry(*, entry: PointEntry, reason: str, user: User | None, today: date,
                  idempotency_key: str | None = None) -> Recorded:
    """Write the correction of ``entry``: a new row naming it, which takes both out of every sum."""
    reason = (reason or "").strip()
    if not reason:
        raise LedgerError("reason_required", "reason")
    if len(reason) > NOTE_MAX:
        raise LedgerError("note_too_long", "reason")
    if entry.corrects_id is not None:
        raise LedgerError("is_correction", "")
    if db.session.scalar(select(exists().where(PointEntry.corrects_id == entry.id))):
        raise LedgerError("already_corrected", "")
    if idempotency_key and db.session.scalar(select(exists().where(PointEntry.idempotency_key == idempotency_key))):
        raise LedgerError("duplicate_submit", "")
    member = db.session.get(Member, entry.member_id)
    if entry.year < today.year and year_review_confirmed(member, entry.year):
        raise LedgerError("year_closed", "", year=entry.year)
    adjusts = publication_covering(member, entry.earned_on)
    correction = PointEntry(
        member_id=entry.member_id, branch_id=member.branch_id, year=entry.year,
        indicator_code=entry.indicator_code, category=entry.category, points=-entry.points,
        quantity=-entry.quantity if entry.quantity is not None else None, earned_on=entry.earned_on,
        note=reason, source="correction", meeting_id=entry.meeting_id, host_branch_id=entry.host_branch_id,
        scheme_version_id=entry.scheme_version_id, recorded_by_id=getattr(user, "id", None),
        corrects_id=entry.id, adjusts_publication_id=adjusts.id if adjusts else None,
        idempotency_key=idempotency_key or None,
    )
    db.session.add(correction)
    db.session.flush()
    audit.record("entry_corrected", correction, member_id=member.id, user=user,
                 summary=f"corrects entry {entry.id}: {reason}", before=_entry_dict(entry),
                 after=_entry_dict(correction))
    scheme = scheme_for_year(entry.year)
    indicator = scheme.indicators.get(entry.indicator_code)
    return Recorded(correction, indicator, adjusts)


def _entry_dict(e: PointEntry) -> dict[str, Any]:
    return {
        "id": e.id, "member_id": e.member_id, "indicator": e.indicator_code, "points": str(e.points),
        "quantity": str(e.quantity) if e.quantity is not None else None, "earned_on": e.earned_on.isoformat(),
        "note": e.note, "source": e.source, "corrects_id": e.corrects_id,
        "adjusts_publication_id": e.adjusts_publication_id,
    }


def error_field_and_text(err: Exception, gettext) -> tuple[str, str]:
    """Where a refusal's message goes on a form, and the message in the user's language."""
    if isinstance(err, EntryError):
        return ENTRY_ERROR_FIELDS.get(err.key, ""), err.text(gettext)
    if isinstance(err, LedgerError):
        return err.field, err.text(gettext)
    raise err


