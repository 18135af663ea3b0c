"""Reconciling a branch's quarter with the members' booklets before it is published: the service under publish.py.

No request, form or session user: the caller passes plain values, who acts and today's date, then
commits when a function returns, or rolls back on a refusal. Every write here is refused once the
quarter is published (the snapshot is what the branch meeting reconciled). The caller loads the
branch and the member in its user's scope (publish.py: 404 outside it).
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import func, select

from . import audit
from .db import db
from .ledger import NOTE_MAX, type_history
from .models import Branch, Member, Reconciliation, SelfRecord, User
from .publication import PublishError, live_publication, members_on_roll, period, quarter_bounds
from .refusals import FieldsRefused, Refusal
from .scheme import Indicator
from .scheme_versions import scheme_for_year
from .scoring import N_, EntryError, MemberScore, check_earned_on, entry_points, score_members, type_on

# What a member's row may be marked with; "clear" takes the mark back.
STATUSES = ("agrees", "deferred", "clear")

RECONCILIATION_ERROR_TEXTS = {
    "status_unknown": N_("Choose one."),
    "indicator_required": N_("Choose an indicator."),
    "date_required": N_("Enter a date."),
    "date_outside_quarter": N_("The date must fall in {period}."),
    "before_roll": N_("The member came onto the roll on {date}."),
    "note_required": N_("Say what the booklet shows (at most 500 characters)."),
}


class ReconciliationError(Refusal):
    TEXTS = RECONCILIATION_ERROR_TEXTS


class BookletItemRefused(FieldsRefused):
    """The booklet item is not added: each refused field's refusal (EntryError for the date or hours)."""

    KEY = "booklet_item_refused"


class QuarterData(NamedTuple):
    """What the reconciliation page and sheet show: the roll at the quarter's end and its marks."""

    members: list[Member]
    scores: dict[int, MemberScore]
    pending: dict[int, int]  # member id -> self-recorded items dated in or before the quarter, still pending
    recon: dict[int, Reconciliation]  # member id -> the member's mark


def quarter_data(branch: Branch, year: int, quarter: int) -> QuarterData:
    _start, end = quarter_bounds(year, quarter)
    members = members_on_roll(branch.id, end)
    ids = [m.id for m in members]
    scores = score_members(db.session, scheme_for_year(year), year, end, members)
    pending = dict(db.session.execute(
        select(SelfRecord.member_id, func.count()).where(
            SelfRecord.member_id.in_(ids), SelfRecord.status == "pending", SelfRecord.earned_on <= end)
        .group_by(SelfRecord.member_id)).all()) if ids else {}
    recon = {r.member_id: r for r in db.session.scalars(select(Reconciliation).where(
        Reconciliation.branch_id == branch.id, Reconciliation.year == year, Reconciliation.quarter == quarter))}
    return QuarterData(members, scores, pending, recon)


def quarter_member(branch: Branch, year: int, quarter: int, member_id: int) -> Member | None:
    """The member, if on the branch's roll at the quarter's end (the only members it reconciles)."""
    _start, end = quarter_bounds(year, quarter)
    return next((m for m in members_on_roll(branch.id, end) if m.id == member_id), None)


def ensure_unpublished(branch: Branch, year: int, quarter: int) -> None:
    """Refuse (409) once the quarter has a live publication: what it published was reconciled."""
    pub = live_publication(branch.id, year, quarter)
    if pub is not None:
        raise PublishError("already_published", pub, period=period(year, quarter))


def reconcile(branch: Branch, year: int, quarter: int, member: Member, status: str | None, *, by: User) -> None:
    """Mark the member's booklet as agreeing, or the member as absent (deferred), or take the mark back."""
    ensure_unpublished(branch, year, quarter)
    if status not in STATUSES:
        raise ReconciliationError("status_unknown", "status", status=400)  # the page's buttons send one of them
    row = db.session.scalar(select(Reconciliation).where(
        Reconciliation.branch_id == branch.id, Reconciliation.year == year, Reconciliation.quarter == quarter,
        Reconciliation.member_id == member.id))
    before = row.status if row else None
    if status == "clear":
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(Reconciliation(branch_id=branch.id, year=year, quarter=quarter, member_id=member.id,
                                      status=status, recorded_by_id=by.id))
    else:
        row.status, row.recorded_by_id = status, by.id
    audit.record("reconciled", member, member_id=member.id, before=before, after=status, user=by,
                 summary=f"{branch.name} {period(year, quarter)}: {member.name} {status}")
    db.session.flush()


