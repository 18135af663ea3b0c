"""The branch roster and inline entry (htmx edit-row): add, quick add, undo by correction."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from ..access import has_role, requires, SECRETARIES
from .. import audit
from ..access import get_branch_or_404, get_entry_or_404, own_record, refuse_own_record
from ..clock import today
from ..db import db, reads_only_from_now
from ..dues import register_doubts
from ..booklet import months_after_change
from ..errors import render_error
from ..fields import args_form
from ..htmx import hx_redirect, is_htmx, page_or_fragment
from ..idempotency import entry_with_key, key_from
from ..ledger import (LedgerError, correct_entry, error_field_and_text, is_live, likely_mistakes, open_for_corrections,
                      record_entry, type_histories)
from ..street_settings import get_setting
from ..models import Branch, Community, Member, PointEntry
from ..scheme_versions import scheme_for_year
from ..scoring import EntryError, MemberScore, live_entry_clause, score_members, type_on
from . import bp
from .data import RosterData, roster_data
from ..idempotency import new_key
from .forms import CorrectionForm, CorrectionPlace, EntryDraft, EntryForm, QuickForm, QuickSettingsForm, VetoForm

ROW_TEMPLATES = {
    "row": "entry/_rows.html",
    "veto": "entry/_row_veto.html",
    "form": "entry/_row_form.html",
    "entries": "entry/_row_entries.html",
    "correct": "entry/_row_correct.html",
}


def _member_of(branch: Branch, member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or member.branch_id != branch.id or member.status != "active":
        abort(404)
    return member


def _respond(branch: Branch, member: Member, mode: str = "row", *, status: int = 200, totals: bool = False,
             data: RosterData | None = None, **extra):
    """One row (in one of its modes), plus the branch totals out of band after a write."""
    # After a write the whole branch is scored once: the row and the out-of-band totals share it.
    if data is None:
        data = roster_data(branch, today(), row=member.id) if totals else roster_data(branch, today(), only=[member.id])
    context = dict(branch=branch, data=data, m=member, s=data.scores[member.id], rows=[member], **extra)
    body = render_template(ROW_TEMPLATES[mode], **context)
    if totals:
        body += render_template("entry/_totals.html", branch=branch, data=data, oob=True)
    resp = make_response(body, status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/roster")
@requires(SECRETARIES)
def my_branch():
    if not has_role("branch_secretary") or current_user.branch_id is None:
        return redirect(url_for("home.index"))
    return redirect(url_for("entry.roster", branch_id=current_user.branch_id))


@bp.get("/branches/<int:branch_id>/roster")
@requires(SECRETARIES)
def roster(branch_id: int):
    branch, community = get_branch_or_404(branch_id)
    data = roster_data(branch, today())
    return page_or_fragment("entry/roster.html", "entry/_roster_table.html", branch=branch, community=community,
                            data=data)


@bp.get("/branches/<int:branch_id>/members/<int:member_id>/row")
@requires(SECRETARIES)
def row(branch_id: int, member_id: int):
    branch, _c = get_branch_or_404(branch_id)
    return _respond(branch, _member_of(branch, member_id), refocus=True)


def _entry_form(member: Member, day: date, form: EntryForm | None = None, indicator_code: str | None = None):
    """The form with indicators that apply to the member's type today, grouped by category."""
    scheme = scheme_for_year(day.year)
    history = type_histories([member.id])[member.id]
    type_code = type_on(history, day)
    form = form or EntryForm(formdata=None, earned_on=day, idempotency_key=new_key())
    # The veto is not an item among others: it has its own action and confirmation (veto_form).
    applicable = [i for i in scheme.applicable(type_code) if not i.veto]
    form.indicator.choices = [SelectChoice(i.code) for i in applicable]
    code = indicator_code or form.indicator.data or (applicable[0].code if applicable else None)
    form.indicator.data = code  # an unknown code stays, so validation refuses it
    indicator = next((i for i in applicable if i.code == code), None)
    return form, scheme, type_code, applicable, indicator, history


@bp.get("/branches/<int:branch_id>/members/<int:member_id>/add")
@requires(SECRETARIES)
def add_form(branch_id: int, member_id: int):
    branch, _c = get_branch_or_404(branch_id)
    member = _member_of(branch, member_id)
    refuse_own_record(member.id)
    day = today()
    draft = args_form(EntryDraft)
    form = None
    if draft.indicator.data and draft.keep.data:
        # The indicator changed: keep what was typed (what passes its field), draw the value field for the new one.
        typed = {f.name: f.data for f in draft if f.name not in ("indicator", "keep") and f.data is not None}
        form = EntryForm(formdata=None, idempotency_key=new_key(), **{"earned_on": day, **typed})
    form, scheme, type_code, applicable, indicator, _h = _entry_form(member, day, form, draft.indicator.data)
    return _respond(branch, member, "form", form=form, scheme=scheme, type_code=type_code, applicable=applicable,
                    indicator=indicator)


