"""The dues register (党费收缴) and the points that follow from it.

A member owes ``DuesRate.monthly`` for each month on the roll from the rate's month on. The register's
lines say what was paid, when and how (cash, transfer, by proxy 委托代缴, online), or that a reduction or
exemption was approved (减免: counts as paid, as J3's note says). Lines are never changed: a mistake is
voided by a new line naming it.

Points follow from the register when a secretary **closes a month** (结算), not from typing:

* closing the last month of a quarter writes J3 (dues paid on time and in full) for each member whose
  every month of the quarter on the roll is exempt or paid in full by the month's last day;
* closing a month writes K2 (dues in arrears after reminder) for each member whose previous month is
  still unpaid or partly paid although that month was closed too: the first close is the reminder
  (催缴), the next one finds it still owed, one K2 per month overdue.

Each entry names the register lines it follows from (``DuesPoint.lines``, and its note), is recorded by
the person who closed, and is written once: ``DuesPoint`` is unique per member, indicator and period,
so a close run again adds only what is missing, and an entry corrected on the roster is not written
again. The closing secretary's own lines are left to another secretary (four eyes), as everywhere.
"""
from __future__ import annotations

import calendar
from contextlib import nullcontext
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Iterable

from flask import current_app, has_app_context
from flask_babel import force_locale, gettext as _
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import IntegrityError

from . import audit, ledger
from .branch_lock import lock_branches
from .db import db
from .exports import Sheet
from .fields import AMOUNT_MAX, AMOUNT_MIN, amount_of, has_control_characters
from .figures import Ratio
from .models import Branch, DuesClose, DuesLine, DuesPoint, DuesRate, Member, PointEntry, User
from .refusals import Refusal
from .scheme import N_
from .scheme_versions import scheme_for_year
from .scoring import live_entry_clause

J3, K2 = "J3", "K2"  # the default scheme's codes; a year's scheme names them by role (dues_paid, dues_arrears)
WARN_MONTHS = 3   # the early warning: three months in a row owed
FLAG_MONTHS = 6   # K2's note: six months in a row unpaid without reason is flagged

DUES_ERROR_TEXTS = {
    "no_rate": N_("No monthly amount is set for {name}: set it first."),
    "not_on_roll": N_("{name} was not on the roll in {month}."),
    "already_settled": N_("{name} has paid {month} in full already."),
    "paid_in_future": N_("A payment cannot be dated after today."),
    "month_not_ended": N_("{month} has not ended yet: a month is closed from its last day on."),
    "approval_required": N_("Say who approved the reduction or exemption, and when."),
    "reason_required": N_("Give a reason for voiding the line."),
    "already_voided": N_("This line has been voided already."),
    "is_void": N_("A voiding line cannot itself be voided; record a new line instead."),
    "amount_required": N_("Enter the amount paid."),
    "own_record": N_("Your own dues are recorded by another secretary."),
    "rate_month_early": N_("The amount takes effect from a month on the roll."),
    "nothing_due": N_("{name} owes nothing for {month}."),
    "paid_on_required": N_("Enter the day it was paid."),
    "paid_on_early": N_("A payment is dated in this year or the one before."),
    "rate_month_closed": N_("{month} is closed: a new amount takes effect from a month not closed yet."),
}


class DuesError(Refusal):
    """A refused register write; ``field`` names the form field the message belongs next to."""

    TEXTS = DUES_ERROR_TEXTS


