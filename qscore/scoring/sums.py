"""The ledger as the rules see it: live points summed per (indicator, category, month), in integer tenths.

The ledger stores tenths of a point (Numeric(7, 1)) and a scheme's points have at most one decimal
(Scheme.from_dict), so every sum is a whole number of tenths: kept as an int, no Decimal is built to score.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Iterable, NamedTuple

Key = tuple[str, str, int]  # (indicator_code, category, month 1-12)


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


def to_tenths(points: Decimal | int | str) -> int:
    """Points as a whole number of tenths; ValueError for anything finer (the ledger cannot hold it)."""
    n, den = Decimal(points).as_integer_ratio()
    if 10 % den:
        raise ValueError(f"{points} points: the ledger records tenths of a point")
    return n * (10 // den)


@dataclass
class MemberLedger:
    """A member's LIVE points of one year, summed per (indicator_code, category, month) in tenths.

    ``counts`` says how many live entries make up each sum (a veto's points are 0, so presence is
    read from counts, not sums); ``first_dates`` the earliest date earned under each key (for
    reasons such as "heavier deduction on 2026-03-05"). The sums must hold only entries earned on
    or before the as_of date they are scored for.
    """

    tenths: dict[Key, int] = field(default_factory=dict)
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
            ledger.add(e.indicator_code, e.category, e.earned_on, e.points)
        return ledger

    def add(self, indicator_code: str, category: str, earned_on: date, points: Decimal | int | str,
            count: int = 1) -> None:
        key = (indicator_code, category, earned_on.month)
        self.tenths[key] = self.tenths.get(key, 0) + to_tenths(points)
        self.counts[key] = self.counts.get(key, 0) + count
        if key not in self.first_dates or earned_on < self.first_dates[key]:
            self.first_dates[key] = earned_on
