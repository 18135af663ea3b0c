"""The member's points booklet (积分手册): the year month by month, self-records and their confirmation.

A member reads their own booklet and self-records completed items there; a secretary whose scope
holds the member reads it too, and confirms a self-record (a ledger entry, through ledger.py) or
rejects it with a reason. Out of scope is 404, in scope without the right is 403 (access.py).
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import force_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField
from wtforms.widgets import TextInput

from . import ledger, self_records
from .access import (EVERYONE, SECRETARIES, get_member_or_404, get_self_record_or_404, is_secretary, own_record,
                     requires, user)
# SOURCE_LABELS: admin/audit_text.py reads the labels here.
from .booklet_pages import SOURCE_LABELS, booklet_year, years as booklet_years  # noqa: F401
from .clock import today
from .db import db
from .fields import ArgsForm, Count, Day, Note, Points, Text, args_form, as_typed, refusals
from .htmx import is_htmx, page_or_fragment
from .models import Member, PointEntry, SelfRecord
from .scheme import Scheme
from .scheme_versions import scheme_for_year
from .scoring import type_on
from .self_records import SelfRecordError, SelfRecordRefused, published_periods
from .templating import localized

bp = Blueprint("booklet", __name__)


class SelfRecordForm(FlaskForm):
    # Checked against the scheme of the year of the date given (self_records), not the choices shown.
    indicator = SelectField(_l("Item completed"), validate_choice=False)
    earned_on = Day(_l("Date completed"), required=_l("Enter the date you completed it."))
    hours = Points(_l("Hours"), minimum=Decimal("0.1"), maximum=Decimal("999.9"), widget=TextInput(),
                   render_kw={"inputmode": "decimal", "autocomplete": "off"})
    note = Note(_l("What you did"), required=_l("Say what you did: the branch checks the item against this note."),
                max_length=ledger.NOTE_MAX)


class YearArg(ArgsForm):
    year = Count(minimum=2000, maximum=2100)


class ConfirmForm(FlaskForm):
    """A secretary's confirmation: the reason (needed after a publication) and, for items with options, the points."""

    reason = Text(max_length=ledger.NOTE_MAX)
    points = Points()


class RejectForm(FlaskForm):
    reason = Note(required=_l("Give the member a reason."), max_length=ledger.NOTE_MAX)


# ---------------------------------------------------------------------------------------------
# Reading the booklet
# ---------------------------------------------------------------------------------------------

def _year_arg(member: Member, day: date) -> tuple[int, list[int] | None]:
    """The year asked for (404 if the booklet has no such year), and the booklet's years if read to check it."""
    arg = args_form(YearArg).year
    if arg.errors:
        abort(404)
    if arg.data is None:
        return day.year, None
    years = booklet_years(member, day)
    if arg.data not in years:
        abort(404)
    return arg.data, years


def _booklet(member: Member, year: int, day: date, years: list[int] | None = None) -> dict:
    """What the booklet pages show (booklet_pages.py), and what the one reading it may do there."""
    return {**booklet_year(member, year, day, years), **_viewer_flags(member, year, day)}


def _viewer_flags(member: Member, year: int, day: date) -> dict:
    is_own = own_record(member.id)
    can_decide = is_secretary() and not is_own
    # A secretary undoes an entry from here too, while its year is open (the same rule as correct_entry).
    return {"is_own": is_own, "can_decide": can_decide,
            "can_correct": can_decide and member.status == "active" and ledger.open_for_corrections(member, year, day)}


def months_after_change(member: Member, year: int) -> str:
    """The booklet's months of a year and, out of band, its figures: what changes when an entry is undone."""
    ctx = _booklet(member, year, today())
    return render_template("booklet/_months.html", **ctx) + render_template("booklet/_figures.html", oob=True, **ctx)


@bp.get("/booklet")
@requires(EVERYONE)
def mine():
    if current_user.member_id is None:
        abort(404)
    return redirect(url_for(".show", member_id=current_user.member_id))