def month_last(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def label(year: int, month: int) -> str:
    return f"{year}-{month:02d}"


# -- what the register says of a member's month ----------------------------------------------------------

@dataclass
class MonthDues:
    """One cell of the grid. status: none (not on the roll / nothing due), no_rate, future (not due yet,
    nothing paid), unpaid, partial, paid, exempt."""

    status: str
    due: Decimal | None = None
    paid: Decimal = Decimal(0)
    on_time: bool = False      # paid in full (or exempt) by the month's last day
    lines: list[DuesLine] = field(default_factory=list)  # its live lines

    @property
    def settled(self) -> bool:
        return self.status in ("paid", "exempt")

    @property
    def owed(self) -> Decimal:
        return max((self.due or Decimal(0)) - self.paid, Decimal(0))


@dataclass
class MemberDues:
    member: Member
    rate: Decimal | None            # the amount in force this month (or the year's last month shown)
    months: dict[int, MonthDues]

    streak: int = 0                 # months in a row unpaid or part paid, up to the last month ended

    @property
    def paid_total(self) -> Decimal:
        return sum((m.paid for m in self.months.values()), Decimal(0))

    @property
    def warning(self) -> str:
        """"flag" from FLAG_MONTHS months in a row owed (the scheme's note on K2), "warn" from WARN_MONTHS."""
        return "flag" if self.streak >= FLAG_MONTHS else "warn" if self.streak >= WARN_MONTHS else ""


def rate_in_force(rates: list[DuesRate], year: int, month: int) -> Decimal | None:
    first = date(year, month, 1)
    current = None
    for r in rates:  # ordered by effective_from, id: a later row on a date wins
        if r.effective_from <= first:
            current = r.monthly
    return current


def _on_roll(member: Member, year: int, month: int) -> bool:
    """On the roll some day of the month (left_roll_on is the first day off it, as figures.roll_on reads it)."""
    first, last = date(year, month, 1), month_last(year, month)
    left = member.left_roll_on
    return member.on_roll_since <= last and (left is None or left > first)


def _on_roll_on(member: Member, day: date) -> bool:
    return member.on_roll_since <= day and (member.left_roll_on is None or member.left_roll_on > day)


def month_dues(member: Member, rates: list[DuesRate], lines: list[DuesLine], year: int, month: int,
               today: date) -> MonthDues:
    """The month's state from its live lines (``lines``: the month's payment and exemption lines not voided)."""
    if not _on_roll(member, year, month):
        return MonthDues("none", lines=lines)
    due = rate_in_force(rates, year, month)
    paid = Decimal(0)
    settled_on: date | None = None
    for line in sorted((x for x in lines if x.kind == "payment"), key=lambda x: (x.paid_on or date.max, x.id or 0)):
        paid += line.amount
        if settled_on is None and due is not None and paid >= due:
            settled_on = line.paid_on
    last = month_last(year, month)
    if any(x.kind == "exemption" for x in lines):
        return MonthDues("exempt", due, paid, True, lines)
    if due is None:
        return MonthDues("no_rate", None, paid, False, lines)
    if due <= 0:
        return MonthDues("nothing_due", due, paid, True, lines)
    if paid >= due:
        return MonthDues("paid", due, paid, settled_on is not None and settled_on <= last, lines)
    if paid > 0:
        return MonthDues("partial", due, paid, False, lines)
    return MonthDues("future" if date(year, month, 1) > today else "unpaid", due, paid, False, lines)


def live_lines(member_ids: Iterable[int], year: int) -> dict[int, dict[int, list[DuesLine]]]:
    """Payment and exemption lines of ``year`` not voided, by member and month."""
    ids = list(member_ids)
    out: dict[int, dict[int, list[DuesLine]]] = defaultdict(lambda: defaultdict(list))
    if not ids:
        return out
    rows = db.session.scalars(select(DuesLine).where(DuesLine.member_id.in_(ids), DuesLine.year == year)
                              .order_by(DuesLine.id)).all()
    voided = {x.corrects_id for x in rows if x.kind == "void"}
    for x in rows:
        if x.kind != "void" and x.id not in voided:
            out[x.member_id][x.month].append(x)
    return out


def rates_of(member_ids: Iterable[int]) -> dict[int, list[DuesRate]]:
    ids = list(member_ids)
    out: dict[int, list[DuesRate]] = defaultdict(list)
    if ids:
        for r in db.session.scalars(select(DuesRate).where(DuesRate.member_id.in_(ids))
                                    .order_by(DuesRate.member_id, DuesRate.effective_from, DuesRate.id)):
            out[r.member_id].append(r)
    return out


def branch_members(branch: Branch, year: int) -> list[Member]:
    """The branch's members on the roll at some time of ``year`` (active ones, and those who left during it)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return list(db.session.scalars(
        select(Member).where(Member.branch_id == branch.id, Member.on_roll_since <= last,
                             (Member.left_roll_on.is_(None)) | (Member.left_roll_on >= first))
        .order_by(Member.name_key, Member.name, Member.id)))


def register(branch: Branch, year: int, today: date) -> list[MemberDues]:
    """The branch's grid of ``year``: every member on the roll that year, twelve months each, and (for the
    current year) how many months in a row each owes up to the last month ended, across the year's start."""
    members = branch_members(branch, year)
    ids = [m.id for m in members]
    rates, lines = rates_of(ids), live_lines(ids, year)
    shown = today.month if today.year == year else 12
    rows = [MemberDues(m, rate_in_force(rates[m.id], year, shown),
                       {mo: month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today) for mo in range(1, 13)})
            for m in members]
    if year == today.year:
        _streaks(rows, rates, today)
    return rows


