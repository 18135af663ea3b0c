"""Calendar helpers (quarters, month indexes, the as-of date of a year score, runs of months), the points
of a month or quarter, and the caps reached in a period."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Iterable



def quarter_of(month: int) -> int:
    return (month - 1) // 3 + 1


def quarter_months(quarter: int) -> range:
    return range(3 * quarter - 2, 3 * quarter + 1)


def year_end(year: int) -> date:
    return date(year, 12, 31)


def effective_as_of(year: int, as_of: date) -> date:
    """The year score is the score as of Dec 31: a later as_of means Dec 31."""
    return min(as_of, year_end(year))


def last_month(year: int, as_of: date) -> int:
    """The last month of ``year`` whose entries count as of ``as_of`` (0: none yet)."""
    d = effective_as_of(year, as_of)
    return d.month if d.year == year else 0


def ym(index: int) -> str:
    """Month index (year * 12 + month - 1) as 'YYYY-MM'."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_index(year: int, month: int) -> int:
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


def quarter_end(year: int, quarter: int) -> date:
    last = quarter * 3
    return date(year + (last == 12), last % 12 + 1, 1) - timedelta(days=1)


@dataclass(frozen=True)
class CapHit:
    """A cap reached: scope 'month'/'quarter' (with period = month or quarter number), 'year'
    (an indicator's year cap) or 'category' (code J or Z). Reached means the uncapped amount is at
    least the cap, so one more entry would add nothing."""

    scope: str
    code: str
    period: int | None = None


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
