"""The workbook of every table on the figures page."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _

from ..access import requires, SECRETARIES
from .. import figures as F
from ..clock import today
from ..exports import Sheet, download, write_xlsx
from ..templating import GRADE_LABELS, TYPE_LABELS
from . import bp
from .format import BAND_LABELS, pct_number
from .forms import FiguresArgs, figures_args
from .scope import PeriodChoice, Scope, choice_label, period_label, resolve_period, resolve_scope
from .views import branch_rows, page_context

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
        (_("Volunteer hours"), hours.total, None, None, d["hours"]),
        (_("Average score"), fig.scores.average(), None, None, d["scores"]),
        (_("Residents' queries received"), received, None, None, d["queries"]),
        (_("Residents' queries answered"), answered, None, received, d["queries"]),
    ]


def sheets(scope: Scope, choice: PeriodChoice, ctx: dict) -> list[Sheet]:
    figs: list[F.Figures] = ctx["figs"]
    fig = figs[-1]
    heading = _("%(scope)s · %(period)s", scope=scope.name, period=choice_label(choice))
    as_of = [_("As of %(day)s; generated %(today)s", day=fig.as_of.isoformat() if fig.as_of else "—",
               today=ctx["day"].isoformat())]
    if choice.compare:
        out = [Sheet(_("Summary"), [_("Figure"), period_label(figs[0].period), period_label(fig.period),
                                    _("Definition")],
                     [[b[0], a[1], b[1], b[4]] for a, b in zip(summary_rows(figs[0]), summary_rows(fig))],
                     [40, 14, 14, 90], heading=heading, notes=as_of)]
    else:
        out = [Sheet(_("Summary"), [_("Figure"), _("Value"), _("Counted"), _("Out of"), _("Definition")],
                     summary_rows(fig), [40, 12, 12, 12, 90], heading=heading, notes=as_of)]

    for f in figs:
        suffix = f" {f.period.key}" if choice.compare else ""
        out.append(Sheet(_("Branches") + suffix, [
            _("Community"), _("Branch"), _("Members"), _("Participation (%)"), _("Attendance (%)"), _("Attended"),
            _("Expected"), _("Dues on time (%)"), _("Volunteer posts"), _("Members with a post"),
            _("Contact households"), _("Households per member (%)"), _("Charity-day donation (%)"),
            _("Volunteer hours"), _("Average score"), _("Queries received"), _("Queries answered")], [
            [r.community.name, r.branch.name, r.members, pct_number(r.participation), pct_number(r.attendance),
             r.attendance.num, r.attendance.den, pct_number(r.dues), r.posts, r.post_holders, r.households,
             pct_number(r.households_ratio), pct_number(r.charity), r.hours, r.average, r.queries[0], r.queries[1]]
            for r in branch_rows(scope, f)], [16, 24] + [12] * 15))

        counts = f.type_counts()
        bands = [f.scores.bands.get(t, [0] * len(F.SCORE_BANDS)) for t in F.TYPE_CODES]
        out.append(Sheet(_("Types") + suffix, [_("Type"), _("Members"), _("Average score"), *BAND_LABELS], [
            *([str(TYPE_LABELS[t]), counts.get(t, 0), f.scores.average(t), *band]
              for t, band in zip(F.TYPE_CODES, bands)),
            [_("All"), f.members, f.scores.average(), *[sum(column) for column in zip(*bands)]]],
            [16, 10, 14, 10, 10, 10, 10, 10]))

        source = f.grades.source(scope.branch_ids)
        total = f.grades.total()
        note = {"confirmed": _("Confirmed grades of the year-end review"),
                "suggested": _("Suggested grades (no confirmed review yet)"),
                "mixed": _("Confirmed grades where the review is confirmed, else suggested")}[source]
        out.append(Sheet(_("Grades") + suffix, [_("Grade"), _("Members")],
                         [[str(GRADE_LABELS[g]), total.get(g, 0)] for g in F.GRADE_CODES], [24, 12], notes=[note]))

    out.append(Sheet(_("Trend"), [_("Month"), _("Participation (%)"), _("Participating"), _("Members"),
                                  _("Attendance (%)"), _("Attended"), _("Expected")], [
        [f"{pt.year}-{pt.month:02d}", pct_number(pt.participation), pt.participation.num, pt.participation.den,
         pct_number(pt.attendance), pt.attendance.num, pt.attendance.den] for points in ctx["trends"] for pt in points],
        [12, 16, 14, 10, 16, 10, 10]))
    out.append(Sheet(_("Teams"), [_("Community"), _("Team"), _("Founded"), _("Members"), _("Of whom in the scope")],
                     [[ctx["communities"].get(t.community_id, ""), t.name, t.founded_on, t.size, t.in_scope]
                      for t in fig.teams], [16, 24, 12, 10, 16]))
    return out


@bp.get("/stats/export.xlsx")
@requires(SECRETARIES)
def export():
    day = today()
    args = figures_args(FiguresArgs)
    scope = resolve_scope(args.scope.data)
    choice = resolve_period(args.period.data, day)
    ctx = page_context(scope, choice, day)
    name = f"qscore-figures-{scope.key}-{choice.key}.xlsx"
    return download(write_xlsx(*sheets(scope, choice, ctx)), name, name)
