"""How points add up: the only place that knows the scheme's rules (see scheme.default.json "rules").

Two layers, in this one module so the rules live in one place:

1. Pure functions (no Flask, no database): a member's type history and a ``MemberLedger`` of live
   points summed per (indicator, category, month) go in; a ``YearScore``, ``PeriodPoints``, a
   ``Grade`` and early warnings come out. Arithmetic is exact: sums and month/quarter caps in
   ``Decimal`` (no division, so exact at any realistic size), anything pro-rated over 12 months in
   ``Fraction``; only a final figure is rounded, half up, to one decimal.
2. The SQL layer (``fetch_ledgers``, ``fetch_type_histories``, ``score_members``,
   ``member_warnings``): a constant number of grouped queries for any number of members, on SQLite
   and PostgreSQL alike.

Rules name indicators by their flags and roles (veto, heavier, absence, dues_arrears), never by code.

Decisions where the scheme's rules are silent (each is repeated where it is implemented):
- Caps apply to entries stored under J or Z; K is never capped, even if a K indicator had caps.
  An entry whose indicator is no longer in the scheme counts in its stored category, uncapped.
- A quarter cap is consumed in month order, so month points add up to the quarter's points.
- A cap counts as "reached" when the uncapped amount is at least the cap.
- A year_cap_by_type without a value for some month's type falls back to year_cap; if that is
  missing too the indicator is uncapped for the year.
- Months after as_of take the type in force on as_of; an as_of after Dec 31 means Dec 31.
- Months on the roll count the month of on_roll_since in full, up to December (see months_on_roll).
  The grade as of a date before Dec 31 is a projection: quarters not reached yet have no
  contribution, so "advanced" appears only once earned.
- Not graded for leaving: status not "active" and left_roll_on in or before the year (or missing).
- Rectify wins over advanced; every rectify reason that applies is listed.
- An early-warning streak must end in as_of's month or the one before; "no entries" needs the
  member on the roll since the window's first month.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Iterable, Mapping, NamedTuple, Protocol, Sequence

from sqlalchemy import Integer, and_, exists, extract, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.functions import FunctionElement

from .models.ledger import PointEntry
from .models.members import MemberType
from .scheme import Indicator, Scheme
from .refusals import Refusal


def N_(s: str) -> str:
    """Marks a string for extraction by Babel; the UI translates it when it is shown."""
    return s


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

ZERO = Fraction(0)
DZERO = Decimal(0)
ONE_DECIMAL = Decimal("0.1")
SCORED_CATEGORIES = ("J", "Z")  # positive categories: capped; K (deductions) is never capped
Key = tuple[str, str, int]  # (indicator_code, category, month 1-12)
TypeHistory = Sequence[tuple[date, str]]


def round_half_up(value: Fraction | Decimal | int) -> Decimal:
    """Round exactly to one decimal, ties away from zero (Decimal's ROUND_HALF_UP), without floats.

    Done on integers so that a long fraction can never be rounded twice (28-digit Decimal context).
    """
    if isinstance(value, Decimal):  # already exact: quantize rounds it exactly (and fast)
        d = value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)
        return d if d else Decimal("0.0")  # never "-0.0"
    x = Fraction(value)
    q = math.floor(abs(x) * 10 + Fraction(1, 2))
    if q == 0:
        return Decimal("0.0")
    return Decimal(-q if x < 0 else q).scaleb(-1)


def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1


def quarter_months(quarter: int) -> range:
    return range(3 * quarter - 2, 3 * quarter + 1)


def _year_end(year: int) -> date:
    return date(year, 12, 31)


def _effective_as_of(year: int, as_of: date) -> date:
    """The year score is the score as of Dec 31: a later as_of means Dec 31."""
    return min(as_of, _year_end(year))


def _last_month(year: int, as_of: date) -> int:
    """The last month of ``year`` whose entries count as of ``as_of`` (0: none yet)."""
    d = _effective_as_of(year, as_of)
    return d.month if d.year == year else 0


def _ym(index: int) -> str:
    """Month index (year * 12 + month - 1) as 'YYYY-MM'."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def longest_run(months: Iterable[int]) -> tuple[int, int | None, int | None]:
    """The longest run of consecutive integers: (length, first, last); (0, None, None) if empty."""
    best = (0, None, None)
    values = sorted(set(months))
    start = prev = None
    for m in values:
        if prev is not None and m == prev + 1:
            prev = m
        else:
            start = prev = m
        if prev - start + 1 > best[0]:
            best = (prev - start + 1, start, prev)
    return best


# ---------------------------------------------------------------------------------------------
# Structured reasons and warnings (texts translated by the UI)
# ---------------------------------------------------------------------------------------------

REASON_TEXTS: dict[str, str] = {
    # grades
    "advanced": N_("Score {score} reaches {min}; contribution in {quarters} quarter(s) ({required} needed); "
                   "no heavier deduction or veto."),
    # Two texts, so a score at the advanced minimum is never called "below" it.
    "score_qualified": N_("Score {score}: at least {min} and below {advanced_min}."),
    "score_qualified_barred": N_("Score {score} reaches {advanced_min}, but 'advanced' is barred:"),
    "heavier_bars_advanced": N_("A heavier deduction ({indicator}, {date}) bars 'advanced'."),
    "too_few_contribution_quarters": N_("Contribution entries in {quarters} quarter(s) on the roll; "
                                        "{required} needed for 'advanced'."),
    "score_below_qualified": N_("Score {score} is below the qualified minimum {min}."),
    "veto": N_("Veto ({indicator}, {date}): the year score is 0."),
    "absence_streak": N_("Unexcused absence in {months} consecutive months ({start} to {end})."),
    "dues_arrears_streak": N_("Dues in arrears in {months} consecutive months ({start} to {end})."),
    "not_graded_left_roll": N_("Not graded: left the roll on {date}."),
    "not_graded_short_roll": N_("Not graded: on the roll since {since} ({months} month(s) of the year; "
                                "{min} needed)."),
    # early warnings
    "warning_absence_streak": N_("Early warning: unexcused absence in {months} consecutive months "
                                 "({start} to {end})."),
    "warning_dues_arrears_streak": N_("Early warning: dues in arrears in {months} consecutive months "
                                      "({start} to {end})."),
    "warning_no_entries": N_("Early warning: no entries in the last {months} months ({start} to {end})."),
}


@dataclass(frozen=True)
class Reason:
    """A reason for a grade, or an early warning: a key of REASON_TEXTS and its string params."""

    key: str
    params: dict[str, str] = field(default_factory=dict)

    def text(self, gettext=lambda s: s) -> str:
        return gettext(REASON_TEXTS[self.key]).format(**self.params)


# ---------------------------------------------------------------------------------------------
# The ledger as the rules see it: live points summed per (indicator, category, month)
# ---------------------------------------------------------------------------------------------

class Entry(NamedTuple):
    """One ledger row as the pure layer sees it (tests and in-memory callers)."""

    indicator_code: str
    category: str
    earned_on: date
    points: Decimal
    id: int | None = None
    corrects_id: int | None = None


def live_entries(entries: Iterable[Entry]) -> list[Entry]:
    """Entries that count: not a correction, and not corrected (the SQL layer's rule, in Python)."""
    entries = list(entries)
    corrected = {e.corrects_id for e in entries if e.corrects_id is not None}
    return [e for e in entries if e.corrects_id is None and (e.id is None or e.id not in corrected)]


@dataclass
class MemberLedger:
    """A member's LIVE points of one year, summed per (indicator_code, category, month).

    ``counts`` says how many live entries make up each sum (a veto's points are 0, so presence is
    read from counts, not sums); ``first_dates`` the earliest date earned under each key (for
    reasons such as "heavier deduction on 2026-03-05"). The sums must hold only entries earned on
    or before the as_of date they are scored for.
    """

    sums: dict[Key, Decimal] = field(default_factory=dict)
    counts: dict[Key, int] = field(default_factory=dict)
    first_dates: dict[Key, date] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], *, year: int | None = None,
                     as_of: date | None = None) -> "MemberLedger":
        """Aggregate raw entries exactly as ``fetch_ledgers`` does: live only, within the year, to as_of."""
        ledger = cls()
        for e in live_entries(entries):
            if year is not None and e.earned_on.year != year:
                continue
            if as_of is not None and e.earned_on > as_of:
                continue
            ledger.add(e.indicator_code, e.category, e.earned_on, Decimal(e.points))
        return ledger

    def add(self, indicator_code: str, category: str, earned_on: date, points: Decimal, count: int = 1) -> None:
        key = (indicator_code, category, earned_on.month)
        self.sums[key] = self.sums.get(key, Decimal(0)) + points
        self.counts[key] = self.counts.get(key, 0) + count
        if key not in self.first_dates or earned_on < self.first_dates[key]:
            self.first_dates[key] = earned_on

    def months_with(self, codes: Iterable[str], last_month: int = 12) -> set[int]:
        """Months (1-12, up to last_month) with at least one live entry of these indicators."""
        codes = frozenset(codes)
        return {m for (code, _cat, m), n in self.counts.items() if n and code in codes and m <= last_month}

    def quarters_with_category(self, category: str, last_month: int = 12) -> set[int]:
        return {quarter_of(m) for (_code, cat, m), n in self.counts.items()
                if n and cat == category and m <= last_month}

    def first_date(self, code: str, last_month: int = 12) -> date | None:
        dates = [d for (c, _cat, m), d in self.first_dates.items() if c == code and m <= last_month
                 and self.counts.get((c, _cat, m))]
        return min(dates) if dates else None


# ---------------------------------------------------------------------------------------------
# Types: the type of a month, pro-rating
# ---------------------------------------------------------------------------------------------

class MissingTypeHistory(ValueError):
    """A member without any type record cannot be scored (every member is classified on entry)."""


def _sorted_history(history: TypeHistory) -> list[tuple[date, str]]:
    if not history:
        raise MissingTypeHistory("the member has no type record")
    # A stable sort: rows given in (effective_from, id) order keep it, so a later row on a date wins.
    return sorted(((d, t) for d, t in history), key=lambda r: r[0])


