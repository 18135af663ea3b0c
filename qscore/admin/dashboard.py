"""The administration's start page: the street at a glance and where each task lives."""
from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from ..access import requires, STREET_ADMIN
from ..clock import today
from ..db import db
from ..models import Branch, Community, Member, User
from ..scheme_versions import latest_version, year_has_publication
from . import bp
from .scope import street_id


@bp.get("/")
@requires(STREET_ADMIN)
def index():
    sid = street_id()
    day = today()
    count = lambda stmt: db.session.scalar(stmt) or 0  # noqa: E731
    figures = {
        "communities": count(select(func.count()).select_from(Community).where(
            Community.street_id == sid, Community.retired.is_(False))),
        "branches": count(select(func.count()).select_from(Branch).join(Community).where(
            Community.street_id == sid, Branch.retired.is_(False))),
        "members": count(select(func.count()).select_from(Member).where(
            Member.street_id == sid, Member.status == "active")),
        "accounts": count(select(func.count()).select_from(User).where(User.street_id == sid, User.active.is_(True))),
        "without_account": count(select(func.count()).select_from(Member).where(
            Member.street_id == sid, Member.status == "active",
            Member.id.not_in(select(User.member_id).where(User.member_id.isnot(None))))),
    }
    version = latest_version(day.year)
    return render_template("admin/index.html", figures=figures, day=day, version=version,
                           next_version=latest_version(day.year + 1), published=year_has_publication(day.year))
