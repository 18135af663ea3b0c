"""A branch's posts and households: pending declarations to decide, and visits to households (Z2)."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..access import SECRETARIES, loaded, requires, scope_loader
from .. import audit, ledger
from ..access import get_branch_or_404, get_member_or_404, refuse_own_record
from ..clock import today
from ..db import db
from ..idempotency import entry_with_key, key_from
from ..htmx import is_htmx
from ..models import Branch, Community, Household, HouseholdVisit, Member, MemberPost, PostKind
from ..models._common import utcnow
from ..redirects import safe_next
from ..scoring import EntryError
from . import VISIT_INDICATOR, bp
from .forms import BackForm, VisitForm


def branch_context(branch: Branch, community: Community, **extra) -> dict:
    """Members of the branch with their posts, households and visits this year (templates never query)."""
    day = today()
    members = db.session.scalars(select(Member).where(Member.branch_id == branch.id, Member.status == "active")
                                 .order_by(Member.name_key, Member.name, Member.id)).all()
    ids = [m.id for m in members]
    posts: dict[int, list] = defaultdict(list)
    households: dict[int, list] = defaultdict(list)
    visits: dict[int, int] = {}
    if ids:
        for p, kind_name in db.session.execute(
                select(MemberPost, PostKind.name).join(PostKind, PostKind.id == MemberPost.post_kind_id)
                .where(MemberPost.member_id.in_(ids), MemberPost.status.in_(("pending", "confirmed")))
                .order_by(MemberPost.declared_on, MemberPost.id)):
            posts[p.member_id].append((p, kind_name))
        for h in db.session.scalars(select(Household).where(Household.member_id.in_(ids),
                                                            Household.status.in_(("pending", "confirmed")))
                                    .order_by(Household.declared_on, Household.id)):
            households[h.member_id].append(h)
        visits = dict(db.session.execute(
            select(HouseholdVisit.household_id, func.count(HouseholdVisit.id))
            .join(Household, Household.id == HouseholdVisit.household_id)
            .where(Household.member_id.in_(ids), HouseholdVisit.visited_on >= date(day.year, 1, 1))
            .group_by(HouseholdVisit.household_id)).all())
    kinds = db.session.scalars(select(PostKind).where(PostKind.community_id == community.id,
                                                      PostKind.retired.is_(False)).order_by(PostKind.name)).all()
    pending = sum(1 for ps in posts.values() for p, _k in ps if p.status == "pending") + \
        sum(1 for hs in households.values() for h in hs if h.status == "pending")
    return {"branch": branch, "community": community, "members": members, "posts": posts,
            "households": households, "visits": visits, "kinds": kinds, "day": day, "pending": pending,
            "month": day.strftime("%Y-%m"), **extra}


@bp.get("/branches/<int:branch_id>")
@requires(SECRETARIES)
def branch(branch_id: int):
    b, c = get_branch_or_404(branch_id)
    return render_template("service/branch.html", **branch_context(b, c))


# ---------------------------------------------------------------------------------------------
# Deciding declarations (secretaries in scope, never on their own record)
# ---------------------------------------------------------------------------------------------

def _decidable(model, record_id: int):
    rec, member = loaded("post_id" if model is MemberPost else "household_id", record_id)
    refuse_own_record(member.id)
    return rec, member


@scope_loader("post_id")
def _load_post(post_id: int) -> tuple[MemberPost, Member]:
    """A declared volunteer post, seen through its member."""
    post = db.session.get(MemberPost, post_id)
    if post is None:
        abort(404)
    return post, get_member_or_404(post.member_id)


@scope_loader("household_id")
def _load_household(household_id: int) -> tuple[Household, Member]:
    household = db.session.get(Household, household_id)
    if household is None:
        abort(404)
    return household, get_member_or_404(household.member_id)


def _claim(model, rec, from_status: str, **values) -> None:
    """Change a record only if it is still in ``from_status``: the second of two decisions gets 409."""
    done = db.session.execute(update(model).where(model.id == rec.id, model.status == from_status)
                              .values(**values).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        db.session.rollback()
        abort(409)
    db.session.refresh(rec)


def _back(member: Member):
    return redirect(safe_next(BackForm().next.data) or url_for(".branch", branch_id=member.branch_id), 303)


@bp.post("/posts/<int:post_id>/<any(confirm, reject, end):action>")
@requires(SECRETARIES)
def decide_post(post_id: int, action: str):
    post, member = _decidable(MemberPost, post_id)
    if action == "end":
        _claim(MemberPost, post, "confirmed", status="ended", ended_on=today())
    else:
        _claim(MemberPost, post, "pending", status="confirmed" if action == "confirm" else "rejected",
               decided_by_id=current_user.id, decided_at=utcnow())
    kind = db.session.get(PostKind, post.post_kind_id)
    audit.record(f"post_{action}ed", post, member_id=member.id,
                 summary=f"{member.name}: {kind.name if kind else post.post_kind_id}")
    db.session.commit()
    return _back(member)


@bp.post("/households/<int:household_id>/<any(confirm, reject, end):action>")
@requires(SECRETARIES)
def decide_household(household_id: int, action: str):
    h, member = _decidable(Household, household_id)
    if action == "end":
        _claim(Household, h, "confirmed", status="ended", ended_on=today())
    else:
        _claim(Household, h, "pending", status="confirmed" if action == "confirm" else "rejected")
    # The label is private: the audit names the household by id only.
    audit.record(f"household_{action}ed", h, member_id=member.id,
                 summary=f"{member.name}: household {h.id}")
    db.session.commit()
    return _back(member)


# ---------------------------------------------------------------------------------------------
# A visit to a household: a Z2 entry
# ---------------------------------------------------------------------------------------------

def _visit_form_response(h: Household, member: Member, status: int = 200, **extra):
    visits = db.session.scalars(select(HouseholdVisit).where(HouseholdVisit.household_id == h.id)
                                .order_by(HouseholdVisit.visited_on.desc(), HouseholdVisit.id.desc()).limit(6)).all()
    ctx = {"h": h, "member": member, "visits": visits, "day": today(), "key": uuid.uuid4().hex, **extra}
    if is_htmx():
        resp = make_response(render_template("service/_visit.html", **ctx), status)
        resp.vary.add("HX-Request")
        return resp
    b, c = get_branch_or_404(member.branch_id)
    return make_response(render_template("service/visit.html", branch=b, community=c, **ctx), status)


def _household_for_visit(household_id: int) -> tuple[Household, Member]:
    return loaded("household_id", household_id)


@bp.get("/households/<int:household_id>/visits")
@requires(SECRETARIES)
def visits(household_id: int):
    h, member = _household_for_visit(household_id)
    return _visit_form_response(h, member)


@bp.post("/households/<int:household_id>/visits")
@requires(SECRETARIES)
def add_visit(household_id: int):
    h, member = _household_for_visit(household_id)
    refuse_own_record(member.id)
    if h.status != "confirmed":
        abort(409)
    day = today()
    form = VisitForm()
    form.validate_on_submit()
    values = {"visited_on": form.visited_on._value(), "note": form.note.data or ""}
    errors: dict[str, str] = {name: messages[0] for name, messages in form.errors.items()
                              if name in ("visited_on", "note")}
    if "visited_on" not in errors and form.visited_on.data is None:
        errors["visited_on"] = _("Enter the date of the visit.")
    if "note" not in errors and not form.note.data:
        errors["note"] = _("Say briefly what the contact was about.")
    visited_on, note = form.visited_on.data, values["note"]
    key = key_from(form.idempotency_key.data)
    if not errors:
        try:
            recorded = ledger.record_entry(
                member=member, indicator_code=VISIT_INDICATOR, value=None, earned_on=visited_on,
                note=_("Contact household visit: %(note)s", note=note), user=current_user, today=day,
                source="post", idempotency_key=f"visit:{key}" if key else None)
            visit = HouseholdVisit(household_id=h.id, visited_on=visited_on, note=note,
                                   entry_id=recorded.entry.id, recorded_by_id=current_user.id)
            db.session.add(visit)
            db.session.flush()
            audit.record("household_visited", visit, member_id=member.id,
                         summary=f"{member.name}: household {h.id} on {visited_on}, entry {recorded.entry.id}")
            db.session.commit()
        except (EntryError, ledger.LedgerError, IntegrityError) as err:
            db.session.rollback()
            first = entry_with_key(f"visit:{key}" if key else None)
            if first is not None:  # the same form sent twice: answer as the first did
                return _visit_form_response(h, member, added=first)
            if isinstance(err, IntegrityError):
                raise
            field, text = ledger.error_field_and_text(err, _)
            errors[{"earned_on": "visited_on", "note": "note"}.get(field, "general")] = text
        else:
            if not is_htmx():
                flash(_("Visit recorded: %(name)s %(code)s +%(points)s.", name=member.name, code=VISIT_INDICATOR,
                        points=recorded.entry.points), "success")
                return redirect(url_for(".branch", branch_id=member.branch_id), 303)
            return _visit_form_response(h, member, added=recorded.entry, adjusts=recorded.adjusts)
    return _visit_form_response(h, member, 422, errors=errors, values=values)
