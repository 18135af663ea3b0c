"""How figures read: labels, percentages, scores, month names."""
from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_skeleton
from flask_babel import format_date, get_locale, lazy_gettext as _l

from .. import figures as F
from ..templating import rounded

LABELS: dict[str, Any] = {
    "population": _l("Members on the roll"),
    "types": _l("Members by type"),
    "participation": _l("Participation rate"),
    "attendance": _l("Attendance at organisational life"),
    "dues": _l("Dues paid on time"),
    "posts": _l("Volunteer posts"),
    "households": _l("Contact households"),
    "teams": _l("Volunteer teams"),
    "charity": _l("Charity-day donation rate"),
    "hours": _l("Volunteer hours"),
    "scores": _l("Average score"),
    "grades": _l("Grade distribution"),
    "queries": _l("Residents' queries"),
}
BAND_LABELS = ("< 60", "60–69.9", "70–79.9", "80–89.9", "≥ 90")

def pct(ratio: F.Ratio) -> str:
    p = ratio.percent()
    return "—" if p is None else f"{p}%"


def pct_number(ratio: F.Ratio) -> float | None:
    """For charts and the workbook: a percentage with one decimal, or None."""
    p = ratio.percent()
    return None if p is None else float(p)


def num(value) -> str:
    return f"{rounded(value):f}".removesuffix(".0")


def one(value) -> str:
    """A score with one decimal, always (66.0, not 66)."""
    return "—" if value is None else f"{rounded(value):f}"


def month_label(y: int, m: int, with_year: bool = False) -> str:
    if with_year:
        return format_skeleton("yMMM", date(y, m, 1), locale=get_locale())
    return format_date(date(y, m, 1), "LLL")


def axis_labels(points: list[F.TrendPoint]) -> list[str]:
    """Month names; the first month and each January carry the year when the months span two years."""
    spans = len({pt.year for pt in points}) > 1
    return [month_label(pt.year, pt.month, spans and (i == 0 or pt.month == 1)) for i, pt in enumerate(points)]
