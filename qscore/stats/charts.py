"""Chart data for the SVG macros of templates/stats/_charts.html: series, axes and a text description."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _

from .. import figures as F
from ..templating import GRADE_LABELS, TYPE_LABELS
from .format import BAND_LABELS, LABELS, axis_labels, month_label, num, pct_number
from .scope import PeriodChoice, period_label

def nice_max(value: float) -> tuple[float, list[float]]:
    """An axis maximum at or above ``value`` and its ticks (4 or 5 of them, round numbers)."""
    if value <= 0:
        return 4.0, [0, 1, 2, 3, 4]
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if value / step <= 5:
            top = step * -(-value // step)
            return float(top), [step * i for i in range(int(top // step) + 1)]
    top = float(value)
    return top, [0, top]


@dataclass
class Series:
    name: str
    values: list[float | None]
    cls: str

    @property
    def text_width(self) -> int:
        """The legend text's width in px at 12px (CJK characters are square, Latin about half)."""
        return sum(12 if ord(ch) >= 0x2E80 else 7 for ch in self.name)


@dataclass
class Chart:
    id: str
    title: str
    desc: str
    categories: list[str]
    series: list[Series]
    unit: str = ""
    max: float = 100.0
    ticks: list[float] = field(default_factory=lambda: [0, 25, 50, 75, 100])


def _describe(categories: list[str], series: list[Series], unit: str) -> str:
    parts = []
    for s in series:
        vals = [f"{c} {num(v)}{unit}" for c, v in zip(categories, s.values) if v is not None]
        parts.append(f"{s.name}: " + ("; ".join(vals) if vals else "—"))
    return ". ".join(parts)


def percent_chart(cid: str, title: str, categories: list[str], series: list[Series]) -> Chart:
    top = max([v for s in series for v in s.values if v is not None] or [0])
    mx, ticks = (100.0, [0, 25, 50, 75, 100]) if top <= 100 else nice_max(top)
    return Chart(cid, title, _describe(categories, series, "%"), categories, series, "%", mx, ticks)


def count_chart(cid: str, title: str, categories: list[str], series: list[Series]) -> Chart:
    top = max([v for s in series for v in s.values if v is not None] or [0])
    mx, ticks = nice_max(top)
    return Chart(cid, title, _describe(categories, series, ""), categories, series, "", mx, ticks)


def trend_chart(choice: PeriodChoice, trends: list[list[F.TrendPoint]]) -> Chart:
    if choice.compare:
        cats = [month_label(2000, m) for m in range(1, 13)]
        series = []
        for p, points, style in zip(choice.periods, trends, ("prev", "cur")):
            by_month = {pt.month: pt for pt in points}
            series.append(Series(_("Participation %(y)d", y=p.year),
                                 [pct_number(by_month[m].participation) if m in by_month else None
                                  for m in range(1, 13)], f"s1 {style}"))
            series.append(Series(_("Attendance %(y)d", y=p.year),
                                 [pct_number(by_month[m].attendance) if m in by_month else None
                                  for m in range(1, 13)], f"s2 {style}"))
        return percent_chart("chart-trend", _("Participation and attendance, month by month"), cats, series)
    points = trends[0]
    cats = axis_labels(points)
    return percent_chart("chart-trend", _("Participation and attendance, month by month"), cats, [
        Series(str(LABELS["participation"]), [pct_number(pt.participation) for pt in points], "s1 cur"),
        Series(str(LABELS["attendance"]), [pct_number(pt.attendance) for pt in points], "s2 cur"),
    ])


def grade_chart(choice: PeriodChoice, figs: list[F.Figures]) -> Chart:
    cats = [str(GRADE_LABELS[g]) for g in F.GRADE_CODES]
    series = [Series(period_label(f.period), [float(f.grades.total().get(g, 0)) for g in F.GRADE_CODES],
                     f"s{i + 3}") for i, f in enumerate(figs)]
    return count_chart("chart-grades", str(LABELS["grades"]), cats, series)


def band_chart(fig: F.Figures) -> Chart:
    series = [Series(str(TYPE_LABELS[t]), [float(n) for n in fig.scores.bands.get(t, [0] * len(F.SCORE_BANDS))],
                     f"t{t.lower()}") for t in F.TYPE_CODES]
    return count_chart("chart-bands", _("Score distribution by type"), list(BAND_LABELS), series)


def branch_chart(rows: list, street_level: bool) -> Chart:
    cats = [(f"{r.community.name} · " if street_level and not r.branch.name.startswith(r.community.name) else "")
            + r.branch.name for r in rows]
    return percent_chart("chart-branches", _("Branches compared"), cats, [
        Series(str(LABELS["participation"]), [pct_number(r.participation) for r in rows], "s1 cur"),
        Series(str(LABELS["attendance"]), [pct_number(r.attendance) for r in rows], "s2 cur"),
    ])
