"""The workbook of every table on the figures page."""
from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _
from openpyxl import Workbook

from .. import figures as F
from ..clock import today
from ..templating import GRADE_LABELS, TYPE_LABELS
from . import bp
from .format import BAND_LABELS, pct_number
from .scope import PeriodChoice, Scope, choice_label, period_label, resolve_period, resolve_scope
from .views import branch_rows, page_context
from .xlsx import cell_number, header_row, set_widths, sheet_name, title_row, xlsx_response

def summary_rows(fig: F.Figures) -> list[tuple[str, Any, Any, Any, str]]:
    """(figure, value, numerator, denominator, definition) for the Summary sheet."""
    part, att, dues = fig.total("participation"), fig.total("attendance"), fig.total("dues")
    posts, hh, charity, hours = fig.total("posts"), fig.total("households"), fig.total("charity"), fig.total("hours")
    received, answered = fig.queries_total
    d = {k: _(v) for k, v in F.DEFINITIONS.items()}
    return [
        (_("Members on the roll"), fig.members, None, None, d["population"]),
        (_("Participation rate (%)"), pct_number(part.rate), part.hits, part.members, d["participation"]),
        (_("Attendance at organisational life (%)"), pct_number(att), att.num, att.den, d["attendance"]),
        (_("Dues paid on time (%)"), pct_number(dues), dues.num, dues.den, d["dues"]),
        (_("Volunteer posts"), int(posts.total), None, None, d["posts"]),
        (_("Members holding a volunteer post"), posts.hits, None, posts.members, d["posts"]),
        (_("Contact households"), int(hh.total), None, None, d["households"]),
        (_("Contact households per 100 members (%)"), pct_number(fig.households_ratio), int(hh.total), hh.members,
         d["households"]),
        (_("Volunteer teams"), len(fig.teams), None, None, d["teams"]),
        (_("Charity-day donation rate (%)"), pct_number(charity.rate), charity.hits, charity.members, d["charity"]),
        (_("Volunteer hours"), cell_number(hours.total), None, None, d["hours"]),
        (_("Average score"), cell_number(fig.scores.average()), None, None, d["scores"]),
        (_("Residents' queries received"), received, None, None, d["queries"]),
        (_("Residents' queries answered"), answered, None, received, d["queries"]),
    ]


def workbook(scope: Scope, choice: PeriodChoice, ctx: dict) -> Workbook:
    figs: list[F.Figures] = ctx["figs"]
    fig = figs[-1]
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name(_("Summary"))
    title_row(ws, _("%(scope)s · %(period)s", scope=scope.name, period=choice_label(choice)), 5)
    ws.append([_("As of %(day)s; generated %(today)s", day=fig.as_of.isoformat() if fig.as_of else "—",
                 today=ctx["day"].isoformat())])
    if choice.compare:
        header_row(ws, [_("Figure"), period_label(figs[0].period), period_label(fig.period), _("Definition")])
        for a, b in zip(summary_rows(figs[0]), summary_rows(fig)):
            ws.append([b[0], a[1], b[1], b[4]])
        set_widths(ws, [40, 14, 14, 90])
    else:
        header_row(ws, [_("Figure"), _("Value"), _("Counted"), _("Out of"), _("Definition")])
        for row in summary_rows(fig):
            ws.append(list(row))
        set_widths(ws, [40, 12, 12, 12, 90])

    for f in figs:
        suffix = f" {f.period.key}" if choice.compare else ""
        ws = wb.create_sheet(sheet_name(_("Branches") + suffix))
        header_row(ws, [_("Community"), _("Branch"), _("Members"), _("Participation (%)"), _("Attendance (%)"),
                     _("Attended"), _("Expected"), _("Dues on time (%)"), _("Volunteer posts"),
                     _("Members with a post"), _("Contact households"), _("Households per member (%)"),
                     _("Charity-day donation (%)"), _("Volunteer hours"), _("Average score"), _("Queries received"),
                     _("Queries answered")])
        for r in branch_rows(scope, f):
            ws.append([r.community.name, r.branch.name, r.members, pct_number(r.participation),
                       pct_number(r.attendance), r.attendance.num, r.attendance.den, pct_number(r.dues), r.posts,
                       r.post_holders, r.households, pct_number(r.households_ratio), pct_number(r.charity),
                       cell_number(r.hours), cell_number(r.average), r.queries[0], r.queries[1]])
        set_widths(ws, [16, 24] + [12] * 15)

        ws = wb.create_sheet(sheet_name(_("Types") + suffix))
        header_row(ws, [_("Type"), _("Members"), _("Average score"), *BAND_LABELS])
        counts = f.type_counts()
        for t in F.TYPE_CODES:
            ws.append([str(TYPE_LABELS[t]), counts.get(t, 0), cell_number(f.scores.average(t)),
                       *f.scores.bands.get(t, [0] * len(F.SCORE_BANDS))])
        ws.append([_("All"), f.members, cell_number(f.scores.average()),
                   *[sum(f.scores.bands.get(t, [0] * 5)[i] for t in F.TYPE_CODES) for i in range(len(F.SCORE_BANDS))]])
        set_widths(ws, [16, 10, 14, 10, 10, 10, 10, 10])

        ws = wb.create_sheet(sheet_name(_("Grades") + suffix))
        source = f.grades.source(scope.branch_ids)
        ws.append([{"confirmed": _("Confirmed grades of the year-end review"),
                    "suggested": _("Suggested grades (no confirmed review yet)"),
                    "mixed": _("Confirmed grades where the review is confirmed, else suggested")}[source]])
        header_row(ws, [_("Grade"), _("Members")])
        total = f.grades.total()
        for g in F.GRADE_CODES:
            ws.append([str(GRADE_LABELS[g]), total.get(g, 0)])
        set_widths(ws, [24, 12])

    ws = wb.create_sheet(sheet_name(_("Trend")))
    header_row(ws, [_("Month"), _("Participation (%)"), _("Participating"), _("Members"), _("Attendance (%)"),
                 _("Attended"), _("Expected")])
    for points in ctx["trends"]:
        for pt in points:
            ws.append([f"{pt.year}-{pt.month:02d}", pct_number(pt.participation), pt.participation.num,
                       pt.participation.den, pct_number(pt.attendance), pt.attendance.num, pt.attendance.den])
    set_widths(ws, [12, 16, 14, 10, 16, 10, 10])

    ws = wb.create_sheet(sheet_name(_("Teams")))
    header_row(ws, [_("Community"), _("Team"), _("Founded"), _("Members"), _("Of whom in the scope")])
    for t in fig.teams:
        ws.append([ctx["communities"].get(t.community_id, ""), t.name, t.founded_on.isoformat(), t.size, t.in_scope])
    set_widths(ws, [16, 24, 12, 10, 16])
    return wb


@bp.get("/stats/export.xlsx")
def export():
    day = today()
    scope = resolve_scope(request.args.get("scope"))
    choice = resolve_period(request.args.get("period"), day)
    ctx = page_context(scope, choice, day)
    return xlsx_response(workbook(scope, choice, ctx), f"qscore-figures-{scope.key}-{choice.key}.xlsx")
