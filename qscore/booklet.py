"""The member's points booklet (积分手册): the year month by month, self-records and their confirmation.

A member reads their own booklet and self-records completed items there; a secretary whose scope
holds the member reads it too, and confirms a self-record (a ledger entry, through ledger.py) or
rejects it with a reason. Out of scope is 404, in scope without the right is 403 (access.py).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field as dc_field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from babel.dates import format_skeleton
from flask_babel import force_locale, format_date, get_locale, gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from wtforms import SelectField
from wtforms.widgets import TextInput

from .access import requires, SECRETARIES, EVERYONE
from . import audit, ledger
from .access import is_secretary, get_member_or_404, get_self_record_or_404, own_record, refuse_own_record, user
from .clock import today
from .db import db
from .fields import ArgsForm, Count, Day, Note, Points, Text, args_form, as_typed, refusals
from .htmx import is_htmx, page_or_fragment
from .review import decisions_for_member
from .models import Branch, Community, Member, MemberType, PointEntry, Publication, SelfRecord, User
from .models._common import utcnow
from .scheme import Scheme
from .scheme_versions import scheme_for_year
from .scoring import (
    EntryError, MemberLedger, PeriodPoints, check_earned_on, entry_points, score_member, type_on, year_score,
)
from .templating import localized, points, signed

bp = Blueprint("booklet", __name__)

SOURCE_LABELS = {
    "inline": _l("Entered by the branch"),
    "meeting": _l("Meeting register"),
    "self_record": _l("Self-recorded, confirmed"),
    "opening_balance": _l("Opening balance"),
    "correction": _l("Correction"),
    "query": _l("Resident's query"),
    "post": _l("Volunteer post"),
    "demo": _l("Demo data"),
}


class SelfRecordForm(FlaskForm):
    # Checked against the scheme of the year of the date given (_validated), not the choices shown.
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

@dataclass
class Line:
    """An entry of the booklet, with the correction that struck it out, if any (rows of ENTRY_COLUMNS)."""

    entry: Any
    correction: Any = None


class Named(NamedTuple):
    """The member's branch or community as the booklet shows it: its name."""

    name: str


# What the booklet shows of an entry and what the year's score needs of it: read once, as plain rows.
ENTRY_COLUMNS = (PointEntry.id, PointEntry.indicator_code, PointEntry.category, PointEntry.points,
                 PointEntry.quantity, PointEntry.earned_on, PointEntry.note, PointEntry.source,
                 PointEntry.host_branch_id, PointEntry.recorded_by_id, PointEntry.recorded_at,
                 PointEntry.corrects_id, PointEntry.adjusts_publication_id)


@dataclass
class MonthPage:
    month: int
    label: str                    # "5月" / "May"
    title: str                    # "2026年5月" / "May 2026"
    points: PeriodPoints          # earned points of the month (after month and quarter caps)
    year_score: Decimal | None    # the capped year score at the month's end (or today)
    lines: list[Line]
    figures: dict[str, Markup] = dc_field(init=False)  # j, z, k, total as shown (summary row and month head)

    def __post_init__(self) -> None:
        p = self.points
        self.figures = {"j": _figure(p.j), "z": _figure(p.z), "k": _figure(p.k), "total": _figure(p.total, True)}


def _figure(value, signed_: bool = False) -> Markup:
    """The markup of booklet/_macros.html's figure(), made once per month in Python: every month
    shows its four figures twice, and a template macro call costs more than the figure itself."""
    if not value:
        return _ZERO
    # Digits and signs only: nothing to escape.
    text = signed(value) if signed_ else points(value)
    return Markup('<span class="%s">%s</span>' % ("neg" if value < 0 else "", text))


_ZERO = Markup('<span class="zero">0</span>')


_MONTH_LABELS: dict[tuple[str, int, int], tuple[str, str]] = {}


