"""A community's list of volunteer posts and its volunteer teams."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from ..access import has_role, EVERYONE, MEMBER_ADMINS, SECRETARIES, loaded, requires, scope_loader
from .. import audit
from ..access import branches_in_scope, communities_in_scope, get_community_or_404
from ..clock import today
from ..db import db
from ..models import Branch, Community, Member, MemberPost, PostKind, TeamMembership, VolunteerTeam
from . import bp
from .forms import PostKindForm, RetireKindForm, TeamForm, TeamMemberForm


@bp.get("/")
@requires(EVERYONE)
def index():
    """Each role's way in: a member to their booklet, a branch secretary to the branch, others choose."""
    if has_role("member"):
        if current_user.member_id is None:
            abort(404)
        return redirect(url_for("booklet.show", member_id=current_user.member_id))
    if has_role("branch_secretary"):
        return redirect(url_for(".branch", branch_id=current_user.branch_id))
    communities = db.session.scalars(communities_in_scope().where(Community.retired.is_(False))
                                     .order_by(Community.id)).all()
    if len(communities) == 1:
        return redirect(url_for(".community", community_id=communities[0].id))
    return render_template("service/index.html", communities=communities)


def _community_context(community: Community, **extra) -> dict:
    day = today()
    held = (select(MemberPost.post_kind_id, func.count(MemberPost.id))
            .where(MemberPost.status == "confirmed").group_by(MemberPost.post_kind_id))
    counts = dict(db.session.execute(held).all())
    kinds = db.session.scalars(select(PostKind).where(PostKind.community_id == community.id)
                               .order_by(PostKind.retired, PostKind.name)).all()
    sizes = dict(db.session.execute(
        select(TeamMembership.team_id, func.count(TeamMembership.id))
        .join(VolunteerTeam, VolunteerTeam.id == TeamMembership.team_id)
        .where(VolunteerTeam.community_id == community.id, TeamMembership.left_on.is_(None))
        .group_by(TeamMembership.team_id)).all())
    teams = db.session.scalars(select(VolunteerTeam).where(VolunteerTeam.community_id == community.id)
                               .order_by(VolunteerTeam.dissolved_on.is_not(None), VolunteerTeam.name)).all()
    branches = db.session.scalars(branches_in_scope().where(Branch.community_id == community.id,
                                                            Branch.retired.is_(False)).order_by(Branch.id)).all()
    return {"community": community, "kinds": kinds, "counts": counts, "teams": teams, "sizes": sizes,
            "branches": branches, "day": day, "month": day.strftime("%Y-%m"),
            "can_manage": has_role(MEMBER_ADMINS), **extra}


@bp.get("/communities/<int:community_id>")
@requires(SECRETARIES)
def community(community_id: int):
    c = get_community_or_404(community_id)
    return render_template("service/community.html", **_community_context(c))


def _first_error(form, name: str) -> str | None:
    return form[name].errors[0] if form[name].errors else None


def _clean_name(raw: str | None) -> str:
    """Inner runs of spaces become one ("楼栋  长" and "楼栋 长" are the same post)."""
    return " ".join((raw or "").split())


@bp.post("/communities/<int:community_id>/post-kinds")
@requires(MEMBER_ADMINS)
def add_post_kind(community_id: int):
    c = get_community_or_404(community_id)
    form = PostKindForm()
    form.validate_on_submit()
    name = _clean_name(form.name.data)
    error = _first_error(form, "name")
    if error is None and not name:
        error = _("Give the post a name.")
    elif error is None and db.session.scalar(select(PostKind.id).where(PostKind.community_id == c.id, PostKind.name == name)):
        error = _("The community already has a post called %(name)s.", name=name)
    if error:
        return render_template("service/community.html", **_community_context(c, kind_error=error,
                                                                                kind_name=name)), 422
    kind = PostKind(community_id=c.id, name=name)
    db.session.add(kind)
    db.session.flush()
    audit.record("post_kind_added", kind, summary=f"{c.name}: {name}")
    db.session.commit()
    flash(_("Post added to the community's list: %(name)s.", name=name), "success")
    return redirect(url_for(".community", community_id=c.id), 303)


def _kind_or_404(kind_id: int) -> tuple[PostKind, Community]:
    return loaded("kind_id", kind_id)


@scope_loader("kind_id")
def _load_kind(kind_id: int) -> tuple[PostKind, Community]:
    kind = db.session.get(PostKind, kind_id)
    if kind is None:
        abort(404)
    c = get_community_or_404(kind.community_id)
    return kind, c


@bp.post("/post-kinds/<int:kind_id>/retire")
@requires(MEMBER_ADMINS)
def retire_post_kind(kind_id: int):
    kind, c = _kind_or_404(kind_id)
    form = RetireKindForm()
    if not form.validate_on_submit():
        abort(400)  # the button sends 1 or 0; anything else was not typed by a person
    retire = form.retired.data == "1"
    kind.retired = retire
    audit.record("post_kind_retired" if retire else "post_kind_reinstated", kind, summary=f"{c.name}: {kind.name}")
    db.session.commit()
    return redirect(url_for(".community", community_id=c.id), 303)


# ---------------------------------------------------------------------------------------------
# Volunteer teams
# ---------------------------------------------------------------------------------------------

