"""The figures page, the members behind a figure, and the quarterly report."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, current_app, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from ..access import requires, SECRETARIES
from .. import dues
from .. import figures as F
from ..clock import today
from ..db import db
from ..exports import Sheet, download, write_xlsx
from ..htmx import page_or_fragment
from ..models import Branch, Community
from ..scheme_versions import scheme_for_year
from ..street_settings import get_setting
from ..templating import GRADE_LABELS, TYPE_LABELS
from . import bp
from .charts import Series, band_chart, branch_chart, grade_chart, percent_chart, trend_chart
from .forms import FiguresArgs, MembersArgs, figures_args
from .format import BAND_LABELS, LABELS, month_label, num, one, pct, pct_number
from .scope import (PeriodChoice, Scope, branch_rows_of, choice_label, first_year, last_ended_quarter, period_label,
                    period_options, resolve_period, resolve_scope, scope_options)

@dataclass
class Card:
    key: str
    label: str
    value: str
    detail: str
    definition: str
    link: str | None
    previous: str | None = None     # the earlier year's value, side by side
    change: str | None = None
    types: dict[str, int] | None = None   # members by type, for the "types" card


def _tz(scope_street: int) -> str:
    return get_setting(scope_street, "timezone")


def compute(scope: Scope, period: F.Period, day: date) -> F.Figures:
    return F.compute(db.session, scheme_for_year(period.year), scope.branch_ids, scope.community_ids, period, day,
                     branch_level=scope.branch_level, tz_name=_tz(current_user.street_id))


def members_link(scope: Scope, period: F.Period, figure: str, **extra) -> str:
    return url_for("stats.members", scope=scope.key, period=period.key, figure=figure, **extra)


def card_values(fig: F.Figures) -> dict[str, tuple[str, str, Decimal | None]]:
    """figure -> (value, detail, comparable number) for the key-figure cards."""
    part, att, dues = fig.total("participation"), fig.total("attendance"), fig.total("dues")
    posts, hh, charity, hours = fig.total("posts"), fig.total("households"), fig.total("charity"), fig.total("hours")
    received, answered = fig.queries_total
    avg = fig.scores.average()
    dq = ", ".join(f"Q{q}" for _y, q in fig.dues_quarters)
    return {
        "population": (str(fig.members), _("on %(day)s", day=fig.as_of.isoformat()) if fig.as_of else "",
                       Decimal(fig.members)),
        "types": (" · ".join(str(n) for n in fig.type_counts().values()), _("by the type in force at the period's end"),
                  None),
        "participation": (pct(part.rate), _("%(n)d of %(d)d members with a playing-a-role entry", n=part.hits,
                                            d=part.members), part.rate.percent()),
        "attendance": (pct(att), _("%(n)d attendances of %(d)d expected", n=att.num, d=att.den), att.percent()),
        "dues": (pct(dues), (_("%(n)d of %(d)d member-quarters (%(q)s)", n=dues.num, d=dues.den, q=dq) if dq
                             else _("no quarter of the period has ended yet")), dues.percent()),
        "posts": (num(posts.total), _("%(n)d members hold a post", n=posts.hits)
                  + (_(" · %(p)d pending", p=fig.pending.get("posts", 0)) if fig.pending.get("posts") else ""),
                  posts.total),
        "households": (num(hh.total), _("%(p)s of the members' number · %(n)d members keep contact",
                                        p=pct(fig.households_ratio), n=hh.hits), hh.total),
        "teams": (str(len(fig.teams)), _("%(n)d members in a team", n=fig.total("team_members").hits),
                  Decimal(len(fig.teams))),
        "charity": (pct(charity.rate), _("%(n)d of %(d)d members donated", n=charity.hits, d=charity.members),
                    charity.rate.percent()),
        "hours": (num(hours.total), _("by %(n)d members", n=hours.hits), hours.total),
        "scores": (one(avg),
                   _("year score to date, %(day)s", day=fig.as_of.isoformat()) if fig.as_of else "", avg),
        "queries": (f"{received} / {answered}", _("received / answered"), Decimal(received)),
    }


LISTED = {"population": "types", "types": "types", "participation": "participation", "attendance": "attendance", "dues": "dues",
          "posts": "posts", "households": "households", "teams": "teams", "charity": "charity", "hours": "hours",
          "scores": "scores"}
CARD_ORDER = ("population", "types", "participation", "attendance", "dues", "posts", "households", "teams", "charity",
              "hours", "scores", "queries")


def cards(scope: Scope, choice: PeriodChoice, figs: list[F.Figures]) -> list[Card]:
    main = card_values(figs[-1])
    prev = card_values(figs[0]) if choice.compare else None
    out = []
    for key in CARD_ORDER:
        value, detail, number = main[key]
        link = members_link(scope, choice.main, LISTED[key]) if key in LISTED else (
            url_for("queries.index") if key == "queries" and "queries.index" in _views() else None)
        card = Card(key, str(LABELS[key]), value, detail, _(F.DEFINITIONS[key]), link,
                    types=figs[-1].type_counts() if key == "types" else None)
        if prev is not None:
            card.previous = prev[key][0]
            before = prev[key][2]
            if number is not None and before is not None:
                delta = number - before
                unit = _(" points") if key in ("participation", "attendance", "dues", "charity") else ""
                card.change = ("+" if delta > 0 else "") + num(delta) + unit
        out.append(card)
    return out


def _views():
    return current_app.view_functions


# Charts ----------------------------------------------------------------------------------------

def trend_rows(scope: Scope, choice: PeriodChoice, day: date) -> list[list[F.TrendPoint]]:
    out = []
    for p in choice.periods:
        months = F.months_ending(p) if choice.compare or p.kind == "year" else F.months_ending(p, 12)
        out.append(F.trend(db.session, scheme_for_year(p.year), scope.branch_ids, months, day))
    return out


@dataclass
class BranchRow:
    branch: Branch
    community: Community
    members: int
    participation: F.Ratio
    attendance: F.Ratio
    dues: F.Ratio
    posts: int
    post_holders: int
    households: int
    households_ratio: F.Ratio
    charity: F.Ratio
    hours: Decimal
    average: Decimal | None
    queries: tuple[int, int]


def branch_rows(scope: Scope, fig: F.Figures) -> list[BranchRow]:
    out = []
    for b, c in scope.branches:
        t = fig.type_counts(b.id)
        members = sum(t.values())
        hh = fig.households.get(b.id, F.Tally())
        if b.retired and not members:
            continue
        out.append(BranchRow(
            b, c, members, fig.participation.get(b.id, F.Tally()).rate, fig.attendance.get(b.id, F.Ratio()),
            fig.dues.get(b.id, F.Ratio()), int(fig.posts.get(b.id, F.Tally()).total),
            fig.posts.get(b.id, F.Tally()).hits, int(hh.total), F.Ratio(int(hh.total), hh.members),
            fig.charity.get(b.id, F.Tally()).rate, fig.hours.get(b.id, F.Tally()).total,
            fig.scores.average(branch_id=b.id), fig.queries.get(b.id, (0, 0))))
    return out


@dataclass
class DuesRegister:
    """The dues register's collection rates for the scope's branches over the period's year (dues.collection)."""

    year: int
    chart: Any
    quarters: dict[int, dues.Totals]
    last_quarter: int