def member_year(member: Member, year: int, today: date) -> tuple[MemberDues, list[DuesLine]]:
    """One member's year: the twelve months (and the streak owed, this year) and every line, voids included."""
    rates = rates_of([member.id])
    live = live_lines([member.id], year)
    row = MemberDues(member, rate_in_force(rates[member.id], year, today.month if today.year == year else 12),
                     {mo: month_dues(member, rates[member.id], live[member.id][mo], year, mo, today)
                      for mo in range(1, 13)})
    if year == today.year:
        _streaks([row], rates, today)
    lines = list(db.session.scalars(select(DuesLine).where(DuesLine.member_id == member.id, DuesLine.year == year)
                                    .order_by(DuesLine.month, DuesLine.id)))
    return row, lines


OWED = ("unpaid", "partial")


def _streaks(rows: list[MemberDues], rates: dict[int, list[DuesRate]], today: date) -> None:
    """Set each row's streak: months owed in a row ending with the last month ended (last year's months are
    read only for the rows whose streak reaches January)."""
    year = today.year
    last_ended = today.month - 1 if month_last(year, today.month) > today else today.month
    reach_back = []
    for r in rows:
        n = 0
        for mo in range(last_ended, 0, -1):
            if r.months[mo].status not in OWED:
                break
            n += 1
        r.streak = n
        if n == last_ended:
            reach_back.append(r)
    if reach_back:
        before = live_lines([r.member.id for r in reach_back], year - 1)
        for r in reach_back:
            for mo in range(12, 0, -1):
                if month_dues(r.member, rates[r.member.id], before[r.member.id][mo], year - 1, mo,
                              today).status not in OWED:
                    break
                r.streak += 1


@dataclass
class Totals:
    due: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    settled: int = 0   # member-months paid in full or exempt
    owing: int = 0     # member-months unpaid or partly paid (due already)

    @property
    def ratio(self) -> Ratio:
        """The collection rate: member-months settled of those due so far (figures.Ratio: exact, half up)."""
        return Ratio(self.settled, self.settled + self.owing)

    def add(self, d: MonthDues) -> None:
        if d.status in ("paid", "partial", "unpaid"):
            self.due += d.due or Decimal(0)
            self.paid += min(d.paid, d.due or d.paid)
        if d.settled:
            self.settled += 1
        elif d.status in ("partial", "unpaid"):
            self.owing += 1

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(self.due + other.due, self.paid + other.paid, self.settled + other.settled,
                      self.owing + other.owing)


def month_totals(rows: list[MemberDues]) -> dict[int, Totals]:
    out = {mo: Totals() for mo in range(1, 13)}
    for r in rows:
        for mo, d in r.months.items():
            out[mo].add(d)
    return out


def quarter_totals(months: dict[int, Totals]) -> dict[int, Totals]:
    return {q: sum((months[m] for m in range(3 * q - 2, 3 * q + 1)), Totals()) for q in range(1, 5)}


def collection(branches: list[Branch], year: int, today: date) -> dict[int, dict[int, Totals]]:
    """Each branch's month totals of ``year`` (branch id -> month -> Totals), read in three queries for any
    number of branches: the figures of a community or the street are sums of these."""
    ids = [b.id for b in branches]
    if not ids:
        return {}
    first, last = date(year, 1, 1), date(year, 12, 31)
    members = list(db.session.scalars(
        select(Member).where(Member.branch_id.in_(ids), Member.on_roll_since <= last,
                             (Member.left_roll_on.is_(None)) | (Member.left_roll_on >= first))))
    mids = [m.id for m in members]
    rates, lines = rates_of(mids), live_lines(mids, year)
    out: dict[int, dict[int, Totals]] = {i: {mo: Totals() for mo in range(1, 13)} for i in ids}
    for m in members:
        months = out[m.branch_id]
        for mo in range(1, 13):
            months[mo].add(month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today))
    return out