@bp.post("/branches/<int:branch_id>/members/<int:member_id>/entries")
@requires(SECRETARIES)
def add_points(branch_id: int, member_id: int):
    branch, _c = get_branch_or_404(branch_id)
    member = _member_of(branch, member_id)
    refuse_own_record(member.id)
    day = today()
    form = EntryForm()
    key = key_from(form.idempotency_key.data)
    form, scheme, type_code, applicable, indicator, history = _entry_form(member, day, form)
    if key and entry_with_key(key) is not None:  # the same form again: nothing to ask, nothing to add
        return _already_recorded(branch, member, key)
    if form.validate_on_submit():
        doubts = [] if form.confirmed.data else _doubts(branch, member, form.indicator.data, form.value.data,
                                                         form.earned_on.data, history)
        if doubts:  # ask first; the answer resubmits the same form (same key) with confirmed set
            return _respond(branch, member, "form", form=form, scheme=scheme, type_code=type_code,
                            applicable=applicable, indicator=indicator, doubts=doubts)
        try:
            before = _score_for(member, form.earned_on.data, day)
            recorded = record_entry(
                member=member, indicator_code=form.indicator.data, value=form.value.data,
                earned_on=form.earned_on.data, note=form.note.data, user=current_user, today=day,
                idempotency_key=key, history=history)
            _commit_keeping_loaded()
        except (EntryError, LedgerError, IntegrityError) as err:
            db.session.rollback()
            if _is_repeat(err, key):
                return _already_recorded(branch, member, key)
            _attach_error(form, err)
        else:
            return _added(branch, member, recorded, before, day)
    status = 422
    return _respond(branch, member, "form", status=status, form=form, scheme=scheme, type_code=type_code,
                    applicable=applicable, indicator=indicator)


@bp.post("/branches/<int:branch_id>/members/<int:member_id>/quick/<code>")
@requires(SECRETARIES)
def quick_add(branch_id: int, member_id: int, code: str):
    """One click: the indicator's default points, today, no note."""
    branch, _c = get_branch_or_404(branch_id)
    member = _member_of(branch, member_id)
    refuse_own_record(member.id)
    day = today()
    form = QuickForm()
    key = key_from(form.idempotency_key.data)
    if key and entry_with_key(key) is not None:
        return _already_recorded(branch, member, key)
    doubts = [] if form.confirmed.data else _doubts(branch, member, code, None, day)
    if doubts:
        return _respond(branch, member, doubts=doubts, doubt_code=code, doubt_key=key)
    try:
        before = _score_for(member, day, day)
        recorded = record_entry(member=member, indicator_code=code, value=None, earned_on=day, note="",
                                user=current_user, today=day, idempotency_key=key)
        _commit_keeping_loaded()
    except (EntryError, LedgerError, IntegrityError) as err:
        db.session.rollback()
        if _is_repeat(err, key):
            return _already_recorded(branch, member, key)
        return _respond(branch, member, status=422, error=error_field_and_text(err, _)[1])
    return _added(branch, member, recorded, before, day)


@bp.route("/branches/<int:branch_id>/members/<int:member_id>/veto", methods=["GET", "POST"])
@requires(SECRETARIES)
def veto(branch_id: int, member_id: int):
    """The veto (一票否决): its own form, saying what it does to the year, recorded only when confirmed."""
    branch, _c = get_branch_or_404(branch_id)
    member = _member_of(branch, member_id)
    refuse_own_record(member.id)
    day = today()
    scheme = scheme_for_year(day.year)
    type_code = type_on(type_histories([member.id])[member.id], day)
    indicator = next((i for i in scheme.indicators_with(flag="veto") if i.applies(type_code)), None)
    if indicator is None:
        abort(404)  # this year's scheme has no veto for the member's type
    if request.method == "GET":
        form = VetoForm(formdata=None, earned_on=day, idempotency_key=new_key())
        return _respond(branch, member, "veto", form=form, indicator=indicator, year=day.year)
    form = VetoForm()
    key = key_from(form.idempotency_key.data)
    if form.validate_on_submit():
        try:
            before = _score_for(member, form.earned_on.data, day)
            recorded = record_entry(member=member, indicator_code=indicator.code, value=None,
                                    earned_on=form.earned_on.data, note=form.note.data, user=current_user, today=day,
                                    idempotency_key=key)
            _commit_keeping_loaded()
        except (EntryError, LedgerError, IntegrityError) as err:
            db.session.rollback()
            if _is_repeat(err, key):
                return _already_recorded(branch, member, key)
            field, text = error_field_and_text(err, _)
            target = getattr(form, field, None) if field in ("earned_on", "note") else None
            if target is None:
                form.form_errors.append(text)
            else:
                target.errors = [*target.errors, text]
        else:
            return _added(branch, member, recorded, before, day)
    return _respond(branch, member, "veto", status=422, form=form, indicator=indicator, year=day.year)


