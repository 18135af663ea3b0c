"""The year score: month, quarter and year caps, pro-rating and the period points, in integers (see compiled.py)."""
from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ..scheme import Scheme
from .compiled import HIT_J, HIT_SCOPE, HIT_Z, CompiledScheme, TypeTable, compiled
from .grade import Facts, ledger_facts
from .periods import CapHit, PeriodPoints, effective_as_of
from .rounding import from_tenths, round_units, tenths
from .sums import MemberLedger
from .types import TypeHistory, types_and_type_on


@functools.lru_cache(maxsize=4096)
def _period(j: int, z: int, k: int) -> PeriodPoints:
    """PeriodPoints of J, Z and K in tenths (frozen, so one object serves every equal period)."""
    return PeriodPoints(from_tenths(j), from_tenths(z), from_tenths(k))


class YearScore:
    """A year score to date, exactly. ``score`` is the only rounded figure (half up, one decimal).

    Computed in integers: ``units`` holds (exact, j, z, k, j_uncapped, z_uncapped) in 1/year_den points and
    ``table`` the pro-rated base and caps. The exact figures (Fractions) and the month and quarter points are
    built when first read; most callers read only the score and MemberScore's rounded figures.
    """

    FIELDS = ("score", "exact", "base", "basic_cap", "contribution_cap", "j_raw", "z_raw", "j_uncapped",
              "z_uncapped", "j", "z", "k", "veto", "caps_reached", "month_types", "months", "quarters")

    def __init__(self, score: Decimal, veto: bool, caps_reached: tuple[CapHit, ...], month_types: tuple[str, ...],
                 units: tuple[int, int, int, int, int, int], table: TypeTable, year_den: int,
                 raw_tenths: tuple[int | None, int | None], month_units: tuple[list[int], list[int], list[int]]):
        self.score = score
        self.veto = veto
        self.caps_reached = caps_reached
        self.month_types = month_types      # the type of each month, Jan..Dec
        self.units = units
        self.table = table
        self.year_den = year_den
        self._raw = raw_tenths              # live J and Z points, no caps (None: no entry)
        self._months = month_units          # J, Z, K per month after month and quarter caps, in 1/(year_den/12)

    def _fraction(self, n: int) -> Fraction:
        return Fraction(n, self.year_den)

    exact = functools.cached_property(lambda self: self._fraction(self.units[0]))   # after floor and veto
    j = functools.cached_property(lambda self: self._fraction(self.units[1]))       # capped
    z = functools.cached_property(lambda self: self._fraction(self.units[2]))
    k = functools.cached_property(lambda self: self._fraction(self.units[3]))       # never capped
    j_uncapped = functools.cached_property(lambda self: self._fraction(self.units[4]))  # before the category cap
    z_uncapped = functools.cached_property(lambda self: self._fraction(self.units[5]))
    base = functools.cached_property(lambda self: self._fraction(self.table.base_u))     # pro-rated
    basic_cap = functools.cached_property(lambda self: self._fraction(self.table.basic_u))
    contribution_cap = functools.cached_property(lambda self: self._fraction(self.table.contribution_u))
    j_raw = functools.cached_property(lambda self: Decimal(0) if self._raw[0] is None else from_tenths(self._raw[0]))
    z_raw = functools.cached_property(lambda self: Decimal(0) if self._raw[1] is None else from_tenths(self._raw[1]))

    @property
    def max_score(self) -> Fraction:
        """The most a member can reach: pro-rated base + basic cap + contribution cap."""
        t = self.table
        return self._fraction(t.base_u + t.basic_u + t.contribution_u)

    def month_points(self, month: int) -> PeriodPoints:
        """Earned points of one month (1-12), without building the other months'."""
        if "months" in self.__dict__:
            return self.months[month - 1]
        scale, i = self.year_den // 12, month - 1
        return _period(*(tenths(ms[i], scale) for ms in self._months))

    def quarter_points(self, quarter: int) -> PeriodPoints:
        """Earned points of one quarter (1-4), without building the other quarters'."""
        if "quarters" in self.__dict__:
            return self.quarters[quarter - 1]
        scale, i = self.year_den // 12, 3 * quarter - 3
        return _period(*(tenths(ms[i] + ms[i + 1] + ms[i + 2], scale) for ms in self._months))

    @functools.cached_property
    def months(self) -> tuple[PeriodPoints, ...]:
        """Earned points per month, Jan..Dec (after month and quarter caps)."""
        mj, mz, mk = self._months
        scale = self.year_den // 12
        if scale == 10:  # tenths: a month's points are already rounded
            return tuple(map(_period, mj, mz, mk))
        return tuple(_period(tenths(mj[i], scale), tenths(mz[i], scale), tenths(mk[i], scale)) for i in range(12))

    @functools.cached_property
    def quarters(self) -> tuple[PeriodPoints, ...]:
        """Earned points per quarter, Q1..Q4 (a quarter's exact sum, rounded once)."""
        mj, mz, mk = self._months
        scale = self.year_den // 12
        return tuple(_period(tenths(mj[i] + mj[i + 1] + mj[i + 2], scale), tenths(mz[i] + mz[i + 1] + mz[i + 2], scale),
                             tenths(mk[i] + mk[i + 1] + mk[i + 2], scale)) for i in (0, 3, 6, 9))

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if isinstance(other, YearScore) else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"YearScore({', '.join(f'{name}={getattr(self, name)!r}' for name in self.FIELDS)})"