def grid_sheet(branch: Branch, year: int, rows: list[MemberDues]) -> Sheet:
    """The grid as a worksheet: one row per member, one column per month (the amount paid, or what the
    month is), then the year's total paid; the one writer (qscore/exports.py) makes it a file."""
    words = {"unpaid": _("Unpaid"), "partial": _("Part paid"), "exempt": _("Exempt"), "no_rate": _("No amount set"),
             "future": "", "none": "", "paid": ""}
    header = [_("Member"), _("Monthly due"), *(_("M%(n)d", n=mo) for mo in range(1, 13)), _("Paid this year")]
    body = []
    for r in rows:
        cells = [d.paid if d.paid and d.status in ("paid", "partial") else words[d.status] or None
                 for d in (r.months[mo] for mo in range(1, 13))]
        body.append([r.member.name, r.rate, *cells, r.paid_total])
    title = _("Dues register %(year)d", year=year)
    return Sheet(title=title, header=header, rows=body, heading=f"{branch.name} · {title}",
                 widths=[14, 10, *([9] * 12), 12], formats={i: "0.00" for i in range(1, 15)},
                 borders=True, printable=True)


# -- writing the register ---------------------------------------------------------------------------------

def set_rate(member: Member, monthly: Decimal, effective_from: date, note: str, *, by: User) -> DuesRate:
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


# -- a year's sheet, as a branch keeps it: one row per member, one column per month ----------------------

PAID_WORDS = {"√", "✓", "✔", "已交", "交", "是", "v", "V"}
EXEMPT_WORDS = {"免", "减免", "免交"}


def sheet_columns() -> tuple:
    from .admin.workbooks import Column

    return (Column("member_id", "编号", False, 8, "系统中的党员编号（已按本支部党员填好）"),
            Column("name", "姓名", True, 12, "本支部党员的姓名"),
            *(Column(f"m{mo}", f"{mo}月", False, 9,
                     "交纳日期（如 2026-03-05，按应交金额足额交纳）、金额（如 12.5）、√（当月足额交纳）或 免（经批准减免）")
              for mo in range(1, 13)))


def sheet_template(branch: Branch, year: int) -> bytes:
    from .admin.workbooks import template_workbook

    rows = [[m.id, m.name] for m in branch_members(branch, year)]
    return template_workbook(
        f"{year}年党费", sheet_columns(), rows=rows,
        notes=["第一行是表头，请勿修改；每行一名党员，每列一个月。",
               "单元格可填：交纳日期（按应交金额足额交纳）、金额（当月共交的金额）、√（当月足额交纳）、免（经批准减免，需在导入页填写批准情况）；空白表示未交。",
               "只填金额或 √ 的，交纳日期记为该月最后一天（本月记为今天）。",
               "已足额交纳或减免的月份不会重复登记；同一张表再次导入只补记新增的部分。所有单元格都正确时才会导入；有错误时系统逐格列出，一行也不导入。"])


@dataclass
class Imported:
    lines: list[DuesLine]
    rows: int
    skipped: int   # cells of months settled already: nothing written


class SheetRefused(Refusal):
    """Nothing written: the sheet's errors, cell by cell (admin.workbooks.RowError)."""

    def __init__(self, errors: list):
        self.errors = errors
        super().__init__("sheet_refused", status=422)


