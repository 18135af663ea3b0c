"""A member's assessment (pure): what the roster, booklet, board and review show."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..scheme import Scheme
from .compiled import compiled
from .grade import Grade, grade_of, ledger_facts
from .periods import CapHit, PeriodPoints, effective_as_of, quarter_of
from .rounding import round_units
from .sums import MemberLedger
from .types import TypeHistory
from .year import YearScore, evaluate_year


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
        d = effective_as_of(self.year, self.as_of)
        m = d.month if d.year == self.year else 0
        return tuple(h for h in self.caps_reached
                     if (h.scope == "month" and h.period == m) or (h.scope == "quarter" and h.period == quarter_of(m))
                     or h.scope in ("year", "category"))

    def cap_reached(self, code: str) -> bool:
        """For the roster's "cap reached" mark next to an indicator or a category (J/Z)."""
        return any(h.code == code for h in self.current_caps)


_NO_PERIOD = PeriodPoints()


def score_member(scheme: Scheme, year: int, as_of: date, history: TypeHistory, ledger: MemberLedger, *,
                 on_roll_since: date, left_roll_on: date | None = None, status: str = "active",
                 member_id: int | None = None) -> MemberScore:
    """Score and grade one member from their type history and ledger (no database)."""
    cs = compiled(scheme)
    d = effective_as_of(year, as_of)
    in_year = d.year == year
    month = d.month if in_year else 1
    facts = ledger_facts(cs, ledger, d.month if in_year else 0)
    ys, type_code = evaluate_year(cs, year, d, history, ledger, facts)
    base, basic_cap, contribution_cap, mx = ys.table.rounded
    den = cs.year_den
    _exact, j, z, k, j_uncapped, z_uncapped = ys.units
    grade = grade_of(cs, year, as_of, ys.score, ledger, facts, on_roll_since=on_roll_since,
                     left_roll_on=left_roll_on, status=status)
    return MemberScore(
        member_id=member_id, year=year, as_of=as_of, type_code=type_code, score=ys.score,
        base=base, j=round_units(j, den), z=round_units(z, den), k=round_units(k, den),
        j_uncapped=round_units(j_uncapped, den), z_uncapped=round_units(z_uncapped, den),
        basic_cap=basic_cap, contribution_cap=contribution_cap, max_score=mx, veto=ys.veto,
        caps_reached=ys.caps_reached,
        month=ys.month_points(month) if in_year else _NO_PERIOD,
        quarter=ys.quarter_points(quarter_of(month)) if in_year else _NO_PERIOD,
        grade=grade, detail=ys,
    )