def type_on(history: TypeHistory, day: date) -> str:
    """The type in force on ``day``: the last record effective on or before it.

    Before the first record (before the member came onto the roll) the first record's type, the
    type at joining, applies. Among records with the same effective date, the last one given wins.
    """
    hist = _sorted_history(history)
    i = bisect_right([d for d, _ in hist], day)
    return hist[i - 1][1] if i else hist[0][1]


def month_types(history: TypeHistory, year: int, as_of: date) -> tuple[str, ...]:
    """The type of each month of ``year`` (12 items) for a score as of ``as_of``.

    The type of a month is the type in force on its first day; months starting after as_of assume
    the type in force on as_of (a later-dated type record is not anticipated).
    """
    d = _effective_as_of(year, as_of)
    on_d = type_on(history, d)
    return tuple(
        type_on(history, date(year, m, 1)) if date(year, m, 1) <= d else on_d for m in range(1, 13)
    )


def prorate(values: Sequence[Decimal | None]) -> Fraction | None:
    """sum(value of each month's type) / 12, exactly; None (no cap) if any month has none."""
    if any(v is None for v in values):
        return None
    return Fraction(sum(values, DZERO)) / 12  # the Decimal sum is exact; one division


def indicator_year_cap(indicator: Indicator, types: Sequence[str]) -> Fraction | None:
    """A year_cap_by_type is pro-rated by the type of each month; a plain year_cap is flat.

    A type missing from year_cap_by_type falls back to year_cap; if that is missing too the
    indicator is uncapped for that type, and a year with any such month is uncapped (an infinite
    term makes the pro-rated sum infinite).
    """
    if indicator.year_cap_by_type:
        return prorate([indicator.year_cap_for(t) for t in types])
    return None if indicator.year_cap is None else Fraction(indicator.year_cap)


# ---------------------------------------------------------------------------------------------
# Capping, month and quarter points
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CapHit:
    """A cap reached: scope 'month'/'quarter' (with period = month or quarter number), 'year'
    (an indicator's year cap) or 'category' (code J or Z). Reached means the uncapped amount is at
    least the cap, so one more entry would add nothing."""

    scope: str
    code: str
    period: int | None = None


_SCOPE_ORDER = {"month": 0, "quarter": 1, "year": 2, "category": 3}


@dataclass(frozen=True)
class PeriodPoints:
    """Earned points of a month or quarter by category, rounded to one decimal; total = J + Z + K."""

    j: Decimal = Decimal("0.0")
    z: Decimal = Decimal("0.0")
    k: Decimal = Decimal("0.0")

    @property
    def total(self) -> Decimal:
        return self.j + self.z + self.k

    def as_strings(self) -> dict[str, str]:
        """For snapshots: {'J': '3.0', 'Z': ..., 'K': ..., 'total': ...}."""
        return {"J": str(self.j), "Z": str(self.z), "K": str(self.k), "total": str(self.total)}

    @classmethod
    def from_exact(cls, by_cat: Mapping[str, Decimal]) -> "PeriodPoints":
        return cls(*(round_half_up(by_cat.get(c, DZERO)) for c in ("J", "Z", "K")))


@dataclass(frozen=True)
class _Group:
    """One (indicator, stored category) of a member's year after month and quarter caps."""

    code: str
    category: str
    raw: Decimal                  # live points, no caps
    months: tuple[Decimal, ...]   # 12 values after month and quarter caps
    hits: tuple[CapHit, ...]


def _cap_group(indicator: Indicator | None, code: str, category: str, by_month: Mapping[int, Decimal]) -> _Group:
    """Month caps, then quarter caps, for one indicator's monthly sums.

    Caps apply to J and Z only (K is never capped) and only to indicators in the scheme: an entry
    under an indicator the scheme no longer has counts in its stored category without caps.
    Within a quarter the quarter cap is consumed in month order, so a quarter's months add up to
    the quarter's points (month points shown on the booklet agree with the quarter's).
    """
    raw = sum(by_month.values(), DZERO)
    capped = category in SCORED_CATEGORIES and indicator is not None
    if not capped:
        return _Group(code, category, raw, tuple(by_month.get(m, DZERO) for m in range(1, 13)), ())
    month_cap = indicator.month_cap
    quarter_cap = indicator.quarter_cap
    hits: list[CapHit] = []
    months: list[Decimal] = []
    for q in range(1, 5):
        used = DZERO
        before_quarter_cap = DZERO
        for m in quarter_months(q):
            value = by_month.get(m, DZERO)
            if month_cap is not None:
                if value >= month_cap:
                    hits.append(CapHit("month", code, m))
                value = min(value, month_cap)
            before_quarter_cap += value
            if quarter_cap is not None and value > 0:
                value = min(value, max(quarter_cap - used, DZERO))
            used += value
            months.append(value)
        if quarter_cap is not None and before_quarter_cap >= quarter_cap:
            hits.append(CapHit("quarter", code, q))
    return _Group(code, category, raw, tuple(months), tuple(hits))


def _groups(scheme: Scheme, ledger: MemberLedger, last_month: int) -> list[_Group]:
    by_group: dict[tuple[str, str], dict[int, Decimal]] = defaultdict(dict)
    for (code, category, month), points in ledger.sums.items():
        if 1 <= month <= last_month:
            by_group[(code, category)][month] = Decimal(points)
    return [
        _cap_group(scheme.indicators.get(code), code, category, by_month)
        for (code, category), by_month in sorted(by_group.items())
    ]


def _month_totals(groups: Sequence[_Group]) -> list[dict[str, Decimal]]:
    """Per month (index 0 = January), the category sums after month and quarter caps."""
    totals: list[dict[str, Decimal]] = [defaultdict(Decimal) for _ in range(12)]
    for g in groups:
        for i, value in enumerate(g.months):
            if value:
                totals[i][g.category] += value
    return totals


def _period_points(groups: Sequence[_Group], months: Iterable[int]) -> PeriodPoints:
    totals = _month_totals(groups)
    by_cat: dict[str, Decimal] = defaultdict(Decimal)
    for m in months:
        for cat, value in totals[m - 1].items():
            by_cat[cat] += value
    return PeriodPoints.from_exact(by_cat)


def month_points(scheme: Scheme, ledger: MemberLedger, month: int) -> PeriodPoints:
    """Earned points of a month: live points after month and quarter caps, before year and
    category caps (roster, booklet, board)."""
    return _period_points(_groups(scheme, ledger, 12), [month])


def quarter_points(scheme: Scheme, ledger: MemberLedger, quarter: int) -> PeriodPoints:
    """Earned points of a calendar quarter (1-4), after month and quarter caps only."""
    return _period_points(_groups(scheme, ledger, 12), quarter_months(quarter))


# ---------------------------------------------------------------------------------------------
# The year score
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class YearScore:
    """A year score to date, exactly. ``score`` is the only rounded figure (half up, one decimal)."""

    score: Decimal
    exact: Fraction                 # after floor and veto, before rounding
    base: Fraction                  # pro-rated
    basic_cap: Fraction             # pro-rated
    contribution_cap: Fraction      # pro-rated
    j_raw: Decimal                  # live J points, no caps
    z_raw: Decimal
    j_uncapped: Fraction            # after month/quarter/year caps, before the category cap
    z_uncapped: Fraction
    j: Fraction                     # capped
    z: Fraction
    k: Fraction                     # never capped
    veto: bool
    caps_reached: tuple[CapHit, ...]
    month_types: tuple[str, ...]    # the type of each month, Jan..Dec
    months: tuple[PeriodPoints, ...]    # earned points per month, Jan..Dec
    quarters: tuple[PeriodPoints, ...]  # earned points per quarter, Q1..Q4

    @property
    def max_score(self) -> Fraction:
        """The most a member can reach: pro-rated base + basic cap + contribution cap."""
        return self.base + self.basic_cap + self.contribution_cap


def year_score(scheme: Scheme, year: int, as_of: date, history: TypeHistory, ledger: MemberLedger) -> YearScore:
    """Year score to date as of ``as_of`` (the year score when as_of is Dec 31 or later).

    Per indicator: month caps, quarter caps, then the indicator's year cap (pro-rated if by type);
    then J and Z sums capped at the pro-rated basic/contribution caps; K added uncapped;
    base pro-rated; total floored at 0; any live entry of a 'veto' indicator makes it 0.
    Entries in months after as_of's month are ignored (the ledger should hold none).

    Computed in integers (see "The fast path" below); the rules as written are
    ``_year_score_reference``, which decides whatever the integers cannot represent exactly.
    """
    tables = _tables(scheme)
    fast = _fast_year(scheme, tables, year, as_of, history, ledger) if tables.ok else None
    if fast is not None:
        return fast[0]
    return _year_score_reference(scheme, year, as_of, history, ledger)


