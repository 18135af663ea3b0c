"""The year score: caps, pro-rating and the period points, computed in integers (see compiled.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ..scheme import Scheme
from .compiled import _HIT_J, _HIT_SCOPE, _HIT_Z, _LIMIT, _MEMO_MAX, _Tables, _tables
from .grade import _Facts, _ledger_facts
from .periods import CapHit, PeriodPoints, effective_as_of
from .rounding import DZERO, from_tenths, round_units, tenths
from .sums import MemberLedger
from .types import TypeHistory, types_and_type_on


@dataclass(frozen=True)
class YearScore:
    """A year score to date, exactly. ``score`` is the only rounded figure (half up, one decimal)."""

    score: Decimal
    exact: Fraction                 # after floor and veto, before rounding
    base: Fraction                  # pro-rated
    basic_cap: Fraction             # pro-rated
    contribution_cap: Fraction      # pro-rated
    j_raw: Decimal                  # live J points, no caps
    z_raw: Decimal
    j_uncapped: Fraction            # after month/quarter/year caps, before the category cap
    z_uncapped: Fraction
    j: Fraction                     # capped
    z: Fraction
    k: Fraction                     # never capped
    veto: bool
    caps_reached: tuple[CapHit, ...]
    month_types: tuple[str, ...]    # the type of each month, Jan..Dec
    months: tuple[PeriodPoints, ...]    # earned points per month, Jan..Dec
    quarters: tuple[PeriodPoints, ...]  # earned points per quarter, Q1..Q4

    @property
    def max_score(self) -> Fraction:
        """The most a member can reach: pro-rated base + basic cap + contribution cap."""
        return self.base + self.basic_cap + self.contribution_cap


def year_score(scheme: Scheme, year: int, as_of: date, history: TypeHistory, ledger: MemberLedger) -> YearScore:
    """Year score to date as of ``as_of`` (the year score when as_of is Dec 31 or later).

    Per indicator: month caps, quarter caps, then the indicator's year cap (pro-rated if by type);
    then J and Z sums capped at the pro-rated basic/contribution caps; K added uncapped;
    base pro-rated; total floored at 0; any live entry of a 'veto' indicator makes it 0.
    Entries in months after as_of's month are ignored (the ledger should hold none).

    Computed in integers (see "The fast path" below); the rules as written are
    ``_year_score_reference``, which decides whatever the integers cannot represent exactly.
    """
    from .reference import _year_score_reference  # the fallback, until the next commits remove it (circular at the top)

    tables = _tables(scheme)
    fast = _fast_year(scheme, tables, year, as_of, history, ledger) if tables.ok else None
    if fast is not None:
        return fast[0]
    return _year_score_reference(scheme, year, as_of, history, ledger)



# ---------------------------------------------------------------------------------------------
# The fast path: the same rules in integers
#
# Every cap and per-type figure of a scheme is a whole multiple of 10**-P (P = the most decimal
# places the scheme writes, at least 1: tenths for the shipped scheme), and so is every stored
# point. Month and quarter caps are therefore applied to integers in units of 10**-P, and a
# pro-rated year figure (a sum over the 12 months, / 12) is an integer in units of 1/(12 * 10**P).
# Only the outputs become Fraction and Decimal again, exactly the values the rules as written
# give (_year_score_reference, _suggest_grade_reference; tests/test_scoring_perf_equivalence.py
# checks the two agree). What the integers cannot hold exactly goes to the reference: a point
# with more decimals than the scheme's, a number that is not a Decimal or an int, a scheme with a
# cap that is not a finite number or a month or quarter cap that is not positive.
# What only depends on the scheme (caps in units, flagged codes) or on a member's 12 month types
# (pro-rated base and caps, year caps) is worked out once and kept with the Scheme object, which
# is frozen and never changed in place.
# ---------------------------------------------------------------------------------------------

_DZERO_RAW = Decimal()           # j_raw / z_raw without any entry (as the reference's defaultdict gives)

_PERIODS: dict[tuple[int, int, int], PeriodPoints] = {}


def _period(j: int, z: int, k: int) -> PeriodPoints:
    """PeriodPoints of J, Z and K in tenths (frozen, so one object serves every equal period)."""
    key = (j, z, k)
    p = _PERIODS.get(key)
    if p is None:
        p = PeriodPoints(from_tenths(j), from_tenths(z), from_tenths(k))
        if len(_PERIODS) > _MEMO_MAX:
            _PERIODS.clear()
        _PERIODS[key] = p
    return p


def _fast_year(scheme: Scheme, tables: _Tables, year: int, as_of: date, history: TypeHistory,
               ledger: MemberLedger, facts: _Facts | None = None):
    """(YearScore, _TypeTable, type on as_of, and j, z, k, j uncapped, z uncapped in year units)
    by the integer rules, or None where the reference must decide (see the section notes)."""
    d = effective_as_of(year, as_of)
    last = d.month if d.year == year else 0
    types, on_d = types_and_type_on(history, year, d)
    tt = tables.for_types(scheme, types)
    if facts is None:
        facts = _ledger_facts(tables, ledger, last)
    scale = tables.scale
    caps = tables.caps

    # 1. Every sum of the year to date into integers (units of 10**-P); K and J/Z of indicators no
    #    longer in the scheme (uncapped) straight into the month totals, the rest grouped.
    month_j = [0] * 12
    month_z = [0] * 12
    month_k = [0] * 12
    raw_j: list[Decimal] = []
    raw_z: list[Decimal] = []
    free_j = free_z = free_k = 0
    groups_j: dict[str, list[tuple[int, int]]] = {}
    groups_z: dict[str, list[tuple[int, int]]] = {}
    try:
        for (code, cat, m), value in ledger.sums.items():
            if not 1 <= m <= last:
                continue
            kind = type(value)
            if kind is Decimal:
                n, den = value.as_integer_ratio()  # NaN and infinities raise: the reference decides
                if den == 1:
                    n *= scale
                elif scale % den:
                    return None
                else:
                    n *= scale // den
            elif kind is int:
                n = value * scale
                value = Decimal(value)
            else:
                return None
            if not -_LIMIT < n < _LIMIT:
                return None
            if cat == "J":
                raw_j.append(value)
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
                raw_z.append(value)
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
            # another stored category counts nowhere (as in the reference)
    except (ValueError, ArithmeticError):
        return None

    # 2. Per indicator: month caps, then quarter caps consumed in month order, then the year cap.
    #    Cap hits are sortable ints (see _Tables.hits), in caps_reached's order once sorted.
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
                            hits.append(_HIT_SCOPE + hit + quarter)
                        quarter = q
                        used = before_quarter_cap = 0
                    if month_cap is not None:
                        if value >= month_cap:
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
                    hits.append(_HIT_SCOPE + hit + quarter)
            total *= 12
            cap = year_caps.get(code)
            if cap is not None and total >= cap:
                hits.append(2 * _HIT_SCOPE + hit)
                total = cap
            if months is month_j:
                after_j += total
            else:
                after_z += total

    # 3. Category caps, deductions, base, floor and veto.
    basic_u, contribution_u = tt.basic_u, tt.contribution_u
    if after_j >= basic_u:
        j = basic_u
        hits.append(_HIT_J)
    else:
        j = after_j
    if after_z >= contribution_u:
        z = contribution_u
        hits.append(_HIT_Z)
    else:
        z = after_z
    k = 12 * free_k
    veto = facts.veto
    if veto:
        exact = 0
    else:
        exact = tt.base_u + j + z + k
        if exact < 0:
            exact = 0
    hits.sort()
    hit_of = tables.hits

    # 4. Outputs, as the reference builds them.
    den = tables.year_den
    fraction = tables.fraction
    if scale == 10:  # tenths: a month's points are already rounded
        months_pp = tuple(map(_period, month_j, month_z, month_k))
        quarters_pp = tuple(_period(month_j[i] + month_j[i + 1] + month_j[i + 2],
                                    month_z[i] + month_z[i + 1] + month_z[i + 2],
                                    month_k[i] + month_k[i + 1] + month_k[i + 2]) for i in (0, 3, 6, 9))
    else:
        months_pp = tuple(_period(tenths(month_j[i], scale), tenths(month_z[i], scale), tenths(month_k[i], scale))
                          for i in range(12))
        quarters_pp = tuple(_period(tenths(month_j[i] + month_j[i + 1] + month_j[i + 2], scale),
                                    tenths(month_z[i] + month_z[i + 1] + month_z[i + 2], scale),
                                    tenths(month_k[i] + month_k[i + 1] + month_k[i + 2], scale)) for i in (0, 3, 6, 9))
    ys = YearScore(
        score=round_units(exact, den), exact=fraction(exact), base=tt.base, basic_cap=tt.basic_cap,
        contribution_cap=tt.contribution_cap, j_raw=sum(raw_j, DZERO) if raw_j else _DZERO_RAW,
        z_raw=sum(raw_z, DZERO) if raw_z else _DZERO_RAW,
        j_uncapped=fraction(after_j), z_uncapped=fraction(after_z), j=fraction(j), z=fraction(z),
        k=fraction(k), veto=veto, caps_reached=tuple([hit_of[h] for h in hits]), month_types=types,
        months=months_pp, quarters=quarters_pp,
    )
    return ys, tt, on_d, j, z, k, after_j, after_z
