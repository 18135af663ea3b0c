"""Communities (社区) and their party branches (党支部): create, rename, retire, reinstate.

Retiring never deletes: the branch's members, entries and publications stay where they are,
and a retired branch or community simply leaves every list of places to work in.
"""
from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from wtforms import SelectChoice

from ..access import requires, STREET_ADMIN
from .. import audit
from ..db import db
from ..fields import args_form
from ..htmx import is_htmx
from ..models import Branch, Community, Member
from . import bp
from .forms import BranchEditForm, BranchForm, CommunityForm, EditArgs
from .scope import street_id


def _community_or_404(community_id: int) -> Community:
    community = db.session.get(Community, community_id)
    if community is None or community.street_id != street_id():
        abort(404)
    return community


def _branch_or_404(branch_id: int) -> tuple[Branch, Community]:
    row = db.session.execute(select(Branch, Community).join(Community, Community.id == Branch.community_id)
                             .where(Branch.id == branch_id, Community.street_id == street_id())).first()
    if row is None:
        abort(404)
    return row[0], row[1]


def _member_counts() -> dict[int, int]:
    return dict(db.session.execute(
        select(Member.branch_id, func.count()).where(Member.street_id == street_id(), Member.status == "active")
        .group_by(Member.branch_id)).all())


def _page(community_form: CommunityForm | None = None, branch_form: BranchForm | None = None, status: int = 200):
    communities = db.session.scalars(select(Community).where(Community.street_id == street_id())
                                     .order_by(Community.retired, Community.name)).all()
    branches = db.session.scalars(select(Branch).where(Branch.community_id.in_([c.id for c in communities]))
                                  .order_by(Branch.retired, Branch.name)).all() if communities else []
    by_community = {c.id: [b for b in branches if b.community_id == c.id] for c in communities}
    community_form = community_form or CommunityForm(formdata=None)
    branch_form = branch_form or BranchForm(formdata=None)
    branch_form.community_id.choices = [SelectChoice(c.id, c.name) for c in communities if not c.retired]
    return render_template("admin/organisations.html", communities=communities, by_community=by_community,
                           counts=_member_counts(), community_form=community_form, branch_form=branch_form), status


@bp.get("/organisations")
@requires(STREET_ADMIN)
def organisations():
    return _page()


@bp.post("/communities")
@requires(STREET_ADMIN)
def community_create():
    form = CommunityForm()
    if form.validate_on_submit():
        if _community_name_taken(form.name.data):
            form.name.errors.append(_("A community with this name exists."))
        else:
            community = Community(street_id=street_id(), name=form.name.data)
            db.session.add(community)
            db.session.flush()
            audit.record("community_created", community, summary=community.name, after={"name": community.name})
            db.session.commit()
            flash(_("Community %(name)s added. Add its branches next.", name=community.name), "success")
            return redirect(url_for("admin.organisations") + f"#community-{community.id}")
    return _page(community_form=form, status=422)


def _community_name_taken(name: str, except_id: int | None = None) -> bool:
    clauses = [Community.street_id == street_id(), Community.name == name]
    if except_id is not None:
        clauses.append(Community.id != except_id)
    return bool(db.session.scalar(select(exists().where(*clauses))))


