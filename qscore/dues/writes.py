"""Writing the register: a member's amount due, a payment or exemption line, "paid this month" for ticked
members, and a void naming the line it undoes. Every write is flushed, not committed, with its audit row."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..branch_lock import lock_branches
from ..db import db
from ..models import Branch, DuesClose, DuesLine, DuesPoint, DuesRate, Member, User
from ..refusals import Refusal
from .register import (DuesError, _on_roll, branch_members, label, live_lines, month_dues, rates_of)

# -- writing the register ---------------------------------------------------------------------------------

def set_rate(member: Member, monthly: Decimal, effective_from: date, note: str, *, by: User) -> DuesRate:
    lock_branches([member.branch_id])  # a publication freezing "党费已交" waits for the register's writes
    first = effective_from.replace(day=1)
    if first < member.on_roll_since.replace(day=1):
        raise DuesError("rate_month_early", "effective_from")
    if rates_of([member.id])[member.id]:  # a change (not the first amount): closed months keep their points' basis
        closed = db.session.execute(select(DuesClose.year, DuesClose.month).where(
            DuesClose.branch_id == member.branch_id).order_by(DuesClose.year.desc(), DuesClose.month.desc())
            .limit(1)).first()
        if closed is not None and (first.year, first.month) <= tuple(closed):
            raise DuesError("rate_month_closed", "effective_from", month=label(*closed))
    rate = DuesRate(member_id=member.id, monthly=monthly, effective_from=first, note=note, set_by_id=by.id)
    db.session.add(rate)
    db.session.flush()
    audit.record("dues_rate_set", rate, member_id=member.id, user=by,
                 summary=f"{member.name}: {monthly} a month from {first:%Y-%m}" + (f": {note}" if note else ""))
    return rate


def check_paid_on(paid_on: date | None, year: int, today: date, field: str = "paid_on") -> None:
    """A payment's day: given, not after today, and in the year paid for or the one before (a typo of the
    year would make a late payment look paid in advance, on time)."""
    if paid_on is None:
        raise DuesError("paid_on_required", field)
    if paid_on > today:
        raise DuesError("paid_in_future", field)
    if paid_on < date(year - 1, 1, 1):
        raise DuesError("paid_on_early", field)


def add_line(member: Member, *, year: int, month: int, kind: str, amount: Decimal | None, paid_on: date | None,
             method: str, note: str, by: User, today: date, key: str | None = None) -> DuesLine:
    """One payment or exemption line for a member's month (flushed, not committed). Raises DuesError."""
    lock_branches([member.branch_id])  # a publication freezing "党费已交" waits for the register's writes
    if not _on_roll(member, year, month):
        raise DuesError("not_on_roll", "month", name=member.name, month=label(year, month))
    if kind == "exemption":
        if not note.strip():
            raise DuesError("approval_required", "note")
        amount, paid_on, method = Decimal(0), paid_on or today, ""
    else:
        if amount is None or amount <= 0:
            raise DuesError("amount_required", "amount")
        check_paid_on(paid_on, year, today)
        cell = month_dues(member, rates_of([member.id])[member.id], live_lines([member.id], year)[member.id][month],
                          year, month, today)
        if cell.settled:
            raise DuesError("already_settled", "month", name=member.name, month=label(year, month))
    line = DuesLine(member_id=member.id, branch_id=member.branch_id, year=year, month=month, kind=kind,
                    amount=amount, paid_on=paid_on, method=method, note=note, recorded_by_id=by.id,
                    idempotency_key=key)
    db.session.add(line)
    db.session.flush()
    audit.record("dues_line_added", line, member_id=member.id, user=by,
                 summary=(f"{member.name} {label(year, month)}: exemption approved: {note}" if kind == "exemption" else
                          f"{member.name} {label(year, month)}: {amount} paid on {paid_on} ({method})"
                          + (f": {note}" if note else "")))
    return line


@dataclass
class MarkedPaid:
    written: list[DuesLine]
    already: list[Member]     # paid in full or exempt before: nothing written for them


