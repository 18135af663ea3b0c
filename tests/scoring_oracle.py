"""The scoring rules as written, in Decimals and Fractions: the oracle qscore.scoring is compared with.

It follows scheme.default.json's "rules" and the decisions listed in qscore/scoring/__init__.py, the slow and
obvious way: raw entries in, the live rule applied here, Decimal sums per month, caps month by month, Fractions
for anything pro-rated, one rounding at the end. It shares no arithmetic with production (its own live rule,
type of a month, pro-rating, year caps, rounding and ledger facts), so a bug in one of production's helpers
shows up as a difference. It borrows production's value types only (CapHit, PeriodPoints, Grade, Reason) so
that results compare field by field. Not a test module: tests/test_scoring_oracle.py and test_grade_edges use it.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from qscore.scheme import Indicator, Scheme
from qscore.scoring import CapHit, Entry, Grade, PeriodPoints, Reason

ZERO = Fraction(0)
DZERO = Decimal(0)
CAPPED = ("J", "Z")     # K (deductions) is never capped
SCOPE_ORDER = {"month": 0, "quarter": 1, "year": 2, "category": 3}
History = Sequence[tuple[date, str]]


def round_half_up(value: Fraction | Decimal) -> Decimal:
    """One decimal, ties away from zero, by Decimal's own rule on a long exact quotient (never "-0.0")."""
    x = Fraction(value)
    with localcontext() as ctx:
        ctx.prec = 100  # far beyond any tie a denominator of these sizes could fake
        d = (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return d if d else Decimal("0.0")


def quarter_months(q: int) -> list[int]:
    return [3 * q - 2, 3 * q - 1, 3 * q]


def last_month(year: int, as_of: date) -> int:
    d = min(as_of, date(year, 12, 31))
    return d.month if d.year == year else 0


def ym(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


# --- the ledger: live entries summed per (indicator, category, month) ---------------------------------------

@dataclass
class Ledger:
    """Decimal sums, counts and first dates of the live entries of one year up to as_of."""

    sums: dict[tuple[str, str, int], Decimal] = field(default_factory=dict)
    counts: dict[tuple[str, str, int], int] = field(default_factory=dict)
    first_dates: dict[tuple[str, str, int], date] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], *, year: int, as_of: date) -> "Ledger":
        entries = list(entries)
        corrected = {e.corrects_id for e in entries if e.corrects_id is not None}
        ledger = cls()
        for e in entries:
            if e.corrects_id is not None or (e.id is not None and e.id in corrected):
                continue  # a correction and what it corrects both drop out
            if e.earned_on.year != year or e.earned_on > as_of:
                continue
            key = (e.indicator_code, e.category, e.earned_on.month)
            ledger.sums[key] = ledger.sums.get(key, DZERO) + Decimal(e.points)
            ledger.counts[key] = ledger.counts.get(key, 0) + 1
            ledger.first_dates[key] = min(ledger.first_dates.get(key, e.earned_on), e.earned_on)
        return ledger

    def months_with(self, codes: Iterable[str], last: int) -> set[int]:
        codes = set(codes)
        return {m for (code, _cat, m), n in self.counts.items() if n and code in codes and m <= last}

    def quarters_with_category(self, category: str, last: int) -> set[int]:
        return {(m + 2) // 3 for (_code, cat, m), n in self.counts.items() if n and cat == category and m <= last}

    def first_date(self, code: str, last: int) -> date | None:
        dates = [d for (c, cat, m), d in self.first_dates.items() if c == code and m <= last and self.counts[c, cat, m]]
        return min(dates) if dates else None


# --- types --------------------------------------------------------------------------------------------------

def type_on(history: History, day: date) -> str:
    """The last record effective on or before ``day`` (a later one given on the same date wins); before the
    first record, the type at joining."""
    hist = sorted(history, key=lambda r: r[0])
    current = hist[0][1]
    for start, code in hist:
        if start <= day:
            current = code
    return current


def month_types(history: History, year: int, as_of: date) -> tuple[str, ...]:
    d = min(as_of, date(year, 12, 31))
    return tuple(type_on(history, date(year, m, 1) if date(year, m, 1) <= d else d) for m in range(1, 13))


def prorate(values: Sequence[Decimal | None]) -> Fraction | None:
    if any(v is None for v in values):
        return None
    return sum((Fraction(v) for v in values), ZERO) / 12


def indicator_year_cap(ind: Indicator, types: Sequence[str]) -> Fraction | None:
    if ind.year_cap_by_type:
        return prorate([ind.year_cap_by_type.get(t, ind.year_cap) for t in types])
    return None if ind.year_cap is None else Fraction(ind.year_cap)


# --- the year score -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    code: str
    category: str
    raw: Decimal
    months: tuple[Decimal, ...]   # 12 values after month and quarter caps
    hits: tuple[CapHit, ...]


def cap_group(ind: Indicator | None, code: str, category: str, by_month: Mapping[int, Decimal]) -> Group:
    """Month caps, then quarter caps consumed in month order (J and Z of indicators in the scheme only)."""
    raw = sum(by_month.values(), DZERO)
    if category not in CAPPED or ind is None:
        return Group(code, category, raw, tuple(by_month.get(m, DZERO) for m in range(1, 13)), ())
    hits: list[CapHit] = []
    months: list[Decimal] = []
    for q in range(1, 5):
        used = before_quarter_cap = DZERO
        for m in quarter_months(q):
            value = by_month.get(m, DZERO)
            if ind.month_cap is not None:
                if value >= ind.month_cap:
                    hits.append(CapHit("month", code, m))
                value = min(value, ind.month_cap)
            before_quarter_cap += value
            if ind.quarter_cap is not None and value > 0:
                value = min(value, max(ind.quarter_cap - used, DZERO))
            used += value
            months.append(value)
        if ind.quarter_cap is not None and before_quarter_cap >= ind.quarter_cap:
            hits.append(CapHit("quarter", code, q))
    return Group(code, category, raw, tuple(months), tuple(hits))


def groups(scheme: Scheme, ledger: Ledger, last: int) -> list[Group]:
    by_group: dict[tuple[str, str], dict[int, Decimal]] = defaultdict(dict)
    for (code, category, month), points in ledger.sums.items():
        if 1 <= month <= last:
            by_group[(code, category)][month] = points
    return [cap_group(scheme.indicators.get(code), code, category, by_month)
            for (code, category), by_month in sorted(by_group.items())]


def period_points(groups_: Sequence[Group], months: Iterable[int]) -> PeriodPoints:
    by_cat: dict[str, Decimal] = defaultdict(Decimal)
    for g in groups_:
        for m in months:
            by_cat[g.category] += g.months[m - 1]
    return PeriodPoints(*(round_half_up(by_cat.get(c, DZERO)) for c in ("J", "Z", "K")))


@dataclass(frozen=True)
class YearScore:
    """The fields of qscore.scoring.YearScore, by the rules as written."""

    score: Decimal
    exact: Fraction
    base: Fraction
    basic_cap: Fraction
    contribution_cap: Fraction
    j_raw: Decimal
    z_raw: Decimal
    j_uncapped: Fraction
    z_uncapped: Fraction
    j: Fraction
    z: Fraction
    k: Fraction
    veto: bool
    caps_reached: tuple[CapHit, ...]
    month_types: tuple[str, ...]
    months: tuple[PeriodPoints, ...]
    quarters: tuple[PeriodPoints, ...]

    @property
    def max_score(self) -> Fraction:
        return self.base + self.basic_cap + self.contribution_cap


def year_score(scheme: Scheme, year: int, as_of: date, history: History, ledger: Ledger) -> YearScore:
    last = last_month(year, as_of)
    types = month_types(history, year, as_of)
    tdefs = [scheme.types[t] for t in types]
    base = prorate([t.base for t in tdefs])
    basic_cap = prorate([t.basic_cap for t in tdefs])
    contribution_cap = prorate([t.contribution_cap for t in tdefs])

    gs = groups(scheme, ledger, last)
    raw: dict[str, Decimal] = defaultdict(Decimal)
    after: dict[str, Fraction] = defaultdict(Fraction)
    hits: list[CapHit] = []
    for g in gs:
        raw[g.category] += g.raw
        hits.extend(g.hits)
        total = Fraction(sum(g.months, DZERO))
        ind = scheme.indicators.get(g.code)
        if g.category in CAPPED and ind is not None:
            cap = indicator_year_cap(ind, types)
            if cap is not None:
                if total >= cap:
                    hits.append(CapHit("year", g.code))
                total = min(total, cap)
        after[g.category] += total
    j = min(after["J"], basic_cap)
    z = min(after["Z"], contribution_cap)
    for cat, cap in (("J", basic_cap), ("Z", contribution_cap)):
        if after[cat] >= cap:
            hits.append(CapHit("category", cat))
    k = after["K"]
    veto = bool(ledger.months_with(scheme.codes_with(flag="veto"), last))
    exact = ZERO if veto else max(base + j + z + k, ZERO)
    hits.sort(key=lambda h: (SCOPE_ORDER[h.scope], h.code, h.period or 0))
    return YearScore(
        score=round_half_up(exact), exact=exact, base=base, basic_cap=basic_cap, contribution_cap=contribution_cap,
        j_raw=raw["J"], z_raw=raw["Z"], j_uncapped=after["J"], z_uncapped=after["Z"], j=j, z=z, k=k, veto=veto,
        caps_reached=tuple(hits), month_types=types,
        months=tuple(period_points(gs, [m]) for m in range(1, 13)),
        quarters=tuple(period_points(gs, quarter_months(q)) for q in range(1, 5)),
    )


def max_score(scheme: Scheme, year: int, as_of: date, history: History) -> Fraction:
    """The maximum attainable year score: pro-rated base + basic cap + contribution cap."""
    tdefs = [scheme.types[t] for t in month_types(history, year, as_of)]
    return sum((Fraction(t.base + t.basic_cap + t.contribution_cap) for t in tdefs), ZERO) / 12


def month_points(scheme: Scheme, ledger: Ledger, month: int) -> PeriodPoints:
    return period_points(groups(scheme, ledger, 12), [month])


def quarter_points(scheme: Scheme, ledger: Ledger, quarter: int) -> PeriodPoints:
    return period_points(groups(scheme, ledger, 12), quarter_months(quarter))


# --- the suggested grade ------------------------------------------------------------------------------------

def longest_run(months: Iterable[int]) -> tuple[int, int | None, int | None]:
    best, run = (0, None, None), None
    for m in sorted(set(months)):
        run = (run[0], m) if run and m == run[1] + 1 else (m, m)
        if run[1] - run[0] + 1 > best[0]:
            best = (run[1] - run[0] + 1, run[0], run[1])
    return best


def suggest_grade(scheme: Scheme, year: int, as_of: date, score: Decimal, ledger: Ledger, *, on_roll_since: date,
                  left_roll_on: date | None = None, status: str = "active") -> Grade:
    """Not graded (left the roll in or before the year, or too few months on it); rectify for every reason that
    applies; advanced when the score, no heavier or veto entry and the contribution quarters allow; else
    qualified, saying what barred advanced. ``score`` is the rounded score."""
    th = scheme.thresholds
    if status != "active" and (left_roll_on is None or left_roll_on <= date(year, 12, 31)):
        left = left_roll_on.isoformat() if left_roll_on else ""
        return Grade(None, (Reason("not_graded_left_roll", {"date": left}),))
    n_months = 12 if on_roll_since.year < year else 0 if on_roll_since.year > year else 13 - on_roll_since.month
    if n_months < th.min_months_on_roll_for_grade:
        return Grade(None, (Reason("not_graded_short_roll", {
            "since": on_roll_since.isoformat(), "months": str(n_months),
            "min": str(th.min_months_on_roll_for_grade)}),))

    last = last_month(year, as_of)
    rectify: list[Reason] = []
    for code in sorted(scheme.codes_with(flag="veto")):
        first = ledger.first_date(code, last)
        if first is not None:
            rectify.append(Reason("veto", {"indicator": code, "date": first.isoformat()}))
    if score < th.qualified_min:
        rectify.append(Reason("score_below_qualified", {"score": str(score), "min": str(th.qualified_min)}))
    for role, key in (("absence", "absence_streak"), ("dues_arrears", "dues_arrears_streak")):
        length, first_m, last_m = longest_run(ledger.months_with(scheme.codes_with(role=role), last))
        if length >= th.rectify_streak_months:
            rectify.append(Reason(key, {"months": str(length), "start": ym(year, first_m), "end": ym(year, last_m)}))
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
    on_roll = set(range(1, 5)) if on_roll_since.year < year else set() if on_roll_since.year > year else set(
        range((on_roll_since.month + 2) // 3, 5))
    required = min(th.advanced_min_quarters_with_contribution, len(on_roll))
    with_z = ledger.quarters_with_category("Z", last) & on_roll
    if len(with_z) < required:
        bars.append(Reason("too_few_contribution_quarters", {"quarters": str(len(with_z)), "required": str(required)}))
    if bars:
        return Grade("qualified", (Reason("score_qualified_barred", {
            "score": str(score), "advanced_min": str(th.advanced_min)}), *bars))
    return Grade("advanced", (Reason("advanced", {
        "score": str(score), "min": str(th.advanced_min), "quarters": str(len(with_z)), "required": str(required)}),))


# --- what a member's score shows, and the review flags ------------------------------------------------------

def score_member(scheme: Scheme, year: int, as_of: date, history: History, entries: Iterable[Entry], *,
                 on_roll_since: date, left_roll_on: date | None = None, status: str = "active",
                 member_id: int | None = None) -> dict:
    """Every field qscore.scoring.MemberScore shows, by the rules as written (detail: the YearScore)."""
    ledger = Ledger.from_entries(entries, year=year, as_of=as_of)
    ys = year_score(scheme, year, as_of, history, ledger)
    d = min(as_of, date(year, 12, 31))
    month = d.month if d.year == year else 1
    return dict(
        member_id=member_id, year=year, as_of=as_of, type_code=type_on(history, d), score=ys.score,
        base=round_half_up(ys.base), j=round_half_up(ys.j), z=round_half_up(ys.z), k=round_half_up(ys.k),
        j_uncapped=round_half_up(ys.j_uncapped), z_uncapped=round_half_up(ys.z_uncapped),
        basic_cap=round_half_up(ys.basic_cap), contribution_cap=round_half_up(ys.contribution_cap),
        max_score=round_half_up(ys.max_score), veto=ys.veto, caps_reached=ys.caps_reached,
        month=ys.months[month - 1] if d.year == year else PeriodPoints(),
        quarter=ys.quarters[(month + 2) // 3 - 1] if d.year == year else PeriodPoints(),
        grade=suggest_grade(scheme, year, as_of, ys.score, ledger, on_roll_since=on_roll_since,
                            left_roll_on=left_roll_on, status=status),
        detail=ys,
    )


def review_flags(scheme: Scheme, ledger: Ledger, last: int = 12) -> dict:
    """The review page's flags: first veto and heavier dates, longest absence and dues-arrears runs."""
    def firsts(codes: Iterable[str]) -> tuple[tuple[str, date], ...]:
        found = ((code, ledger.first_date(code, last)) for code in sorted(codes))
        return tuple((c, d) for c, d in found if d is not None)

    return dict(
        vetoes=firsts(scheme.codes_with(flag="veto")), heavier=firsts(scheme.codes_with(flag="heavier")),
        absence_run=longest_run(ledger.months_with(scheme.codes_with(role="absence"), last)),
        arrears_run=longest_run(ledger.months_with(scheme.codes_with(role="dues_arrears"), last)),
    )
