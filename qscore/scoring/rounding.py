"""The one rounding rule of qscore: exact, half up (ties away from zero), never through a float.

The scheme's rules: "only a final score is rounded, half up, to one decimal". ``round_half_up`` rounds
a Decimal, Fraction or int; ``round_units`` is the same rule on a ratio of integers (the fast path).
"""
from __future__ import annotations

import functools
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

ZERO = Fraction(0)
DZERO = Decimal(0)
ONE_DECIMAL = Decimal("0.1")


def half_up(n: int, den: int) -> int:
    """n / den rounded to a whole number, ties away from zero, on integers (den > 0)."""
    return (2 * n + den) // (2 * den) if n >= 0 else -((-2 * n + den) // (2 * den))


@functools.lru_cache(maxsize=4096)
def _scaled(q: int, places: int) -> Decimal:
    """q x 10**-places written with ``places`` decimals ("0.0" for zero, never "-0.0")."""
    return Decimal(q).scaleb(-places) if q else Decimal(0).scaleb(-places)


def round_half_up(value: Fraction | Decimal | int, places: int = 1) -> Decimal:
    """Round exactly to ``places`` decimals, ties away from zero (Decimal's ROUND_HALF_UP), without floats.

    Done on integers so that a long fraction can never be rounded twice (28-digit Decimal context).
    """
    if isinstance(value, Decimal):  # already exact: quantize rounds it exactly (and fast)
        d = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return d if d else _scaled(0, places)  # never "-0.0"
    x = Fraction(value)
    return _scaled(half_up(x.numerator * 10 ** places, x.denominator), places)


def tenths(n: int, den: int) -> int:
    """n / den in tenths, rounded half up: the integer behind round_units."""
    return half_up(10 * n, den)


def round_units(n: int, den: int) -> Decimal:
    """round_half_up(Fraction(n, den)), on integers (den > 0)."""
    return _scaled(half_up(10 * n, den), 1)


def from_tenths(q: int) -> Decimal:
    """Decimal q / 10 as round_half_up writes it ("0.0" for zero, never "-0.0")."""
    return _scaled(q, 1)
