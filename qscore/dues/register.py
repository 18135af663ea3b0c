"""What the dues register says: each member's month (due, paid, on time), a branch's year, streaks owed,
collection totals, and the months a branch has closed."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Iterable

from sqlalchemy import Select, select

from ..db import db
from ..figures import Ratio, month_last_day as month_last
from ..models import Branch, DuesClose, DuesLine, DuesRate, Member
from ..refusals import Refusal
from ..scheme import N_
from ..scheme_versions import scheme_for_year
from ..scoring import RegisterMonths

J3, K2 = "J3", "K2"  # the default scheme's codes; a year's scheme names them by role (dues_paid, dues_arrears)

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
    # The scheme's thresholds of the year (the roster's warning and the review's flag use the same).
    warn_at: int = 3
    flag_at: int = 6

    @property
    def paid_total(self) -> Decimal:
        return sum((m.paid for m in self.months.values()), Decimal(0))

    @property
    def warning(self) -> str:
        """"flag" from the scheme's rectify streak (K2's note: six months), "warn" from its warning streak."""
        return "flag" if self.streak >= self.flag_at else "warn" if self.streak >= self.warn_at else ""


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
    # As the month stood on ``today``: a payment dated after it does not count (an earlier month looked back at).
    for line in sorted((x for x in lines if x.kind == "payment" and (x.paid_on is None or x.paid_on <= today)),
                       key=lambda x: (x.paid_on or date.max, x.id or 0)):
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


# What month_dues reads of a line, as plain rows: a third of the time of loading the lines as objects.
_LINE_FACTS = select(DuesLine.id, DuesLine.member_id, DuesLine.month, DuesLine.kind, DuesLine.amount,
                     DuesLine.paid_on, DuesLine.corrects_id)


def live_lines(member_ids: Iterable[int], year: int, *, facts_only: bool = False,
               months: Iterable[int] | None = None) -> dict[int, dict[int, list[DuesLine]]]:
    """Payment and exemption lines of ``year`` (of some ``months`` only) not voided, by member and month
    (``facts_only``: as rows of what month_dues reads, for a reader that shows no line)."""
    ids = list(member_ids)
    out: dict[int, dict[int, list[DuesLine]]] = defaultdict(lambda: defaultdict(list))
    if not ids:
        return out
    where = (DuesLine.member_id.in_(ids), DuesLine.year == year,
             *([DuesLine.month.in_(list(months))] if months is not None else []))
    rows = (db.session.execute(_LINE_FACTS.where(*where).order_by(DuesLine.id)).all() if facts_only else
            db.session.scalars(select(DuesLine).where(*where).order_by(DuesLine.id)).all())
    voided = {x.corrects_id for x in rows if x.kind == "void"}
    for x in rows:
        if x.kind != "void" and x.id not in voided:
            out[x.member_id][x.month].append(x)
    return out


def rates_of(member_ids: Iterable[int], *, facts_only: bool = False) -> dict[int, list[DuesRate]]:
    """Each member's amounts, in the order they take effect (``facts_only``: as rows of what rate_in_force reads)."""
    ids = list(member_ids)
    out: dict[int, list[DuesRate]] = defaultdict(list)
    if ids:
        stmt = (select(DuesRate.member_id, DuesRate.effective_from, DuesRate.monthly) if facts_only else
                select(DuesRate)).where(DuesRate.member_id.in_(ids))
        stmt = stmt.order_by(DuesRate.member_id, DuesRate.effective_from, DuesRate.id)
        for r in (db.session.execute(stmt) if facts_only else db.session.scalars(stmt)):
            out[r.member_id].append(r)
    return out


def members_of(branch_ids: list[int], year: int) -> Select:
    """The branches' members on the roll at some time of ``year`` (active ones, and those who left during it)."""
    first, last = date(year, 1, 1), date(year, 12, 31)
    return select(Member).where(Member.branch_id.in_(branch_ids), Member.on_roll_since <= last,
                                (Member.left_roll_on.is_(None)) | (Member.left_roll_on >= first))


def branch_members(branch: Branch, year: int) -> list[Member]:
    """members_of one branch, in the grid's order (pinyin)."""
    return list(db.session.scalars(members_of([branch.id], year).order_by(Member.name_key, Member.name, Member.id)))


def register(branch: Branch, year: int, today: date) -> list[MemberDues]:
    """The branch's grid of ``year``: every member on the roll that year, twelve months each, and (for the
    current year) how many months in a row each owes up to the last month ended, across the year's start."""
    members = branch_members(branch, year)
    ids = [m.id for m in members]
    # Read as rows of what a month's state needs (the grid and its export show no line itself).
    rates, lines = rates_of(ids, facts_only=True), live_lines(ids, year, facts_only=True)
    shown = today.month if today.year == year else 12
    rows = [MemberDues(m, rate_in_force(rates[m.id], year, shown),
                       {mo: month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today) for mo in range(1, 13)})
            for m in members]
    if year == today.year:
        _streaks(rows, rates, today)
    _thresholds(rows, year)
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
    _thresholds([row], year)
    lines = list(db.session.scalars(select(DuesLine).where(DuesLine.member_id == member.id, DuesLine.year == year)
                                    .order_by(DuesLine.month, DuesLine.id)))
    return row, lines


OWED = ("unpaid", "partial")


