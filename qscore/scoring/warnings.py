"""Early warnings from the months with live entries (absence and dues-arrears runs, no entries)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from .periods import month_index, ym
from .reasons import Reason


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
    current = month_index(as_of.year, as_of.month)
    out: list[Reason] = []
    for key, months in (("warning_absence_streak", absence_months), ("warning_dues_arrears_streak", arrears_months)):
        idx = {month_index(y, m) for y, m in months}
        end = current if current in idx else current - 1 if current - 1 in idx else None
        if end is None:
            continue
        start = end
        while start - 1 in idx:
            start -= 1
        if end - start + 1 >= streak_months:
            out.append(Reason(key, {"months": str(end - start + 1), "start": ym(start), "end": ym(end)}))
    first = current - streak_months + 1
    active = {month_index(y, m) for y, m in active_months}
    eligible = on_roll_since is None or month_index(on_roll_since.year, on_roll_since.month) <= first
    if eligible and not any(first <= i <= current for i in active):
        out.append(Reason("warning_no_entries", {"months": str(streak_months), "start": ym(first), "end": ym(current)}))
    return out


@dataclass(frozen=True)
class RegisterMonths:
    """What a dues register says of a member, for the warnings: the months owed, read from ``since`` (the
    month its first amount due took effect) on; the months before are the ledger's to tell."""

    since: tuple[int, int]
    owed: frozenset[tuple[int, int]]

    def arrears(self, ledger_months: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
        """The months in arrears: the ledger's arrears entries before ``since``, the register's owed from it."""
        return {m for m in ledger_months if m < self.since} | set(self.owed)


@dataclass
class WarningMonths:
    """(year, month) sets behind a member's early warnings."""

    absence: set[tuple[int, int]] = field(default_factory=set)
    arrears: set[tuple[int, int]] = field(default_factory=set)
    active: set[tuple[int, int]] = field(default_factory=set)
