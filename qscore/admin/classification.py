"""Dynamic classification (分类动态调整): a member's type changes with an effective date, a reason and
the member's own wish; the history is kept; scores follow (scoring reads the type history).

The earliest effective date (DOMAIN.md "Type changes") is the first day of the branch's earliest
unpublished quarter. We read it as the quarter after the latest live publication covering the
member (in the branches they belonged to then), so a change never alters a published snapshot.
"""
from __future__ import annotations

import calendar
from datetime import date

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, exists, func, or_, select

from ..access import requires, MEMBER_ADMINS
from .. import audit
from ..clock import today
from ..db import db
from ..fields import args_form
from ..htmx import is_htmx
from ..ledger import type_history
from ..models import Branch, Community, Member, MemberType, PointEntry
from ..scheme_versions import scheme_for_year
from ..scoring import live_entry_clause, type_on
from . import bp
from .forms import TypeChangeForm, TypeReminderArgs
from ..type_changes import earliest_type_change, latest_published_quarter
from .forms import type_form
from .members import member_context
from .scope import current_type_expr, current_types, member_or_404, scoped_members

PAGE_SIZE = 50
OLD_AGE = 70
SILENT_MONTHS = 3


def _check(member: Member, form: TypeChangeForm, day: date) -> bool:
    on = form.effective_from.data
    earliest = earliest_type_change(member)
    last = date(day.year, 12, 31)
    if on < earliest:
        latest = latest_published_quarter(member)
        if latest is not None and earliest > member.on_roll_since:
            form.effective_from.errors.append(_(
                "%(period)s is published: a type change takes effect from %(d)s at the earliest.",
                period=f"{latest[0]}-Q{latest[1]}", d=earliest.isoformat()))
        else:
            form.effective_from.errors.append(_("The member came onto the roll on %(d)s: the date cannot be earlier.",
                                                d=earliest.isoformat()))
        return False
    if on > last:
        form.effective_from.errors.append(_("At most the end of this year (%(d)s).", d=last.isoformat()))
        return False
    if type_on(type_history(member.id), on) == form.type_code.data:
        form.type_code.errors.append(_("This is already the member's type on %(d)s.", d=on.isoformat()))
        return False
    return True


@bp.post("/members/<int:member_id>/type")
@requires(MEMBER_ADMINS)
def change_type(member_id: int):
    member = member_or_404(member_id)
    day = today()
    if member.status != "active":
        abort(409)
    form = type_form(member, day, TypeChangeForm())
    if form.validate_on_submit() and _check(member, form, day):
        before = type_on(type_history(member.id), form.effective_from.data)
        record = MemberType(member_id=member.id, type_code=form.type_code.data,
                            effective_from=form.effective_from.data, reason=form.reason.data,
                            own_wish=form.own_wish.data, decided_by_id=current_user.id)
        db.session.add(record)
        db.session.flush()
        audit.record("member_type_changed", record, member_id=member.id,
                     summary=f"{member.name}: {before} → {record.type_code} from {record.effective_from.isoformat()}",
                     before={"type": before},
                     after={"type": record.type_code, "effective_from": record.effective_from.isoformat(),
                            "reason": record.reason, "own_wish": record.own_wish})
        db.session.commit()
        message = _("The type of %(name)s is changed from %(d)s. Scores follow the new history.", name=member.name,
                    d=record.effective_from.isoformat())
        if not is_htmx():
            flash(message, "success")
            return redirect(url_for("admin.member", member_id=member.id) + "#type")
        return _type_card(member, saved=message)
    db.session.rollback()
    if not is_htmx():
        context = member_context(member)
        context["type_form"] = form
        return render_template("admin/member.html", **context), 422
    return _type_card(member, form=form, status=422)


def _type_card(member: Member, form: TypeChangeForm | None = None, status: int = 200, saved: str | None = None):
    context = member_context(member)
    if form is not None:
        context["type_form"] = form
    body = render_template("admin/_type_card.html", saved=saved, **context)
    if saved:
        body += render_template("admin/_member_figures.html", oob=True, **context)
    resp = make_response(body, status)
    resp.vary.add("HX-Request")
    return resp


# --- reminders -----------------------------------------------------------------------------------

def months_before(day: date, months: int) -> date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


@bp.get("/members/type-review")
@requires(MEMBER_ADMINS)
def type_reminders():
    """Members whose type may need review: 70 or older and not type 4, or no attendance for 3 months."""
    day = today()
    scheme = scheme_for_year(day.year)
    cutoff = months_before(day, SILENT_MONTHS)
    codes = sorted(scheme.codes_with(role="attendance"))
    attended = exists().where(PointEntry.member_id == Member.id, PointEntry.indicator_code.in_(codes),
                              PointEntry.earned_on > cutoff, PointEntry.earned_on <= day, live_entry_clause())
    old = and_(Member.birth_year.isnot(None), Member.birth_year <= day.year - OLD_AGE)
    silent = and_(~attended, Member.on_roll_since <= cutoff)
    args = args_form(TypeReminderArgs)
    reason = args.reason.data or ""
    condition = old if reason == "age" else silent if reason == "silent" else or_(old, silent)
    stmt = (scoped_members().where(Member.status == "active", current_type_expr(day) != "D", condition)
            .order_by(Member.birth_year, Member.name, Member.id))
    page = db.paginate(stmt, page=args.page.data or 1, per_page=PAGE_SIZE, error_out=False)
    ids = [m.id for m in page.items]
    last_attended = dict(db.session.execute(
        select(PointEntry.member_id, func.max(PointEntry.earned_on))
        .where(PointEntry.member_id.in_(ids), PointEntry.indicator_code.in_(codes), PointEntry.earned_on <= day,
               live_entry_clause()).group_by(PointEntry.member_id)).all()) if ids else {}
    places = {b.id: f"{c.name} · {b.name}" for b, c in db.session.execute(
        select(Branch, Community).join(Community, Community.id == Branch.community_id)
        .where(Branch.id.in_({m.branch_id for m in page.items})))} if ids else {}
    return render_template("admin/type_reminders.html", pg=page, day=day, cutoff=cutoff, reason=reason,
                           types=current_types(page.items, day), last_attended=last_attended, places=places,
                           old_age=OLD_AGE, silent_months=SILENT_MONTHS, scheme=scheme)
