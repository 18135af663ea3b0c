"""The rules as written: Decimal sums, Fraction pro-rating, one rounding (the fast path's specification)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Mapping, Sequence

from ..scheme import Indicator, Scheme
from .grade import Grade, left_roll_in, months_on_roll, quarters_on_roll, _streak_reason
from .periods import last_month, quarter_months
from .reasons import Reason
from .rounding import DZERO, ZERO, round_half_up
from .sums import SCORED_CATEGORIES, MemberLedger
from .types import TypeHistory, indicator_year_cap, month_types, prorate
from .periods import _SCOPE_ORDER, CapHit, PeriodPoints
from .year import YearScore


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


def _year_score_reference(scheme: Scheme, year: int, as_of: date, history: TypeHistory,
                          ledger: MemberLedger) -> YearScore:
    """year_score as the rules are written: Decimal sums, Fraction pro-rating, one rounding.

    The specification the fast path is tested against (tests/test_scoring_perf_equivalence.py),
    and its fallback for values it does not take (more decimals than the scheme's, non-Decimal
    numbers, a scheme whose month or quarter cap is not positive).
    """
    last = last_month(year, as_of)
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

    last = last_month(year, as_of)
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
