"""A meeting or activity entered once for the whole branch, flexible attendance, and leaves."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from ..access import requires, SECRETARIES
from .. import audit
from ..access import get_branch_or_404, own_record
from ..clock import today
from ..db import db
from ..fields import args_form
from ..idempotency import entries_with_key_prefix, key_from, new_key
from ..ledger import (LedgerError, NewEntry, check_entries, error_field_and_text, members_on_leave, type_histories,
                      write_entries)
from ..models import Branch, Community, Leave, Meeting, Member, SelfRecord
from ..scheme_versions import scheme_for_year
from ..scoring import type_on
from ..street_settings import get_setting
from . import bp
from .forms import (GUESTS_MAX, STATUSES, GuestSearch, LeaveForm, MeetingKind, branch_meeting_form,
                    member_line_errors)

# What each kind of meeting records by default: an indicator role or flag, resolved in the scheme.
DEFAULT_INDICATOR = {"org_life": "attendance", "study": "J2", "volunteer": "hours", "charity": "Z7", "other": "J2"}


def _indicator_choices(scheme):
    return [SelectChoice(i.code) for i in scheme.indicators.values() if i.category in ("J", "Z") and not i.retired]


def _default_indicator(scheme, kind: str) -> str | None:
    want = DEFAULT_INDICATOR.get(kind, "")
    for ind in scheme.indicators.values():
        if ind.retired or ind.category == "K":
            continue
        if (want == "attendance" and ind.role == "attendance") or (want == "hours" and ind.is_hours) or ind.code == want:
            return ind.code
    return None


def _members(branch: Branch) -> list[Member]:
    return list(db.session.scalars(select(Member).where(Member.branch_id == branch.id, Member.status == "active")
                                   .order_by(Member.name_key, Member.name, Member.id)))


@bp.route("/branches/<int:branch_id>/meetings/new", methods=["GET", "POST"])
@requires(SECRETARIES)
def meeting_form(branch_id: int):
    branch, community = get_branch_or_404(branch_id)
    day = today()
    members = _members(branch)
    kind = (args_form(MeetingKind).kind.data if request.method == "GET" else None) or "org_life"
    # Posted, the form reads what was sent (the kind too); the values given here are a new form's.
    form = branch_meeting_form(members)(held_on=day, kind=kind, idempotency_key=new_key())
    scheme = scheme_for_year((form.held_on.data or day).year)
    form.indicator.choices = _indicator_choices(scheme)
    if request.method == "GET":
        form.indicator.data = _default_indicator(scheme, kind)
    valid = request.method == "POST" and form.validate()
    member_errors: dict[int, str] = member_line_errors(form, members)
    statuses = {m.id: form[f"status-{m.id}"].data or "" for m in members}
    guests = _guests(branch, form.guest_ids.data or [])
    key = key_from(form.idempotency_key.data) if request.method == "POST" else None
    if valid:
        key = key or new_key()
        try:
            recorded = _record_meeting(branch, form, key, members, statuses, guests, scheme, member_errors, day)
            if recorded is not None:
                db.session.commit()
                written, own = recorded
                flash(_("Meeting recorded: %(n)d entries written.", n=written)
                      + (" " + _("Your own line waits for confirmation by the community secretary or another "
                                 "committee member.") if own else ""), "success")
                return redirect(url_for("entry.roster", branch_id=branch_id))
        except (_AlreadyRecorded, IntegrityError) as err:
            db.session.rollback()
            written = entries_with_key_prefix(key)
            if isinstance(err, IntegrityError) and not written:
                raise
            # The same form sent twice: the first recorded the meeting, this one changes nothing.
            flash(_("This meeting was already recorded (%(n)d entries); nothing was added again.", n=written), "info")
            return redirect(url_for("entry.roster", branch_id=branch_id))
        db.session.rollback()
    status_code = 422 if request.method == "POST" else 200
    on = form.held_on.data or day
    types = {mid: type_on(h, on) for mid, h in type_histories([m.id for m in members]).items()} if members else {}
    registered = members_on_leave([m.id for m in members], on) if members else set()
    leaves = {m.id: m.id in registered for m in members}
    return render_template("entry/meeting.html", branch=branch, community=community, form=form, members=members,
                           statuses=statuses, member_errors=member_errors, types=types, leaves=leaves,
                           guests=guests, scheme=scheme), status_code


class _AlreadyRecorded(Exception):
    """The meeting form's key was used: a second submit of the same form."""