def _month_labels(year: int, month: int) -> tuple[str, str]:
    """A month's short label and title in the current locale ("5月", "2026年5月"), formatted once per process."""
    locale = get_locale()
    key = (str(locale), year, month)
    labels = _MONTH_LABELS.get(key)
    if labels is None:
        first_day = date(year, month, 1)
        labels = _MONTH_LABELS[key] = (format_date(first_day, "LLL"),
                                       format_skeleton("yMMM", first_day, locale=locale))
    return labels


def _years(member: Member, day: date) -> list[int]:
    """Years the booklet can show: this year, last year if on the roll then, and any year with entries."""
    years = set(db.session.scalars(_YEARS, {"member_id": member.id}))
    years.add(day.year)
    if member.on_roll_since.year < day.year:
        years.add(day.year - 1)
    return sorted((y for y in years if y <= day.year), reverse=True)


def _year_arg(member: Member, day: date) -> tuple[int, list[int] | None]:
    """The year asked for (404 if the booklet has no such year), and the booklet's years if read to check it."""
    arg = args_form(YearArg).year
    if arg.errors:
        abort(404)
    if arg.data is None:
        return day.year, None
    years = _years(member, day)
    if arg.data not in years:
        abort(404)
    return arg.data, years


_USER_NAMES = select(User.id, User.display_name, User.username).where(User.id.in_(bindparam("ids", expanding=True)))