def _doubts(branch: Branch, member: Member, code: str, value, earned_on: date,
            history: list[tuple[date, str]] | None = None) -> list:
    community = db.session.get(Community, branch.community_id)  # loaded with the branch: no query
    threshold = Decimal(str(get_setting(community.street_id, "deduction_confirm_points")))
    return (likely_mistakes(member, code, value, earned_on, threshold=threshold, history=history)
            + register_doubts(member, code, earned_on, today()))


def _is_repeat(err: Exception, key: str | None) -> bool:
    """A second submit of the same form: refused by the ledger, or by the key's unique index when both
    were checked at once. Any other integrity error is a real fault and is raised."""
    if isinstance(err, LedgerError):
        return err.key == "duplicate_submit"
    if isinstance(err, IntegrityError):
        if entry_with_key(key) is None:
            raise err
        return True
    return False


def _already_recorded(branch: Branch, member: Member, key: str | None):
    """The answer to a repeated submit: the row as the first submit left it, saying nothing was added."""
    first = entry_with_key(key)
    if first is None or first.member_id != member.id:
        return _respond(branch, member, status=409, error=_("This form was already submitted: the entry is recorded once."))
    return _respond(branch, member, totals=True, refocus=True, added=first, already=True)


def _commit_keeping_loaded() -> None:
    """Commit without expiring what this request loaded (the branch, the member, the new entry, the
    user): the response is rendered from them right after, and reloading each costs a query. What
    follows only reads, without SQLite's write lock: another secretary's add need not wait for this
    branch to be scored and rendered."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire
    reads_only_from_now()


def _added(branch: Branch, member: Member, recorded, before: MemberScore, day: date):
    """The row after an inline add, with the branch totals; the branch is scored once, after the write,
    and the member's new score is read from it (unless the entry is of an earlier year)."""
    data = roster_data(branch, day, row=member.id)
    earned_on = recorded.entry.earned_on
    if earned_on.year == day.year and member.id in data.scores:
        after = data.scores[member.id]
    else:
        after = _score_for(member, earned_on, day)
    return _respond(branch, member, totals=True, data=data, refocus=True, added=recorded.entry,
                    added_indicator=recorded.indicator, counted=after.score - before.score,
                    cap_message=_cap_message(recorded, after), adjusts=recorded.adjusts)


@bp.get("/branches/<int:branch_id>/members/<int:member_id>/entries")
@requires(SECRETARIES)
def member_entries(branch_id: int, member_id: int):
    """Every entry of the member that can still be undone (live, in a year still open), newest first."""
    branch, _c = get_branch_or_404(branch_id)
    member = _member_of(branch, member_id)
    day = today()
    first_year = day.year - 1 if open_for_corrections(member, day.year - 1, day) else day.year
    entries = db.session.scalars(
        select(PointEntry).where(PointEntry.member_id == member.id, PointEntry.earned_on >= date(first_year, 1, 1),
                                 live_entry_clause())
        .order_by(PointEntry.earned_on.desc(), PointEntry.id.desc())).all()
    return _respond(branch, member, "entries", entries=entries, own=own_record(member.id), first_year=first_year)


def _entry_in_scope(entry_id: int) -> tuple[PointEntry, Branch, Member]:
    entry, member = get_entry_or_404(entry_id)
    branch, _c = get_branch_or_404(member.branch_id)
    return entry, branch, member


@bp.get("/entries/<int:entry_id>/correct")
@requires(SECRETARIES)
def correct_form(entry_id: int):
    """The undo form, in the roster's row or (on=booklet) in the entry's row of the member's booklet."""
    entry, branch, member = _entry_in_scope(entry_id)
    refuse_own_record(member.id)
    if not is_live(entry):
        abort(409)
    form = CorrectionForm(formdata=None, idempotency_key=new_key())
    if args_form(CorrectionPlace).on.data == "booklet":
        return _booklet_answer(member, entry, form=form)
    return _respond(branch, member, "correct", entry=entry, form=form)