def _record_meeting(branch, form, key, members, statuses, guests, scheme, member_errors,
                    day) -> tuple[int, int] | None:
    """All entries in one transaction; returns (entries written, own lines waiting for confirmation),
    or None with member_errors filled.

    The members' entries are checked together (ledger.check_entries: a few set-based queries for the
    whole branch) and written in bulk; refusals are reported member by member, in roster order, as
    if each entry had been recorded in turn.
    """
    held_on: date = form.held_on.data
    indicator = scheme.indicators.get(form.indicator.data)
    org_life = form.kind.data == "org_life"
    if indicator is None:
        form.indicator.errors = [_("Choose an indicator.")]
        return None
    if indicator.is_hours and form.hours.data is None:
        form.hours.errors = [_("Enter the hours served.")]
        return None
    hours = form.hours.data  # 0.1 to 999.9 with one decimal at most (the field's range)
    absence = next(iter(scheme.indicators_with(role="absence")), None)
    user = current_user._get_current_object()

    def status_of(m: Member) -> str:
        status = statuses.get(m.id, "")
        return "" if not org_life and status not in ("attended", "") else status

    # Members expected: attended, absent or attended where they live (counted once all are valid).
    expected = sum(status_of(m) in ("attended", "absent", "home") for m in members)
    meeting = Meeting(branch_id=branch.id, held_on=held_on, kind=form.kind.data, indicator_code=indicator.code,
                      topic=form.topic.data.strip(), hours=hours, recorded_by_id=user.id, expected_count=expected)
    db.session.add(meeting)
    db.session.flush()
    value = hours if indicator.is_hours else None
    # First what each member's status asks for (nothing written yet) ...
    plan: list[tuple[Member, str, object]] = []  # (member, "error" | "leave" | "entry", detail)
    items: list[NewEntry] = []
    excused = [m.id for m in members if statuses.get(m.id, "") == "excused"]
    registered = members_on_leave(excused, held_on) if excused else set()
    histories = type_histories([m.id for m in members if statuses.get(m.id, "") == "home"])
    for m in members:
        status = statuses.get(m.id, "")
        if org_life and status not in STATUSES:
            plan.append((m, "error", _("Choose attended, excused, attended where they live, or absent.")))
            continue
        status = status_of(m)
        if status == "excused":
            if m.id not in registered:
                reason = form[f"leave-{m.id}"].data or ""
                if not reason:
                    plan.append((m, "error",
                                 _("No leave is registered for this date: give the reason to register one.")))
                    continue
                plan.append((m, "leave", reason))
            continue
        new = None
        if status == "attended":
            new = NewEntry(member=m, indicator_code=indicator.code, value=value, earned_on=held_on, note=meeting.topic,
                           source="meeting", meeting_id=meeting.id, host_branch_id=branch.id,
                           idempotency_key=f"{key}:{m.id}")
        elif status == "home":
            proof = form[f"proof-{m.id}"].data or ""
            if type_on(histories[m.id], held_on) != "C" or not proof:
                plan.append((m, "error", _("Attended where they live: type 3 members only, with the proof noted.")))
                continue
            new = NewEntry(member=m, indicator_code=indicator.code, value=value, earned_on=held_on,
                           note=_("Attended where they live now: %(proof)s", proof=proof), source="meeting",
                           meeting_id=meeting.id, idempotency_key=f"{key}:{m.id}")
        elif status == "absent" and absence is not None:
            new = NewEntry(member=m, indicator_code=absence.code, value=None, earned_on=held_on,
                           note=_("Unexcused absence: %(topic)s", topic=meeting.topic), source="meeting",
                           meeting_id=meeting.id, idempotency_key=f"{key}:{m.id}")
        if new is not None:
            # The recorder's own line is checked like the others but waits for another person (four eyes).
            plan.append((m, "own" if own_record(m.id, user) else "entry", len(items)))
            items.append(new)
    guest_from = len(items)
    items += [NewEntry(member=g, indicator_code=indicator.code, value=value, earned_on=held_on, note=meeting.topic,
                       source="meeting", meeting_id=meeting.id, host_branch_id=branch.id,
                       idempotency_key=f"{key}:{g.id}") for g in guests]
    checked = check_entries(items, today=day)
    # ... then the refusals in roster order, stopping where recording one by one would have stopped.
    leaves: list[tuple[Member, str]] = []
    for m, what, detail in plan:
        if what == "error":
            member_errors[m.id] = detail
        elif what == "leave":
            leaves.append((m, detail))
        elif what in ("entry", "own") and isinstance(checked[detail], Exception):
            err = checked[detail]
            field, text = error_field_and_text(err, _)
            if isinstance(err, LedgerError) and err.key == "duplicate_submit":
                raise _AlreadyRecorded()
            if field in ("earned_on",):
                form.held_on.errors = [text]
                return None
            member_errors[m.id] = text
    for g, result in zip(guests, checked[guest_from:]):
        if isinstance(result, Exception):
            member_errors[g.id] = error_field_and_text(result, _)[1]
    if member_errors or form.errors:
        return None
    for m, reason in leaves:
        db.session.add(Leave(member_id=m.id, kind="leave", starts_on=held_on, ends_on=held_on,
                             reason=reason, recorded_by_id=user.id))
        audit.record("leave_added", m, member_id=m.id, summary=f"{held_on}: {reason[:200]}", user=user)
    own_items = {detail for _m, what, detail in plan if what == "own"}
    written = len(write_entries([c for i, c in enumerate(checked) if i not in own_items], user=user))
    for i in sorted(own_items):
        _own_line_for_confirmation(items[i], meeting, user)
    audit.record("meeting_recorded", meeting, summary=f"{branch.name} {held_on} {meeting.kind} {meeting.topic}: "
                 f"{written} entries" + (", own line waits for confirmation" if own_items else ""), user=user)
    return written, len(own_items)