def _thresholds(rows: list[MemberDues], year: int) -> None:
    th = scheme_for_year(year).thresholds
    for r in rows:
        r.warn_at, r.flag_at = th.warning_streak_months, th.rectify_streak_months


def _streaks(rows: list[MemberDues], rates: dict[int, list[DuesRate]], today: date) -> None:
    """Set each row's streak: months owed in a row ending with the last month ended (last year's months are
    read only for the rows whose streak reaches January)."""
    year = today.year
    ended = today.month - 1 if month_last(year, today.month) > today else today.month
    reach_back = []
    for r in rows:
        n = 0
        for mo in range(ended, 0, -1):
            if r.months[mo].status not in OWED:
                break
            n += 1
        r.streak = n
        if n == ended:
            reach_back.append(r)
    if reach_back:
        before = live_lines([r.member.id for r in reach_back], year - 1, facts_only=True)
        for r in reach_back:
            for mo in range(12, 0, -1):
                if month_dues(r.member, rates[r.member.id], before[r.member.id][mo], year - 1, mo,
                              today).status not in OWED:
                    break
                r.streak += 1


def last_ended(day: date) -> tuple[int, int]:
    """The last month ended by ``day`` (its last day reached)."""
    return (day.year, day.month) if month_last(day.year, day.month) <= day else previous_month(day.year, day.month)


def _since(rates: list) -> tuple[int, int]:
    """The month the register starts to speak for a member: their first amount due."""
    first = rates[0].effective_from
    return first.year, first.month


def owed_run(members: Iterable[Member], as_of: date, limit: int = 12) -> dict[int, RegisterMonths]:
    """For each member on the register (a monthly amount set), the months owed in a row up to the last month
    ended by ``as_of`` (none when that month is settled), at most ``limit``, as it stood that day: what the
    early warnings count, with the month the register starts from (the ledger tells the months before).
    The last month ended is read for everyone, the months before it only for those still owing."""
    members = list(members)
    rates = rates_of([m.id for m in members], facts_only=True)
    walking = [m for m in members if rates.get(m.id)]
    owed: dict[int, set[tuple[int, int]]] = {m.id: set() for m in walking}
    year, month = last_ended(as_of)
    for y, months in ((year, [month]), (year, list(range(month - 1, 0, -1))), (year - 1, list(range(12, 0, -1)))):
        if not walking or not months:
            continue
        lines = live_lines([m.id for m in walking], y, facts_only=True, months=months)
        still = []
        for m in walking:
            for mo in months:
                if len(owed[m.id]) >= limit or month_dues(m, rates[m.id], lines[m.id][mo], y, mo, as_of).status \
                        not in OWED:
                    break
                owed[m.id].add((y, mo))
            else:
                still.append(m)
        walking = still
    return {mid: RegisterMonths(_since(rates[mid]), frozenset(months)) for mid, months in owed.items()}


def owed_months(members: Iterable[Member], as_of: date, months: int = 12) -> dict[int, RegisterMonths]:
    """The months (year, month) each member on the register owed as ``as_of`` stood, among the ``months``
    months ended by then (unpaid or part paid, as the grid's streak counts them), with the month the register
    starts from. Only members with a monthly amount set are keys."""
    members = list(members)
    rates = rates_of([m.id for m in members], facts_only=True)
    on_register = [m for m in members if rates.get(m.id)]
    if not on_register:
        return {}
    window = [last_ended(as_of)]
    while len(window) < months:
        window.append(previous_month(*window[-1]))
    lines = {y: live_lines([m.id for m in on_register], y, facts_only=True) for y in {y for y, _m in window}}
    return {m.id: RegisterMonths(_since(rates[m.id]), frozenset(
                (y, mo) for y, mo in window
                if month_dues(m, rates[m.id], lines[y][m.id][mo], y, mo, as_of).status in OWED))
            for m in on_register}


def quarter_settled(members: Iterable[Member], year: int, quarter: int, day: date) -> dict[int, bool]:
    """For each member on the register with something due in the quarter (a month on the roll with an amount
    set above zero): whether, by ``day``, every such month is paid in full or exempt (what a publication
    freezes as "党费已交" for the noticeboard, when the street shows it). Members with nothing due are left out."""
    members = list(members)
    rates = rates_of([m.id for m in members], facts_only=True)
    on_register = [m for m in members if rates.get(m.id)]
    months = range(3 * quarter - 2, 3 * quarter + 1)
    lines = live_lines([m.id for m in on_register], year, facts_only=True, months=months)
    out = {}
    for m in on_register:
        due = [d for d in (month_dues(m, rates[m.id], lines[m.id][mo], year, mo, day) for mo in months)
               if d.status not in ("none", "nothing_due", "no_rate")]
        if due:
            out[m.id] = all(d.settled for d in due)
    return out


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
    members = list(db.session.scalars(members_of(ids, year)))
    mids = [m.id for m in members]
    rates, lines = rates_of(mids, facts_only=True), live_lines(mids, year, facts_only=True)
    out: dict[int, dict[int, Totals]] = {i: {mo: Totals() for mo in range(1, 13)} for i in ids}
    for m in members:
        months = out[m.branch_id]
        for mo in range(1, 13):
            months[mo].add(month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today))
    return out


def closes_of(branch: Branch, year: int) -> dict[int, DuesClose]:
    return {c.month: c for c in db.session.scalars(select(DuesClose).where(DuesClose.branch_id == branch.id,
                                                                          DuesClose.year == year))}