@bp.post("/entries/<int:entry_id>/correct")
@requires(SECRETARIES)
def correct(entry_id: int):
    entry, branch, member = _entry_in_scope(entry_id)
    refuse_own_record(member.id)
    on_booklet = args_form(CorrectionPlace).on.data == "booklet"
    form = CorrectionForm()
    if form.validate_on_submit():
        key = key_from(form.idempotency_key.data)
        try:
            recorded = correct_entry(entry=entry, reason=form.reason.data, user=current_user, today=today(),
                                     idempotency_key=key)
            db.session.commit()
            if on_booklet:
                return _booklet_answer(member, entry)
            return _respond(branch, member, totals=True, refocus=True, corrected=entry, adjusts=recorded.adjusts)
        except (LedgerError, IntegrityError) as err:
            db.session.rollback()
            if isinstance(err, IntegrityError) and is_live(entry):
                raise
            if isinstance(err, IntegrityError) or err.key == "duplicate_submit":
                # Two undos at once: the entry is corrected once; the repeat of the same form answers like it.
                if entry_with_key(key) is not None:
                    return _booklet_answer(member, entry) if on_booklet else _respond(
                        branch, member, totals=True, refocus=True, corrected=entry)
                err = LedgerError("already_corrected")
            if err.key in ("already_corrected", "is_correction"):
                if on_booklet:
                    return _booklet_answer(member, entry)  # the booklet shows it corrected already
                return _respond(branch, member, status=409, error=err.text(_))
            form.reason.errors = [*form.reason.errors, err.text(_)]
    if on_booklet:
        return _booklet_answer(member, entry, form=form, status=422)
    return _respond(branch, member, "correct", status=422, entry=entry, form=form)


def _booklet_answer(member: Member, entry: PointEntry, *, form: CorrectionForm | None = None, status: int = 200):
    """On the booklet: the form in the entry's row, or after the undo the year's months with their figures."""
    if form is not None:
        resp = make_response(render_template("booklet/_correct_row.html", member=member, entry=entry, form=form,
                                             year=entry.earned_on.year), status)
        resp.headers["HX-Retarget"] = f"#entry-{entry.id}"
        resp.headers["HX-Reswap"] = "outerHTML"
    else:
        resp = make_response(months_after_change(member, entry.earned_on.year))
    resp.vary.add("HX-Request")
    return resp


@bp.post("/branches/<int:branch_id>/quick")
@requires(SECRETARIES)
def set_quick(branch_id: int):
    """The branch secretary chooses the roster's one-click indicators."""
    branch, _c = get_branch_or_404(branch_id)
    data = roster_data(branch, today(), only=[])
    form = QuickSettingsForm()
    form.codes.choices = [SelectChoice(c) for c in data.scheme.indicators]
    if not form.validate_on_submit():  # only a hand-made request sends a code the page did not offer
        return render_error(422, str(next(iter(form.errors.values()))[0]))
    chosen = form.codes.data[:4]
    before = branch.quick_indicators
    branch.quick_indicators = ",".join(chosen)
    audit.record("quick_indicators_set", branch, before=before, after=branch.quick_indicators)
    db.session.commit()
    if is_htmx():
        return hx_redirect(url_for("entry.roster", branch_id=branch.id))
    return redirect(url_for("entry.roster", branch_id=branch.id))


def _score_for(member: Member, earned_on: date, day: date) -> MemberScore:
    """The member's score of the year the entry falls in (as of today, or Dec 31 for a past year)."""
    year = earned_on.year if earned_on.year <= day.year else day.year
    as_of = day if year == day.year else date(year, 12, 31)
    return score_members(db.session, scheme_for_year(year), year, as_of, [member])[member.id]


def _cap_message(recorded, after: MemberScore) -> str | None:
    """'This month's cap for J1 is reached' when the new entry ran into one of its caps."""
    entry, ind = recorded.entry, recorded.indicator
    if entry.points <= 0:
        return None
    month, quarter = entry.earned_on.month, (entry.earned_on.month - 1) // 3 + 1
    for hit in after.caps_reached:
        if hit.code == ind.code and hit.scope == "month" and hit.period == month:
            return _("This month's cap for %(code)s is reached.", code=ind.code)
        if hit.code == ind.code and hit.scope == "quarter" and hit.period == quarter:
            return _("This quarter's cap for %(code)s is reached.", code=ind.code)
        if hit.code == ind.code and hit.scope == "year":
            return _("This year's cap for %(code)s is reached.", code=ind.code)
        if hit.scope == "category" and hit.code == ind.category:
            return _("The year's cap for the category is reached.")
    return None


def _attach_error(form: EntryForm, err: Exception) -> None:
    field, text = error_field_and_text(err, _)
    target = getattr(form, field, None) if field else None
    if target is None:
        form.form_errors.append(text)
    else:
        target.errors = [*target.errors, text]