def import_sheet(branch: Branch, year: int, data: bytes, *, approval: str, method: str, by: User,
                 today: date) -> Imported:
    """A year's dues sheet into the register, all or nothing: raises SheetRefused with every error found.
    A cell of a month already closed needs the day it was paid (an amount or √ alone would date it the
    month's last day: on time, whenever it was paid)."""
    from .admin.workbooks import RowError, WorkbookError, blank, parse_date, parse_int, read_rows, text

    try:
        sheet = list(read_rows(data, sheet_columns()))  # read and checked whole before the branch is locked
    except WorkbookError as err:
        raise SheetRefused(err.errors) from None
    lock_branches([branch.id])
    closed = set(closes_of(branch, year))
    members = branch_members(branch, year)
    by_id = {m.id: m for m in members}
    by_name: dict[str, list[Member]] = defaultdict(list)
    for m in members:
        by_name[m.name].append(m)
    rates, lines = rates_of(by_id), live_lines(by_id, year)
    errors: list = []
    todo: list[DuesLine] = []
    skipped = rows = 0
    seen: set[int] = set()
    for number, raw in sheet:
        rows += 1
        name, mid = text(raw.get("name")), parse_int(raw.get("member_id"))
        found = by_id.get(mid) if mid is not None else None
        if mid is None and not blank(raw.get("member_id")):
            errors.append(RowError(number, "编号", _("Not a member number of this branch.")))
            continue
        if found is None and mid is not None:
            errors.append(RowError(number, "编号", _("Not a member number of this branch.")))
            continue
        if found is None:
            same = by_name.get(name, [])
            if len(same) != 1:
                errors.append(RowError(number, "姓名", _("No member of this branch is called “%(name)s”.", name=name)
                                       if not same else _("Two members of this branch are called “%(name)s”: "
                                                          "fill in the member number.", name=name)))
                continue
            found = same[0]
        elif name and name != found.name:
            errors.append(RowError(number, "姓名", _("Member number %(id)d is %(name)s, not “%(typed)s”.",
                                                     id=found.id, name=found.name, typed=name)))
            continue
        if found.id in seen:
            errors.append(RowError(number, "姓名", _("%(name)s has a row above already.", name=found.name)))
            continue
        seen.add(found.id)
        if by.member_id == found.id:  # the template lists the secretary too: an empty own row is no error
            if not all(blank(raw.get(f"m{mo}")) for mo in range(1, 13)):
                errors.append(RowError(number, "姓名", _("Your own dues are recorded by another secretary.")))
            continue
        for mo in range(1, 13):
            value = raw.get(f"m{mo}")
            if blank(value):
                continue
            column = f"{mo}月"
            cell = month_dues(found, rates[found.id], lines[found.id][mo], year, mo, today)
            last = month_last(year, mo)
            word = text(value)
            if isinstance(value, str) and has_control_characters(value):
                errors.append(RowError(number, column, _("Contains invisible control characters: please type it again.")))
                continue
            if cell.status == "none":
                errors.append(RowError(number, column, _("%(name)s was not on the roll in this month.", name=found.name)))
                continue
            if cell.status == "nothing_due":
                errors.append(RowError(number, column, _("%(name)s owes nothing for this month.", name=found.name)))
                continue
            if cell.settled:
                skipped += 1
                continue
            if word in EXEMPT_WORDS:
                if not approval.strip():
                    errors.append(RowError(number, column, _("An exemption needs its approval: fill it in on the page.")))
                    continue
                todo.append(DuesLine(member_id=found.id, branch_id=branch.id, year=year, month=mo, kind="exemption",
                                     amount=Decimal(0), paid_on=min(last, today), method="", note=approval.strip(),
                                     recorded_by_id=by.id))
                continue
            if cell.status == "no_rate":
                errors.append(RowError(number, column, _("No monthly amount is set for %(name)s: set it first.",
                                                         name=found.name)))
                continue
            on = parse_date(value) if not isinstance(value, (int, float)) or isinstance(value, bool) else None
            amount = None
            if on is None and word not in PAID_WORDS:
                amount = amount_of(word)
                if amount is None or not AMOUNT_MIN <= amount <= AMOUNT_MAX:
                    errors.append(RowError(number, column, _("“%(v)s” is not a date, an amount, √ or 免.", v=word[:40])))
                    continue
            if on is None:
                if mo in closed:
                    errors.append(RowError(number, column, _("This month is closed: write the day it was paid.")))
                    continue
                if date(year, mo, 1) > today:
                    errors.append(RowError(number, column, _("A month still to come: write the day it was paid.")))
                    continue
                on = min(last, today)
            else:
                try:
                    check_paid_on(on, year, today)
                except DuesError as err:
                    errors.append(RowError(number, column, err.text(_)))
                    continue
            if amount is not None:  # the month's total paid, as the sheet says: only what it adds is new
                amount -= cell.paid
                if amount <= 0:
                    skipped += 1
                    continue
            todo.append(DuesLine(member_id=found.id, branch_id=branch.id, year=year, month=mo, kind="payment",
                                 amount=amount if amount is not None else cell.owed, paid_on=on, method=method,
                                 note="", recorded_by_id=by.id))
    if not errors and not rows:
        errors.append(RowError(0, "", _("The file has no rows under its headers.")))
    if errors:
        raise SheetRefused(errors)
    db.session.add_all(todo)
    db.session.flush()
    audit.record("dues_imported", branch, user=by,
                 summary=f"{branch.name} {year}: {len(todo)} lines from {rows} rows, {skipped} settled months skipped")
    return Imported(todo, rows, skipped)


