"""What the current administrator may touch: the street's (or their community's) branches and members."""
from __future__ import annotations

import re
from datetime import date

from flask import abort
from wtforms import SelectChoice
from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from ..access import branches_in_scope, user
from ..converters import ID_MAX
from ..db import db
from ..models import Branch, Community, Member, MemberType
from ..scoring import fetch_type_histories, type_on


def member_number(text: str | None) -> int | None:
    """A member number as typed ("12", "#12", "No.12"): the id, or None (ASCII digits only: "²".isdigit())."""
    ref = (text or "").strip().lstrip("#").lower().removeprefix("no.").strip()
    return int(ref) if re.fullmatch(r"[0-9]{1,10}", ref) and 1 <= int(ref) <= ID_MAX else None


def scoped_branches(include_retired: bool = False) -> list[tuple[Branch, Community]]:
    """Branches in scope with their community, ordered as people read them."""
    stmt = branches_in_scope().add_columns(Community).order_by(Community.name, Branch.name)
    if not include_retired:
        stmt = stmt.where(Branch.retired.is_(False), Community.retired.is_(False))
    return [(b, c) for b, c in db.session.execute(stmt).all()]


def branch_choices(include_retired: bool = False, exclude: int | None = None) -> list[SelectChoice]:
    return [SelectChoice(b.id, f"{c.name} · {b.name}") for b, c in scoped_branches(include_retired) if b.id != exclude]


def scoped_branch_ids() -> Select:
    return branches_in_scope().with_only_columns(Branch.id)


def scoped_members() -> Select:
    """A select of the Member rows in scope (all statuses)."""
    return select(Member).where(Member.street_id == user().street_id, Member.branch_id.in_(scoped_branch_ids()))


def member_or_404(member_id: int) -> Member:
    member = db.session.scalar(scoped_members().where(Member.id == member_id))
    if member is None:
        abort(404)
    return member


def branch_or_404(branch_id: int | None) -> tuple[Branch, Community]:
    row = db.session.execute(branches_in_scope().add_columns(Community).where(Branch.id == branch_id)).first()
    if row is None:
        abort(404)
    return row[0], row[1]


def current_types(members: list[Member], day: date) -> dict[int, str]:
    """The type in force on ``day`` for each member (one query)."""
    histories = fetch_type_histories(db.session, [m.id for m in members])
    return {m.id: type_on(histories[m.id], day) for m in members if histories.get(m.id)}


def require_active(member: Member) -> None:
    if member.status != "active":
        abort(409)


def street_id() -> int:
    return user().street_id


def current_type_expr(day: date):
    """SQL: the member's type in force on ``day`` (the first record's before it)."""
    mt = aliased(MemberType)
    in_force = (select(mt.type_code).where(mt.member_id == Member.id, mt.effective_from <= day)
                .order_by(mt.effective_from.desc(), mt.id.desc()).limit(1).correlate(Member).scalar_subquery())
    first = (select(mt.type_code).where(mt.member_id == Member.id)
             .order_by(mt.effective_from, mt.id).limit(1).correlate(Member).scalar_subquery())
    return func.coalesce(in_force, first)