@bp.get("/members/<int:member_id>")
@requires(EVERYONE)
def show(member_id: int):
    member = get_member_or_404(member_id)
    day = today()
    year, years = _year_arg(member, day)
    ctx = _booklet(member, year, day, years)
    if ctx["is_own"]:
        ctx["form"] = _new_form(member, day, history=[(t.effective_from, t.type_code) for t in ctx["types"]])
    return page_or_fragment("booklet/show.html", "booklet/_booklet.html", **ctx)


@bp.get("/members/<int:member_id>/print")
@requires(EVERYONE)
def print_view(member_id: int):
    """An A4 page of the paper booklet, in Chinese whatever the UI language."""
    member = get_member_or_404(member_id)
    day = today()
    year, years = _year_arg(member, day)
    with force_locale("zh_CN"):
        ctx = _booklet(member, year, day, years)
        return render_template("booklet/print.html", **ctx)


# ---------------------------------------------------------------------------------------------
# Self-records: the member writes an item into the booklet
# ---------------------------------------------------------------------------------------------

def _choices(scheme: Scheme, type_code: str | None) -> dict[str, list[tuple[str, str]]]:
    """Completed items a member may record: J and Z indicators of their type (no deductions, no veto)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for ind in scheme.indicators.values():
        if ind.category == "K" or ind.veto or not ind.applies(type_code or ""):
            continue
        out.setdefault(localized(scheme.categories[ind.category]), []).append(
            (ind.code, f"{ind.code} {localized(ind)}"))
    return out


def _new_form(member: Member, day: date, posted: bool = False, history: list | None = None) -> SelfRecordForm:
    """The self-record form (as posted, or new); ``history`` is the member's type history when read already."""
    if history is None:
        history = ledger.type_history(member.id)
    form = SelfRecordForm() if posted else SelfRecordForm(formdata=None, earned_on=day)
    form.indicator.choices = _choices(scheme_for_year(day.year), type_on(history, day) if history else None)
    earliest = max(member.on_roll_since, date(day.year - 1, 1, 1))
    form.earned_on.render_kw = {"min": earliest.isoformat(), "max": day.isoformat()}
    form.note.render_kw = {"maxlength": ledger.NOTE_MAX, "rows": 3}
    return form


def _own_column(member: Member, day: date) -> dict:
    """What the member's self-record column needs besides its form."""
    pending = db.session.scalars(select(SelfRecord).where(SelfRecord.member_id == member.id,
                                                          SelfRecord.status == "pending")
                                 .order_by(SelfRecord.earned_on, SelfRecord.id)).all()
    return {"member": member, "pending": pending, "scheme": scheme_for_year(day.year),
            "published": published_periods(member, pending)}


def _refused_or(check):
    """The check's result; its refusal of who acts or of the record's state (403, 409) answers the request."""
    try:
        return check()
    except SelfRecordError as err:
        abort(err.status)


@bp.post("/members/<int:member_id>/self-records")
@requires(EVERYONE)
def self_record(member_id: int):
    member = get_member_or_404(member_id)
    day = today()
    history = _refused_or(lambda: self_records.check_may_add(member, user()))  # before the form is read
    form = _new_form(member, day, posted=True, history=history)
    form.validate()
    values = dict(indicator_code=form.indicator.data, earned_on=None if form.earned_on.errors else form.earned_on.data,
                  hours=None if form.hours.errors else form.hours.data)
    problems = {}
    if form.errors:  # the form's own refusals, and what the item's rules say of the rest
        problems = self_records.problems(member, history, **values, today=day)
    else:
        try:
            sr = self_records.add(member, **values, note=form.note.data, by=user(), today=day)
            db.session.commit()
        except SelfRecordRefused as refused:
            db.session.rollback()
            problems = refused.errors
    if form.errors or problems:
        for name, err in problems.items():
            if not form[name].errors:  # the form's own message first: one message a field
                form[name].errors = [err.text(_)]
        if is_htmx():
            return render_template("booklet/_self_records.html", **_own_column(member, day), form=form), 422
        return render_template("booklet/show.html", **_booklet(member, day.year, day), form=form), 422
    if is_htmx():
        return render_template("booklet/_self_records.html", **_own_column(member, day), form=_new_form(member, day),
                               added=sr)
    flash(_("Recorded in your booklet. Your branch will check it and confirm it."), "success")
    return redirect(url_for(".show", member_id=member.id), 303)