# -- closing a month: the points ---------------------------------------------------------------------------

@dataclass
class Closed:
    close: DuesClose
    first_close: bool
    j3: list[int] = field(default_factory=list)      # entry ids written now
    k2: list[int] = field(default_factory=list)
    own: list[Member] = field(default_factory=list)  # the closing secretary's own lines: left to another
    refused: list[tuple[Member, str, str]] = field(default_factory=list)  # (member, code, why) not written
    had: int = 0                                     # entries the register had produced before
    by_hand: list[tuple[Member, str]] = field(default_factory=list)  # the ledger had one already: none written
    reminded: bool = False                           # the previous month was closed in time (K2 can follow)
    reminded_late: bool = False                      # ... closed, but after this month had ended
    contradicted: list[Member] = field(default_factory=list)  # no J3: a month of the quarter has a K2


def _role_codes(year: int, role: str) -> list[str]:
    return [i.code for i in scheme_for_year(year).indicators_with(role=role)]


def _codes(year: int) -> tuple[str | None, str | None]:
    """The year's scheme's indicators for dues paid and dues in arrears (by role), if it has them."""
    scheme = scheme_for_year(year)
    paid = next((i.code for i in scheme.indicators_with(role="dues_paid") if not i.retired), None)
    arrears = next((i.code for i in scheme.indicators_with(role="dues_arrears") if not i.retired), None)
    return paid, arrears