def mark_paid(branch: Branch, member_ids: list[int], *, year: int, month: int, paid_on: date, method: str,
              by: User, today: date, through: int | None = None) -> MarkedPaid:
    """"本月已交" for the ticked members in one save: each pays what ``month`` (to ``through``, for dues paid a
    quarter or half a year at once) still owes. All or nothing: raises MemberErrors with a DuesError per member
    when any ticked member cannot be marked for any of the months."""
    check_paid_on(paid_on, year, today)
    months = range(month, max(month, through or month) + 1)
    lock_branches([branch.id])
    members = {m.id: m for m in branch_members(branch, year)}
    chosen = [members[i] for i in member_ids if i in members]
    rates, lines = rates_of(members), live_lines(members, year)
    errors: dict[int, DuesError] = {}
    todo: list[tuple[Member, int, Decimal]] = []
    already: list[Member] = []
    for m in chosen:
        if by.member_id == m.id:
            errors[m.id] = DuesError("own_record")
            continue
        owing = []
        for mo in months:
            d = month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today)
            if d.status == "none":
                errors[m.id] = DuesError("not_on_roll", name=m.name, month=label(year, mo))
            elif d.status == "nothing_due":
                errors[m.id] = DuesError("nothing_due", name=m.name, month=label(year, mo))
            elif d.status == "no_rate":
                errors[m.id] = DuesError("no_rate", name=m.name)
            elif not d.settled:
                owing.append((m, mo, d.owed))
            if m.id in errors:
                break
        if m.id not in errors:
            todo += owing
            if not owing:
                already.append(m)
    if errors:
        raise MemberErrors(errors)
    written = [DuesLine(member_id=m.id, branch_id=branch.id, year=year, month=mo, kind="payment", amount=owed,
                        paid_on=paid_on, method=method, note="", recorded_by_id=by.id) for m, mo, owed in todo]
    db.session.add_all(written)
    db.session.flush()
    if written:
        span = label(year, month) if len(months) == 1 else f"{label(year, month)}..{label(year, months[-1])}"
        audit.record("dues_month_paid", branch, user=by,
                     summary=f"{branch.name} {span}: {len({m.id for m, _mo, _o in todo})} members paid on "
                             f"{paid_on} ({method})")
    return MarkedPaid(written, already)


class MemberErrors(Refusal):
    """Nothing written: the refusals of some members, keyed by member id."""

    def __init__(self, errors: dict[int, DuesError]):
        self.errors = errors
        super().__init__("member_errors", status=422)

    def text(self, gettext=lambda s: s) -> str:
        first = next(iter(self.errors.values()), None)
        return first.text(gettext) if first is not None else self.key


def void_line(line: DuesLine, reason: str, *, by: User) -> DuesLine:
    lock_branches([line.branch_id])  # a publication freezing "党费已交" waits for the register's writes
    if line.kind == "void":
        raise DuesError("is_void")
    if not reason.strip():
        raise DuesError("reason_required", "reason")
    if db.session.scalar(select(DuesLine.id).where(DuesLine.corrects_id == line.id)) is not None:
        raise DuesError("already_voided")
    void = DuesLine(member_id=line.member_id, branch_id=line.branch_id, year=line.year, month=line.month,
                    kind="void", amount=Decimal(0), paid_on=None, method="", note=reason, corrects_id=line.id,
                    recorded_by_id=by.id)
    db.session.add(void)
    try:
        db.session.flush()
    except IntegrityError:  # voided by someone else just now
        db.session.rollback()
        raise DuesError("already_voided") from None
    audit.record("dues_line_voided", void, member_id=line.member_id, user=by,
                 summary=f"line {line.id} of {label(line.year, line.month)} voided: {reason}")
    return void


def points_citing(line: DuesLine) -> list[DuesPoint]:
    """The register's entries that name ``line`` among the lines they follow from (a void leaves them as they
    are: the ledger is corrected on the roster, with a reason)."""
    return [p for p in db.session.scalars(select(DuesPoint).where(DuesPoint.member_id == line.member_id))
            if str(line.id) in p.lines.split(",")]


