"""Self-records (自记): a member writes a completed item into their booklet, and a secretary confirms it
into the ledger or rejects it with a reason. The service under booklet.py's views.

No request, form or session user: the caller passes plain values, who acts (``by``) and today's date,
commits after a function returns and rolls back on a refusal. Every rule is checked before anything is
written, so a refused call has written nothing even before the caller rolls back.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from . import audit, ledger
from .access import is_secretary, own_record
from .db import db
from .ledger import ENTRY_ERROR_FIELDS, NOTE_MAX, LedgerError, NewEntry
from .models import Member, PointEntry, SelfRecord, User
from .models._common import utcnow
from .refusals import FieldsRefused, Refusal
from .scheme import Indicator
from .scheme_versions import scheme_for_year
from .scoring import N_, EntryError, check_earned_on, entry_points, type_on

if TYPE_CHECKING:
    from .scoring import EntryValue

SELF_RECORD_ERROR_TEXTS = {
    "not_own": N_("Only the member records items in their own booklet."),
    "not_on_roll": N_("This member is not on the roll with a type: nothing can be recorded in the booklet."),
    "not_secretary": N_("Only a secretary confirms or rejects items."),
    "own_record": N_("Someone else confirms or rejects the items in your own booklet."),
    "already_decided": N_("This item has already been confirmed or rejected."),
    "indicator_unknown": N_("Choose an item from the list."),
    "deduction": N_("Deductions are recorded by the branch: your booklet records completed items."),
    "not_in_hours": N_("This item is not counted in hours: leave the hours empty."),
    "date_required": N_("Enter the date you completed it."),
    "note_required": N_("Say what you did: the branch checks the item against this note."),
    "reason_too_long": N_("The member's note and your reason together are longer than 500 characters."),
    "reject_reason_required": N_("Give the member a reason."),
}


class SelfRecordError(Refusal):
    TEXTS = SELF_RECORD_ERROR_TEXTS


class SelfRecordRefused(FieldsRefused):
    """Nothing is written: the refusal of each field (SelfRecordError, or the ledger's EntryError/LedgerError)."""

    KEY = "self_record_refused"


# ---------------------------------------------------------------------------------------------
# The member writes an item
# ---------------------------------------------------------------------------------------------

def check_may_add(member: Member, by: User) -> list[tuple[date, str]]:
    """Only the member, on the roll with a type, writes in their booklet (403, 409); returns their type history."""
    if not own_record(member.id, by):  # a secretary records for others in the ledger, not here
        raise SelfRecordError("not_own", status=403)
    history = ledger.type_history(member.id)
    if member.status != "active" or not history:
        raise SelfRecordError("not_on_roll", status=409)
    return history


def _check(member: Member, history: list[tuple[date, str]], indicator_code: str | None, earned_on: date | None,
           hours: Decimal | None, today: date) -> tuple[dict[str, Refusal], Indicator | None, EntryValue | None]:
    """The checks the ledger will make on confirmation, made now so the member can fix them at once."""
    problems: dict[str, Refusal] = {}
    if earned_on is not None:
        try:
            check_earned_on(earned_on, today,
                            previous_year_open=not ledger.year_review_confirmed(member, today.year - 1))
            if earned_on < member.on_roll_since:
                raise LedgerError("before_roll", "earned_on", date=member.on_roll_since.isoformat())
        except (EntryError, LedgerError) as err:
            problems["earned_on"] = err
            earned_on = None
    on = earned_on or today
    scheme = scheme_for_year(on.year)
    indicator = scheme.indicators.get(indicator_code or "")
    value = None
    if indicator is None or indicator.retired:
        problems["indicator"] = SelfRecordError("indicator_unknown", "indicator")
    elif indicator.category == "K" or indicator.veto:
        problems["indicator"] = SelfRecordError("deduction", "indicator")
    elif not indicator.is_hours and hours is not None:
        problems["hours"] = SelfRecordError("not_in_hours", "hours")
    else:
        try:
            value = entry_points(scheme, indicator, type_on(history, on), hours if indicator.is_hours else None)
        except EntryError as err:
            problems["hours" if ENTRY_ERROR_FIELDS.get(err.key) == "value" else "indicator"] = err
    return problems, indicator, value


def problems(member: Member, history: list[tuple[date, str]], *, indicator_code: str | None,
             earned_on: date | None, hours: Decimal | None, today: date) -> dict[str, Refusal]:
    """The item's rules for what the caller's form read (a value it refused is passed as None and left to it)."""
    return _check(member, history, indicator_code, earned_on, hours, today)[0]


def add(member: Member, *, indicator_code: str | None, earned_on: date | None, hours: Decimal | None, note: str,
        by: User, today: date) -> SelfRecord:
    """The member writes a completed item into their booklet: pending until a secretary decides it."""
    history = check_may_add(member, by)
    found, indicator, value = _check(member, history, indicator_code, earned_on, hours, today)
    if earned_on is None:
        found.setdefault("earned_on", SelfRecordError("date_required", "earned_on"))
    note = (note or "").strip()
    if not note:
        found["note"] = SelfRecordError("note_required", "note")
    elif len(note) > NOTE_MAX:
        found["note"] = LedgerError("note_too_long", "note")
    if found:
        raise SelfRecordRefused(found)
    sr = SelfRecord(member_id=member.id, indicator_code=indicator.code, earned_on=earned_on, quantity=value.quantity,
                    note=note, origin="member", status="pending", created_by_id=by.id)
    db.session.add(sr)
    db.session.flush()
    audit.record("self_record_added", sr, member_id=member.id, user=by,
                 summary=f"{member.name} {sr.indicator_code} on {sr.earned_on}",
                 after={"indicator": sr.indicator_code, "earned_on": sr.earned_on.isoformat(),
                        "quantity": str(sr.quantity) if sr.quantity is not None else None, "note": sr.note})
    return sr


# ---------------------------------------------------------------------------------------------
# A secretary decides it (never on their own record)
# ---------------------------------------------------------------------------------------------

def published_periods(member: Member, records) -> dict[int, str]:
    """Pending self-records dated in an already published quarter (id -> period): confirming them needs a reason."""
    out = {}
    for sr in records:
        pub = ledger.publication_covering(member, sr.earned_on)
        if pub is not None:
            out[sr.id] = ledger.period_label(pub.year, pub.quarter)
    return out


def check_decidable(sr: SelfRecord, member: Member, by: User) -> None:
    """A secretary, not the member themselves (403), decides a record still pending (409)."""
    if not is_secretary(by):
        raise SelfRecordError("not_secretary", status=403)
    if own_record(member.id, by):
        raise SelfRecordError("own_record", status=403)
    if sr.status != "pending":
        raise SelfRecordError("already_decided", status=409)


def _claim(sr: SelfRecord, status: str, by: User, **values: Any) -> None:
    """Decide only a still-pending record: of two secretaries deciding at once, the second is refused (409)."""
    result = db.session.execute(
        update(SelfRecord).where(SelfRecord.id == sr.id, SelfRecord.status == "pending")
        .values(status=status, decided_by_id=by.id, decided_at=utcnow(), **values))
    if result.rowcount != 1:
        raise SelfRecordError("already_decided", status=409)


def confirm(sr: SelfRecord, member: Member, *, reason: str | None, points: Decimal | None, by: User,
            today: date) -> PointEntry:
    """The item goes into the ledger as an entry of the member; returns the entry.

    ``reason`` is needed when the item's quarter is published (an adjustment); ``points`` only for an
    item with options (e.g. a district-level commendation), which the branch values when confirming.
    Refusals name the confirmation form's fields: reason, points, or general.
    """
    check_decidable(sr, member, by)
    reason = (reason or "").strip()
    indicator = scheme_for_year(sr.earned_on.year).indicators.get(sr.indicator_code)
    valued_by_branch = indicator is not None and bool(indicator.points_options) and not indicator.is_hours
    note = f"{sr.note} · {reason}" if reason else sr.note
    adjusts = ledger.publication_covering(member, sr.earned_on)
    if adjusts is not None and not reason:  # the member's note says what, not why it comes after publication
        raise SelfRecordRefused({"reason": LedgerError("adjustment_needs_reason", "note",
                                                       period=ledger.period_label(adjusts.year, adjusts.quarter))})
    if len(note) > NOTE_MAX:
        raise SelfRecordRefused({"reason": SelfRecordError("reason_too_long", "reason")})
    [checked] = ledger.check_entries([NewEntry(
        member=member, indicator_code=sr.indicator_code, value=points if valued_by_branch else sr.quantity,
        earned_on=sr.earned_on, note=note, source="self_record", self_record_id=sr.id, meeting_id=sr.meeting_id,
        host_branch_id=sr.host_branch_id)], today=today)
    if isinstance(checked, Refusal):
        field = ENTRY_ERROR_FIELDS.get(checked.key, "") if isinstance(checked, EntryError) else checked.field
        raise SelfRecordRefused({{"note": "reason", "value": "points"}.get(field, "general"): checked})
    _claim(sr, "confirmed", by)
    [entry_id] = ledger.write_entries([checked], user=by)
    audit.record("self_record_confirmed", sr, member_id=member.id, user=by,
                 summary=f"{member.name} {sr.indicator_code} on {sr.earned_on}: entry {entry_id}")
    return db.session.get(PointEntry, entry_id)


def reject(sr: SelfRecord, member: Member, *, reason: str | None, by: User) -> None:
    """The item is not entered; the member reads the reason in their booklet."""
    check_decidable(sr, member, by)
    reason = (reason or "").strip()
    if not reason:
        raise SelfRecordRefused({"reject_reason": SelfRecordError("reject_reason_required", "reject_reason")})
    if len(reason) > NOTE_MAX:
        raise SelfRecordRefused({"reject_reason": LedgerError("note_too_long", "reject_reason")})
    _claim(sr, "rejected", by, reject_reason=reason)
    audit.record("self_record_rejected", sr, member_id=member.id, user=by,
                 summary=f"{member.name} {sr.indicator_code} on {sr.earned_on}: {reason}")
