"""Types: the type of a month, pro-rating by the type of each month."""
from __future__ import annotations

from bisect import bisect_right
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Sequence

from ..scheme import Indicator
from .periods import effective_as_of
from .rounding import DZERO

TypeHistory = Sequence[tuple[date, str]]


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
    d = effective_as_of(year, as_of)
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


_ONE_TYPE: dict[str, tuple[str, ...]] = {}
_FIRSTS: dict[int, tuple[date, ...]] = {}


def types_and_type_on(history: TypeHistory, year: int, d: date) -> tuple[tuple[str, ...], str]:
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
