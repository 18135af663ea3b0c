"""The monthly assessment (一月一考核): per branch and month, every member's entries, points and flags;
across a community, the early-warning list.

Flags of a month (the branch reviews them; nothing is written):
- no entry: no live entry of any indicator earned in the month;
- absent without excuse: live entries of the scheme's absence-role indicator in the month;
- dues unpaid: for a member on the dues register (a monthly amount set, from its first month), the month
  ended unpaid or part paid there as the month's end stood; before that month and for the others, a live
  dues_arrears-role entry dated in the month, or - in a quarter's last month - no live dues_paid-role entry
  dated in that quarter yet.
Early warnings are scoring.member_warnings as of the month's end (today for the running month); "dues in
arrears N months in a row" reads the register for the members on it (dues.owed_months).
The members are the branch's roll at the month's end (figures.roll_on), so a member transferred
mid-month appears in the branch they belong to at its end.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from .access import has_role, requires, SECRETARIES
from . import figures as F
from .access import branches_in_scope, communities_in_scope, get_branch_or_404, get_community_or_404
from .clock import today
from .db import db
from .dues import owed_months
from .exports import Sheet, download, write_xlsx
from .fields import ArgsForm, Month, Text, args_form
from .models import Branch, Community, Member, PointEntry
from .scheme import Scheme
from .scheme_versions import scheme_for_year
from .scoring import PeriodPoints, Reason, live_entry_clause, quarter_of, score_and_warn
from .service.duty import chosen_month
from .templating import TYPE_LABELS

bp = Blueprint("assessment", __name__, url_prefix="/assessment")

FLAGS = ("silent", "absent", "dues")


class MonthArgs(ArgsForm):
    """?month=YYYY-MM (this month when absent) and ?format=xlsx for the workbook."""

    month = Month()
    format = Text(max_length=8)


def _shift(first: date, months: int) -> date:
    i = first.year * 12 + first.month - 1 + months
    return date(i // 12, i % 12 + 1, 1)


@dataclass
class Row:
    member: Member
    branch_id: int
    type_code: str
    codes: dict[str, list[tuple[str, int, Decimal]]]   # category -> [(indicator, entries, points)]
    month: PeriodPoints
    score: Decimal
    flags: list[str]
    absences: int = 0
    warnings: list[Reason] = field(default_factory=list)


@dataclass
class MonthView:
    first: date
    as_of: date
    scheme: Scheme
    rows: list[Row]

    def count(self, flag: str, branch_id: int | None = None) -> int:
        return sum(1 for r in self.rows if flag in r.flags and (branch_id is None or r.branch_id == branch_id))

    def members(self, branch_id: int | None = None) -> int:
        return sum(1 for r in self.rows if branch_id is None or r.branch_id == branch_id)

    def warned(self, branch_id: int | None = None) -> list[Row]:
        return [r for r in self.rows if r.warnings and (branch_id is None or r.branch_id == branch_id)]

    def points(self, branch_id: int | None = None) -> Decimal:
        return sum((r.month.total for r in self.rows if branch_id is None or r.branch_id == branch_id), Decimal(0))


def month_view(branch_ids: list[int], first: date, day: date) -> MonthView:
    """Everything the month's pages show, in a fixed number of grouped queries."""
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    as_of = min(last, day)
    scheme = scheme_for_year(first.year)
    w = F.Window(tuple(branch_ids), first, as_of)
    people = F.population(db.session, w)
    members = [m for m, _b in people]
    ids = [m.id for m in members]
    owed = owed_months(members, as_of)  # the dues register, for the members on it (else the ledger's entries)
    scores, warnings = score_and_warn(db.session, scheme, first.year, as_of, members, owed=owed)
    codes: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    if ids:
        for mid, cat, code, n, pts in db.session.execute(
                select(PointEntry.member_id, PointEntry.category, PointEntry.indicator_code, func.count(),
                       func.sum(PointEntry.points))
                .where(PointEntry.member_id.in_(ids), PointEntry.earned_on >= first, PointEntry.earned_on <= as_of,
                       live_entry_clause())
                .group_by(PointEntry.member_id, PointEntry.category, PointEntry.indicator_code)
                .order_by(PointEntry.member_id, PointEntry.indicator_code)):
            codes[mid][cat].append((code, int(n), Decimal(pts or 0)))
    absence = scheme.codes_with(role="absence")
    arrears = scheme.codes_with(role="dues_arrears")
    paid_codes = scheme.codes_with(role="dues_paid")
    quarter_end_month = first.month % 3 == 0
    paid: set[int] = set()
    if quarter_end_month and ids and paid_codes:
        q_start = date(first.year, 3 * quarter_of(first.month) - 2, 1)
        paid = set(db.session.scalars(
            select(PointEntry.member_id).where(PointEntry.member_id.in_(ids),
                                               PointEntry.indicator_code.in_(sorted(paid_codes)),
                                               PointEntry.earned_on >= q_start, PointEntry.earned_on <= as_of,
                                               live_entry_clause()).distinct()))
    rows = []
    for m, b in people:
        s = scores[m.id]
        mine = codes.get(m.id, {})
        all_codes = [c for entries in mine.values() for c in entries]
        absences = sum(n for code, n, _p in all_codes if code in absence)
        flags = []
        if not all_codes:
            flags.append("silent")
        if absences:
            flags.append("absent")
        register = owed.get(m.id)
        if register is not None and (first.year, first.month) >= register.since:
            if (first.year, first.month) in register.owed:  # the register: the month ended owing
                flags.append("dues")
        elif any(code in arrears for code, _n, _p in all_codes) or (quarter_end_month and m.id not in paid):
            flags.append("dues")
        rows.append(Row(m, b, s.type_code, {k: list(v) for k, v in mine.items()},
                        s.detail.months[first.month - 1], s.score, flags, absences, warnings.get(m.id, [])))
    rows.sort(key=lambda r: (r.branch_id, r.member.name_key, r.member.name, r.member.id))
    return MonthView(first, as_of, scheme, rows)


