"""Entry values and validation (called by the entry screens)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, NamedTuple

from ..refusals import Refusal
from ..scheme import Indicator, Scheme
from .reasons import N_
from .rounding import ONE_DECIMAL, round_half_up


ENTRY_ERROR_TEXTS: dict[str, str] = {
    "unknown_indicator": N_("Unknown indicator {indicator}."),
    "indicator_retired": N_("Indicator {indicator} is retired."),
    "indicator_not_applicable": N_("Indicator {indicator} does not apply to type {type}."),
    "hours_required": N_("Enter the hours served."),
    "hours_invalid": N_("Hours must be more than 0 and less than 1000, with at most one decimal."),
    "points_not_allowed": N_("{points} is not a value of {indicator}; allowed: {allowed}."),
    "date_in_future": N_("The date earned cannot be after today."),
    "date_too_early": N_("Entries dated before {year} are no longer accepted."),
    "note_required": N_("A deduction or veto needs a reason in the note."),
}


class EntryError(Refusal):
    """A refused entry; ``key`` names a text of ENTRY_ERROR_TEXTS, ``params`` fills it."""

    TEXTS = ENTRY_ERROR_TEXTS

    def __init__(self, key: str, **params: Any):
        super().__init__(key, **params)


class EntryValue(NamedTuple):
    points: Decimal             # rounded to one decimal, as stored
    quantity: Decimal | None    # hours, for hour indicators


def _decimal(value: Any) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def entry_points(scheme: Scheme, indicator: Indicator | str, type_code: str, value: Any = None) -> EntryValue:
    """The points an entry is recorded with, for a member of ``type_code`` on the day earned.

    - unit 'hour': ``value`` is the hours (required, > 0, < 1000, one decimal at most); points =
      hours x points of the type, rounded half up to one decimal (2.5 h x 0.5 = 1.25 -> 1.3).
    - points_options: ``value`` must be one of them; None gives the type's points if they are an
      option, else the indicator's default points.
    - otherwise the type's points (points_by_type overrides points); a given value must equal them.
    Refuses unknown, retired and not-applicable indicators (EntryError).
    """
    ind = indicator if isinstance(indicator, Indicator) else scheme.indicators.get(str(indicator))
    if ind is None:
        raise EntryError("unknown_indicator", indicator=indicator)
    if ind.retired:
        raise EntryError("indicator_retired", indicator=ind.code)
    if type_code not in ind.applies_to:
        raise EntryError("indicator_not_applicable", indicator=ind.code, type=type_code)
    if ind.is_hours:
        if value is None or str(value).strip() == "":
            raise EntryError("hours_required")
        hours = _decimal(value)
        if hours is None or not (0 < hours < 1000) or hours != hours.quantize(ONE_DECIMAL):
            raise EntryError("hours_invalid")
        hours = hours.quantize(ONE_DECIMAL)
        return EntryValue(round_half_up(Fraction(hours) * Fraction(ind.points_for(type_code))), hours)
    allowed = ind.allowed_points(type_code)
    if value is None or str(value).strip() == "":
        default = ind.points_for(type_code)
        points = default if default in allowed else ind.points
    else:
        points = _decimal(value)
        if points is None or points not in allowed:
            raise EntryError("points_not_allowed", points=value, indicator=ind.code,
                             allowed=", ".join(str(a) for a in allowed))
    return EntryValue(round_half_up(Fraction(points)), None)


def check_earned_on(earned_on: date, today: date, *, previous_year_open: bool) -> None:
    """Dates earned: not after today; the previous year only until its review is confirmed."""
    if earned_on > today:
        raise EntryError("date_in_future")
    oldest = today.year - 1 if previous_year_open else today.year
    if earned_on.year < oldest:
        raise EntryError("date_too_early", year=oldest)


def check_note(indicator: Indicator, note: str) -> None:
    """Deductions and vetoes must say why."""
    if indicator.needs_note and not (note or "").strip():
        raise EntryError("note_required")
