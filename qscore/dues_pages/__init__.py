"""The dues register's pages (党费收缴): a branch's grid of the year, "paid this month" for ticked members in
one save, closing a month (the points follow, qscore/dues/), and one member's lines.

Scope is access.py's: a branch secretary their branch, a community secretary their community, the street
administrator everything. Nobody records their own dues (four eyes). Views parse a form, call one function
of qscore/dues/, and render.
"""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import dues
from ..access import (EVERYONE, SECRETARIES, branches_in_scope, get_branch_or_404, loaded, own_record,
                      refuse_own_record, requires)
from ..clock import today
from ..db import db
from ..exports import download, write_xlsx
from ..idempotency import key_from, new_key
from ..fields import args_form
from ..models import Branch, Community, DuesLine, DuesRate, Member, User
from ..scheme import N_
from ..stats.charts import Series, percent_chart
from ..stats.format import pct_number
from .forms import METHOD_LABELS, CloseForm, IndexArgs, LineForm, PaidForm, RateForm, SheetForm, VoidForm, YearArgs

bp = Blueprint("dues", __name__)

STATUS_LABELS = {  # what a cell of the grid says, in words beside its mark (msgids: templates translate them)
    "paid": N_("Paid"), "partial": N_("Part paid"), "unpaid": N_("Unpaid"), "exempt": N_("Exempt"),
    "no_rate": N_("No amount set"), "future": N_("Not due yet"), "none": N_("Not on the roll"),
    "nothing_due": N_("Nothing due"),
}


MARKS = {"paid": "✓", "late": "迟", "partial": "½", "unpaid": "✗", "exempt": "免", "no_rate": "?"}


def _cells(rows: list) -> dict[int, list[tuple[str, str, str]]]:
    """Each member's twelve cells as (kind, mark, words): the mark's class and sign, and what it says in words
    (with the amount paid). Worked out here with the words translated once: the grid's 400-odd cells decided
    in the template took two thirds of the page's time."""
    words = {**{k: _(v) for k, v in STATUS_LABELS.items()}, "late": _("Paid late")}
    out = {}
    for r in rows:
        cells = []
        for mo in range(1, 13):
            c = r.months[mo]
            if c.status in ("none", "future", "nothing_due") and not c.paid:
                cells.append((c.status, "·", words[c.status]))
                continue
            kind = "late" if c.status == "paid" and not c.on_time else c.status
            cells.append((kind, MARKS.get(kind, "·"), f"{words[kind]} {c.paid:.2f}" if c.paid else words[kind]))
        out[r.member.id] = cells
    return out


def _year_and_month(args: YearArgs, day: date) -> tuple[int, int]:
    year = args.year.data or day.year
    if year > day.year:
        abort(404)
    chosen = args.month.data
    month = chosen.month if chosen and chosen.year == year else (day.month if year == day.year else 12)
    return year, month


def _grid(branch: Branch, community: Community, year: int, month: int, *, status: int = 200,
          paid: PaidForm | None = None, close: CloseForm | None = None, errors: dict[int, str] | None = None,
          close_error: str = "", ticked: set[int] | None = None, sheet: SheetForm | None = None,
          sheet_errors: list | None = None):
    day = today()
    rows = dues.register(branch, year, day)
    closes = dues.closes_of(branch, year)
    paid = paid or PaidForm(formdata=None, month=date(year, month, 1), paid_on=min(day, dues.month_last(year, month)))
    close = close or CloseForm(formdata=None, month=date(year, month, 1))
    last_closable = day.month - (0 if dues.month_last(day.year, day.month) <= day else 1) if year == day.year else 12
    return render_template(
        "dues/grid.html", branch=branch, community=community, year=year, month=month, rows=rows, day=day,
        totals=dues.month_totals(rows), closes=closes, paid_form=paid, close_form=close, errors=errors or {},
        close_error=close_error, ticked=ticked or set(), status_labels=STATUS_LABELS, methods=METHOD_LABELS,
        sheet_form=sheet or SheetForm(formdata=None, year=year), sheet_errors=sheet_errors or [],
        closable=[m for m in range(1, 13) if m <= last_closable], own_member=current_user.member_id,
        cells=_cells(rows),
        years=list(range(day.year, max(day.year - 4, 1999), -1))), status