FLAG_LABELS = {
    "silent": (_l("No entry this month"), "flag-silent"),
    "absent": (_l("Absent without excuse"), "flag-absent"),
    "dues": (_l("Dues unpaid"), "flag-dues"),
}


def _flag_labels() -> dict[str, tuple[str, str]]:
    return {k: (str(text), cls) for k, (text, cls) in FLAG_LABELS.items()}


@bp.get("/")
@requires(SECRETARIES)
def index():
    if has_role("branch_secretary"):
        return redirect(url_for(".branch", branch_id=current_user.branch_id))
    if has_role("community_secretary"):
        return redirect(url_for(".community", community_id=current_user.community_id))
    communities = db.session.scalars(communities_in_scope().where(Community.retired.is_(False))
                                     .order_by(Community.id)).all()
    return render_template("assessment/index.html", communities=communities, month=today().strftime("%Y-%m"))


def _nav(first: date, day: date) -> dict:
    nxt = _shift(first, 1)
    return {"prev": _shift(first, -1), "next": nxt if nxt <= day else None}


@bp.get("/branches/<int:branch_id>")
@requires(SECRETARIES)
def branch(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    day = today()
    args = args_form(MonthArgs)
    first = chosen_month(args.month, day)
    view = month_view([b.id], first, day)
    if args.format.data == "xlsx":
        return _export(b, c, view)
    return render_template("assessment/branch.html", branch=b, community=c, view=view, flags=_flag_labels(),
                           **_nav(first, day))


@bp.get("/communities/<int:community_id>")
@requires(SECRETARIES)
def community(community_id: int):
    c = get_community_or_404(community_id)
    if has_role("branch_secretary"):
        abort(404)
    day = today()
    first = chosen_month(args_form(MonthArgs).month, day)
    branches = db.session.scalars(branches_in_scope().where(Branch.community_id == c.id, Branch.retired.is_(False))
                                  .order_by(Branch.id)).all()
    view = month_view([b.id for b in branches], first, day)
    return render_template("assessment/community.html", community=c, branches=branches, view=view,
                           names={b.id: b.name for b in branches}, flags=_flag_labels(), **_nav(first, day))


def _export(b: Branch, c: Community, view: MonthView):
    flags = _flag_labels()

    def codes(r: Row, cat: str) -> str:
        return ", ".join(f"{code}×{n}" for code, n, _p in r.codes.get(cat, []))

    rows = ([r.member.name, str(TYPE_LABELS.get(r.type_code, r.type_code)), codes(r, "J"), codes(r, "Z"),
             codes(r, "K"), r.month.total, r.score, "; ".join(flags[f][0] for f in r.flags),
             " ".join(w.text(_) for w in r.warnings)] for r in view.rows)
    sheet = Sheet(_("Monthly assessment"), [_("Name"), _("Type"), _("Basic requirements"), _("Playing a role"),
                                            _("Deductions"), _("Month's points"), _("Year score to date"), _("Flags"),
                                            _("Early warnings")], rows, [12, 10, 20, 20, 16, 12, 14, 30, 50],
                  heading=f"{c.name} · {b.name} · {view.first:%Y-%m}")
    name = f"qscore-assessment-{b.id}-{view.first:%Y-%m}.xlsx"
    return download(write_xlsx(sheet), name, name)