def year_score(scheme: Scheme, year: int, as_of: date, history: TypeHistory, ledger: MemberLedger) -> YearScore:
    """Year score to date as of ``as_of`` (the year score when as_of is Dec 31 or later).

    Per indicator: month caps, quarter caps, then the indicator's year cap (pro-rated if by type);
    then J and Z sums capped at the pro-rated basic/contribution caps; K added uncapped;
    base pro-rated; total floored at 0; any live entry of a 'veto' indicator makes it 0.
    Entries in months after as_of's month are ignored (the ledger should hold none).
    """
    return evaluate_year(compiled(scheme), year, effective_as_of(year, as_of), history, ledger)[0]


def evaluate_year(cs: CompiledScheme, year: int, d: date, history: TypeHistory, ledger: MemberLedger,
            facts: Facts | None = None) -> tuple[YearScore, str]:
    """(the YearScore as of ``d`` = effective_as_of(year, as_of), the type in force on d)."""
    last = d.month if d.year == year else 0
    types, on_d = types_and_type_on(history, year, d)
    tt = cs.for_types(types)
    if facts is None:
        facts = ledger_facts(cs, ledger, last)
    caps = cs.caps
    mult = cs.tenths_scale

    # 1. Every sum of the year to date in units; K, and J/Z of indicators no longer in the scheme (uncapped),
    #    straight into the month totals, the rest grouped per indicator.
    month_j = [0] * 12
    month_z = [0] * 12
    month_k = [0] * 12
    raw_j = raw_z = None
    free_j = free_z = free_k = 0
    groups_j: dict[str, list[tuple[int, int]]] = {}
    groups_z: dict[str, list[tuple[int, int]]] = {}
    for (code, cat, m), t in ledger.tenths.items():
        if m > last:
            continue
        n = t * mult if mult != 1 else t
        if cat == "J":
            raw_j = t if raw_j is None else raw_j + t
            if code in caps:
                g = groups_j.get(code)
                if g is None:
                    groups_j[code] = [(m, n)]
                else:
                    g.append((m, n))
            else:
                free_j += n
                month_j[m - 1] += n
        elif cat == "Z":
            raw_z = t if raw_z is None else raw_z + t
            if code in caps:
                g = groups_z.get(code)
                if g is None:
                    groups_z[code] = [(m, n)]
                else:
                    g.append((m, n))
            else:
                free_z += n
                month_z[m - 1] += n
        elif cat == "K":
            free_k += n
            month_k[m - 1] += n

    # 2. Per indicator: month caps, then quarter caps consumed in month order, then the year cap.
    #    Cap hits are sortable ints (see CompiledScheme.hits), in caps_reached's order once sorted.
    hits: list[int] = []
    year_caps = tt.year_caps
    after_j = 12 * free_j
    after_z = 12 * free_z
    for groups, months in ((groups_j, month_j), (groups_z, month_z)):
        for code, pairs in groups.items():
            month_cap, quarter_cap, hit = caps[code]
            total = 0
            if month_cap is None and quarter_cap is None:
                for m, value in pairs:
                    months[m - 1] += value
                    total += value
            else:
                if len(pairs) > 1:
                    pairs.sort()
                quarter = used = before_quarter_cap = 0
                for m, value in pairs:
                    q = (m + 2) // 3
                    if q != quarter:
                        if quarter and quarter_cap is not None and before_quarter_cap >= quarter_cap:
                            hits.append(HIT_SCOPE + hit + quarter)
                        quarter = q
                        used = before_quarter_cap = 0
                    if month_cap is not None and value >= month_cap:
                        hits.append(hit + m)
                        value = month_cap
                    before_quarter_cap += value
                    if quarter_cap is not None and value > 0:
                        room = quarter_cap - used
                        if room < value:
                            value = room if room > 0 else 0
                    used += value
                    total += value
                    months[m - 1] += value
                if quarter_cap is not None and before_quarter_cap >= quarter_cap:
                    hits.append(HIT_SCOPE + hit + quarter)
            total *= 12
            cap = year_caps.get(code)
            if cap is not None and total >= cap:
                hits.append(2 * HIT_SCOPE + hit)
                total = cap
            if months is month_j:
                after_j += total
            else:
                after_z += total

    # 3. Category caps, deductions, base, floor and veto.
    if after_j >= tt.basic_u:
        j = tt.basic_u
        hits.append(HIT_J)
    else:
        j = after_j
    if after_z >= tt.contribution_u:
        z = tt.contribution_u
        hits.append(HIT_Z)
    else:
        z = after_z
    k = 12 * free_k
    exact = 0 if facts.veto else max(tt.base_u + j + z + k, 0)
    hits.sort()
    hit_of = cs.hits
    ys = YearScore(round_units(exact, cs.year_den), facts.veto, tuple([hit_of[h] for h in hits]), types,
                   (exact, j, z, k, after_j, after_z), tt, cs.year_den, (raw_j, raw_z), (month_j, month_z, month_k))
    return ys, on_d