def _year_score_reference(scheme: Scheme, year: int, as_of: date, history: TypeHistory,
                          ledger: MemberLedger) -> YearScore:
    """year_score as the rules are written: Decimal sums, Fraction pro-rating, one rounding.

    The specification the fast path is tested against (tests/test_scoring_perf_equivalence.py),
    and its fallback for values it does not take (more decimals than the scheme's, non-Decimal
    numbers, a scheme whose month or quarter cap is not positive).
    """
    last = _last_month(year, as_of)
    types = month_types(history, year, as_of)
    tdefs = [scheme.types[t] for t in types]
    base = prorate([t.base for t in tdefs])
    basic_cap = prorate([t.basic_cap for t in tdefs])
    contribution_cap = prorate([t.contribution_cap for t in tdefs])

    groups = _groups(scheme, ledger, last)
    raw: dict[str, Decimal] = defaultdict(Decimal)
    after_indicator: dict[str, Fraction] = defaultdict(Fraction)
    hits: list[CapHit] = []
    for g in groups:
        raw[g.category] += g.raw
        hits.extend(g.hits)
        total = Fraction(sum(g.months, DZERO))
        indicator = scheme.indicators.get(g.code)
        if g.category in SCORED_CATEGORIES and indicator is not None:
            cap = indicator_year_cap(indicator, types)
            if cap is not None:
                if total >= cap:
                    hits.append(CapHit("year", g.code))
                total = min(total, cap)
        after_indicator[g.category] += total

    j = min(after_indicator["J"], basic_cap)
    z = min(after_indicator["Z"], contribution_cap)
    for cat, cap in (("J", basic_cap), ("Z", contribution_cap)):
        if after_indicator[cat] >= cap:
            hits.append(CapHit("category", cat))
    k = after_indicator["K"]
    veto = bool(ledger.months_with(scheme.codes_with(flag="veto"), last))
    exact = ZERO if veto else max(base + j + z + k, ZERO)
    totals = _month_totals(groups)
    hits.sort(key=lambda h: (_SCOPE_ORDER[h.scope], h.code, h.period or 0))
    return YearScore(
        score=round_half_up(exact), exact=exact, base=base, basic_cap=basic_cap,
        contribution_cap=contribution_cap, j_raw=raw["J"], z_raw=raw["Z"],
        j_uncapped=after_indicator["J"], z_uncapped=after_indicator["Z"], j=j, z=z, k=k, veto=veto,
        caps_reached=tuple(hits), month_types=types,
        months=tuple(PeriodPoints.from_exact(t) for t in totals),
        quarters=tuple(PeriodPoints.from_exact({c: sum((totals[m - 1].get(c, DZERO) for m in quarter_months(q)), DZERO)
                                                for c in ("J", "Z", "K")}) for q in range(1, 5)),
    )


def max_score(scheme: Scheme, year: int, as_of: date, history: TypeHistory) -> Fraction:
    """The maximum attainable year score: pro-rated base + basic cap + contribution cap (exact)."""
    tdefs = [scheme.types[t] for t in month_types(history, year, as_of)]
    return Fraction(sum((t.base + t.basic_cap + t.contribution_cap for t in tdefs), DZERO)) / 12


# ---------------------------------------------------------------------------------------------
# The suggested grade
# ---------------------------------------------------------------------------------------------

GRADE_CODES = ("advanced", "qualified", "rectify")


@dataclass(frozen=True)
class Grade:
    """A suggested grade: code 'advanced', 'qualified', 'rectify', or None (not graded), with reasons."""

    code: str | None
    reasons: tuple[Reason, ...] = ()

    @property
    def graded(self) -> bool:
        return self.code is not None


def months_on_roll(year: int, on_roll_since: date) -> int:
    """Whole calendar months of ``year`` on the roll, counting the month of on_roll_since in full.

    On the roll since 2026-07-01 or 2026-07-31: 6 (July to December); since 2026-11-01: 2; since
    before the year: 12; since a later year: 0. The count runs to December: a member who leaves is
    not graded anyway, and a score to date assumes the member stays.
    """
    if on_roll_since.year < year:
        return 12
    if on_roll_since.year > year:
        return 0
    return 13 - on_roll_since.month


def quarters_on_roll(year: int, on_roll_since: date) -> list[int]:
    """The quarters of ``year`` the member is on the roll for (the quarter of on_roll_since counts)."""
    if on_roll_since.year < year:
        return [1, 2, 3, 4]
    if on_roll_since.year > year:
        return []
    return list(range(quarter_of(on_roll_since.month), 5))


def left_roll_in(year: int, status: str, left_roll_on: date | None) -> bool:
    """Whether the member had left the roll by the end of ``year``.

    A member whose status is not 'active' left on left_roll_on; if that date is in or before the
    year they get no grade for it. A non-active member without a date is treated as having left.
    An 'active' member has not left, whatever left_roll_on says (e.g. a re-admitted member).
    """
    if status == "active":
        return False
    return left_roll_on is None or left_roll_on <= _year_end(year)


def _streak_reason(key: str, year: int, months: set[int], needed: int) -> Reason | None:
    length, first, last = longest_run(months)
    if length < needed:
        return None
    return Reason(key, {"months": str(length), "start": _ym(_month_index(year, first)),
                        "end": _ym(_month_index(year, last))})


def suggest_grade(scheme: Scheme, year: int, as_of: date, score: Decimal, ledger: MemberLedger, *,
                  on_roll_since: date, left_roll_on: date | None = None, status: str = "active") -> Grade:
    """The suggested grade for the year (see _suggest_grade_reference for the rules as written).

    Reads the ledger once (_ledger_facts) instead of once per rule; the same grade and reasons.
    """
    tables = _tables(scheme)
    return _grade(scheme, tables, year, as_of, score, ledger, None, on_roll_since=on_roll_since,
                  left_roll_on=left_roll_on, status=status)


def _suggest_grade_reference(scheme: Scheme, year: int, as_of: date, score: Decimal, ledger: MemberLedger, *,
                             on_roll_since: date, left_roll_on: date | None = None,
                             status: str = "active") -> Grade:
    """The suggested grade for the year (as of as_of: a projection from the entries so far).

    Order: not graded (left the roll in or before the year; or fewer than
    min_months_on_roll_for_grade months on the roll, see months_on_roll); then rectify if any of
    score < qualified_min, a veto, absence-role entries in rectify_streak_months consecutive months
    of the year, or dues_arrears-role entries likewise (each role on its own; every indicator with
    the role counts) - all that apply are given as reasons; then advanced if score >= advanced_min,
    no live heavier or veto entry and Z entries in at least min(advanced_min_quarters_with_contribution,
    quarters on the roll) of the quarters on the roll; otherwise qualified (with what barred
    advanced when the score was high enough). ``score`` is the rounded score.
    """
    th = scheme.thresholds
    if left_roll_in(year, status, left_roll_on):
        return Grade(None, (Reason("not_graded_left_roll", {"date": left_roll_on.isoformat() if left_roll_on else ""}),))
    n_months = months_on_roll(year, on_roll_since)
    if n_months < th.min_months_on_roll_for_grade:
        return Grade(None, (Reason("not_graded_short_roll", {
            "since": on_roll_since.isoformat(), "months": str(n_months),
            "min": str(th.min_months_on_roll_for_grade)}),))

    last = _last_month(year, as_of)
    rectify: list[Reason] = []
    for code in sorted(scheme.codes_with(flag="veto")):
        first = ledger.first_date(code, last)
        if first is not None:
            rectify.append(Reason("veto", {"indicator": code, "date": first.isoformat()}))
    if score < th.qualified_min:
        rectify.append(Reason("score_below_qualified", {"score": str(score), "min": str(th.qualified_min)}))
    for role, key in (("absence", "absence_streak"), ("dues_arrears", "dues_arrears_streak")):
        streak = _streak_reason(key, year, ledger.months_with(scheme.codes_with(role=role), last),
                                th.rectify_streak_months)
        if streak:
            rectify.append(streak)
    if rectify:
        return Grade("rectify", tuple(rectify))

    if score < th.advanced_min:
        return Grade("qualified", (Reason("score_qualified", {
            "score": str(score), "min": str(th.qualified_min), "advanced_min": str(th.advanced_min)}),))
    bars: list[Reason] = []
    for code in sorted(scheme.codes_with(flag="heavier")):
        first = ledger.first_date(code, last)
        if first is not None:
            bars.append(Reason("heavier_bars_advanced", {"indicator": code, "date": first.isoformat()}))
    on_roll = quarters_on_roll(year, on_roll_since)
    required = min(th.advanced_min_quarters_with_contribution, len(on_roll))
    with_z = ledger.quarters_with_category("Z", last) & set(on_roll)
    if len(with_z) < required:
        bars.append(Reason("too_few_contribution_quarters", {"quarters": str(len(with_z)), "required": str(required)}))
    if bars:
        return Grade("qualified", (Reason("score_qualified_barred", {
            "score": str(score), "advanced_min": str(th.advanced_min)}), *bars))
    return Grade("advanced", (Reason("advanced", {
        "score": str(score), "min": str(th.advanced_min), "quarters": str(len(with_z)),
        "required": str(required)}),))


# ---------------------------------------------------------------------------------------------
# Early warnings
# ---------------------------------------------------------------------------------------------

def early_warnings(*, as_of: date, streak_months: int, absence_months: Iterable[tuple[int, int]],
                   arrears_months: Iterable[tuple[int, int]], active_months: Iterable[tuple[int, int]],
                   on_roll_since: date | None = None) -> list[Reason]:
    """Early warnings as of ``as_of`` from sets of (year, month) with live entries.

    - absence-role entries, or dues_arrears-role entries (each on its own), in ``streak_months``
      consecutive months, the run ending in as_of's month or the month before (the current month's
      meeting may not have happened yet); a run broken by a month without such an entry no longer
      warns. Runs may span a year end; the reported length is the whole run.
    - no live entry at all in the last ``streak_months`` months up to and including as_of's month,
      unless the member came onto the roll after the first of those months began (month of
      on_roll_since later than the window's first month).
    Months after as_of's month are ignored.
    """
    current = _month_index(as_of.year, as_of.month)
    out: list[Reason] = []
    for key, months in (("warning_absence_streak", absence_months), ("warning_dues_arrears_streak", arrears_months)):
        idx = {_month_index(y, m) for y, m in months}
        end = current if current in idx else current - 1 if current - 1 in idx else None
        if end is None:
            continue
        start = end
        while start - 1 in idx:
            start -= 1
        if end - start + 1 >= streak_months:
            out.append(Reason(key, {"months": str(end - start + 1), "start": _ym(start), "end": _ym(end)}))
    first = current - streak_months + 1
    active = {_month_index(y, m) for y, m in active_months}
    eligible = on_roll_since is None or _month_index(on_roll_since.year, on_roll_since.month) <= first
    if eligible and not any(first <= i <= current for i in active):
        out.append(Reason("warning_no_entries", {"months": str(streak_months), "start": _ym(first), "end": _ym(current)}))
    return out


