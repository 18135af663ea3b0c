"""Declaring posts and households: a member from their booklet (pending), a secretary for a member (confirmed).

The booklet includes ``service/_declare.html``, which loads this module's fragment; the branch's
service page records for a member through ``record_post`` and ``record_household``.
"""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..access import is_secretary, requires, SECRETARIES, EVERYONE
from .. import audit
from ..access import get_branch_or_404, get_member_or_404, own_record
from ..clock import today
from ..db import db
from ..htmx import is_htmx
from ..models import Branch, Household, Member, MemberPost, PostKind
from ..models._common import utcnow
from . import bp, max_posts, open_posts
from .branch import branch_context
from .forms import DeclareHouseholdForm, DeclarePostForm, RecordHouseholdForm, RecordPostForm


def _who(member: Member) -> str:
    """'own' (the member declares: pending) or 'secretary' (records for the member: confirmed)."""
    if own_record(member.id):
        return "own"
    if is_secretary():
        return "secretary"
    abort(403)


def declare_context(member: Member, **extra) -> dict:
    community_id = db.session.scalar(select(Branch.community_id).where(Branch.id == member.branch_id))
    posts = db.session.execute(
        select(MemberPost, PostKind.name).join(PostKind, PostKind.id == MemberPost.post_kind_id)
        .where(MemberPost.member_id == member.id, MemberPost.status.in_(("pending", "confirmed", "rejected")))
        .order_by(MemberPost.status != "confirmed", MemberPost.declared_on, MemberPost.id)).all()
    households = db.session.scalars(
        select(Household).where(Household.member_id == member.id,
                                Household.status.in_(("pending", "confirmed", "rejected")))
        .order_by(Household.status != "confirmed", Household.declared_on, Household.id)).all()
    held = {p.post_kind_id for p, _k in posts if p.status in ("pending", "confirmed")}
    kinds = db.session.scalars(select(PostKind).where(PostKind.community_id == community_id,
                                                      PostKind.retired.is_(False)).order_by(PostKind.name)).all()
    limit = max_posts(member.street_id)
    return {"member": member, "posts": posts, "households": households,
            "kinds": [k for k in kinds if k.id not in held], "limit": limit,
            "open_posts": sum(1 for p, _k in posts if p.status in ("pending", "confirmed")),
            "is_own": own_record(member.id), **extra}


def _label_error(form: DeclareHouseholdForm) -> str | None:
    """The field's own refusal (control characters, too long), before the household's rules."""
    return form.label.errors[0] if form.label.errors else None