def _community_head(community: Community, form: CommunityForm | None = None, status: int = 200, **extra):
    resp = make_response(render_template("admin/_community_head.html", community=community, form=form,
                                         **extra), status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/communities/<int:community_id>/head")
@requires(STREET_ADMIN)
def community_head(community_id: int):
    """The community's heading: plain (to cancel an edit) or, with ?edit=1, its rename form."""
    community = _community_or_404(community_id)
    form = CommunityForm(formdata=None, name=community.name) if args_form(EditArgs).edit.data else None
    return _community_head(community, form)


@bp.post("/communities/<int:community_id>")
@requires(STREET_ADMIN)
def community_rename(community_id: int):
    community = _community_or_404(community_id)
    form = CommunityForm()
    if form.validate_on_submit():
        if _community_name_taken(form.name.data, except_id=community.id):
            form.name.errors.append(_("A community with this name exists."))
        else:
            before = community.name
            community.name = form.name.data
            audit.record("community_renamed", community, summary=f"{before} → {community.name}",
                         before={"name": before}, after={"name": community.name})
            db.session.commit()
            if is_htmx():
                return _community_head(community, saved=True)
            return redirect(url_for("admin.organisations"))
    if is_htmx():
        return _community_head(community, form, 422)
    return _page(status=422)


@bp.post("/communities/<int:community_id>/retire")
@requires(STREET_ADMIN)
def community_retire(community_id: int):
    community = _community_or_404(community_id)
    open_branches = db.session.scalar(select(func.count()).select_from(Branch).where(
        Branch.community_id == community.id, Branch.retired.is_(False)))
    if open_branches:
        flash(_("%(name)s still has branches in use (%(n)d): retire them first.", name=community.name,
                n=open_branches), "error")
        return redirect(url_for("admin.organisations") + f"#community-{community.id}"), 303
    community.retired = True
    audit.record("community_retired", community, summary=community.name, before={"retired": False},
                 after={"retired": True})
    db.session.commit()
    flash(_("%(name)s is retired. Its history is kept.", name=community.name), "success")
    return redirect(url_for("admin.organisations")), 303


@bp.post("/communities/<int:community_id>/reinstate")
@requires(STREET_ADMIN)
def community_reinstate(community_id: int):
    community = _community_or_404(community_id)
    community.retired = False
    audit.record("community_reinstated", community, summary=community.name, before={"retired": True},
                 after={"retired": False})
    db.session.commit()
    flash(_("%(name)s is in use again.", name=community.name), "success")
    return redirect(url_for("admin.organisations") + f"#community-{community.id}"), 303


# --- branches --------------------------------------------------------------------------------

def _branch_name_taken(community_id: int, name: str, except_id: int | None = None) -> bool:
    clauses = [Branch.community_id == community_id, Branch.name == name]
    if except_id is not None:
        clauses.append(Branch.id != except_id)
    return bool(db.session.scalar(select(exists().where(*clauses))))


@bp.post("/branches")
@requires(STREET_ADMIN)
def branch_create():
    form = BranchForm()
    communities = db.session.scalars(select(Community).where(
        Community.street_id == street_id(), Community.retired.is_(False))).all()
    form.community_id.choices = [SelectChoice(c.id, c.name) for c in communities]
    if form.validate_on_submit():
        if _branch_name_taken(form.community_id.data, form.name.data):
            form.name.errors.append(_("This community already has a branch with this name."))
        else:
            branch = Branch(community_id=form.community_id.data, name=form.name.data, kind=form.kind.data)
            db.session.add(branch)
            db.session.flush()
            audit.record("branch_created", branch, summary=branch.name,
                         after={"name": branch.name, "kind": branch.kind, "community_id": branch.community_id})
            db.session.commit()
            flash(_("Branch %(name)s added.", name=branch.name), "success")
            return redirect(url_for("admin.organisations") + f"#community-{branch.community_id}")
    return _page(branch_form=form, status=422)


def _branch_row(branch: Branch, form: BranchEditForm | None = None, status: int = 200, **extra):
    resp = make_response(render_template("admin/_branch_row.html", b=branch, form=form,
                                         count=_member_counts().get(branch.id, 0), **extra), status)
    resp.vary.add("HX-Request")
    return resp


@bp.get("/branches/<int:branch_id>/row")
@requires(STREET_ADMIN)
def branch_row(branch_id: int):
    branch, _c = _branch_or_404(branch_id)
    form = BranchEditForm(formdata=None, obj=branch) if args_form(EditArgs).edit.data else None
    return _branch_row(branch, form)


@bp.post("/branches/<int:branch_id>")
@requires(STREET_ADMIN)
def branch_update(branch_id: int):
    branch, _c = _branch_or_404(branch_id)
    form = BranchEditForm()
    if form.validate_on_submit():
        if _branch_name_taken(branch.community_id, form.name.data, except_id=branch.id):
            form.name.errors.append(_("This community already has a branch with this name."))
        else:
            before = {"name": branch.name, "kind": branch.kind}
            branch.name, branch.kind = form.name.data, form.kind.data
            after = {"name": branch.name, "kind": branch.kind}
            if before != after:
                audit.record("branch_updated", branch, summary=f"{before['name']} → {branch.name}", before=before,
                             after=after)
            db.session.commit()
            if is_htmx():
                return _branch_row(branch, saved=True)
            return redirect(url_for("admin.organisations"))
    return _branch_row(branch, form, 422)


@bp.post("/branches/<int:branch_id>/retire")
@requires(STREET_ADMIN)
def branch_retire(branch_id: int):
    branch, community = _branch_or_404(branch_id)
    members = _member_counts().get(branch.id, 0)
    if members:
        flash(_("%(name)s still has members on its roll (%(n)d): transfer them first.", name=branch.name, n=members),
              "error")
    else:
        branch.retired = True
        audit.record("branch_retired", branch, summary=branch.name, before={"retired": False},
                     after={"retired": True})
        db.session.commit()
        flash(_("%(name)s is retired. Its history is kept.", name=branch.name), "success")
    return redirect(url_for("admin.organisations") + f"#community-{community.id}"), 303


@bp.post("/branches/<int:branch_id>/reinstate")
@requires(STREET_ADMIN)
def branch_reinstate(branch_id: int):
    branch, community = _branch_or_404(branch_id)
    if community.retired:
        flash(_("Reinstate the community %(name)s first.", name=community.name), "error")
    else:
        branch.retired = False
        audit.record("branch_reinstated", branch, summary=branch.name, before={"retired": True},
                     after={"retired": False})
        db.session.commit()
        flash(_("%(name)s is in use again.", name=branch.name), "success")
    return redirect(url_for("admin.organisations") + f"#community-{community.id}"), 303
