"""Who may see what: out of scope is 404, in scope without the right is 403 (DOMAIN.md's table)."""
from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, select

from .db import db
from .models import Branch, Community, Member, User

SECRETARY_ROLES = ("street_admin", "community_secretary", "branch_secretary")


def user() -> User:
    return current_user._get_current_object()


def require_role(*roles: str) -> None:
    if not current_user.is_authenticated or current_user.role not in roles:
        abort(403)


def own_record(member_id: int | None, u: User | None = None) -> bool:
    """Four eyes: nobody enters, corrects or confirms points, or decides a grade, for their own member
    record; another person records it (DOMAIN.md "Who may do what")."""
    u = u or user()
    return member_id is not None and u.member_id == member_id


def refuse_own_record(member_id: int | None) -> None:
    if own_record(member_id):
        abort(403)


def branches_in_scope(u: User | None = None) -> Select:
    """A select of the Branch rows the user administers (none for a plain member)."""
    u = u or user()
    stmt = select(Branch).join(Community, Community.id == Branch.community_id).where(Community.street_id == u.street_id)
    if u.role == "street_admin":
        return stmt
    if u.role == "community_secretary":
        return stmt.where(Branch.community_id == u.community_id)
    if u.role == "branch_secretary":
        return stmt.where(Branch.id == u.branch_id)
    return stmt.where(False)


def communities_in_scope(u: User | None = None) -> Select:
    u = u or user()
    stmt = select(Community).where(Community.street_id == u.street_id)
    if u.role == "street_admin":
        return stmt
    if u.role in ("community_secretary", "branch_secretary"):
        return stmt.where(Community.id == u.community_id)
    return stmt.where(False)


def branch_in_scope(branch: Branch, community: Community, u: User | None = None) -> bool:
    u = u or user()
    if community.street_id != u.street_id:
        return False
    return (
        u.role == "street_admin"
        or (u.role == "community_secretary" and branch.community_id == u.community_id)
        or (u.role == "branch_secretary" and branch.id == u.branch_id)
    )


def get_branch_or_404(branch_id: int) -> tuple[Branch, Community]:
    row = db.session.execute(
        select(Branch, Community).join(Community, Community.id == Branch.community_id).where(Branch.id == branch_id)
    ).first()
    if row is None or not branch_in_scope(row[0], row[1]):
        abort(404)
    return row[0], row[1]


def get_community_or_404(community_id: int) -> Community:
    community = db.session.scalar(communities_in_scope().where(Community.id == community_id))
    if community is None:
        abort(404)
    return community


def member_visible(member: Member, u: User | None = None) -> bool:
    """Secretaries see members of their scope; anyone sees their own member record."""
    u = u or user()
    if u.member_id == member.id:
        return True
    if u.role not in SECRETARY_ROLES:
        return False
    return db.session.scalar(branches_in_scope(u).where(Branch.id == member.branch_id).with_only_columns(Branch.id)) is not None


def get_member_or_404(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or member.street_id != user().street_id or not member_visible(member):
        abort(404)
    return member