# ---------------------------------------------------------------------------------------------
# A member's assessment (pure): what the roster, booklet, board and review show
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemberScore:
    """A member's year score to date and everything around it; Decimals rounded to one decimal."""

    member_id: int | None
    year: int
    as_of: date                 # as given (the year score uses min(as_of, Dec 31))
    type_code: str              # in force on as_of (or Dec 31 when as_of is later)
    score: Decimal              # year score to date
    base: Decimal
    j: Decimal                  # capped
    z: Decimal                  # capped
    k: Decimal
    j_uncapped: Decimal         # after indicator caps, before the category cap
    z_uncapped: Decimal
    basic_cap: Decimal          # pro-rated
    contribution_cap: Decimal   # pro-rated
    max_score: Decimal          # pro-rated base + basic cap + contribution cap
    veto: bool
    caps_reached: tuple[CapHit, ...]
    month: PeriodPoints         # earned points of as_of's month
    quarter: PeriodPoints       # earned points of as_of's quarter
    grade: Grade
    detail: YearScore           # exact figures, per-month and per-quarter points

    @property
    def current_caps(self) -> tuple[CapHit, ...]:
        """Caps that matter now: this month's, this quarter's, and year/category caps."""
        d = _effective_as_of(self.year, self.as_of)
        m = d.month if d.year == self.year else 0
        return tuple(h for h in self.caps_reached
                     if (h.scope == "month" and h.period == m) or (h.scope == "quarter" and h.period == quarter_of(m))
                     or h.scope in ("year", "category"))

    def cap_reached(self, code: str) -> bool:
        """For the roster's "cap reached" mark next to an indicator or a category (J/Z)."""
        return any(h.code == code for h in self.current_caps)


# ---------------------------------------------------------------------------------------------
# The fast path: the same rules in integers
#
# Every cap and per-type figure of a scheme is a whole multiple of 10**-P (P = the most decimal
# places the scheme writes, at least 1: tenths for the shipped scheme), and so is every stored
# point. Month and quarter caps are therefore applied to integers in units of 10**-P, and a
# pro-rated year figure (a sum over the 12 months, / 12) is an integer in units of 1/(12 * 10**P).
# Only the outputs become Fraction and Decimal again, exactly the values the rules as written
# give (_year_score_reference, _suggest_grade_reference; tests/test_scoring_perf_equivalence.py
# checks the two agree). What the integers cannot hold exactly goes to the reference: a point
# with more decimals than the scheme's, a number that is not a Decimal or an int, a scheme with a
# cap that is not a finite number or a month or quarter cap that is not positive.
# What only depends on the scheme (caps in units, flagged codes) or on a member's 12 month types
# (pro-rated base and caps, year caps) is worked out once and kept with the Scheme object, which
# is frozen and never changed in place.
# ---------------------------------------------------------------------------------------------

_HIT_SCOPE = 1 << 24    # cap hit keys: scope order x _HIT_SCOPE + code rank x 16 + period (see _Tables)
_HIT_J = 3 * _HIT_SCOPE          # category caps: J before Z
_HIT_Z = 3 * _HIT_SCOPE + 16
_DZERO_RAW = Decimal()           # j_raw / z_raw without any entry (as the reference's defaultdict gives)
_LIMIT = 10 ** 15       # a larger figure goes to the reference (whose Decimal context has 28 digits)
_MEMO_MAX = 20_000      # entries per memo before it is emptied (they only ever hold small values)


def _whole(value: Any, scale: int) -> int | None:
    """value * scale as an int when that is exact (a finite Decimal or an int), else None."""
    kind = type(value)
    if kind is Decimal:
        if not value.is_finite():
            return None
        n, den = value.as_integer_ratio()
        if scale % den:
            return None
        n *= scale // den
    elif kind is int:
        n = value * scale
    else:
        return None
    return n if -_LIMIT < n < _LIMIT else None


_TENTHS: dict[int, Decimal] = {}


def _tenths(q: int) -> Decimal:
    """Decimal q / 10 as round_half_up writes it ("0.0" for zero, never "-0.0")."""
    d = _TENTHS.get(q)
    if d is None:
        d = Decimal(q).scaleb(-1) if q else Decimal("0.0")
        if len(_TENTHS) > _MEMO_MAX:
            _TENTHS.clear()
        _TENTHS[q] = d
    return d


def _round_units(n: int, den: int) -> Decimal:
    """round_half_up(Fraction(n, den)), on integers."""
    q = (20 * n + den) // (2 * den) if n >= 0 else -((-20 * n + den) // (2 * den))
    return _tenths(q)


_PERIODS: dict[tuple[int, int, int], PeriodPoints] = {}


def _period(j: int, z: int, k: int) -> PeriodPoints:
    """PeriodPoints of J, Z and K in tenths (frozen, so one object serves every equal period)."""
    key = (j, z, k)
    p = _PERIODS.get(key)
    if p is None:
        p = PeriodPoints(_tenths(j), _tenths(z), _tenths(k))
        if len(_PERIODS) > _MEMO_MAX:
            _PERIODS.clear()
        _PERIODS[key] = p
    return p


class _TypeTable:
    """What a member's 12 month types fix: pro-rated base and caps, indicators' year caps."""

    __slots__ = ("base", "basic_cap", "contribution_cap", "base_u", "basic_u", "contribution_u",
                 "year_caps", "rounded")

    def __init__(self, scheme: Scheme, tables: "_Tables", types: tuple[str, ...]):
        tdefs = [scheme.types[t] for t in types]   # an unknown type fails here, as in the reference
        self.base = prorate([t.base for t in tdefs])
        self.basic_cap = prorate([t.basic_cap for t in tdefs])
        self.contribution_cap = prorate([t.contribution_cap for t in tdefs])
        den = tables.year_den
        self.base_u, self.basic_u, self.contribution_u = (
            _exact_int(v * den) for v in (self.base, self.basic_cap, self.contribution_cap))
        self.year_caps: dict[str, int] = {}
        for code, ind in scheme.indicators.items():
            cap = indicator_year_cap(ind, types)
            if cap is not None:
                self.year_caps[code] = _exact_int(cap * den)
        mx = self.base + self.basic_cap + self.contribution_cap   # YearScore.max_score
        self.rounded = tuple(round_half_up(v) for v in (self.base, self.basic_cap, self.contribution_cap, mx))


def _exact_int(value: Fraction) -> int:
    if value.denominator != 1:  # cannot happen: every figure of the scheme has at most P decimals
        raise ArithmeticError("scheme figure not whole in its units")
    return value.numerator


class _Tables:
    """What the rules read from one Scheme object, worked out once (see _tables)."""

    def __init__(self, scheme: Scheme):
        self.veto_codes = tuple(sorted(scheme.codes_with(flag="veto")))
        self.heavier_codes = tuple(sorted(scheme.codes_with(flag="heavier")))
        self.veto = frozenset(self.veto_codes)
        self.heavier = frozenset(self.heavier_codes)
        self.absence = scheme.codes_with(role="absence")
        self.arrears = scheme.codes_with(role="dues_arrears")
        self.flagged = self.veto | self.heavier | self.absence | self.arrears
        self.by_types: dict[tuple[str, ...], _TypeTable] = {}
        self.fractions: dict[int, Fraction] = {}
        self.ok = True
        figures: list[Any] = [v for t in scheme.types.values() for v in (t.base, t.basic_cap, t.contribution_cap)]
        for ind in scheme.indicators.values():
            figures += [c for c in (ind.month_cap, ind.quarter_cap, ind.year_cap) if c is not None]
            figures += list(ind.year_cap_by_type.values())
            if any(c is not None and not c > 0 for c in (ind.month_cap, ind.quarter_cap)):
                self.ok = False  # the fast path skips months without points: only right for positive caps
        places = 1
        for v in figures:
            if type(v) is Decimal and v.is_finite():
                places = max(places, -v.as_tuple().exponent)
            elif type(v) is not int:
                self.ok = False
        self.ok = self.ok and places <= 6
        self.scale = 10 ** places
        self.year_den = 12 * self.scale
        # Per indicator of the scheme: (month cap, quarter cap) in units (None where it has none) and
        # the base of its cap hits' keys. A hit's key is an int that sorts as caps_reached is sorted
        # (scope, then code, then period): scope x _HIT_SCOPE + the code's rank x 16 + the period.
        self.caps: dict[str, tuple[int | None, int | None, int]] = {}
        self.hits: dict[int, CapHit] = {_HIT_J: CapHit("category", "J"), _HIT_Z: CapHit("category", "Z")}
        if self.ok:
            for rank, code in enumerate(sorted(scheme.indicators)):
                ind = scheme.indicators[code]
                mc = None if ind.month_cap is None else _whole(ind.month_cap, self.scale)
                qc = None if ind.quarter_cap is None else _whole(ind.quarter_cap, self.scale)
                if (mc is None) != (ind.month_cap is None) or (qc is None) != (ind.quarter_cap is None):
                    self.ok = False
                base = 16 * rank
                self.caps[code] = (mc, qc, base)
                self.hits.update({base + m: CapHit("month", code, m) for m in range(1, 13)})
                self.hits.update({_HIT_SCOPE + base + q: CapHit("quarter", code, q) for q in range(1, 5)})
                self.hits[2 * _HIT_SCOPE + base] = CapHit("year", code)

    def for_types(self, scheme: Scheme, types: tuple[str, ...]) -> _TypeTable:
        t = self.by_types.get(types)
        if t is None:
            t = _TypeTable(scheme, self, types)
            if len(self.by_types) > 4096:
                self.by_types.clear()
            self.by_types[types] = t
        return t

    def fraction(self, n: int) -> Fraction:
        """Fraction(n, year_den), normalised, memoised (Fractions are immutable)."""
        f = self.fractions.get(n)
        if f is None:
            f = Fraction(n, self.year_den)
            if len(self.fractions) > _MEMO_MAX:
                self.fractions.clear()
            self.fractions[n] = f
        return f


