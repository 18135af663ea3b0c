"""What the rules read from one Scheme, worked out once: caps in integer units, flagged codes, per-type tables.

Scheme.from_dict guarantees what integers need (qscore/scheme.py): a type's or an indicator's figure has at
most 2 decimals, every cap is above 0 and at most 1000, and points have 1 decimal, so the ledger's sums are
whole tenths. A scheme is therefore scored in units of 10**-P points (P = 1, or 2 when a figure has two
decimals), and a pro-rated year figure (a sum over the 12 months, / 12) is an integer in units of
1/(12 * 10**P). Only the outputs become Fraction and Decimal again. tests/scoring_oracle.py is the rules
as written, in Decimals and Fractions; tests/test_scoring_oracle.py checks both agree.
"""
from __future__ import annotations

import functools
from decimal import Decimal

from ..scheme import Scheme
from .periods import CapHit
from .rounding import round_units

HIT_SCOPE = 1 << 24    # cap hit keys: scope order x HIT_SCOPE + code rank x 16 + period (see CompiledScheme)
HIT_J = 3 * HIT_SCOPE          # category caps: J before Z
HIT_Z = 3 * HIT_SCOPE + 16


def _units(value: Decimal, scale: int) -> int:
    """value x scale, which must be whole (see the module's note)."""
    n, den = value.as_integer_ratio()
    if scale % den:
        raise ValueError(f"{value}: more decimals than qscore scores in (not a scheme from Scheme.from_dict)")
    return n * (scale // den)


class TypeTable:
    """What a member's 12 month types fix, in year units: pro-rated base and caps, indicators' year caps."""

    __slots__ = ("base_u", "basic_u", "contribution_u", "year_caps", "rounded")

    def __init__(self, scheme: Scheme, scale: int, types: tuple[str, ...]):
        tdefs = [scheme.types[t] for t in types]   # an unknown type fails here (KeyError)
        self.base_u = sum(_units(t.base, scale) for t in tdefs)
        self.basic_u = sum(_units(t.basic_cap, scale) for t in tdefs)
        self.contribution_u = sum(_units(t.contribution_cap, scale) for t in tdefs)
        # A year_cap_by_type is pro-rated by the type of each month; a type it lacks falls back to year_cap,
        # and a month with neither leaves the indicator uncapped for the year.
        self.year_caps: dict[str, int] = {}
        for code, ind in scheme.indicators.items():
            if ind.year_cap_by_type:
                caps = [ind.year_cap_for(t) for t in types]
                if None not in caps:
                    self.year_caps[code] = sum(_units(c, scale) for c in caps)
            elif ind.year_cap is not None:
                self.year_caps[code] = 12 * _units(ind.year_cap, scale)
        den = 12 * scale
        self.rounded = tuple(round_units(v, den) for v in (
            self.base_u, self.basic_u, self.contribution_u, self.base_u + self.basic_u + self.contribution_u))


class CompiledScheme:
    """What the rules read from one Scheme object (see compiled)."""

    def __init__(self, scheme: Scheme):
        self.scheme = scheme
        self.veto_codes = tuple(sorted(scheme.codes_with(flag="veto")))
        self.heavier_codes = tuple(sorted(scheme.codes_with(flag="heavier")))
        self.veto = frozenset(self.veto_codes)
        self.heavier = frozenset(self.heavier_codes)
        self.absence = scheme.codes_with(role="absence")
        self.arrears = scheme.codes_with(role="dues_arrears")
        self.flagged = self.veto | self.heavier | self.absence | self.arrears
        figures = [v for t in scheme.types.values() for v in (t.base, t.basic_cap, t.contribution_cap)]
        for ind in scheme.indicators.values():
            figures += [c for c in (ind.month_cap, ind.quarter_cap, ind.year_cap) if c is not None]
            figures += ind.year_cap_by_type.values()
        self.scale = 10 if all(10 % v.as_integer_ratio()[1] == 0 for v in figures) else 100
        self.tenths_scale = self.scale // 10   # a ledger sum (tenths) in units
        self.year_den = 12 * self.scale
        # Per indicator: (month cap, quarter cap) in units (None where it has none) and the base of its cap
        # hits' keys. A hit's key is an int that sorts as caps_reached is sorted (scope, then code, then
        # period): scope x HIT_SCOPE + the code's rank x 16 + the period.
        self.caps: dict[str, tuple[int | None, int | None, int]] = {}
        self.hits: dict[int, CapHit] = {HIT_J: CapHit("category", "J"), HIT_Z: CapHit("category", "Z")}
        for rank, code in enumerate(sorted(scheme.indicators)):
            ind = scheme.indicators[code]
            mc = None if ind.month_cap is None else _units(ind.month_cap, self.scale)
            qc = None if ind.quarter_cap is None else _units(ind.quarter_cap, self.scale)
            if (mc is not None and mc <= 0) or (qc is not None and qc <= 0):  # months without points are skipped
                raise ValueError(f"{code}: a month or quarter cap must be positive (Scheme.from_dict refuses it)")
            base = 16 * rank
            self.caps[code] = (mc, qc, base)
            self.hits.update({base + m: CapHit("month", code, m) for m in range(1, 13)})
            self.hits.update({HIT_SCOPE + base + q: CapHit("quarter", code, q) for q in range(1, 5)})
            self.hits[2 * HIT_SCOPE + base] = CapHit("year", code)
        # A street has a few dozen combinations of month types (type changes within the year).
        self.for_types = functools.lru_cache(maxsize=1024)(self._for_types)

    def _for_types(self, types: tuple[str, ...]) -> TypeTable:
        return TypeTable(self.scheme, self.scale, types)


@functools.lru_cache(maxsize=32)
def compiled(scheme: Scheme) -> CompiledScheme:
    """The scheme worked out for scoring, once per Scheme object (a Scheme hashes by identity, and
    scheme_versions keeps one object per stored version)."""
    return CompiledScheme(scheme)