def _respond(member: Member, status: int = 200, **extra):
    template = "service/_declare_body.html" if is_htmx() else "service/declare.html"
    resp = make_response(render_template(template, **declare_context(member, **extra)), status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/members/<int:member_id>/declare")
@requires(EVERYONE)
def declare(member_id: int):
    """The member's posts and households, with the forms to declare more (the booklet loads this)."""
    member = get_member_or_404(member_id)
    _who(member)
    return _respond(member)


def add_post(member: Member, who: str, kind_id: int | None) -> str | None:
    """Declare (own: pending) or record (secretary: confirmed) a post; the refusal's text, or None."""
    if member.status != "active":
        abort(409)
    kind = db.session.get(PostKind, kind_id) if kind_id else None
    community_id = db.session.scalar(select(Branch.community_id).where(Branch.id == member.branch_id))
    limit = max_posts(member.street_id)
    if kind is None or kind.community_id != community_id or kind.retired:
        return _("Choose a post from the community's list.")
    if db.session.scalar(select(MemberPost.id).where(MemberPost.member_id == member.id,
                                                     MemberPost.post_kind_id == kind.id,
                                                     MemberPost.status.in_(("pending", "confirmed")))):
        return _("%(name)s already holds or has declared this post.", name=member.name)
    if open_posts(member.id) >= limit:
        return _("At most %(n)d volunteer posts per member: end one before declaring another.", n=limit)
    post = MemberPost(member_id=member.id, post_kind_id=kind.id, declared_on=today(),
                      status="pending" if who == "own" else "confirmed", created_by_id=current_user.id)
    if who == "secretary":
        post.decided_by_id, post.decided_at = current_user.id, utcnow()
    db.session.add(post)
    db.session.flush()
    audit.record("post_declared" if who == "own" else "post_recorded", post, member_id=member.id,
                 summary=f"{member.name}: {kind.name} ({post.status})")
    db.session.commit()
    return None


def add_household(member: Member, who: str, label: str | None) -> str | None:
    if member.status != "active":
        abort(409)
    label = " ".join((label or "").split())
    if not label:
        return _("Say which household: a name or an address only the branch sees.")
    h = Household(member_id=member.id, label=label, declared_on=today(),
                  status="pending" if who == "own" else "confirmed", created_by_id=current_user.id)
    db.session.add(h)
    db.session.flush()
    # The label is private: not in the audit summary.
    audit.record("household_declared" if who == "own" else "household_recorded", h, member_id=member.id,
                 summary=f"{member.name}: household {h.id} ({h.status})")
    db.session.commit()
    return None


@bp.post("/members/<int:member_id>/posts")
@requires(EVERYONE)
def declare_post(member_id: int):
    member = get_member_or_404(member_id)
    who = _who(member)
    form = DeclarePostForm()
    form.validate_on_submit()
    error = add_post(member, who, form.post_kind_id.data)
    if error:
        return _respond(member, 422, errors={"post": error})
    return _respond(member, added="post")


@bp.post("/members/<int:member_id>/households")
@requires(EVERYONE)
def declare_household(member_id: int):
    member = get_member_or_404(member_id)
    who = _who(member)
    form = DeclareHouseholdForm()
    form.validate_on_submit()
    error = _label_error(form) or add_household(member, who, form.label.data)
    if error:
        return _respond(member, 422, errors={"household": error}, values={"label": form.label.data or ""})
    return _respond(member, added="household")


# ---------------------------------------------------------------------------------------------
# The branch page's "record for a member" forms
# ---------------------------------------------------------------------------------------------

def _branch_member(branch_id: int, form):
    b, c = get_branch_or_404(branch_id)
    form.validate_on_submit()
    member = db.session.get(Member, form.member_id.data) if form.member_id.data else None
    if member is None or member.branch_id != b.id or member.status != "active":
        return b, c, None
    return b, c, member


def _branch_result(b, c, member: Member | None, key: str, error: str | None, form):
    if error:
        values = {"post_kind_id": str(form.post_kind_id.data or "")} if key == "post" else {
            "label": form.label.data or ""}
        return make_response(render_template("service/branch.html", **branch_context(
            b, c, record_errors={key: error}, record_member=member.id if member else None,
            record_values=values)), 422)
    flash(_("Recorded for %(name)s.", name=member.name), "success")
    return redirect(url_for(".branch", branch_id=b.id), 303)


@bp.post("/branches/<int:branch_id>/posts")
@requires(SECRETARIES)
def record_post(branch_id: int):
    form = RecordPostForm()
    b, c, member = _branch_member(branch_id, form)
    if member is None:
        return _branch_result(b, c, None, "post", _("Choose a member of the branch."), form)
    return _branch_result(b, c, member, "post", add_post(member, _who(member), form.post_kind_id.data), form)


@bp.post("/branches/<int:branch_id>/households")
@requires(SECRETARIES)
def record_household(branch_id: int):
    form = RecordHouseholdForm()
    b, c, member = _branch_member(branch_id, form)
    if member is None:
        return _branch_result(b, c, None, "household", _("Choose a member of the branch."), form)
    who = _who(member)
    return _branch_result(b, c, member, "household", _label_error(form) or add_household(member, who, form.label.data),
                          form)