def _tables(scheme: Scheme) -> _Tables:
    """The scheme's _Tables, kept on the (frozen) Scheme object itself: one per scheme version."""
    tables = getattr(scheme, "_scoring_tables", None)
    if tables is None:
        tables = _Tables(scheme)
        try:
            object.__setattr__(scheme, "_scoring_tables", tables)
        except (AttributeError, TypeError):  # an object that takes no attributes: work it out each time
            pass
    return tables


_ONE_TYPE: dict[str, tuple[str, ...]] = {}
_FIRSTS: dict[int, tuple[date, ...]] = {}


def _types_and_type_on(history: TypeHistory, year: int, d: date) -> tuple[tuple[str, ...], str]:
    """(month_types(history, year, d), type_on(history, d)), sorting the history once."""
    hist = _sorted_history(history)
    if len(hist) == 1:
        t = hist[0][1]
        types = _ONE_TYPE.get(t)
        if types is None:
            types = _ONE_TYPE[t] = (t,) * 12
        return types, t
    days = [h[0] for h in hist]

    def on(day: date) -> str:
        i = bisect_right(days, day)
        return hist[i - 1][1] if i else hist[0][1]

    on_d = on(d)
    firsts = _FIRSTS.get(year)
    if firsts is None:
        firsts = _FIRSTS[year] = tuple(date(year, m, 1) for m in range(1, 13))
    return tuple(on(f) if f <= d else on_d for f in firsts), on_d


class _Facts(NamedTuple):
    """What the grade reads from a ledger, in one pass over its counts (to a last month)."""

    veto: bool                       # a live entry of a veto indicator (MemberLedger.months_with)
    veto_first: dict[str, date]      # veto indicator -> first date earned
    heavier_first: dict[str, date]
    absence_months: set[int]
    arrears_months: set[int]
    z_quarters: set[int]