def reconcile_all(branch: Branch, year: int, quarter: int, *, by: User) -> int:
    """'All booklets agree': every member not yet marked and with nothing pending agrees; returns how many.

    Members already marked (absent, or agreeing) and members with pending items keep their rows: only
    the differences need a click each. The same click twice at once meets the table's unique key
    (IntegrityError at the flush): the first marked them.
    """
    ensure_unpublished(branch, year, quarter)
    members, _scores, pending, recon = quarter_data(branch, year, quarter)
    todo = [m for m in members if m.id not in recon and not pending.get(m.id)]
    if not todo:
        return 0
    db.session.add_all([Reconciliation(branch_id=branch.id, year=year, quarter=quarter, member_id=m.id,
                                       status="agrees", recorded_by_id=by.id) for m in todo])
    audit.record("reconciled_all", branch, after={"agrees": [m.id for m in todo]}, user=by,
                 summary=f"{branch.name} {period(year, quarter)}: {len(todo)} booklets agree")
    db.session.flush()
    return len(todo)


def booklet_item_choices(member: Member, year: int, quarter: int,
                         history: list[tuple[date, str]] | None = None) -> list[Indicator]:
    """What a booklet item may be: the quarter's indicators for the member's type at its end, no deduction."""
    _start, end = quarter_bounds(year, quarter)
    type_code = type_on(type_history(member.id) if history is None else history, end)
    return [i for i in scheme_for_year(year).applicable(type_code) if i.category != "K" and not i.veto]


def booklet_item_problems(member: Member, year: int, quarter: int, *, indicator_code: str | None,
                          earned_on: date | None, history: list[tuple[date, str]] | None = None) -> dict[str, Refusal]:
    """The quarter's rules for the item's indicator and date (a date not given is left to the caller)."""
    start, end = quarter_bounds(year, quarter)
    problems: dict[str, Refusal] = {}
    if not any(i.code == indicator_code for i in booklet_item_choices(member, year, quarter, history)):
        problems["indicator"] = ReconciliationError("indicator_required", "indicator")
    if earned_on is not None and not (start <= earned_on <= end):
        problems["earned_on"] = ReconciliationError("date_outside_quarter", "earned_on", period=period(year, quarter))
    elif earned_on is not None and earned_on < member.on_roll_since:
        problems["earned_on"] = ReconciliationError("before_roll", "earned_on", date=member.on_roll_since.isoformat())
    return problems


def add_booklet_item(branch: Branch, year: int, quarter: int, member: Member, *, indicator_code: str | None,
                     earned_on: date | None, hours: Decimal | None, note: str, by: User,
                     today: date) -> SelfRecord:
    """What the member's booklet shows that the ledger lacks: a pending item to confirm or reject.

    Raises BookletItemRefused naming each field that is wrong (nothing written).
    """
    ensure_unpublished(branch, year, quarter)
    history = type_history(member.id)
    problems = booklet_item_problems(member, year, quarter, indicator_code=indicator_code, earned_on=earned_on,
                                     history=history)
    if earned_on is None:
        problems["earned_on"] = ReconciliationError("date_required", "earned_on")
    note = (note or "").strip()
    if not note or len(note) > NOTE_MAX:
        problems["note"] = ReconciliationError("note_required", "note")
    if problems:
        raise BookletItemRefused(problems)
    scheme = scheme_for_year(year)
    indicator = scheme.indicators[indicator_code]
    try:
        check_earned_on(earned_on, today, previous_year_open=True)
        value = entry_points(scheme, indicator, type_on(history, earned_on), hours if indicator.is_hours else None)
    except EntryError as err:
        raise BookletItemRefused({"hours" if indicator.is_hours else "earned_on": err}) from None
    sr = SelfRecord(member_id=member.id, indicator_code=indicator.code, earned_on=earned_on, quantity=value.quantity,
                    note=note, origin="reconciliation", created_by_id=by.id)
    db.session.add(sr)
    db.session.flush()
    audit.record("booklet_item_added", sr, member_id=member.id, user=by,
                 summary=f"{member.name} {indicator.code} {earned_on}: {note[:200]}")
    return sr