def _names(model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    if model is User:
        return {i: d or u for i, d, u in db.session.execute(_USER_NAMES, {"ids": sorted(ids)})}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _viewer_flags(member: Member, year: int, day: date) -> dict:
    is_own = own_record(member.id)
    can_decide = is_secretary() and not is_own
    # A secretary undoes an entry from here too, while its year is open (the same rule as correct_entry).
    return {"is_own": is_own, "can_decide": can_decide,
            "can_correct": can_decide and member.status == "active" and ledger.open_for_corrections(member, year, day)}


def _pending_periods(member: Member, records) -> dict[int, str]:
    """Pending self-records dated in an already published quarter: confirming them needs a reason."""
    out = {}
    for sr in records:
        pub = ledger.publication_covering(member, sr.earned_on)
        if pub is not None:
            out[sr.id] = ledger.period_label(pub.year, pub.quarter)
    return out


# The booklet's reads, built once (only their parameters change from one request to the next).
_BRANCH_AND_COMMUNITY = (select(Branch.name, Community.name).join(Community, Community.id == Branch.community_id)
                         .where(Branch.id == bindparam("branch_id")))
_TYPES = (select(MemberType.type_code, MemberType.effective_from, MemberType.reason, MemberType.own_wish,
                 MemberType.decided_by_id)
          .where(MemberType.member_id == bindparam("member_id")).order_by(MemberType.effective_from, MemberType.id))
_ENTRIES = (select(*ENTRY_COLUMNS)
            .where(PointEntry.member_id == bindparam("member_id"), PointEntry.year == bindparam("year"))
            .order_by(PointEntry.earned_on, PointEntry.id))
_SELF_RECORDS = (select(SelfRecord).where(
    SelfRecord.member_id == bindparam("member_id"),
    (SelfRecord.status == "pending")
    | ((SelfRecord.status == "rejected") & (SelfRecord.earned_on >= bindparam("start"))
       & (SelfRecord.earned_on < bindparam("end"))))
    .order_by(SelfRecord.earned_on, SelfRecord.id))
_YEARS = select(PointEntry.year).where(PointEntry.member_id == bindparam("member_id")).distinct()


def _booklet(member: Member, year: int, day: date, years: list[int] | None = None) -> dict:
    """Everything the booklet pages show for one member and year (templates never query).

    The year's entries are read once: they are listed, and the year's ledger is summed from them in
    Python (MemberLedger.from_entries, the same rule as fetch_ledgers), not fetched again.
    """
    as_of = day if year == day.year else date(year, 12, 31)
    scheme = scheme_for_year(year)
    branch, community = (Named(n) for n in db.session.execute(_BRANCH_AND_COMMUNITY,
                                                              {"branch_id": member.branch_id}).one())
    types = db.session.execute(_TYPES, {"member_id": member.id}).all()
    history = [(t.effective_from, t.type_code) for t in types]
    entries = db.session.execute(_ENTRIES, {"member_id": member.id, "year": year}).all()

    corrections = {e.corrects_id: e for e in entries if e.corrects_id is not None}
    lines: dict[int, list[Line]] = {m: [] for m in range(1, 13)}
    for e in entries:
        if e.corrects_id is None:  # a correction is shown beside what it corrects
            lines[e.earned_on.month].append(Line(e, corrections.get(e.id)))
    first = 1 if member.on_roll_since.year < year else member.on_roll_since.month
    shown = [m for m in range(1, as_of.month + 1) if m >= first or lines[m]]

    score, running = None, {}
    if history:
        member_ledger = MemberLedger.from_entries(entries, year=year, as_of=as_of)
        score = score_member(scheme, year, as_of, history, member_ledger, on_roll_since=member.on_roll_since,
                             left_roll_on=member.left_roll_on, status=member.status, member_id=member.id)
        for m in shown:  # the year score at each shown month's end (the last one is the score itself)
            month_end = min(date(year, m, calendar.monthrange(year, m)[1]), as_of)
            running[m] = score.detail.score if month_end == as_of else year_score(
                scheme, year, month_end, history, member_ledger).score

    months = [MonthPage(m, *_month_labels(year, m), score.detail.months[m - 1] if score else PeriodPoints(),
                        running.get(m), lines[m]) for m in shown]

    records = db.session.scalars(_SELF_RECORDS, {"member_id": member.id, "start": date(year, 1, 1),
                                                 "end": date(year + 1, 1, 1)}).all()
    pending = [r for r in records if r.status == "pending"]
    rejected = sorted((r for r in records if r.status == "rejected"), key=lambda r: r.decided_at, reverse=True)

    adjusted = {e.adjusts_publication_id for e in entries} - {None}
    publications = {p.id: ledger.period_label(p.year, p.quarter) for p in db.session.scalars(
        select(Publication).where(Publication.id.in_(adjusted)))} if adjusted else {}
    return {
        "member": member, "branch": branch, "community": community, "year": year,
        "years": years if years is not None else _years(member, day),
        "day": day, "as_of": as_of, "scheme": scheme, "score": score, "types": types, "months": months,
        "entry_count": sum(1 for e in entries if e.corrects_id is None),
        "pending": pending, "rejected": rejected, "published": _pending_periods(member, pending),
        "publications": publications,
        "users": _names(User, [e.recorded_by_id for e in entries] + [t.decided_by_id for t in types]
                        + [r.decided_by_id for r in records]),
        "host_branches": _names(Branch, [e.host_branch_id for e in entries if e.host_branch_id != member.branch_id]),
        "indicator_names": {code: localized(scheme.indicators[code]) if code in scheme.indicators else ""
                            for code in {e.indicator_code for e in entries}},
        # Each source of the year's entries as shown: the lazy label resolved once for the page (Markup,
        # as a lazy string renders itself through __html__), or the source itself if it has no label.
        "source_labels": {k: Markup(str(SOURCE_LABELS[k])) if k in SOURCE_LABELS else k
                          for k in {e.source for e in entries}},
        **_viewer_flags(member, year, day),
        # The member sees every decision about them (grades, rectification, proposals).
        "decisions": decisions_for_member(member.id),
    }


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


def _validated(form: SelfRecordForm, member: Member, day: date) -> SelfRecord | None:
    """Checks the ledger will make on confirmation, made now so the member can fix them at once."""
    form.validate()
    history = ledger.type_history(member.id)
    earned_on = form.earned_on.data if not form.earned_on.errors else None
    if earned_on is not None:
        try:
            check_earned_on(earned_on, day, previous_year_open=not ledger.year_review_confirmed(member, day.year - 1))
            if earned_on < member.on_roll_since:
                raise ledger.LedgerError("before_roll", "earned_on", date=member.on_roll_since.isoformat())
        except (EntryError, ledger.LedgerError) as err:
            form.earned_on.errors.append(ledger.error_field_and_text(err, _)[1])
            earned_on = None
    on = earned_on or day
    scheme = scheme_for_year(on.year)
    ind = scheme.indicators.get(form.indicator.data or "")
    value = None
    if ind is None or ind.retired:
        form.indicator.errors.append(_("Choose an item from the list."))
    elif ind.category == "K" or ind.veto:
        form.indicator.errors.append(_("Deductions are recorded by the branch: your booklet records completed items."))
    elif not form.hours.errors:
        try:
            value = entry_points(scheme, ind, type_on(history, on), form.hours.data if ind.is_hours else None)
        except EntryError as err:
            field, text = ledger.error_field_and_text(err, _)
            (form.hours if field == "value" else form.indicator).errors.append(text)
        if not ind.is_hours and form.hours.data is not None:
            form.hours.errors.append(_("This item is not counted in hours: leave the hours empty."))
    if form.errors:
        return None
    return SelfRecord(member_id=member.id, indicator_code=ind.code, earned_on=earned_on,
                      quantity=value.quantity, note=form.note.data, origin="member", status="pending",
                      created_by_id=current_user.id)


def _own_column(member: Member, day: date) -> dict:
    """What the member's self-record column needs besides its form."""
    pending = db.session.scalars(select(SelfRecord).where(SelfRecord.member_id == member.id,
                                                          SelfRecord.status == "pending")
                                 .order_by(SelfRecord.earned_on, SelfRecord.id)).all()
    return {"member": member, "pending": pending, "scheme": scheme_for_year(day.year),
            "published": _pending_periods(member, pending)}


@bp.post("/members/<int:member_id>/self-records")
@requires(EVERYONE)
def self_record(member_id: int):
    member = get_member_or_404(member_id)
    if not own_record(member.id):  # a secretary records for others in the ledger, not here
        abort(403)
    if member.status != "active" or not ledger.type_history(member.id):
        abort(409)
    day = today()
    form = _new_form(member, day, posted=True)
    sr = _validated(form, member, day)
    if sr is None:
        if is_htmx():
            return render_template("booklet/_self_records.html", **_own_column(member, day), form=form), 422
        ctx = _booklet(member, day.year, day)
        return render_template("booklet/show.html", **ctx, form=form), 422
    db.session.add(sr)
    db.session.flush()
    audit.record("self_record_added", sr, member_id=member.id, user=user(),
                 summary=f"{member.name} {sr.indicator_code} on {sr.earned_on}",
                 after={"indicator": sr.indicator_code, "earned_on": sr.earned_on.isoformat(),
                        "quantity": str(sr.quantity) if sr.quantity is not None else None, "note": sr.note})
    db.session.commit()
    if is_htmx():
        return render_template("booklet/_self_records.html", **_own_column(member, day), form=_new_form(member, day),
                               added=sr)
    flash(_("Recorded in your booklet. Your branch will check it and confirm it."), "success")
    return redirect(url_for(".show", member_id=member.id), 303)


# ---------------------------------------------------------------------------------------------
# Confirming and rejecting self-records (secretaries in scope, never on their own record)
# ---------------------------------------------------------------------------------------------

def _decidable(record_id: int) -> tuple[SelfRecord, Member]:
    sr, member = get_self_record_or_404(record_id)
    refuse_own_record(member.id)
    if sr.status != "pending":
        abort(409)
    return sr, member


def _claim(sr: SelfRecord, status: str, **values) -> None:
    """Decide only a still-pending record: of two secretaries deciding at once, the second gets 409."""
    result = db.session.execute(
        update(SelfRecord).where(SelfRecord.id == sr.id, SelfRecord.status == "pending")
        .values(status=status, decided_by_id=current_user.id, decided_at=utcnow(), **values))
    if result.rowcount != 1:
        db.session.rollback()
        abort(409)


def _booklet_page_year(member: Member) -> int | None:
    """The year shown, when an htmx decision comes from this member's booklet (its figures are swapped too)."""
    parts = urlsplit(request.headers.get("HX-Current-URL", ""))
    if not is_htmx() or parts.path != url_for(".show", member_id=member.id):
        return None
    raw = parse_qs(parts.query).get("year", [""])[0]
    day = today()
    # A header, not a form: at most four digits (int() of 5,000 digits raises).
    return int(raw) if re.fullmatch(r"[0-9]{4}", raw) and int(raw) in _years(member, day) else day.year


def _decision_response(sr: SelfRecord, member: Member, status: int = 200, errors: dict | None = None,
                       values: dict | None = None, entry: PointEntry | None = None):
    if not is_htmx():
        if errors:
            day = today()
            ctx = _booklet(member, sr.earned_on.year if sr.earned_on.year in _years(member, day) else day.year, day)
            return render_template("booklet/show.html", **ctx, item_errors={sr.id: errors},
                                   item_values={sr.id: values or {}}), status
        return redirect(url_for(".show", member_id=member.id, year=sr.earned_on.year), 303)
    scheme = scheme_for_year(sr.earned_on.year)
    ctx = {"sr": sr, "scheme": scheme, "entry": entry, "item_errors": {sr.id: errors or {}},
           "item_values": {sr.id: values or {}},
           "published": _pending_periods(member, [sr]) if sr.status == "pending" else {}}
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
    reason = form.reason.data or ""
    indicator = scheme_for_year(sr.earned_on.year).indicators.get(sr.indicator_code)
    # The branch may value an item with options (e.g. a district-level commendation) when confirming it.
    valued_by_branch = indicator is not None and bool(indicator.points_options) and not indicator.is_hours
    value = form.points.data if valued_by_branch else sr.quantity
    errors: dict[str, str] = {}
    adjusts = ledger.publication_covering(member, sr.earned_on)
    note = f"{sr.note} · {reason}" if reason else sr.note
    if adjusts is not None and not reason:  # the member's note says what, not why it comes after publication
        errors["reason"] = ledger.LedgerError("adjustment_needs_reason", "note",
                                              period=ledger.period_label(adjusts.year, adjusts.quarter)).text(_)
    elif len(note) > ledger.NOTE_MAX:
        errors["reason"] = _("The member's note and your reason together are longer than 500 characters.")
    if errors:
        return _decision_response(sr, member, 422, errors, values)
    _claim(sr, "confirmed")
    try:
        recorded = ledger.record_entry(member=member, indicator_code=sr.indicator_code, value=value,
                                       earned_on=sr.earned_on, note=note, user=user(), today=today(),
                                       source="self_record", self_record_id=sr.id, meeting_id=sr.meeting_id,
                                       host_branch_id=sr.host_branch_id)
    except (EntryError, ledger.LedgerError) as err:
        db.session.rollback()
        field, text = ledger.error_field_and_text(err, _)
        key = {"note": "reason", "value": "points"}.get(field, "general")
        return _decision_response(sr, member, 422, {key: text}, values)
    except IntegrityError:  # another confirmation of the same record won the race
        db.session.rollback()
        abort(409)
    audit.record("self_record_confirmed", sr, member_id=member.id, user=user(),
                 summary=f"{member.name} {sr.indicator_code} on {sr.earned_on}: entry {recorded.entry.id}")
    db.session.commit()
    return _decision_response(sr, member, entry=recorded.entry)


@bp.post("/self-records/<int:record_id>/reject")
@requires(SECRETARIES)
def reject(record_id: int):
    sr, member = _decidable(record_id)
    form = RejectForm()
    if not form.validate_on_submit():
        return _decision_response(sr, member, 422, {"reject_reason": refusals(form).get("reason", "")},
                                  {"reject_reason": form.reason._value()})
    reason = form.reason.data
    _claim(sr, "rejected", reject_reason=reason)
    audit.record("self_record_rejected", sr, member_id=member.id, user=user(),
                 summary=f"{member.name} {sr.indicator_code} on {sr.earned_on}: {reason}")
    db.session.commit()
    return _decision_response(sr, member)