def close_month(branch: Branch, year: int, month: int, *, by: User, today: date) -> Closed:
    """Close (or close again) a branch's month and write the points that follow (flushed, not committed).

    The previous month's close is its reminder only when it was made by the end of this month: a month closed
    late (catching up) reminded nobody in time, and its arrears are not deducted. A J3 is not written for a
    quarter with a K2 of one of its months (the register's, or one typed by hand). Notes are in Chinese, the
    street's language, whoever closes.
    """
    last = month_last(year, month)
    if last > today:
        raise DuesError("month_not_ended", "month", month=label(year, month))
    lock_branches([branch.id])
    close = db.session.scalar(select(DuesClose).where(DuesClose.branch_id == branch.id, DuesClose.year == year,
                                                      DuesClose.month == month))
    first_close = close is None
    if close is None:
        close = DuesClose(branch_id=branch.id, year=year, month=month, closed_by_id=by.id, closed_on=today)
        db.session.add(close)
        db.session.flush()
    out = Closed(close, first_close)
    earned_on = min(last, today)
    paid_code, arrears_code = _codes(earned_on.year)
    wanted: list[tuple[Member, str, int, int, list[int], str]] = []  # member, code, year, period, lines, note

    members = [m for m in branch_members(branch, year) if _on_roll_on(m, earned_on)]
    rates = rates_of(m.id for m in members)
    q_months = range(month - 2, month + 1) if month % 3 == 0 else range(0)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]) if has_app_context() else nullcontext():
        if q_months and paid_code:
            q = month // 3
            lines = live_lines([m.id for m in members], year)
            for m in members:
                cells = [month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today) for mo in q_months]
                counted = [c for c in cells if c.status not in ("none", "nothing_due")]
                if counted and all(c.on_time for c in counted):
                    ids = [x.id for c in counted for x in c.lines]
                    wanted.append((m, paid_code, year, q, ids, _(
                        "Dues register: %(year)d Q%(q)d paid on time and in full (register lines %(lines)s)",
                        year=year, q=q, lines=", ".join(map(str, ids)))))
        py, pm = previous_month(year, month)
        reminder = db.session.scalar(select(DuesClose.closed_on).where(
            DuesClose.branch_id == branch.id, DuesClose.year == py, DuesClose.month == pm))
        out.reminded = reminder is not None and reminder <= last
        out.reminded_late = reminder is not None and not out.reminded
        if out.reminded and arrears_code:
            prev_rates = rates if py == year else rates_of(m.id for m in members)
            prev_lines = live_lines([m.id for m in members], py)
            for m in members:
                c = month_dues(m, prev_rates[m.id], prev_lines[m.id][pm], py, pm, today)
                if c.status in OWED:
                    ids = [x.id for x in c.lines]
                    wanted.append((m, arrears_code, py, pm, ids,
                                   _("Dues register: %(month)s still owes %(owed)s yuan after the reminder",
                                     month=label(py, pm), owed=c.owed)
                                   + (_(" (part paid: register lines %(lines)s)", lines=", ".join(map(str, ids)))
                                      if ids else "")))
    ids_wanted = [w[0].id for w in wanted] or [0]
    points = list(db.session.scalars(select(DuesPoint).where(DuesPoint.member_id.in_(ids_wanted))))
    have = {(p.member_id, p.indicator_code, p.year, p.period) for p in points}
    # An entry of the same indicator typed by hand stands for the register's, each for one period only: a J3
    # earned in the quarter or the month after it; a K2 earned in the month owed or the month after it.
    after = month_last(*next_month(year, month))
    first = min([date(py, pm, 1)] + ([date(year, q_months[0], 1)] if q_months else []))
    by_hand = _live_in(ids_wanted, [c for c in (paid_code, arrears_code) if c], first, after)
    k2_months = {(p.member_id, p.year, p.period) for p in points if p.indicator_code == arrears_code}
    for m, code, y, period, _ids, _note in sorted(wanted, key=lambda w: (w[1] != arrears_code, w[2], w[3])):
        if (m.id, code, y, period) in have:
            continue
        days = by_hand.get((m.id, code), [])
        first_month = 3 * period - 2 if code == paid_code else period
        span = (date(y, first_month, 1), month_last(*next_month(y, 3 * period if code == paid_code else period)))
        hit = next((d for d in sorted(days) if span[0] <= d <= span[1]), None)
        if hit is not None:
            days.remove(hit)  # consumed: one hand entry stands for one period
            have.add((m.id, code, y, period))
            out.by_hand.append((m, code))
            if code == arrears_code:
                k2_months.add((m.id, y, period))
    out.had = db.session.scalar(select(func.count()).select_from(DuesPoint).where(DuesPoint.close_id == close.id))
    todo = []
    for m, code, y, period, ids, note in wanted:
        if (m.id, code, y, period) in have:
            continue
        if code == paid_code and any((m.id, y, mo) in k2_months for mo in q_months):
            out.contradicted.append(m)  # a month of the quarter was deducted as owed: no J3 for it
            continue
        if by.member_id == m.id:
            out.own.append(m)
            continue
        todo.append((m, code, y, period, ids, ledger.NewEntry(
            member=m, indicator_code=code, value=None, earned_on=earned_on, note=note[:ledger.NOTE_MAX],
            source="dues", idempotency_key=f"dues:{code}:{m.id}:{y}:{period}")))
    checked = ledger.check_entries([t[5] for t in todo], today=today)
    ok = []
    for t, c in zip(todo, checked):
        if isinstance(c, Exception):
            out.refused.append((t[0], t[1], ledger.error_field_and_text(c, _)[1]))
        else:
            ok.append((t, c))
    ids = ledger.write_entries([c for _t, c in ok], user=by)
    for ((m, code, y, period, line_ids, _n), _c), entry_id in zip(ok, ids):
        db.session.add(DuesPoint(entry_id=entry_id, member_id=m.id, indicator_code=code, year=y, period=period,
                                 close_id=close.id, lines=",".join(map(str, line_ids))))
        (out.j3 if code == paid_code else out.k2).append(entry_id)
    db.session.flush()
    audit.record("dues_month_closed", close, user=by,
                 summary=f"{branch.name} {label(year, month)}: {len(out.j3)} {paid_code or J3}, "
                         f"{len(out.k2)} {arrears_code or K2} written" + ("" if first_close else " (closed again)"))
    return out


