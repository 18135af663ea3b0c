"""What the rules read from one Scheme, worked out once: caps in integer units, flagged codes, per-type tables."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..scheme import Scheme
from .periods import CapHit
from .rounding import round_half_up
from .types import indicator_year_cap, prorate

_HIT_SCOPE = 1 << 24    # cap hit keys: scope order x _HIT_SCOPE + code rank x 16 + period (see _Tables)
_HIT_J = 3 * _HIT_SCOPE          # category caps: J before Z
_HIT_Z = 3 * _HIT_SCOPE + 16
_LIMIT = 10 ** 15       # a larger figure goes to the reference (whose Decimal context has 28 digits)
_MEMO_MAX = 20_000      # entries per memo before it is emptied (they only ever hold small values)


def _whole(value: Any, scale: int) -> int | None:
    """value * scale as an int when that is exact (a finite Decimal or an int), else None."""
    kind = type(value)
    if kind is Decimal:
        if not value.is_finite():
            return None
        n, den = value.as_integer_ratio()
        if scale % den:
            return None
        n *= scale // den
    elif kind is int:
        n = value * scale
    else:
        return None
    return n if -_LIMIT < n < _LIMIT else None


class _TypeTable:
    """What a member's 12 month types fix: pro-rated base and caps, indicators' year caps."""

    __slots__ = ("base", "basic_cap", "contribution_cap", "base_u", "basic_u", "contribution_u",
                 "year_caps", "rounded")

    def __init__(self, scheme: Scheme, tables: "_Tables", types: tuple[str, ...]):
        tdefs = [scheme.types[t] for t in types]   # an unknown type fails here, as in the reference
        self.base = prorate([t.base for t in tdefs])
        self.basic_cap = prorate([t.basic_cap for t in tdefs])
        self.contribution_cap = prorate([t.contribution_cap for t in tdefs])
        den = tables.year_den
        self.base_u, self.basic_u, self.contribution_u = (
            _exact_int(v * den) for v in (self.base, self.basic_cap, self.contribution_cap))
        self.year_caps: dict[str, int] = {}
        for code, ind in scheme.indicators.items():
            cap = indicator_year_cap(ind, types)
            if cap is not None:
                self.year_caps[code] = _exact_int(cap * den)
        mx = self.base + self.basic_cap + self.contribution_cap   # YearScore.max_score
        self.rounded = tuple(round_half_up(v) for v in (self.base, self.basic_cap, self.contribution_cap, mx))


def _exact_int(value: Fraction) -> int:
    if value.denominator != 1:  # cannot happen: every figure of the scheme has at most P decimals
        raise ArithmeticError("scheme figure not whole in its units")
    return value.numerator


class _Tables:
    """What the rules read from one Scheme object, worked out once (see _tables)."""

    def __init__(self, scheme: Scheme):
        self.veto_codes = tuple(sorted(scheme.codes_with(flag="veto")))
        self.heavier_codes = tuple(sorted(scheme.codes_with(flag="heavier")))
        self.veto = frozenset(self.veto_codes)
        self.heavier = frozenset(self.heavier_codes)
        self.absence = scheme.codes_with(role="absence")
        self.arrears = scheme.codes_with(role="dues_arrears")
        self.flagged = self.veto | self.heavier | self.absence | self.arrears
        self.by_types: dict[tuple[str, ...], _TypeTable] = {}
        self.fractions: dict[int, Fraction] = {}
        self.ok = True
        figures: list[Any] = [v for t in scheme.types.values() for v in (t.base, t.basic_cap, t.contribution_cap)]
        for ind in scheme.indicators.values():
            figures += [c for c in (ind.month_cap, ind.quarter_cap, ind.year_cap) if c is not None]
            figures += list(ind.year_cap_by_type.values())
            if any(c is not None and not c > 0 for c in (ind.month_cap, ind.quarter_cap)):
                self.ok = False  # the fast path skips months without points: only right for positive caps
        places = 1
        for v in figures:
            if type(v) is Decimal and v.is_finite():
                places = max(places, -v.as_tuple().exponent)
            elif type(v) is not int:
                self.ok = False
        self.ok = self.ok and places <= 6
        self.scale = 10 ** places
        self.year_den = 12 * self.scale
        # Per indicator of the scheme: (month cap, quarter cap) in units (None where it has none) and
        # the base of its cap hits' keys. A hit's key is an int that sorts as caps_reached is sorted
        # (scope, then code, then period): scope x _HIT_SCOPE + the code's rank x 16 + the period.
        self.caps: dict[str, tuple[int | None, int | None, int]] = {}
        self.hits: dict[int, CapHit] = {_HIT_J: CapHit("category", "J"), _HIT_Z: CapHit("category", "Z")}
        if self.ok:
            for rank, code in enumerate(sorted(scheme.indicators)):
                ind = scheme.indicators[code]
                mc = None if ind.month_cap is None else _whole(ind.month_cap, self.scale)
                qc = None if ind.quarter_cap is None else _whole(ind.quarter_cap, self.scale)
                if (mc is None) != (ind.month_cap is None) or (qc is None) != (ind.quarter_cap is None):
                    self.ok = False
                base = 16 * rank
                self.caps[code] = (mc, qc, base)
                self.hits.update({base + m: CapHit("month", code, m) for m in range(1, 13)})
                self.hits.update({_HIT_SCOPE + base + q: CapHit("quarter", code, q) for q in range(1, 5)})
                self.hits[2 * _HIT_SCOPE + base] = CapHit("year", code)

    def for_types(self, scheme: Scheme, types: tuple[str, ...]) -> _TypeTable:
        t = self.by_types.get(types)
        if t is None:
            t = _TypeTable(scheme, self, types)
            if len(self.by_types) > 4096:
                self.by_types.clear()
            self.by_types[types] = t
        return t

    def fraction(self, n: int) -> Fraction:
        """Fraction(n, year_den), normalised, memoised (Fractions are immutable)."""
        f = self.fractions.get(n)
        if f is None:
            f = Fraction(n, self.year_den)
            if len(self.fractions) > _MEMO_MAX:
                self.fractions.clear()
            self.fractions[n] = f
        return f


def _tables(scheme: Scheme) -> _Tables:
    """The scheme's _Tables, kept on the (frozen) Scheme object itself: one per scheme version."""
    tables = getattr(scheme, "_scoring_tables", None)
    if tables is None:
        tables = _Tables(scheme)
        try:
            object.__setattr__(scheme, "_scoring_tables", tables)
        except (AttributeError, TypeError):  # an object that takes no attributes: work it out each time
            pass
    return tables
