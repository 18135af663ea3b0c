"""Each role's start page, and a community's branches (the same URL serves page and fragment)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from .access import branches_in_scope, communities_in_scope, get_community_or_404
from .db import db
from .htmx import page_or_fragment
from .models import Branch, Community, Member

bp = Blueprint("home", __name__)


def _member_counts(branch_ids: list[int]) -> dict[int, int]:
    return dict(db.session.execute(
        select(Member.branch_id, func.count())
        .where(Member.status == "active", Member.branch_id.in_(branch_ids))
        .group_by(Member.branch_id)
    ).all())


@bp.get("/")
@login_required
def index():
    if current_user.role == "member":
        return render_template("home/member.html")
    communities = db.session.scalars(
        communities_in_scope().where(Community.retired.is_(False)).order_by(Community.name)).all()
    branches = db.session.scalars(
        branches_in_scope().where(Branch.retired.is_(False)).order_by(Branch.name)).all()
    counts = _member_counts([b.id for b in branches])
    by_community = {c.id: [b for b in branches if b.community_id == c.id] for c in communities}
    return render_template(
        "home/secretary.html", communities=communities, by_community=by_community, counts=counts,
        community_members={cid: sum(counts.get(b.id, 0) for b in bs) for cid, bs in by_community.items()},
        total_members=sum(counts.values()), branch_total=len(branches),
        # One community in scope: show its branches at once; several: each opens on request.
        expanded=len(communities) == 1,
    )


@bp.get("/communities/<int:community_id>")
@login_required
def community(community_id: int):
    community = get_community_or_404(community_id)
    branches = db.session.scalars(
        branches_in_scope().where(Branch.community_id == community.id, Branch.retired.is_(False))
        .order_by(Branch.name)).all()
    return page_or_fragment("home/community.html", "home/_branches.html", community=community,
                            branches=branches, counts=_member_counts([b.id for b in branches]))
