"""Each role's start page, and a community's branches (the same URL serves page and fragment)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from .access import requires, SECRETARIES, EVERYONE
from .access import has_role, branches_in_scope, communities_in_scope, get_community_or_404
from .clock import today
from .db import db
from .htmx import page_or_fragment
from .models import Branch, Community, Member, MemberType, PointEntry
from .scheme_versions import scheme_for_year
from .scoring import live_entry_clause, score_members
from .review import case_alerts, mentored_case_count
from .standings import standings

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
@requires(EVERYONE)
def index():
    if has_role("member"):
        return _member_home()
    communities = db.session.scalars(
        communities_in_scope().where(Community.retired.is_(False)).order_by(Community.name)).all()
    branches = db.session.scalars(
        branches_in_scope().where(Branch.retired.is_(False)).order_by(Branch.name)).all()
    day = today()
    st = standings([b.id for b in branches], day)
    by_community = {c.id: [b for b in branches if b.community_id == c.id] for c in communities}
    return render_template(
        "home/secretary.html", communities=communities, by_community=by_community, st=st, day=day,
        branch_total=len(branches), scheme=scheme_for_year(day.year),
        community_members={cid: sum(st.by_branch[b.id].members for b in bs if b.id in st.by_branch)
                           for cid, bs in by_community.items()},
        # One community in scope: show its branches at once; several: each opens on request.
        expanded=len(communities) == 1,
        branch_members=[m for m in st.members] if has_role("branch_secretary") else [],
        alerts=case_alerts(current_user),
    )


@bp.get("/communities/<int:community_id>")
@login_required
@requires(SECRETARIES)
def community(community_id: int):
    community = get_community_or_404(community_id)
    branches = db.session.scalars(
        branches_in_scope().where(Branch.community_id == community.id, Branch.retired.is_(False))
        .order_by(Branch.name)).all()
    st = standings([b.id for b in branches], today())
    return page_or_fragment("home/community.html", "home/_branches.html", community=community,
                            branches=branches, st=st)


def _member_home():
    member = db.session.get(Member, current_user.member_id) if current_user.member_id else None
    if member is None:
        return render_template("home/member.html", member=None)
    day = today()
    scheme = scheme_for_year(day.year)
    score = score_members(db.session, scheme, day.year, day, [member])[member.id]
    recent = db.session.scalars(
        select(PointEntry).where(PointEntry.member_id == member.id, live_entry_clause())
        .order_by(PointEntry.earned_on.desc(), PointEntry.id.desc()).limit(8)).all()
    type_history = db.session.scalars(
        select(MemberType).where(MemberType.member_id == member.id).order_by(MemberType.effective_from)).all()
    return render_template("home/member.html", member=member, score=score, recent=recent, scheme=scheme,
                           type_history=type_history, day=day, mentored=mentored_case_count(current_user.id))