def _live_in(member_ids: list[int], codes: list[str], first: date, last: date) -> dict[tuple[int, str], list[date]]:
    """Days of the members' live entries of ``codes`` earned between ``first`` and ``last``, other than the
    register's own."""
    out: dict[tuple[int, str], list[date]] = defaultdict(list)
    if member_ids and codes:
        for mid, code, on in db.session.execute(
                select(PointEntry.member_id, PointEntry.indicator_code, PointEntry.earned_on)
                .outerjoin(DuesPoint, DuesPoint.entry_id == PointEntry.id)
                .where(PointEntry.member_id.in_(member_ids), PointEntry.indicator_code.in_(codes),
                       PointEntry.earned_on >= first, PointEntry.earned_on <= last, live_entry_clause(),
                       DuesPoint.entry_id.is_(None))):
            out[(mid, code)].append(on)
    return out


def register_disagrees(member: Member, role: str, earned_on: date, today: date) -> tuple[str, list[str]] | None:
    """What the register says against a J3 or K2 typed by hand: ("unpaid", months of the quarter not paid on
    time and in full) for a J3, ("paid", the months settled) for a K2 whose month and the one before are both
    settled. None when it agrees, or when the member's dues are not kept in the register (no amount set)."""
    y, m = earned_on.year, earned_on.month
    code_periods = ([(y, (m - 1) // 3 + 1)] if role == "dues_paid" else [previous_month(y, m), (y, m)])
    written = db.session.scalars(select(DuesPoint).join(PointEntry, PointEntry.id == DuesPoint.entry_id).where(
        DuesPoint.member_id == member.id, PointEntry.indicator_code.in_(_role_codes(y, role)),
        tuple_(DuesPoint.year, DuesPoint.period).in_(code_periods), live_entry_clause())).first()
    if written is not None:  # the register wrote this period's entry already
        return "written", [f"{written.year} Q{written.period}" if role == "dues_paid"
                           else label(written.year, written.period)]
    rates = rates_of([member.id])[member.id]
    if not rates:
        return None
    if role == "dues_paid":
        months = [(y, mo) for mo in range(3 * ((m - 1) // 3) + 1, 3 * ((m - 1) // 3) + 4)]
    else:
        months = [previous_month(y, m), (y, m)]
    lines = {yy: live_lines([member.id], yy)[member.id] for yy in {yy for yy, _mo in months}}
    cells = [(yy, mo, month_dues(member, rates, lines[yy][mo], yy, mo, today)) for yy, mo in months]
    if role == "dues_paid":
        bad = [label(yy, mo) for yy, mo, c in cells if c.status != "none" and not c.on_time]
        return ("unpaid", bad) if bad else None
    counted = [(yy, mo, c) for yy, mo, c in cells if c.status != "none"]
    if counted and all(c.settled for _y, _m, c in counted):
        return "paid", [label(yy, mo) for yy, mo, _c in counted]
    return None


def closes_of(branch: Branch, year: int) -> dict[int, DuesClose]:
    return {c.month: c for c in db.session.scalars(select(DuesClose).where(DuesClose.branch_id == branch.id,
                                                                          DuesClose.year == year))}


def produced(entry_ids: Iterable[int]) -> dict[int, DuesPoint]:
    """The register's record of entries it produced (the booklet names the lines)."""
    ids = list(entry_ids)
    return {p.entry_id: p for p in db.session.scalars(select(DuesPoint).where(DuesPoint.entry_id.in_(ids)))} if ids else {}


def live_points(member_ids: Iterable[int], year: int) -> dict[int, list[PointEntry]]:
    """The live ledger entries the register produced for members in ``year`` (a test and the grid read them)."""
    out: dict[int, list[PointEntry]] = defaultdict(list)
    ids = list(member_ids)
    if ids:
        for e in db.session.scalars(select(PointEntry).join(DuesPoint, DuesPoint.entry_id == PointEntry.id)
                                    .where(DuesPoint.member_id.in_(ids), DuesPoint.year == year, live_entry_clause())):
            out[e.member_id].append(e)
    return out
