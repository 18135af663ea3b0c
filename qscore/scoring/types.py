"""Types: the type in force on a day, and the type of each month of a year."""
from __future__ import annotations

import functools
from bisect import bisect_right
from datetime import date
from typing import Sequence

from .periods import effective_as_of

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


@functools.lru_cache(maxsize=16)
def _month_firsts(year: int) -> tuple[date, ...]:
    return tuple(date(year, m, 1) for m in range(1, 13))


def types_and_type_on(history: TypeHistory, year: int, d: date) -> tuple[tuple[str, ...], str]:
    """(month_types(history, year, d), type_on(history, d)), sorting the history once."""
    hist = _sorted_history(history)
    if len(hist) == 1:
        t = hist[0][1]
        return (t,) * 12, t
    days = [h[0] for h in hist]

    def on(day: date) -> str:
        i = bisect_right(days, day)
        return hist[i - 1][1] if i else hist[0][1]

    on_d = on(d)
    return tuple(on(f) if f <= d else on_d for f in _month_firsts(year)), on_d