@bp.post("/communities/<int:community_id>/teams")
@requires(MEMBER_ADMINS)
def add_team(community_id: int):
    c = get_community_or_404(community_id)
    form = TeamForm()
    form.validate_on_submit()
    name = _clean_name(form.name.data)
    founded = form.founded_on.data
    errors = {k: v[0] for k, v in form.errors.items() if k in ("name", "founded_on")}
    if "name" not in errors and not name:
        errors["name"] = _("Give the team a name.")
    elif "name" not in errors and db.session.scalar(select(VolunteerTeam.id).where(
            VolunteerTeam.community_id == c.id, VolunteerTeam.name == name)):
        errors["name"] = _("The community already has a team called %(name)s.", name=name)
    if "founded_on" not in errors and founded is None:
        errors["founded_on"] = _("Enter the date the team was founded.")
    elif founded is not None and founded > today():
        errors["founded_on"] = _("The date cannot be after today.")
    if errors:
        return render_template("service/community.html", **_community_context(
            c, team_errors=errors, team_values={"name": name, "founded_on": form.founded_on._value()})), 422
    team = VolunteerTeam(community_id=c.id, name=name, founded_on=founded)
    db.session.add(team)
    db.session.flush()
    audit.record("team_added", team, summary=f"{c.name}: {name} ({founded})")
    db.session.commit()
    flash(_("Volunteer team added: %(name)s.", name=name), "success")
    return redirect(url_for(".team", team_id=team.id), 303)


def _team_or_404(team_id: int) -> tuple[VolunteerTeam, Community]:
    return loaded("team_id", team_id)


@scope_loader("team_id")
def _load_team(team_id: int) -> tuple[VolunteerTeam, Community]:
    team = db.session.get(VolunteerTeam, team_id)
    if team is None:
        abort(404)
    return team, get_community_or_404(team.community_id)


@scope_loader("membership_id")
def _load_membership(membership_id: int) -> TeamMembership:
    """A member's place in a team, seen through the team's community."""
    tm = db.session.get(TeamMembership, membership_id)
    if tm is None:
        abort(404)
    _team_or_404(tm.team_id)
    return tm


def _team_context(team: VolunteerTeam, c: Community, **extra) -> dict:
    rows = db.session.execute(
        select(TeamMembership, Member.name, Branch.name).join(Member, Member.id == TeamMembership.member_id)
        .join(Branch, Branch.id == Member.branch_id).where(TeamMembership.team_id == team.id)
        .order_by(TeamMembership.left_on.is_not(None), Member.name_key, Member.name)).all()
    current = {m.member_id for m, _n, _b in rows if m.left_on is None}
    candidates = db.session.execute(
        select(Member.id, Member.name, Branch.name).join(Branch, Branch.id == Member.branch_id)
        .where(Branch.community_id == c.id, Member.status == "active").order_by(Branch.id, Member.name_key, Member.name)).all()
    return {"team": team, "community": c, "rows": rows, "candidates": [r for r in candidates if r[0] not in current],
            "day": today(), "can_manage": has_role(MEMBER_ADMINS), **extra}


@bp.get("/teams/<int:team_id>")
@requires(SECRETARIES)
def team(team_id: int):
    t, c = _team_or_404(team_id)
    return render_template("service/team.html", **_team_context(t, c))


@bp.post("/teams/<int:team_id>/members")
@requires(MEMBER_ADMINS)
def add_team_member(team_id: int):
    t, c = _team_or_404(team_id)
    form = TeamMemberForm()
    form.validate_on_submit()
    member = db.session.get(Member, form.member_id.data) if form.member_id.data else None
    joined = form.joined_on.data or today()
    error = None
    if form.joined_on.errors:
        error = _("The date joined must be between the team's founding and today.")
    elif member is None or member.status != "active" or db.session.scalar(
            select(Branch.community_id).where(Branch.id == member.branch_id)) != c.id:
        error = _("Choose a member of the community.")
    elif t.dissolved_on is not None:
        error = _("The team is dissolved.")
    elif joined > today() or joined < t.founded_on:
        error = _("The date joined must be between the team's founding and today.")
    elif db.session.scalar(select(TeamMembership.id).where(TeamMembership.team_id == t.id,
                                                           TeamMembership.member_id == member.id,
                                                           TeamMembership.left_on.is_(None))):
        error = _("%(name)s is already in the team.", name=member.name)
    if error:
        return render_template("service/team.html", **_team_context(t, c, error=error)), 422
    tm = TeamMembership(team_id=t.id, member_id=member.id, joined_on=joined)
    db.session.add(tm)
    db.session.flush()
    audit.record("team_member_added", tm, member_id=member.id, summary=f"{t.name}: {member.name}")
    db.session.commit()
    return redirect(url_for(".team", team_id=t.id), 303)


@bp.post("/teams/<int:team_id>/members/<int:membership_id>/leave")
@requires(MEMBER_ADMINS)
def leave_team(team_id: int, membership_id: int):
    t, c = _team_or_404(team_id)
    tm = db.session.get(TeamMembership, membership_id)
    if tm is None or tm.team_id != t.id:
        abort(404)
    if tm.left_on is None:
        tm.left_on = max(today(), tm.joined_on)
        audit.record("team_member_left", tm, member_id=tm.member_id, summary=f"{t.name}: left {tm.left_on}")
        db.session.commit()
    return redirect(url_for(".team", team_id=t.id), 303)


@bp.post("/teams/<int:team_id>/dissolve")
@requires(MEMBER_ADMINS)
def dissolve_team(team_id: int):
    t, c = _team_or_404(team_id)
    if t.dissolved_on is None:
        t.dissolved_on = max(today(), t.founded_on)
        audit.record("team_dissolved", t, summary=f"{c.name}: {t.name} dissolved {t.dissolved_on}")
        db.session.commit()
        flash(_("Team dissolved: %(name)s.", name=t.name), "success")
    return redirect(url_for(".community", community_id=c.id), 303)
