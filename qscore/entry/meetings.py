"""A meeting or activity entered once for the whole branch, flexible attendance, and leaves."""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from ..access import requires, SECRETARIES
from .. import audit, checkin
from ..access import get_branch_or_404, get_checkin_of_branch_or_404
from ..clock import now as clock_now, today
from ..db import db, reads_only_from_now
from ..fields import args_form
from ..idempotency import entries_with_key_prefix, key_from, new_key
from ..ledger import members_on_leave, type_histories
from ..meetings import (AlreadyRecorded, MeetingInput, MeetingRefused, branch_members, default_indicator,
                        guest_query, guests, record_branch_meeting)
from ..models import Leave, Member
from ..scheme_versions import scheme_for_year
from ..scoring import type_on
from . import bp
from .forms import GuestSearch, LeaveForm, MeetingForm, MeetingKind, meeting_indicator_choices

@bp.route("/branches/<int:branch_id>/meetings/new", methods=["GET", "POST"])
@requires(SECRETARIES)
def meeting_form(branch_id: int):
    branch, community = get_branch_or_404(branch_id)
    day = today()
    members = branch_members(branch)
    args = args_form(MeetingKind) if request.method == "GET" else None
    kind = (args.kind.data if args else None) or "org_life"
    # Posted, the form reads what was sent (the kind too); the values given here are a new form's.
    form = MeetingForm(held_on=day, kind=kind, idempotency_key=new_key(), lines=members)
    cm_id = args.checkin.data if args else form.checkin.data
    cm = get_checkin_of_branch_or_404(branch, cm_id) if cm_id else None
    if cm is not None and cm.meeting_id is not None and args:  # (posted twice: the service says so)
        flash(_("This meeting is already recorded."), "info")
        return redirect(url_for("checkin.manage", branch_id=branch_id, checkin_id=cm.id), 303)
    if cm is not None and args and checkin.state(cm, clock_now()) != "closed":
        # Sign-ins after the form was read would never become attendance: the sign-in ends first.
        flash(_("End the sign-in first: who signs in after the form is opened would be left out."), "info")
        return redirect(url_for("checkin.manage", branch_id=branch_id, checkin_id=cm.id), 303)
    if cm is not None and args:  # opened from a sign-in: its meeting, and who signed in attended
        statuses, guest_ids = checkin.attendance(cm)
        form = MeetingForm(held_on=cm.held_on, kind=cm.kind, topic=cm.topic, idempotency_key=new_key(),
                           lines=members, checkin=cm.id, guest_ids=guest_ids)
        for mid, status in statuses.items():
            form.lines.data[mid].status = status
    scheme = scheme_for_year((form.held_on.data or day).year)  # read once: the service is given it
    form.indicator.choices = meeting_indicator_choices(scheme)
    if request.method == "GET":
        form.indicator.data = cm.indicator_code if cm is not None else default_indicator(scheme, kind)
    valid = request.method == "POST" and form.validate()
    lines = form.lines.data
    member_errors: dict[int, str] = {mid: line.error for mid, line in lines.items() if line.error}
    statuses = {mid: line.status for mid, line in lines.items()}
    key = key_from(form.idempotency_key.data) if request.method == "POST" else None
    if valid:
        key = key or new_key()
        data = MeetingInput(
            held_on=form.held_on.data, kind=form.kind.data, indicator_code=form.indicator.data,
            topic=form.topic.data, hours=form.hours.data, statuses=statuses,
            # A line has one box: a type 3 member's is named proof-<id> and holds the leave's reason when excused.
            leave_reasons={mid: line.leave or line.proof or "" for mid, line in lines.items()},
            proofs={mid: line.proof or "" for mid, line in lines.items()}, guest_ids=form.guest_ids.data or [])
        try:
            by = current_user._get_current_object()
            recorded = (checkin.record(cm, branch, data, by=by, today=day, key=key, gettext=_, members=members,
                                       scheme=scheme) if cm is not None else
                        record_branch_meeting(branch, data, by=by, today=day, key=key, gettext=_, members=members,
                                              scheme=scheme))
            # Said before the commit: afterwards the language would reload the expired user in a new transaction.
            said = (_("Meeting recorded: %(n)d entries written.", n=recorded.written)
                    + (" " + _("Your own line waits for confirmation by the community secretary or another "
                               "committee member.") if recorded.own_waiting else ""))
            db.session.commit()
            flash(said, "success")
            return redirect(url_for("entry.roster", branch_id=branch_id))
        except MeetingRefused as refused:
            db.session.rollback()
            reads_only_from_now()  # the page saying what to correct is read without SQLite's write lock
            for name, err in refused.field_errors.items():
                form[name].errors = [err.text(_)]
            member_errors.update({mid: err.text(_) for mid, err in refused.member_errors.items()})
        except checkin.CheckinError as err:  # the sign-in's meeting was recorded by someone else meanwhile
            db.session.rollback()
            flash(err.text(_), "info")
            return redirect(url_for("checkin.manage", branch_id=branch_id, checkin_id=cm.id), 303)
        except (AlreadyRecorded, IntegrityError) as err:
            db.session.rollback()
            reads_only_from_now()
            written = err.written if isinstance(err, AlreadyRecorded) else entries_with_key_prefix(key)
            if isinstance(err, IntegrityError) and not written:
                raise
            # The same form sent twice: the first recorded the meeting, this one changes nothing.
            flash(_("This meeting was already recorded (%(n)d entries); nothing was added again.", n=written), "info")
            return redirect(url_for("entry.roster", branch_id=branch_id))
    status_code = 422 if request.method == "POST" else 200
    on = form.held_on.data or day
    types = {mid: type_on(h, on) for mid, h in type_histories([m.id for m in members]).items()} if members else {}
    registered = members_on_leave([m.id for m in members], on) if members else set()
    leaves = {m.id: m.id in registered for m in members}
    return render_template("entry/meeting.html", branch=branch, community=community, form=form, members=members,
                           lines=lines, member_errors=member_errors, types=types, leaves=leaves, cm=cm,
                           signed_count=checkin.count(cm) if cm is not None else 0,
                           guests=guests(branch, form.guest_ids.data or []), scheme=scheme), status_code


@bp.get("/branches/<int:branch_id>/meetings/guests")
@requires(SECRETARIES)
def guest_search(branch_id: int):
    """Members of flexible-attendance branches, found by name: only name and home branch are shown."""
    branch, _c = get_branch_or_404(branch_id)
    q = args_form(GuestSearch).q.data or ""
    rows = []
    if q:
        rows = db.session.execute(guest_query(branch).where(Member.name.contains(q, autoescape=True))
                                  .order_by(Member.name_key, Member.name, Member.id).limit(10)).all()
    return render_template("entry/_guest_results.html", branch=branch, rows=rows, q=q)


@bp.get("/branches/<int:branch_id>/meetings/guests/<int:member_id>")
@requires(SECRETARIES)
def guest_chip(branch_id: int, member_id: int):
    branch, _c = get_branch_or_404(branch_id)
    row = db.session.execute(guest_query(branch).where(Member.id == member_id)).first()
    if row is None:
        abort(404)
    return render_template("entry/_guest_chip.html", g=row[0], home=row[1])


@bp.route("/branches/<int:branch_id>/leaves", methods=["GET", "POST"])
@requires(SECRETARIES)
def leaves(branch_id: int):
    branch, community = get_branch_or_404(branch_id)
    members = branch_members(branch)
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