def _ledger_facts(tables: _Tables, ledger: MemberLedger, last: int) -> _Facts:
    """MemberLedger.first_date / months_with / quarters_with_category for every rule at once."""
    z_quarters: set[int] = set()
    flagged = tables.flagged
    hits: list[tuple[str, int, Key]] = []
    for key, n in ledger.counts.items():
        if not n:
            continue
        code, cat, m = key
        if m > last:
            continue
        if cat == "Z":
            z_quarters.add((m - 1) // 3 + 1)
        if code in flagged:
            hits.append((code, m, key))
    veto_first: dict[str, list[date]] = {}
    heavier_first: dict[str, list[date]] = {}
    absence: set[int] = set()
    arrears: set[int] = set()
    veto = False
    if hits:
        first_dates = ledger.first_dates
        for code, m, key in hits:
            if code in tables.veto:
                veto = True
            if code in tables.absence:
                absence.add(m)
            if code in tables.arrears:
                arrears.add(m)
            if key in first_dates:
                if code in tables.veto:
                    veto_first.setdefault(code, []).append(first_dates[key])
                if code in tables.heavier:
                    heavier_first.setdefault(code, []).append(first_dates[key])
    return _Facts(veto, {c: min(ds) for c, ds in veto_first.items()}, {c: min(ds) for c, ds in heavier_first.items()},
                  absence, arrears, z_quarters)


def _fast_year(scheme: Scheme, tables: _Tables, year: int, as_of: date, history: TypeHistory,
               ledger: MemberLedger, facts: _Facts | None = None):
    """(YearScore, _TypeTable, type on as_of, and j, z, k, j uncapped, z uncapped in year units)
    by the integer rules, or None where the reference must decide (see the section notes)."""
    d = _effective_as_of(year, as_of)
    last = d.month if d.year == year else 0
    types, on_d = _types_and_type_on(history, year, d)
    tt = tables.for_types(scheme, types)
    if facts is None:
        facts = _ledger_facts(tables, ledger, last)
    scale = tables.scale
    caps = tables.caps

    # 1. Every sum of the year to date into integers (units of 10**-P); K and J/Z of indicators no
    #    longer in the scheme (uncapped) straight into the month totals, the rest grouped.
    month_j = [0] * 12
    month_z = [0] * 12
    month_k = [0] * 12
    raw_j: list[Decimal] = []
    raw_z: list[Decimal] = []
    free_j = free_z = free_k = 0
    groups_j: dict[str, list[tuple[int, int]]] = {}
    groups_z: dict[str, list[tuple[int, int]]] = {}
    try:
        for (code, cat, m), value in ledger.sums.items():
            if not 1 <= m <= last:
                continue
            kind = type(value)
            if kind is Decimal:
                n, den = value.as_integer_ratio()  # NaN and infinities raise: the reference decides
                if den == 1:
                    n *= scale
                elif scale % den:
                    return None
                else:
                    n *= scale // den
            elif kind is int:
                n = value * scale
                value = Decimal(value)
            else:
                return None
            if not -_LIMIT < n < _LIMIT:
                return None
            if cat == "J":
                raw_j.append(value)
                if code in caps:
                    g = groups_j.get(code)
                    if g is None:
                        groups_j[code] = [(m, n)]
                    else:
                        g.append((m, n))
                else:
                    free_j += n
                    month_j[m - 1] += n
            elif cat == "Z":
                raw_z.append(value)
                if code in caps:
                    g = groups_z.get(code)
                    if g is None:
                        groups_z[code] = [(m, n)]
                    else:
                        g.append((m, n))
                else:
                    free_z += n
                    month_z[m - 1] += n
            elif cat == "K":
                free_k += n
                month_k[m - 1] += n
            # another stored category counts nowhere (as in the reference)
    except (ValueError, ArithmeticError):
        return None

    # 2. Per indicator: month caps, then quarter caps consumed in month order, then the year cap.
    #    Cap hits are sortable ints (see _Tables.hits), in caps_reached's order once sorted.
    hits: list[int] = []
    year_caps = tt.year_caps
    after_j = 12 * free_j
    after_z = 12 * free_z
    for groups, months in ((groups_j, month_j), (groups_z, month_z)):
        for code, pairs in groups.items():
            month_cap, quarter_cap, hit = caps[code]
            total = 0
            if month_cap is None and quarter_cap is None:
                for m, value in pairs:
                    months[m - 1] += value
                    total += value
            else:
                if len(pairs) > 1:
                    pairs.sort()
                quarter = used = before_quarter_cap = 0
                for m, value in pairs:
                    q = (m + 2) // 3
                    if q != quarter:
                        if quarter and quarter_cap is not None and before_quarter_cap >= quarter_cap:
                            hits.append(_HIT_SCOPE + hit + quarter)
                        quarter = q
                        used = before_quarter_cap = 0
                    if month_cap is not None:
                        if value >= month_cap:
                            hits.append(hit + m)
                            value = month_cap
                    before_quarter_cap += value
                    if quarter_cap is not None and value > 0:
                        room = quarter_cap - used
                        if room < value:
                            value = room if room > 0 else 0
                    used += value
                    total += value
                    months[m - 1] += value
                if quarter_cap is not None and before_quarter_cap >= quarter_cap:
                    hits.append(_HIT_SCOPE + hit + quarter)
            total *= 12
            cap = year_caps.get(code)
            if cap is not None and total >= cap:
                hits.append(2 * _HIT_SCOPE + hit)
                total = cap
            if months is month_j:
                after_j += total
            else:
                after_z += total

    # 3. Category caps, deductions, base, floor and veto.
    basic_u, contribution_u = tt.basic_u, tt.contribution_u
    if after_j >= basic_u:
        j = basic_u
        hits.append(_HIT_J)
    else:
        j = after_j
    if after_z >= contribution_u:
        z = contribution_u
        hits.append(_HIT_Z)
    else:
        z = after_z
    k = 12 * free_k
    veto = facts.veto
    if veto:
        exact = 0
    else:
        exact = tt.base_u + j + z + k
        if exact < 0:
            exact = 0
    hits.sort()
    hit_of = tables.hits

    # 4. Outputs, as the reference builds them.
    den = tables.year_den
    fraction = tables.fraction
    if scale == 10:  # tenths: a month's points are already rounded
        months_pp = tuple(map(_period, month_j, month_z, month_k))
        quarters_pp = tuple(_period(month_j[i] + month_j[i + 1] + month_j[i + 2],
                                    month_z[i] + month_z[i + 1] + month_z[i + 2],
                                    month_k[i] + month_k[i + 1] + month_k[i + 2]) for i in (0, 3, 6, 9))
    else:
        def tenths(n: int) -> int:
            return (20 * n + scale) // (2 * scale) if n >= 0 else -((-20 * n + scale) // (2 * scale))

        months_pp = tuple(_period(tenths(month_j[i]), tenths(month_z[i]), tenths(month_k[i])) for i in range(12))
        quarters_pp = tuple(_period(tenths(month_j[i] + month_j[i + 1] + month_j[i + 2]),
                                    tenths(month_z[i] + month_z[i + 1] + month_z[i + 2]),
                                    tenths(month_k[i] + month_k[i + 1] + month_k[i + 2])) for i in (0, 3, 6, 9))
    ys = YearScore(
        score=_round_units(exact, den), exact=fraction(exact), base=tt.base, basic_cap=tt.basic_cap,
        contribution_cap=tt.contribution_cap, j_raw=sum(raw_j, DZERO) if raw_j else _DZERO_RAW,
        z_raw=sum(raw_z, DZERO) if raw_z else _DZERO_RAW,
        j_uncapped=fraction(after_j), z_uncapped=fraction(after_z), j=fraction(j), z=fraction(z),
        k=fraction(k), veto=veto, caps_reached=tuple([hit_of[h] for h in hits]), month_types=types,
        months=months_pp, quarters=quarters_pp,
    )
    return ys, tt, on_d, j, z, k, after_j, after_z


def _grade(scheme: Scheme, tables: _Tables, year: int, as_of: date, score: Decimal, ledger: MemberLedger,
           facts: _Facts | None, *, on_roll_since: date, left_roll_on: date | None, status: str) -> Grade:
    """suggest_grade from one pass over the ledger (see _suggest_grade_reference for the rules)."""
    th = scheme.thresholds
    if left_roll_in(year, status, left_roll_on):
        return Grade(None, (Reason("not_graded_left_roll", {"date": left_roll_on.isoformat() if left_roll_on else ""}),))
    n_months = months_on_roll(year, on_roll_since)
    if n_months < th.min_months_on_roll_for_grade:
        return Grade(None, (Reason("not_graded_short_roll", {
            "since": on_roll_since.isoformat(), "months": str(n_months),
            "min": str(th.min_months_on_roll_for_grade)}),))

    if facts is None:
        facts = _ledger_facts(tables, ledger, _last_month(year, as_of))
    rectify: list[Reason] = []
    for code in tables.veto_codes:
        first = facts.veto_first.get(code)
        if first is not None:
            rectify.append(Reason("veto", {"indicator": code, "date": first.isoformat()}))
    if score < th.qualified_min:
        rectify.append(Reason("score_below_qualified", {"score": str(score), "min": str(th.qualified_min)}))
    for months, key in ((facts.absence_months, "absence_streak"), (facts.arrears_months, "dues_arrears_streak")):
        if len(months) >= th.rectify_streak_months:  # a run cannot be longer than the months it is made of
            streak = _streak_reason(key, year, months, th.rectify_streak_months)
            if streak:
                rectify.append(streak)
    if rectify:
        return Grade("rectify", tuple(rectify))

    if score < th.advanced_min:
        return Grade("qualified", (Reason("score_qualified", {
            "score": str(score), "min": str(th.qualified_min), "advanced_min": str(th.advanced_min)}),))
    bars: list[Reason] = []
    for code in tables.heavier_codes:
        first = facts.heavier_first.get(code)
        if first is not None:
            bars.append(Reason("heavier_bars_advanced", {"indicator": code, "date": first.isoformat()}))
    on_roll = quarters_on_roll(year, on_roll_since)
    required = min(th.advanced_min_quarters_with_contribution, len(on_roll))
    with_z = facts.z_quarters & set(on_roll)
    if len(with_z) < required:
        bars.append(Reason("too_few_contribution_quarters", {"quarters": str(len(with_z)), "required": str(required)}))
    if bars:
        return Grade("qualified", (Reason("score_qualified_barred", {
            "score": str(score), "advanced_min": str(th.advanced_min)}), *bars))
    return Grade("advanced", (Reason("advanced", {
        "score": str(score), "min": str(th.advanced_min), "quarters": str(len(with_z)),
        "required": str(required)}),))


_NO_PERIOD = PeriodPoints()


def score_member(scheme: Scheme, year: int, as_of: date, history: TypeHistory, ledger: MemberLedger, *,
                 on_roll_since: date, left_roll_on: date | None = None, status: str = "active",
                 member_id: int | None = None) -> MemberScore:
    """Score and grade one member from their type history and ledger (no database)."""
    tables = _tables(scheme)
    d = _effective_as_of(year, as_of)
    in_year = d.year == year
    month = d.month if in_year else 1
    facts = _ledger_facts(tables, ledger, d.month if in_year else 0)
    fast = _fast_year(scheme, tables, year, as_of, history, ledger, facts) if tables.ok else None
    if fast is None:
        ys = _year_score_reference(scheme, year, as_of, history, ledger)
        type_code = type_on(history, d)
        base, basic_cap, contribution_cap, mx = (round_half_up(v) for v in (
            ys.base, ys.basic_cap, ys.contribution_cap, ys.max_score))
        j, z, k, j_uncapped, z_uncapped = (round_half_up(v) for v in (ys.j, ys.z, ys.k, ys.j_uncapped, ys.z_uncapped))
    else:
        ys, tt, type_code, ju, zu, ku, jun, zun = fast
        base, basic_cap, contribution_cap, mx = tt.rounded
        den = tables.year_den
        j, z, k, j_uncapped, z_uncapped = (_round_units(ju, den), _round_units(zu, den), _round_units(ku, den),
                                           _round_units(jun, den), _round_units(zun, den))
    grade = _grade(scheme, tables, year, as_of, ys.score, ledger, facts, on_roll_since=on_roll_since,
                   left_roll_on=left_roll_on, status=status)
    return MemberScore(
        member_id=member_id, year=year, as_of=as_of, type_code=type_code, score=ys.score,
        base=base, j=j, z=z, k=k, j_uncapped=j_uncapped, z_uncapped=z_uncapped,
        basic_cap=basic_cap, contribution_cap=contribution_cap, max_score=mx, veto=ys.veto,
        caps_reached=ys.caps_reached,
        month=ys.months[month - 1] if in_year else _NO_PERIOD,
        quarter=ys.quarters[quarter_of(month) - 1] if in_year else _NO_PERIOD,
        grade=grade, detail=ys,
    )


# ---------------------------------------------------------------------------------------------
# Entry values and validation (called by the entry screens)
# ---------------------------------------------------------------------------------------------

ENTRY_ERROR_TEXTS: dict[str, str] = {
    "unknown_indicator": N_("Unknown indicator {indicator}."),
    "indicator_retired": N_("Indicator {indicator} is retired."),
    "indicator_not_applicable": N_("Indicator {indicator} does not apply to type {type}."),
    "hours_required": N_("Enter the hours served."),
    "hours_invalid": N_("Hours must be more than 0 and less than 1000, with at most one decimal."),
    "points_not_allowed": N_("{points} is not a value of {indicator}; allowed: {allowed}."),
    "date_in_future": N_("The date earned cannot be after today."),
    "date_too_early": N_("Entries dated before {year} are no longer accepted."),
    "note_required": N_("A deduction or veto needs a reason in the note."),
}


class EntryError(Refusal):
    """A refused entry; ``key`` names a text of ENTRY_ERROR_TEXTS, ``params`` fills it."""

    TEXTS = ENTRY_ERROR_TEXTS

    def __init__(self, key: str, **params: Any):
        super().__init__(key, **params)


class EntryValue(NamedTuple):
    points: Decimal             # rounded to one decimal, as stored
    quantity: Decimal | None    # hours, for hour indicators


def _decimal(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def entry_points(scheme: Scheme, indicator: Indicator | str, type_code: str, value: Any = None) -> EntryValue:
    """The points an entry is recorded with, for a member of ``type_code`` on the day earned.

    - unit 'hour': ``value`` is the hours (required, > 0, < 1000, one decimal at most); points =
      hours x points of the type, rounded half up to one decimal (2.5 h x 0.5 = 1.25 -> 1.3).
    - points_options: ``value`` must be one of them; None gives the type's points if they are an
      option, else the indicator's default points.
    - otherwise the type's points (points_by_type overrides points); a given value must equal them.
    Refuses unknown, retired and not-applicable indicators (EntryError).
    """
    ind = indicator if isinstance(indicator, Indicator) else scheme.indicators.get(str(indicator))
    if ind is None:
        raise EntryError("unknown_indicator", indicator=indicator)
    if ind.retired:
        raise EntryError("indicator_retired", indicator=ind.code)
    if type_code not in ind.applies_to:
        raise EntryError("indicator_not_applicable", indicator=ind.code, type=type_code)
    if ind.is_hours:
        if value is None or str(value).strip() == "":
            raise EntryError("hours_required")
        hours = _decimal(value)
        if hours is None or not (0 < hours < 1000) or hours != hours.quantize(ONE_DECIMAL):
            raise EntryError("hours_invalid")
        hours = hours.quantize(ONE_DECIMAL)
        return EntryValue(round_half_up(Fraction(hours) * Fraction(ind.points_for(type_code))), hours)
    allowed = ind.allowed_points(type_code)
    if value is None or str(value).strip() == "":
        default = ind.points_for(type_code)
        points = default if default in allowed else ind.points
    else:
        points = _decimal(value)
        if points is None or points not in allowed:
            raise EntryError("points_not_allowed", points=value, indicator=ind.code,
                             allowed=", ".join(str(a) for a in allowed))
    return EntryValue(round_half_up(Fraction(points)), None)


def check_earned_on(earned_on: date, today: date, *, previous_year_open: bool) -> None:
    """Dates earned: not after today; the previous year only until its review is confirmed."""
    if earned_on > today:
        raise EntryError("date_in_future")
    oldest = today.year - 1 if previous_year_open else today.year
    if earned_on.year < oldest:
        raise EntryError("date_too_early", year=oldest)


def check_note(indicator: Indicator, note: str) -> None:
    """Deductions and vetoes must say why."""
    if indicator.needs_note and not (note or "").strip():
        raise EntryError("note_required")


# ---------------------------------------------------------------------------------------------
# The SQL layer: a constant number of grouped queries for any number of members
# ---------------------------------------------------------------------------------------------

ID_CHUNK = 900  # bound parameters per IN list; below every SQLite's limit. A Select is never chunked.
MemberIds = Sequence[int] | Select


class MemberLike(Protocol):
    id: int
    on_roll_since: date
    left_roll_on: date | None
    status: str


_CORRECTION = aliased(PointEntry, name="correction")


def live_entry_clause():
    """Live entries: not a correction, and not corrected by any entry.

    Written as coalesce(...) = 0 rather than IS NULL: without statistics SQLite would otherwise seek
    the unique index on corrects_id for NULL and read every live entry of the whole ledger
    (the benchmark found this made the roster grow with the ledger, not the branch).
    """
    return and_(
        func.coalesce(PointEntry.corrects_id, 0) == 0,
        ~exists().where(_CORRECTION.corrects_id == PointEntry.id),
    )


class _DatePart(FunctionElement):
    """EXTRACT(<part> FROM a date column) as an integer. On SQLite, where a date is stored as
    'YYYY-MM-DD' text, it is read from the text: EXTRACT there is strftime(), which parses every
    date (about 15% of the grouped ledger query's CPU time on the district benchmark)."""

    type = Integer()
    inherit_cache = True
    name = "date_part"


class _month_of(_DatePart):
    inherit_cache = True


class _year_of(_DatePart):
    inherit_cache = True


@compiles(_month_of)
def _compile_month(element, compiler, **kw):
    return compiler.process(extract("month", *element.clauses), **kw)


@compiles(_year_of)
def _compile_year(element, compiler, **kw):
    return compiler.process(extract("year", *element.clauses), **kw)


@compiles(_month_of, "sqlite")
def _compile_month_sqlite(element, compiler, **kw):
    return f"CAST(substr({compiler.process(element.clauses, **kw)}, 6, 2) AS INTEGER)"


@compiles(_year_of, "sqlite")
def _compile_year_sqlite(element, compiler, **kw):
    return f"CAST(substr({compiler.process(element.clauses, **kw)}, 1, 4) AS INTEGER)"


def _id_filters(column, member_ids: MemberIds) -> list:
    """IN filters for the ids: one for a Select (a subquery of ids), one per chunk of a list."""
    if isinstance(member_ids, Select):
        return [column.in_(member_ids)]
    ids = sorted({int(i) for i in member_ids})
    return [column.in_(ids[i:i + ID_CHUNK]) for i in range(0, len(ids), ID_CHUNK)]


def fetch_ledgers(session: Session, member_ids: MemberIds, year: int, as_of: date) -> dict[int, MemberLedger]:
    """Live points per member of ``year`` earned on or before ``as_of``, in one grouped query.

    Range: [Jan 1 of year, min(as_of + 1 day, Jan 1 of next year)), half-open. Given a list, every
    id gets a ledger (empty if no entries); given a Select of ids, only members with entries appear.
    """
    end = min(as_of + timedelta(days=1), date(year + 1, 1, 1))
    month = _month_of(PointEntry.earned_on)
    ledgers: dict[int, MemberLedger] = {} if isinstance(member_ids, Select) else {
        int(i): MemberLedger() for i in member_ids}
    current = None
    sums: dict[Key, Decimal] = {}
    counts: dict[Key, int] = {}
    first_dates: dict[Key, date] = {}
    for id_filter in _id_filters(PointEntry.member_id, member_ids):
        stmt = (
            select(PointEntry.member_id, PointEntry.indicator_code, PointEntry.category, month,
                   func.sum(PointEntry.points), func.count(PointEntry.id), func.min(PointEntry.earned_on))
            .where(id_filter, PointEntry.earned_on >= date(year, 1, 1), PointEntry.earned_on < end,
                   live_entry_clause())
            .group_by(PointEntry.member_id, PointEntry.indicator_code, PointEntry.category, month)
        )
        for member_id, code, category, m, total, count, first in session.execute(stmt):
            if member_id != current:  # rows come member by member (not required, only faster)
                ledger = ledgers.get(member_id)
                if ledger is None:
                    ledger = ledgers[member_id] = MemberLedger()
                current, sums, counts, first_dates = member_id, ledger.sums, ledger.counts, ledger.first_dates
            key = (code, category, m if type(m) is int else int(m))
            # Decimal(total or 0), without copying a Decimal that is already one (a zero sum is Decimal(0))
            sums[key] = total if type(total) is Decimal and total else Decimal(total or 0)
            counts[key] = count if type(count) is int else int(count)
            first_dates[key] = first if isinstance(first, date) else date.fromisoformat(str(first))
    return ledgers


def fetch_type_histories(session: Session, member_ids: MemberIds) -> dict[int, list[tuple[date, str]]]:
    """Type records per member, ordered by effective_from then id (a later row on a date wins)."""
    out: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for id_filter in _id_filters(MemberType.member_id, member_ids):
        stmt = (select(MemberType.member_id, MemberType.effective_from, MemberType.type_code)
                .where(id_filter)
                .order_by(MemberType.member_id, MemberType.effective_from, MemberType.id))
        for member_id, effective_from, type_code in session.execute(stmt):
            out[member_id].append((effective_from, type_code))
    return dict(out)


def score_members(session: Session, scheme: Scheme, year: int, as_of: date,
                  members: Sequence[MemberLike]) -> dict[int, MemberScore]:
    """Score and grade many members: two grouped queries (per ID_CHUNK members), never one per member.

    Raises MissingTypeHistory if a member has no type record.
    """
    members = list(members)
    if not members:
        return {}
    ids = [m.id for m in members]
    ledgers = fetch_ledgers(session, ids, year, as_of)
    histories = fetch_type_histories(session, ids)
    out: dict[int, MemberScore] = {}
    for m in members:
        history = histories.get(m.id)
        if not history:
            raise MissingTypeHistory(f"member {m.id} has no type record")
        out[m.id] = score_member(scheme, year, as_of, history, ledgers[m.id], on_roll_since=m.on_roll_since,
                                 left_roll_on=m.left_roll_on, status=m.status, member_id=m.id)
    return out


@dataclass
class WarningMonths:
    """(year, month) sets behind a member's early warnings."""

    absence: set[tuple[int, int]] = field(default_factory=set)
    arrears: set[tuple[int, int]] = field(default_factory=set)
    active: set[tuple[int, int]] = field(default_factory=set)


def fetch_warning_months(session: Session, scheme: Scheme, member_ids: MemberIds, as_of: date,
                         lookback_months: int = 12) -> dict[int, WarningMonths]:
    """Months with live entries in the ``lookback_months`` months up to as_of (across a year end),
    in one grouped query: absence-role, dues_arrears-role, and any entry."""
    first = _month_index(as_of.year, as_of.month) - lookback_months + 1
    start = date(first // 12, first % 12 + 1, 1)
    absence = scheme.codes_with(role="absence")
    arrears = scheme.codes_with(role="dues_arrears")
    y = _year_of(PointEntry.earned_on)
    m = _month_of(PointEntry.earned_on)
    out: dict[int, WarningMonths] = {} if isinstance(member_ids, Select) else {
        int(i): WarningMonths() for i in member_ids}
    for id_filter in _id_filters(PointEntry.member_id, member_ids):
        stmt = (select(PointEntry.member_id, PointEntry.indicator_code, y, m)
                .where(id_filter, PointEntry.earned_on >= start, PointEntry.earned_on < as_of + timedelta(days=1),
                       live_entry_clause())
                .group_by(PointEntry.member_id, PointEntry.indicator_code, y, m))
        current = wm = None
        for member_id, code, yy, mm in session.execute(stmt):
            if member_id != current:  # rows come member by member (not required, only faster)
                wm = out.get(member_id)
                if wm is None:
                    wm = out[member_id] = WarningMonths()
                current = member_id
            ym = (yy if type(yy) is int else int(yy), mm if type(mm) is int else int(mm))
            wm.active.add(ym)
            if code in absence:
                wm.absence.add(ym)
            if code in arrears:
                wm.arrears.add(ym)
    return out


def member_warnings(session: Session, scheme: Scheme, as_of: date,
                    members: Sequence[MemberLike]) -> dict[int, list[Reason]]:
    """Early warnings for many members in one grouped query (see early_warnings)."""
    members = list(members)
    months = fetch_warning_months(session, scheme, [m.id for m in members], as_of)
    n = scheme.thresholds.warning_streak_months
    return {
        m.id: early_warnings(as_of=as_of, streak_months=n, absence_months=months[m.id].absence,
                             arrears_months=months[m.id].arrears, active_months=months[m.id].active,
                             on_roll_since=m.on_roll_since)
        for m in members
    }


# =============================================================================================
# Year-end review flags and the red-flag branch index (红旗党支部)
#
# Appended section (issue 7). Nothing above is changed; these functions only read what the
# functions above produce. Decisions where the scheme is silent:
# - A ratio with nothing to measure: the score share, attendance rate and dues rate are 0 (a branch
#   with no graded member, no organisational life or nobody on the roll has earned nothing);
#   the publication share is 1 when no quarter's 30 days have passed yet (nothing was due), and the
#   queries share is 1 when none were received (as the scheme says).
# - attendance_rate is not capped at 1: guests credited at the host (flexible attendance) count
#   at the host, exactly as defined, so a host of many guests can exceed 1.
# - Dues: the member-quarters are (member, quarter) on the branch's roll at each quarter's end, for
#   the quarters ended by the date the index is computed; a live dues_paid entry earned in that
#   quarter, whichever branch recorded it, pays it.
# - Publications: a quarter is published on time when the branch's live (not retracted)
#   publication of it is dated, in the street's time zone, no later than 30 days after the quarter
#   ended; its 30 days have passed once today is later than that.
# - Queries: residents' queries about the branch received in the calendar year (street time);
#   answered means answered by now.
# - Ranking: index descending, then the score share descending, then branch id ascending.
# =============================================================================================

@dataclass(frozen=True)
class ReviewFlags:
    """What the review meeting sees beside a member's score (all from live entries of the year)."""

    vetoes: tuple[tuple[str, date], ...] = ()       # (indicator code, first date)
    heavier: tuple[tuple[str, date], ...] = ()      # (indicator code, first date)
    absence_run: tuple[int, int | None, int | None] = (0, None, None)   # longest run: (months, first, last)
    arrears_run: tuple[int, int | None, int | None] = (0, None, None)

    def run_label(self, run: tuple[int, int | None, int | None], year: int) -> tuple[str, str]:
        """('YYYY-MM', 'YYYY-MM') of a run's first and last month."""
        _n, first, last = run
        return _ym(_month_index(year, first)), _ym(_month_index(year, last))


def review_flags(scheme: Scheme, ledger: MemberLedger, last_month: int = 12) -> ReviewFlags:
    """Veto and heavier entries, and the longest absence and dues-arrears runs (by role), of a year."""
    def firsts(codes: Iterable[str]) -> tuple[tuple[str, date], ...]:
        out = [(code, ledger.first_date(code, last_month)) for code in sorted(codes)]
        return tuple((c, d) for c, d in out if d is not None)

    return ReviewFlags(
        vetoes=firsts(scheme.codes_with(flag="veto")),
        heavier=firsts(scheme.codes_with(flag="heavier")),
        absence_run=longest_run(ledger.months_with(scheme.codes_with(role="absence"), last_month)),
        arrears_run=longest_run(ledger.months_with(scheme.codes_with(role="dues_arrears"), last_month)),
    )


BRANCH_INDEX_COMPONENTS = ("average_member_score_share", "attendance_rate", "dues_on_time_rate",
                           "on_time_publication_share", "queries_answered_share")
PUBLICATION_DAYS = 30  # "published within 30 days after the quarter ended"


@dataclass(frozen=True)
class BranchIndexInputs:
    """The counts behind one branch's index for one year."""

    member_scores: tuple[tuple[Decimal, Decimal], ...] = ()  # (year score, member's max) of graded members
    attended: int = 0             # attendees credited at the org-life meetings the branch hosted
    expected: int = 0             # sum of those meetings' expected counts
    dues_paid: int = 0            # member-quarters with a live dues_paid-role entry
    member_quarters: int = 0      # member-quarters on the roll
    published_on_time: int = 0    # quarters published within 30 days after the quarter ended
    publications_due: int = 0     # quarters whose 30 days have passed
    queries_answered: int = 0
    queries_received: int = 0


@dataclass(frozen=True)
class BranchIndex:
    branch_id: int | None
    components: dict[str, Fraction]
    index: Fraction
    inputs: BranchIndexInputs

    def rounded(self, name: str | None = None, places: int = 3) -> Decimal:
        """A component (or the index) rounded half up for display: exact until shown."""
        value = self.index if name is None else self.components[name]
        q = Decimal(1).scaleb(-places)
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(q, rounding=ROUND_HALF_UP)


def _ratio(num: int | Fraction, den: int | Fraction, empty: Fraction) -> Fraction:
    return Fraction(num) / Fraction(den) if den else empty


def branch_index(weights: Mapping[str, Decimal], inputs: BranchIndexInputs,
                 branch_id: int | None = None) -> BranchIndex:
    """The scheme's branch_index: sum of weight x component, exactly (pure; see the section notes)."""
    shares = [Fraction(score) / Fraction(mx) for score, mx in inputs.member_scores if mx]
    components = {
        "average_member_score_share": sum(shares, ZERO) / len(shares) if shares else ZERO,
        "attendance_rate": _ratio(inputs.attended, inputs.expected, ZERO),
        "dues_on_time_rate": _ratio(inputs.dues_paid, inputs.member_quarters, ZERO),
        "on_time_publication_share": _ratio(inputs.published_on_time, inputs.publications_due, Fraction(1)),
        "queries_answered_share": _ratio(inputs.queries_answered, inputs.queries_received, Fraction(1)),
    }
    # A weight the scheme names but this code does not know contributes nothing (it cannot be computed).
    index = sum((Fraction(w) * components[k] for k, w in weights.items() if k in components), ZERO)
    return BranchIndex(branch_id, components, index, inputs)


def rank_branch_indices(indices: Iterable[BranchIndex]) -> list[tuple[int, BranchIndex]]:
    """(rank, index) from 1, best first: index desc, then score share desc, then branch id asc."""
    ordered = sorted(indices, key=lambda b: (-b.index, -b.components["average_member_score_share"],
                                             b.branch_id if b.branch_id is not None else 0))
    return list(enumerate(ordered, start=1))


def _utc_bounds(day_from: date, day_to: date, tz_name: str):
    """Naive UTC datetimes of local midnights [day_from, day_to) (timestamps are stored in UTC)."""
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(tz_name)

    def utc(d: date):
        return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)

    return utc(day_from), utc(day_to)


def _local_date(value, tz_name: str) -> date:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz_name)).date()


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def fetch_branch_index_inputs(session: Session, scheme: Scheme, year: int, today: date, branch_ids: Sequence[int],
                              tz_name: str = "Asia/Shanghai") -> dict[int, BranchIndexInputs]:
    """The counts of every branch's index in a constant number of grouped queries (about ten).

    Scores and rolls are as of min(today, Dec 31); publications' 30 days are judged against today.
    """
    from .models import BranchSpell, Meeting, Member, Publication, ResidentQuery

    ids = sorted({int(i) for i in branch_ids})
    if not ids:
        return {}
    d = _effective_as_of(year, today)
    if d < date(year, 1, 1):
        d = date(year, 1, 1) - timedelta(days=1)  # a year not started: nobody is scored

    def roll_on(day: date) -> dict[int, list]:
        """Members on each branch's roll on ``day`` (branch spell and time on the roll, half-open)."""
        rows = session.execute(
            select(BranchSpell.branch_id, Member)
            .join(Member, Member.id == BranchSpell.member_id)
            .where(BranchSpell.branch_id.in_(ids), BranchSpell.starts_on <= day,
                   (BranchSpell.ends_on.is_(None)) | (BranchSpell.ends_on > day),
                   Member.on_roll_since <= day, (Member.left_roll_on.is_(None)) | (Member.left_roll_on > day))
            .order_by(Member.id)).all()
        out: dict[int, list] = defaultdict(list)
        seen: set[tuple[int, int]] = set()
        for branch_id, member in rows:
            if (branch_id, member.id) not in seen:  # two spells covering one day count once
                seen.add((branch_id, member.id))
                out[branch_id].append(member)
        return out

    # 1. Graded members' year score and maximum, on the roll at year end (or today).
    members_by_branch = roll_on(d) if d.year == year else {}
    everyone = {m.id: m for ms in members_by_branch.values() for m in ms}
    scores = score_members(session, scheme, year, d, list(everyone.values())) if everyone else {}
    member_scores = {b: tuple((scores[m.id].score, scores[m.id].max_score) for m in ms
                              if scores[m.id].grade.graded) for b, ms in members_by_branch.items()}

    # 2. Attendance at the organisational life each branch hosted.
    attendance = scheme.codes_with(role="attendance")
    meeting_filter = (Meeting.branch_id.in_(ids), Meeting.kind == "org_life",
                      Meeting.held_on >= date(year, 1, 1), Meeting.held_on <= d)
    expected = dict(session.execute(
        select(Meeting.branch_id, func.sum(Meeting.expected_count)).where(*meeting_filter)
        .group_by(Meeting.branch_id)).all())
    attended: dict[int, int] = defaultdict(int)
    if attendance:
        for branch_id, _meeting_id, n in session.execute(
                select(Meeting.branch_id, PointEntry.meeting_id, func.count(func.distinct(PointEntry.member_id)))
                .join(Meeting, Meeting.id == PointEntry.meeting_id)
                .where(*meeting_filter, PointEntry.indicator_code.in_(sorted(attendance)), live_entry_clause())
                .group_by(Meeting.branch_id, PointEntry.meeting_id)):
            attended[branch_id] += int(n)

    # 3. Dues: member-quarters on the roll at each ended quarter's end, and which of them are paid.
    dues_codes = scheme.codes_with(role="dues_paid")
    paid: set[tuple[int, int]] = set()
    ended = [q for q in range(1, 5) if _quarter_end(year, q) <= d]
    if dues_codes and ended:
        month = _month_of(PointEntry.earned_on)
        for member_id, m in session.execute(
                select(PointEntry.member_id, month)
                .where(PointEntry.indicator_code.in_(sorted(dues_codes)), PointEntry.earned_on >= date(year, 1, 1),
                       PointEntry.earned_on <= _quarter_end(year, max(ended)), live_entry_clause())
                .group_by(PointEntry.member_id, month)):
            paid.add((member_id, quarter_of(int(m))))
    member_quarters: dict[int, int] = defaultdict(int)
    dues_paid: dict[int, int] = defaultdict(int)
    for q in ended:
        for branch_id, ms in roll_on(_quarter_end(year, q)).items():
            member_quarters[branch_id] += len(ms)
            dues_paid[branch_id] += sum(1 for m in ms if (m.id, q) in paid)

    # 4. Publications within 30 days after each quarter's end.
    due = [q for q in range(1, 5) if today > _quarter_end(year, q) + timedelta(days=PUBLICATION_DAYS)]
    on_time: dict[int, int] = defaultdict(int)
    if due:
        for branch_id, q, first in session.execute(
                select(Publication.branch_id, Publication.quarter, func.min(Publication.published_at))
                .where(Publication.branch_id.in_(ids), Publication.year == year, Publication.quarter.in_(due),
                       Publication.retracted_at.is_(None))
                .group_by(Publication.branch_id, Publication.quarter)):
            if _local_date(first, tz_name) <= _quarter_end(year, int(q)) + timedelta(days=PUBLICATION_DAYS):
                on_time[branch_id] += 1

    # 5. Residents' queries received in the year, and how many are answered.
    start, end = _utc_bounds(date(year, 1, 1), date(year + 1, 1, 1), tz_name)
    queries = {b: (int(n), int(a)) for b, n, a in session.execute(
        select(ResidentQuery.branch_id, func.count(), func.count(ResidentQuery.answered_at))
        .where(ResidentQuery.branch_id.in_(ids), ResidentQuery.created_at >= start, ResidentQuery.created_at < end)
        .group_by(ResidentQuery.branch_id))}

    return {b: BranchIndexInputs(
        member_scores=member_scores.get(b, ()), attended=attended.get(b, 0), expected=int(expected.get(b) or 0),
        dues_paid=dues_paid.get(b, 0), member_quarters=member_quarters.get(b, 0),
        published_on_time=on_time.get(b, 0), publications_due=len(due),
        queries_answered=queries.get(b, (0, 0))[1], queries_received=queries.get(b, (0, 0))[0],
    ) for b in ids}


def _quarter_end(year: int, quarter: int) -> date:
    last = quarter * 3
    return date(year + (last == 12), last % 12 + 1, 1) - timedelta(days=1)


def branch_indices(session: Session, scheme: Scheme, year: int, today: date, branch_ids: Sequence[int],
                   tz_name: str = "Asia/Shanghai") -> dict[int, BranchIndex]:
    """Every branch's index for the year (see fetch_branch_index_inputs and branch_index)."""
    inputs = fetch_branch_index_inputs(session, scheme, year, today, branch_ids, tz_name)
    return {b: branch_index(scheme.branch_index_weights, i, b) for b, i in inputs.items()}