@bp.get("/dues")
@requires(SECRETARIES)
def index():
    """Collection rates of the branches in the user's scope, their communities and the street, by month or by
    quarter of a year, with a chart; a branch secretary goes to their grid."""
    if current_user.role == "branch_secretary" and current_user.branch_id:
        return redirect(url_for(".grid", branch_id=current_user.branch_id))
    day = today()
    args = args_form(IndexArgs)
    year = args.year.data or day.year
    if year > day.year:
        abort(404)
    by_quarter = args.by.data == "quarter"
    rows = db.session.execute(branches_in_scope().add_columns(Community).order_by(Community.name, Branch.name)).all()
    months = dues.collection([b for b, _c in rows], year, day)
    cols = (range(1, 5) if by_quarter else range(1, 13))
    shown = (lambda t: dues.quarter_totals(t)) if by_quarter else (lambda t: t)
    branches = [(b, c, shown(months[b.id])) for b, c in rows]
    communities: dict[int, tuple[Community, dict[int, dues.Totals]]] = {}
    for b, c, t in branches:
        _c, acc = communities.setdefault(c.id, (c, {k: dues.Totals() for k in cols}))
        for k in cols:
            acc[k] = acc[k] + t[k]
    total = {k: sum((t[k] for _b, _c, t in branches), dues.Totals()) for k in cols}
    ended = (day.month if year == day.year else 12)
    last_col = ((ended + 2) // 3 if by_quarter else ended)
    labels = [(_("Q%(q)d", q=k) if by_quarter else _("M%(n)d", n=k)) for k in cols]
    scope_name = (rows[0][1].name if current_user.role == "community_secretary" and rows else _("the street"))
    chart = percent_chart("dues-rate", _("Dues collection rate, %(scope)s, %(year)d", scope=scope_name, year=year),
                          labels[:last_col], [Series(_("Collection rate"),
                                                     [pct_number(total[k].ratio) for k in cols if k <= last_col], "s1")])
    return render_template("dues/index.html", branches=branches, communities=list(communities.values()),
                           total=total, cols=list(cols), labels=labels, last_col=last_col, year=year,
                           by_quarter=by_quarter, chart=chart, day=day,
                           years=list(range(day.year, max(day.year - 4, 1999), -1)))


@bp.get("/branches/<int:branch_id>/dues")
@requires(SECRETARIES)
def grid(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    year, month = _year_and_month(args_form(YearArgs), today())
    return _grid(b, c, year, month)


@bp.get("/branches/<int:branch_id>/dues/export.xlsx")
@requires(SECRETARIES)
def export(branch_id: int):
    b, _c = get_branch_or_404(branch_id)
    day = today()
    year, _month = _year_and_month(args_form(YearArgs), day)
    data = write_xlsx(dues.grid_sheet(b, year, dues.register(b, year, day)))
    return download(data, f"{b.name}-党费收缴-{year}.xlsx", f"dues-{b.id}-{year}.xlsx")


@bp.get("/branches/<int:branch_id>/dues/template.xlsx")
@requires(SECRETARIES)
def template(branch_id: int):
    b, _c = get_branch_or_404(branch_id)
    year, _month = _year_and_month(args_form(YearArgs), today())
    return download(dues.sheet_template(b, year), f"{b.name}-党费登记表-{year}.xlsx", f"dues-sheet-{b.id}-{year}.xlsx")


@bp.post("/branches/<int:branch_id>/dues/import")
@requires(SECRETARIES)
def import_sheet(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    day = today()
    form = SheetForm()
    valid = form.validate_on_submit()  # a year out of 2000-2100 is refused, and its value not used below
    year = form.year.data if valid and form.year.data <= day.year else day.year
    month = day.month if year == day.year else 12
    if not valid or form.year.data > day.year:
        return _grid(b, c, year, month, status=422, sheet=form)
    try:
        done = dues.import_sheet(b, year, form.file.data.read(), approval=form.approval.data or "",
                                 method=form.method.data, by=current_user, today=day)
    except dues.SheetRefused as err:
        db.session.rollback()
        return _grid(b, c, year, month, status=422, sheet=form, sheet_errors=err.errors)
    db.session.commit()
    flash(_("%(n)d lines imported from %(rows)d rows; %(skipped)d months already settled were left as they were.",
            n=len(done.lines), rows=done.rows, skipped=done.skipped), "success")
    return redirect(url_for(".grid", branch_id=b.id, year=year), 303)


@bp.post("/branches/<int:branch_id>/dues/paid")
@requires(SECRETARIES)
def mark_paid(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    day = today()
    form = PaidForm()
    ticked = set(form.member_ids.data)
    chosen = form.month.data if form.month.data and form.month.data.year <= day.year else None
    year, month = (chosen.year, chosen.month) if chosen else (day.year, day.month)
    if not form.validate_on_submit() or chosen is None:
        if chosen is None and not form.month.errors:
            form.month.errors = [_("Choose a month of this year or an earlier one.")]
        return _grid(b, c, year, month, status=422, paid=form, ticked=ticked)
    if not ticked:
        form.member_ids.errors = [_("Tick the members who paid.")]
        return _grid(b, c, year, month, status=422, paid=form)
    through = form.through.data
    if through is not None and (through.year != year or through.month < month):
        form.through.errors = [_("Choose a month from %(month)s to December of the same year.",
                                 month=dues.label(year, month))]
        return _grid(b, c, year, month, status=422, paid=form, ticked=ticked)
    try:
        result = dues.mark_paid(b, sorted(ticked), year=year, month=month, paid_on=form.paid_on.data,
                                method=form.method.data, by=current_user, today=day,
                                through=through.month if through else None)
    except dues.MemberErrors as err:
        db.session.rollback()
        return _grid(b, c, year, month, status=422, paid=form, ticked=ticked,
                     errors={mid: e.text(_) for mid, e in err.errors.items()})
    except dues.DuesError as err:
        db.session.rollback()
        getattr(form, err.field or "paid_on").errors = [err.text(_)]
        return _grid(b, c, year, month, status=422, paid=form, ticked=ticked)
    db.session.commit()
    if result.written:
        span = dues.label(year, month) if not through or through.month == month else \
            _("%(first)s to %(last)s", first=dues.label(year, month), last=dues.label(year, through.month))
        flash(_("Dues of %(month)s recorded as paid for %(n)d members.", month=span,
                n=len({x.member_id for x in result.written})), "success")
    if result.already:
        flash(_("Already paid in full, nothing written: %(names)s.",
                names="、".join(m.name for m in result.already)), "info")
    return redirect(url_for(".grid", branch_id=b.id, year=year, month=dues.label(year, month)), 303)


@bp.post("/branches/<int:branch_id>/dues/close")
@requires(SECRETARIES)
def close_month(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    day = today()
    form = CloseForm()
    chosen = form.month.data
    year, month = (chosen.year, chosen.month) if chosen and chosen.year <= day.year else (day.year, day.month)
    if not form.validate_on_submit():
        return _grid(b, c, year, month, status=422, close=form)
    try:
        done = dues.close_month(b, year, month, by=current_user, today=day)
    except dues.DuesError as err:
        db.session.rollback()
        return _grid(b, c, year, month, status=422, close=form, close_error=err.text(_))
    db.session.commit()
    flash(_("%(month)s closed: %(j)d entries for dues paid on time, %(k)d for dues in arrears written.",
            month=dues.label(year, month), j=len(done.j3), k=len(done.k2)), "success")
    if not done.first_close and not (done.j3 or done.k2):
        flash(_("The month was closed before: nothing was missing, nothing written twice."), "info")
    py, pm = dues.previous_month(year, month)
    if done.reminded_late:
        flash(_("%(previous)s was closed only after %(month)s had ended: its reminder came late, so no deduction "
                "for dues in arrears of %(previous)s was written.", previous=dues.label(py, pm),
                month=dues.label(year, month)), "info")
    elif not done.reminded:
        flash(_("%(previous)s was not closed: its close is the reminder, so no deduction for dues in arrears "
                "of %(previous)s was written now.", previous=dues.label(py, pm)), "info")
    if done.contradicted:
        flash(_("No J3 for %(names)s: a month of the quarter has a deduction for dues in arrears.",
                names="、".join(m.name for m in done.contradicted)), "info")
    if done.by_hand:
        flash(_("Already in the ledger, entered by hand, so not written again: %(items)s.",
                items="、".join(f"{m.name} {code}" for m, code in done.by_hand)), "info")
    if done.own:
        flash(_("Your own dues points are left to another secretary: %(names)s.",
                names="、".join(m.name for m in done.own)), "info")
    for member, code, why in done.refused:
        flash(_("%(code)s not written for %(name)s: %(why)s", code=code, name=member.name, why=why), "warning")
    return redirect(url_for(".grid", branch_id=b.id, year=year, month=dues.label(year, month)), 303)


@bp.get("/members/<int:member_id>/dues")
@requires(EVERYONE)
def mine(member_id: int):
    """A member's own dues of a year, read-only (a secretary sees those of the members in scope)."""
    m = loaded("member_id", member_id)
    day = today()
    year, _month = _year_and_month(args_form(YearArgs), day)
    row, lines = dues.member_year(m, year, day)
    return render_template("dues/mine.html", member=m, year=year, row=row, lines=lines, day=day,
                           voided={x.corrects_id for x in lines if x.kind == "void"}, status_labels=STATUS_LABELS,
                           methods=METHOD_LABELS, years=list(range(day.year, max(day.year - 4, 1999), -1)))


# -- one member ------------------------------------------------------------------------------------------

def _member_of(branch: Branch, member_id: int) -> Member:
    member = loaded("member_id", member_id)
    if member.branch_id != branch.id:
        abort(404)
    return member


def _member_page(branch: Branch, community: Community, member: Member, year: int, *, status: int = 200,
                 rate_form: RateForm | None = None, line_form: LineForm | None = None, void_error: tuple = ()):
    day = today()
    rates = list(db.session.scalars(select(DuesRate).where(DuesRate.member_id == member.id)
                                    .order_by(DuesRate.effective_from, DuesRate.id)))
    row, lines = dues.member_year(member, year, day)  # the member's year alone, not the branch's grid
    voided = {x.corrects_id: x for x in lines if x.kind == "void"}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(
        {x.recorded_by_id for x in lines} | {r.set_by_id for r in rates} or {0})))}
    first = date(year, day.month if year == day.year else 12, 1)
    return render_template(
        "dues/member.html", branch=branch, community=community, member=member, year=year, rates=rates,
        lines=lines, voided=voided, users=users, row=row, day=day, status_labels=STATUS_LABELS,
        methods=METHOD_LABELS, own=own_record(member.id), void_error=void_error,
        rate_form=rate_form or RateForm(formdata=None, effective_from=first),
        line_form=line_form or LineForm(formdata=None, month=first, paid_on=day, idempotency_key=new_key()),
        void_form=VoidForm(formdata=None)), status


@bp.get("/branches/<int:branch_id>/dues/members/<int:member_id>")
@requires(SECRETARIES)
def member(branch_id: int, member_id: int):
    b, c = get_branch_or_404(branch_id)
    m = _member_of(b, member_id)
    year, _month = _year_and_month(args_form(YearArgs), today())
    return _member_page(b, c, m, year)


@bp.post("/branches/<int:branch_id>/dues/members/<int:member_id>/rate")
@requires(SECRETARIES)
def set_rate(branch_id: int, member_id: int):
    b, c = get_branch_or_404(branch_id)
    m = _member_of(b, member_id)
    refuse_own_record(m.id)
    day = today()
    form = RateForm()
    if form.validate_on_submit():
        try:
            dues.set_rate(m, form.monthly.data, form.effective_from.data, form.note.data or "", by=current_user)
        except dues.DuesError as err:
            db.session.rollback()
            form.effective_from.errors = [err.text(_)]
        else:
            db.session.commit()
            flash(_("Monthly amount of %(name)s set: %(amount)s yuan from %(month)s.", name=m.name,
                    amount=form.monthly.data, month=form.effective_from.data.strftime("%Y-%m")), "success")
            return redirect(url_for(".member", branch_id=b.id, member_id=m.id), 303)
    return _member_page(b, c, m, day.year, status=422, rate_form=form)


@bp.post("/branches/<int:branch_id>/dues/members/<int:member_id>/lines")
@requires(SECRETARIES)
def add_line(branch_id: int, member_id: int):
    b, c = get_branch_or_404(branch_id)
    m = _member_of(b, member_id)
    refuse_own_record(m.id)
    day = today()
    form = LineForm()
    key = key_from(form.idempotency_key.data)
    if key and db.session.scalar(select(DuesLine.id).where(DuesLine.idempotency_key == key)) is not None:
        return redirect(url_for(".member", branch_id=b.id, member_id=m.id), 303)  # sent twice: recorded once
    chosen = form.month.data
    year = chosen.year if chosen and chosen.year <= day.year else day.year
    if form.validate_on_submit():
        if chosen.year > day.year:
            form.month.errors = [_("Choose a month of this year or an earlier one.")]
        else:
            try:
                dues.add_line(m, year=chosen.year, month=chosen.month, kind=form.kind.data, amount=form.amount.data,
                              paid_on=form.paid_on.data, method=form.method.data, note=form.note.data or "",
                              by=current_user, today=day, key=key)
            except dues.DuesError as err:
                db.session.rollback()
                getattr(form, err.field or "month").errors = [err.text(_)]
            except IntegrityError:  # the same form, sent twice at once: the first one recorded it
                db.session.rollback()
                return redirect(url_for(".member", branch_id=b.id, member_id=m.id), 303)
            else:
                db.session.commit()
                flash(_("Line recorded for %(name)s, %(month)s.", name=m.name, month=dues.label(chosen.year, chosen.month)),
                      "success")
                return redirect(url_for(".member", branch_id=b.id, member_id=m.id, year=chosen.year), 303)
    return _member_page(b, c, m, year, status=422, line_form=form)


@bp.post("/branches/<int:branch_id>/dues/lines/<int:dues_line_id>/void")
@requires(SECRETARIES)
def void_line(branch_id: int, dues_line_id: int):
    b, c = get_branch_or_404(branch_id)
    line, m = loaded("dues_line_id", dues_line_id)
    if m.branch_id != b.id or line.branch_id != b.id:  # a line another branch recorded is theirs to void
        abort(404)
    refuse_own_record(m.id)
    form = VoidForm()
    error = ""
    if form.validate_on_submit():
        try:
            dues.void_line(line, form.reason.data, by=current_user)
        except dues.DuesError as err:
            db.session.rollback()
            error = err.text(_)
        else:
            cited = dues.points_citing(line)
            db.session.commit()
            flash(_("Line %(id)d voided.", id=line.id), "success")
            if cited:
                flash(_("Line %(id)d was a ground of %(codes)s in the ledger: check that entry on the roster and "
                        "undo it there, with a reason, if it no longer holds.", id=line.id,
                        codes="、".join(f"{p.indicator_code} ({p.year})" for p in cited)), "warning")
            return redirect(url_for(".member", branch_id=b.id, member_id=m.id, year=line.year), 303)
    else:
        error = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    return _member_page(b, c, m, line.year, status=422, void_error=(line.id, error))