# ---------------------------------------------------------------------------------------------
# Confirming and rejecting self-records (secretaries in scope, never on their own record)
# ---------------------------------------------------------------------------------------------

def _decidable(record_id: int) -> tuple[SelfRecord, Member]:
    """The record in the user's scope (404), if they may decide it now (403, 409), before its form is read."""
    sr, member = get_self_record_or_404(record_id)
    _refused_or(lambda: self_records.check_decidable(sr, member, user()))
    return sr, member


def _booklet_page_year(member: Member) -> int | None:
    """The year shown, when an htmx decision comes from this member's booklet (its figures are swapped too)."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    if not is_htmx() or parts.path != url_for(".show", member_id=member.id):
        return None
    raw = parse_qs(parts.query).get("year", [""])[0]
    day = today()
    # A header, not a form: at most four digits (int() of 5,000 digits raises).
    return int(raw) if re.fullmatch(r"[0-9]{4}", raw) and int(raw) in booklet_years(member, day) else day.year


def _decision_response(sr: SelfRecord, member: Member, status: int = 200, errors: dict | None = None,
                       values: dict | None = None, entry: PointEntry | None = None):
    if not is_htmx():
        if errors:
            day = today()
            year = sr.earned_on.year if sr.earned_on.year in booklet_years(member, day) else day.year
            ctx = _booklet(member, year, day)
            return render_template("booklet/show.html", **ctx, item_errors={sr.id: errors},
                                   item_values={sr.id: values or {}}), status
        return redirect(url_for(".show", member_id=member.id, year=sr.earned_on.year), 303)
    scheme = scheme_for_year(sr.earned_on.year)
    ctx = {"sr": sr, "scheme": scheme, "entry": entry, "item_errors": {sr.id: errors or {}},
           "item_values": {sr.id: values or {}},
           "published": published_periods(member, [sr]) if sr.status == "pending" else {}}
    html = render_template("booklet/_self_record.html", **ctx)
    year = _booklet_page_year(member) if not errors else None
    if year is not None:
        html += render_template("booklet/_oob.html", **_booklet(member, year, today()))
    resp = make_response(html, status)
    resp.vary.add("HX-Request")
    return resp


@bp.post("/self-records/<int:record_id>/confirm")
@requires(SECRETARIES)
def confirm(record_id: int):
    sr, member = _decidable(record_id)
    form = ConfirmForm()
    values = as_typed(form)
    if not form.validate_on_submit():
        return _decision_response(sr, member, 422, refusals(form), values)
    try:
        entry = self_records.confirm(sr, member, reason=form.reason.data, points=form.points.data, by=user(),
                                     today=today())
        db.session.commit()
    except SelfRecordRefused as refused:
        db.session.rollback()
        return _decision_response(sr, member, 422, refused.texts(_), values)
    except (SelfRecordError, IntegrityError) as err:  # another secretary decided it first
        db.session.rollback()
        abort(getattr(err, "status", 409))
    return _decision_response(sr, member, entry=entry)


@bp.post("/self-records/<int:record_id>/reject")
@requires(SECRETARIES)
def reject(record_id: int):
    sr, member = _decidable(record_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            self_records.reject(sr, member, reason=form.reason.data, by=user())
            db.session.commit()
            return _decision_response(sr, member)
        except SelfRecordRefused as refused:
            db.session.rollback()
            errors = refused.texts(_)
        except SelfRecordError as err:  # another secretary decided it first
            db.session.rollback()
            abort(err.status)
    else:
        errors = {"reject_reason": refusals(form).get("reason", "")}
    return _decision_response(sr, member, 422, errors, {"reject_reason": form.reason._value()})
