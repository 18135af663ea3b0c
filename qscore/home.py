"""Each role's start page."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from .access import branches_in_scope, communities_in_scope
from .db import db
from .models import Branch, Community, Member

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    if current_user.role == "member":
        return render_template("home/member.html")
    communities = db.session.scalars(
        communities_in_scope().where(Community.retired.is_(False)).order_by(Community.name)).all()
    branches = db.session.scalars(
        branches_in_scope().where(Branch.retired.is_(False)).order_by(Branch.name)).all()
    counts = dict(db.session.execute(
        select(Member.branch_id, func.count())
        .where(Member.status == "active", Member.branch_id.in_([b.id for b in branches]))
        .group_by(Member.branch_id)
    ).all())
    by_community = {c.id: [b for b in branches if b.community_id == c.id] for c in communities}
    return render_template(
        "home/secretary.html", communities=communities, by_community=by_community,
        counts=counts, total_members=sum(counts.values()), branch_total=len(branches),
    )
