"""The suggested grade of a year, and what it reads from a ledger in one pass."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from ..scheme import Scheme
from .compiled import CompiledScheme, compiled
from .periods import last_month, longest_run, month_index, quarter_of, ym, year_end
from .reasons import Reason
from .sums import Key, MemberLedger


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
    return left_roll_on is None or left_roll_on <= year_end(year)


def _streak_reason(key: str, year: int, months: set[int], needed: int) -> Reason | None:
    length, first, last = longest_run(months)
    if length < needed:
        return None
    return Reason(key, {"months": str(length), "start": ym(month_index(year, first)),
                        "end": ym(month_index(year, last))})


def suggest_grade(scheme: Scheme, year: int, as_of: date, score: Decimal, ledger: MemberLedger, *,
                  on_roll_since: date, left_roll_on: date | None = None, status: str = "active") -> Grade:
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
    return grade_of(compiled(scheme), year, as_of, score, ledger, None, on_roll_since=on_roll_since,
                    left_roll_on=left_roll_on, status=status)


class Facts(NamedTuple):
    """What the grade reads from a ledger, in one pass over its counts (to a last month)."""

    veto: bool                       # a live entry of a veto indicator
    veto_first: dict[str, date]      # veto indicator -> first date earned
    heavier_first: dict[str, date]
    absence_months: set[int]
    arrears_months: set[int]
    z_quarters: set[int]


def ledger_facts(cs: CompiledScheme, ledger: MemberLedger, last: int) -> Facts:
    """The ledger's facts that the grade and the review flags read, for every rule at once (months up to last)."""
    z_quarters: set[int] = set()
    flagged = cs.flagged
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
            if code in cs.veto:
                veto = True
            if code in cs.absence:
                absence.add(m)
            if code in cs.arrears:
                arrears.add(m)
            if key in first_dates:
                if code in cs.veto:
                    veto_first.setdefault(code, []).append(first_dates[key])
                if code in cs.heavier:
                    heavier_first.setdefault(code, []).append(first_dates[key])
    return Facts(veto, {c: min(ds) for c, ds in veto_first.items()}, {c: min(ds) for c, ds in heavier_first.items()},
                 absence, arrears, z_quarters)


def grade_of(cs: CompiledScheme, year: int, as_of: date, score: Decimal, ledger: MemberLedger,
             facts: Facts | None, *, on_roll_since: date, left_roll_on: date | None, status: str) -> Grade:
    """suggest_grade from one pass over the ledger (facts: ledger_facts to as_of's month, if already read)."""
    th = cs.scheme.thresholds
    if left_roll_in(year, status, left_roll_on):
        return Grade(None, (Reason("not_graded_left_roll", {"date": left_roll_on.isoformat() if left_roll_on else ""}),))
    n_months = months_on_roll(year, on_roll_since)
    if n_months < th.min_months_on_roll_for_grade:
        return Grade(None, (Reason("not_graded_short_roll", {
            "since": on_roll_since.isoformat(), "months": str(n_months),
            "min": str(th.min_months_on_roll_for_grade)}),))

    if facts is None:
        facts = ledger_facts(cs, ledger, last_month(year, as_of))
    rectify: list[Reason] = []
    for code in cs.veto_codes:
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
    for code in cs.heavier_codes:
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