def dues_register(scope: Scope, year: int, day: date) -> DuesRegister | None:
    """The months ended (a month still running is not a figure yet); None when no member of the scope is on
    the register in them (no monthly amount set)."""
    ended_year, ended_month = dues.last_ended(day)
    if year > ended_year:
        return None
    last = ended_month if year == ended_year else 12
    branches = [b for b, _c in scope.branches]
    by_branch = dues.collection(branches, year, day)
    total = {mo: (sum((by_branch[b.id][mo] for b in branches), dues.Totals()) if mo <= last else dues.Totals())
             for mo in range(1, 13)}
    if not any(t.settled or t.owing for t in total.values()):
        return None
    chart = percent_chart("chart-dues", _("Dues collection rate by month, %(year)d (dues register)", year=year),
                          [_("M%(n)d", n=mo) for mo in range(1, last + 1)],
                          [Series(_("Collection rate"), [pct_number(total[mo].ratio) for mo in range(1, last + 1)],
                                  "s1")])
    return DuesRegister(year, chart, dues.quarter_totals(total), (last + 2) // 3)


def page_context(scope: Scope, choice: PeriodChoice, day: date) -> dict:
    figs = [compute(scope, p, day) for p in choice.periods]
    main = figs[-1]
    trends = trend_rows(scope, choice, day)
    rows = branch_rows(scope, main) if not scope.branch_level else []
    communities = {c.id: c.name for _b, c in scope.branches}
    return {
        "scope": scope, "choice": choice, "figs": figs, "fig": main, "day": day,
        "cards": cards(scope, choice, figs) if main.as_of else [],
        "trends": trends, "trend_chart": trend_chart(choice, trends),
        "grade_chart": grade_chart(choice, figs), "band_chart": band_chart(main),
        "rows": rows, "branch_chart": branch_chart(rows, scope.level == "street") if rows else None,
        "dues_register": dues_register(scope, choice.main.year, day),
        "communities": communities, "labels": LABELS, "band_labels": BAND_LABELS,
        "definitions": {k: _(v) for k, v in F.DEFINITIONS.items()},
        "grade_source": main.grades.source(scope.branch_ids),
        "period_label": period_label, "choice_label": choice_label(choice),
        "pct": pct, "num": num, "one": one, "month_label": month_label,
        "members_link": lambda fig_name, **kw: members_link(scope, choice.main, fig_name, **kw),
    }


# ---------------------------------------------------------------------------------------------
# Views
# ---------------------------------------------------------------------------------------------

@bp.get("/stats")
@requires(SECRETARIES)
def index():
    day = today()
    args = figures_args(FiguresArgs)
    scope = resolve_scope(args.scope.data)
    choice = resolve_period(args.period.data, day)
    ctx = page_context(scope, choice, day)
    return page_or_fragment("stats/index.html", "stats/_figures.html", scope_options=scope_options(),
                            period_options=period_options(day), **ctx)


FIGURE_VALUE_LABELS = {
    "types": _l("Type"), "participation": _l("Playing-a-role entry"), "charity": _l("Donated"),
    "hours": _l("Hours"), "posts": _l("Posts held"), "households": _l("Households"), "teams": _l("Teams"),
    "attendance": _l("Meetings attended"), "dues": _l("Quarters paid / on the roll"), "scores": _l("Score"),
    "grades": _l("Grade"),
}


def _member_value(figure: str, value) -> str:
    if figure == "types":
        return str(TYPE_LABELS.get(value, value))
    if figure in ("participation", "charity"):
        return _("yes") if value else _("no")
    if figure == "grades":
        return str(GRADE_LABELS.get(value, value))
    if figure == "scores":
        type_code, score = value
        return f"{TYPE_LABELS.get(type_code, type_code)} · {num(score)}"
    if figure in ("hours", "posts", "households", "teams", "attendance"):
        return num(value)
    return str(value)


def _members_data(day: date, args: MembersArgs):
    scope = resolve_scope(args.scope.data)
    choice = resolve_period(args.period.data, day)
    figure = args.figure.data or ""
    if figure not in F.LISTED_FIGURES:
        abort(404)
    show = args.show.data or ("counted" if figure not in ("types", "scores", "grades") else "all")
    if show not in ("counted", "not", "all"):
        abort(404)
    period = choice.main
    lines = F.member_lines(db.session, figure, scheme_for_year(period.year), scope.branch_ids, period, day)
    total = len(lines)
    counted = sum(1 for line in lines if line.counted)
    if show == "counted":
        lines = [line for line in lines if line.counted]
    elif show == "not":
        lines = [line for line in lines if not line.counted]
    names = {b.id: (c.name, b.name) for b, c in scope.branches}
    missing = {line.branch_id for line in lines} - set(names)
    if missing:
        names.update({b.id: (c.name, b.name) for b, c in branch_rows_of(
            select(Branch).join(Community, Community.id == Branch.community_id).where(Branch.id.in_(missing)))})
    return scope, period, figure, show, lines, names, total, counted


@bp.get("/stats/members")
@requires(SECRETARIES)
def members():
    """The members behind a figure, within the viewer's scope."""
    day = today()
    args = figures_args(MembersArgs)
    scope, period, figure, show, lines, names, total, counted = _members_data(day, args)
    label = LABELS.get(figure, LABELS.get("scores"))
    if args.format.data == "xlsx":
        # A count or hours is a number in the workbook; a type, grade or yes/no is its label.
        numeric = figure in ("hours", "posts", "households", "teams", "attendance")
        rows = ([names[line.branch_id][0], names[line.branch_id][1], line.name,
                 line.value if numeric else _member_value(figure, line.value), _("yes") if line.counted else _("no")]
                for line in lines)
        sheet = Sheet(_("Members"), [_("Community"), _("Branch"), _("Name"), str(FIGURE_VALUE_LABELS[figure]),
                                     _("Counted")], rows, [16, 22, 14, 22, 10],
                      heading=f"{label} · {scope.name} · {period_label(period)}")
        name = f"qscore-{figure}-{scope.key}-{period.key}.xlsx"
        return download(write_xlsx(sheet), name, name)
    return render_template("stats/members.html", scope=scope, period=period, period_label=period_label,
                           period_key=args.period.data,  # as chosen (a comparison of two years, or none: this year)
                           figure=figure, show=show, lines=lines, names=names, total=total, counted=counted,
                           label=label, definition=_(F.DEFINITIONS.get(figure, F.DEFINITIONS["population"])),
                           value_label=FIGURE_VALUE_LABELS[figure], member_value=_member_value)


# ---------------------------------------------------------------------------------------------
# The one-page quarterly report
# ---------------------------------------------------------------------------------------------


@bp.get("/stats/report")
@requires(SECRETARIES)
def report():
    day = today()
    args = figures_args(FiguresArgs)
    scope = resolve_scope(args.scope.data)
    raw = args.period.data
    period = F.Period.parse(raw) if raw else last_ended_quarter(day)
    if period is None or period.kind != "quarter" or period.start > day:
        abort(404)
    choice = PeriodChoice((period,))
    ctx = page_context(scope, choice, day)
    # The report's trend: the quarter's year up to the quarter's end.
    year_months = [(period.year, m) for m in range(1, period.last.month + 1)]
    trend = F.trend(db.session, scheme_for_year(period.year), scope.branch_ids, year_months, day)
    ctx["trends"] = [trend]
    ctx["trend_chart"] = percent_chart("chart-trend", _("Participation and attendance, month by month"),
                                       [month_label(pt.year, pt.month) for pt in trend], [
        Series(str(LABELS["participation"]), [pct_number(pt.participation) for pt in trend], "s1 cur"),
        Series(str(LABELS["attendance"]), [pct_number(pt.attendance) for pt in trend], "s2 cur")])
    quarters = [F.Period("quarter", y, q) for y in range(day.year, first_year(day) - 1, -1) for q in (4, 3, 2, 1)
                if F.Period("quarter", y, q).start <= day]
    return render_template("stats/report.html", quarters=quarters, **ctx)
