"""The two scales of the benchmark, and the date the data ends on (the app's FIXED_TODAY).

Data spans whole calendar years up to LAST_DAY: ``street`` is this year so far (~1 year),
``district`` is four past years plus this year so far (~5 years), so the current year's
ledger is the same size per member at both scales and only the history grows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

LAST_DAY = date(2026, 11, 20)  # a Friday; Q1-Q3 of 2026 are published, Q4 is open
GENERATOR_VERSION = "8"        # bump whenever generate.py changes what it writes


@dataclass(frozen=True)
class Scale:
    name: str
    communities_per_street: tuple[int, ...]
    branches: int
    members: int          # on the roll (active) on LAST_DAY
    members_at_start: int  # on the roll on the first day of the data
    years: int

    @property
    def first_day(self) -> date:
        return date(LAST_DAY.year - self.years + 1, 1, 1)

    @property
    def streets(self) -> int:
        return len(self.communities_per_street)

    @property
    def communities(self) -> int:
        return sum(self.communities_per_street)


SCALES = {
    "street": Scale("street", (10,), 60, 1000, 900, 1),
    # The seed's district: 7 streets, 71 communities, 4,303 members growing to 7,246.
    "district": Scale("district", (10, 10, 10, 10, 10, 11, 10), 430, 7246, 4303, 5),
}
