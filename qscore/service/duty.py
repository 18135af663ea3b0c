"""The monthly duty screen: one page per branch and month, a tick per post served -> Z1 entries.

A month on duty is one Z1 entry per member (the indicator's unit is "month on duty", capped at
one month's worth): however many posts a member served that month, their PostService rows all
point at that one entry. PostService is unique per post and month, so ticking again writes
nothing twice; if the entry was corrected since (undone on the roster), ticking again writes a new
one and the rows point at it.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..access import requires, SECRETARIES
from .. import audit, ledger
from ..access import get_branch_or_404, own_record
from ..clock import today
from ..db import db
from ..fields import args_form
from ..models import Branch, Community, Member, MemberPost, PointEntry, PostKind, PostService
from ..scoring import EntryError, live_entry_clause
from . import POST_INDICATOR, bp
from .forms import DutyForm, MonthArgs


def chosen_month(field, day: date) -> date:
    """The month a Month field names (today's when none); 404 for one that is not a month or still to come."""
    if field.errors:
        abort(404)
    first = field.data or day.replace(day=1)
    if first > day:
        abort(404)
    return first


def month_last(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def shift(first: date, months: int) -> date:
    i = first.year * 12 + first.month - 1 + months
    return date(i // 12, i % 12 + 1, 1)


@dataclass
class DutyRow:
    member: Member
    post: MemberPost
    kind: str
    service: PostService | None
    served: bool        # a PostService row whose entry is live
    own: bool           # the secretary's own record: another secretary confirms it


def duty_rows(branch: Branch, first: date) -> list[DutyRow]:
    """Confirmed posts (or since ended) of the branch's members in force during the month."""
    last = month_last(first)
    rows = db.session.execute(
        select(Member, MemberPost, PostKind.name).join(MemberPost, MemberPost.member_id == Member.id)
        .join(PostKind, PostKind.id == MemberPost.post_kind_id)
        .where(Member.branch_id == branch.id, Member.status == "active",
               MemberPost.status.in_(("confirmed", "ended")), MemberPost.declared_on <= last,
               (MemberPost.ended_on.is_(None)) | (MemberPost.ended_on > first))
        .order_by(Member.name_key, Member.name, Member.id, PostKind.name, MemberPost.id)).all()
    post_ids = [p.id for _m, p, _k in rows]
    services = {s.member_post_id: s for s in db.session.scalars(
        select(PostService).where(PostService.member_post_id.in_(post_ids), PostService.month == first))} \
        if post_ids else {}
    live = set(db.session.scalars(select(PointEntry.id).where(
        PointEntry.id.in_([s.entry_id for s in services.values() if s.entry_id]), live_entry_clause()))) \
        if services else set()
    return [DutyRow(m, p, k, services.get(p.id), services.get(p.id) is not None and services[p.id].entry_id in live,
                    own_record(m.id)) for m, p, k in rows]


def _page(branch: Branch, community: Community, first: date, status: int = 200, **extra):
    day = today()
    rows = duty_rows(branch, first)
    earned_on = min(month_last(first), day)
    members = {r.member.id: r.member for r in rows}
    published = {mid: ledger.publication_covering(m, earned_on) for mid, m in members.items()}
    adjusts = next((p for p in published.values() if p is not None), None)
    return render_template(
        "service/duty.html", branch=branch, community=community, first=first, rows=rows, day=day,
        earned_on=earned_on, prev=shift(first, -1), next=shift(first, 1) if shift(first, 1) <= day else None,
        adjusts=ledger.period_label(adjusts.year, adjusts.quarter) if adjusts else None,
        served=sum(1 for r in rows if r.served), **extra), status


@bp.get("/branches/<int:branch_id>/duty")
@requires(SECRETARIES)
def duty(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    return _page(b, c, chosen_month(args_form(MonthArgs).month, today()))


@bp.post("/branches/<int:branch_id>/duty")
@requires(SECRETARIES)
def confirm_duty(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    day = today()
    form = DutyForm()
    valid = form.validate_on_submit()
    first = chosen_month(form.month, day)  # a hidden field: not a month is a 404, as for the page
    if not valid:
        return _page(b, c, first, 422, form_errors=form.errors, ticked=set(form.post_ids.data),
                     reason=form.reason.data or "")
    earned_on = min(month_last(first), day)
    reason = form.reason.data or ""
    ticked = set(form.post_ids.data)
    all_rows = duty_rows(b, first)
    rows = [r for r in all_rows if r.post.id in ticked and not r.served and not r.own]
    by_member: dict[int, list[DutyRow]] = defaultdict(list)
    for r in rows:
        by_member[r.member.id].append(r)
    # A member's entry for the month already written from another post (still live) is reused.
    existing = {r.member.id: r.service.entry_id for r in all_rows if r.served}
    errors: dict[int, str] = {}
    written = linked = 0
    for member_id, member_rows in by_member.items():
        member = member_rows[0].member
        entry_id = existing.get(member_id)
        if entry_id is None:
            names = "、".join(r.kind for r in member_rows)
            note = _("Volunteer post: %(posts)s", posts=names) + (f" · {reason}" if reason else "")
            adjusts = ledger.publication_covering(member, earned_on)
            if adjusts is not None and not reason:
                errors[member_id] = ledger.LedgerError(
                    "adjustment_needs_reason", "note",
                    period=ledger.period_label(adjusts.year, adjusts.quarter)).text(_)
                continue
            try:
                recorded = ledger.record_entry(member=member, indicator_code=POST_INDICATOR, value=None,
                                               earned_on=earned_on, note=note[:ledger.NOTE_MAX], user=current_user,
                                               today=day, source="post")
            except (EntryError, ledger.LedgerError) as err:
                errors[member_id] = ledger.error_field_and_text(err, _)[1]
                continue
            entry_id = recorded.entry.id
            written += 1
        for r in member_rows:
            if r.service is None:
                db.session.add(PostService(member_post_id=r.post.id, month=first, entry_id=entry_id,
                                           confirmed_by_id=current_user.id))
            else:  # the earlier entry was corrected: the row now names the new one
                r.service.entry_id = entry_id
                r.service.confirmed_by_id = current_user.id
            linked += 1
    if errors:
        db.session.rollback()
        return _page(b, c, first, 422, errors=errors, ticked=ticked, reason=reason)
    try:
        db.session.flush()
    except IntegrityError:  # another secretary confirmed the same post and month just now
        db.session.rollback()
        abort(409)
    if linked:
        audit.record("post_duty_confirmed", b, summary=f"{b.name} {first:%Y-%m}: {linked} posts, {written} entries")
    db.session.commit()
    if linked:
        flash(_("%(posts)d posts served in %(month)s confirmed: %(entries)d Z1 entries written.",
                posts=linked, month=f"{first:%Y-%m}", entries=written), "success")
    else:
        flash(_("Nothing new to confirm."), "info")
    return redirect(url_for(".duty", branch_id=b.id, month=f"{first:%Y-%m}"), 303)