def _own_line_for_confirmation(new: NewEntry, meeting: Meeting, user) -> SelfRecord:
    """The recording secretary's own line: a pending item that another person confirms into the ledger
    (the community secretary, or another committee member), in the queue of pending self-records."""
    quantity = Decimal(str(new.value)) if new.value not in (None, "") else None
    sr = SelfRecord(member_id=new.member.id, indicator_code=new.indicator_code, earned_on=new.earned_on,
                    quantity=quantity, note=new.note, origin="meeting", meeting_id=meeting.id,
                    host_branch_id=new.host_branch_id, created_by_id=user.id)
    db.session.add(sr)
    db.session.flush()
    audit.record("self_record_added", sr, member_id=new.member.id, user=user,
                 summary=f"{new.member.name} {new.indicator_code} {new.earned_on}: own line of meeting {meeting.id}")
    return sr


def _flexible_kinds(branch: Branch) -> tuple[list[str], int]:
    street_id = db.session.scalar(select(Community.street_id).where(Community.id == branch.community_id))
    return list(get_setting(street_id, "flexible_branch_kinds")), street_id


def _guest_query(branch: Branch):
    kinds, street_id = _flexible_kinds(branch)
    return (select(Member, Branch.name).join(Branch, Branch.id == Member.branch_id)
            .where(Member.street_id == street_id, Member.status == "active", Member.branch_id != branch.id,
                   Branch.kind.in_(kinds)))


def _guests(branch: Branch, ids: list[int]) -> list[Member]:
    wanted = ids[:GUESTS_MAX]
    if not wanted:
        return []
    return [m for m, _n in db.session.execute(_guest_query(branch).where(Member.id.in_(wanted)))]


@bp.get("/branches/<int:branch_id>/meetings/guests")
@requires(SECRETARIES)
def guest_search(branch_id: int):
    """Members of flexible-attendance branches, found by name: only name and home branch are shown."""
    branch, _c = get_branch_or_404(branch_id)
    q = args_form(GuestSearch).q.data or ""
    rows = []
    if q:
        rows = db.session.execute(_guest_query(branch).where(Member.name.contains(q, autoescape=True))
                                  .order_by(Member.name_key, Member.name, Member.id).limit(10)).all()
    return render_template("entry/_guest_results.html", branch=branch, rows=rows, q=q)


@bp.get("/branches/<int:branch_id>/meetings/guests/<int:member_id>")
@requires(SECRETARIES)
def guest_chip(branch_id: int, member_id: int):
    branch, _c = get_branch_or_404(branch_id)
    row = db.session.execute(_guest_query(branch).where(Member.id == member_id)).first()
    if row is None:
        abort(404)
    return render_template("entry/_guest_chip.html", g=row[0], home=row[1])


@bp.route("/branches/<int:branch_id>/leaves", methods=["GET", "POST"])
@requires(SECRETARIES)
def leaves(branch_id: int):
    branch, community = get_branch_or_404(branch_id)
    members = _members(branch)
    form = LeaveForm()
    form.member_id.choices = [SelectChoice(m.id, m.name) for m in members]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            if form.ends_on.data < form.starts_on.data:
                form.ends_on.errors = [_("The end cannot be before the start.")]
            else:
                member = next(m for m in members if m.id == form.member_id.data)
                leave = Leave(member_id=member.id, kind=form.kind.data, starts_on=form.starts_on.data,
                              ends_on=form.ends_on.data, reason=form.reason.data,
                              recorded_by_id=current_user.id)
                db.session.add(leave)
                db.session.flush()
                audit.record("leave_added", leave, member_id=member.id,
                             summary=f"{member.name} {leave.kind} {leave.starts_on}..{leave.ends_on}")
                db.session.commit()
                flash(_("Leave registered for %(name)s.", name=member.name), "success")
                return redirect(url_for("entry.leaves", branch_id=branch.id))
        status = 422
    rows = db.session.execute(
        select(Leave, Member.name).join(Member, Member.id == Leave.member_id)
        .where(Member.branch_id == branch.id, Leave.ends_on >= date(today().year - 1, 1, 1))
        .order_by(Leave.starts_on.desc())).all()
    return render_template("entry/leaves.html", branch=branch, community=community, form=form, rows=rows), status
