"""Who may see and do what: the one access policy (DOMAIN.md "Who may do what").

Every view declares its policy with ``@requires(*roles)`` or ``@public`` (tests/test_access_matrix.py
walks ``app.url_map`` and fails on a view without one). The rule, in this order:

1. Not logged in: to the login page (401 with HX-Redirect for htmx).
2. Each object named in the URL (``branch_id``, ``member_id``, ``case_id`` ...) is loaded in the user's
   scope — street → community → branch → member, and one's own member record — by the loader
   registered for that argument name (``scope_loader``): outside the scope, or not there at all, 404.
   So a 403 never tells anyone that a record they may not see exists.
3. The user's role may do this: else 403.
4. Finer rules of the view itself, on objects already in scope (four eyes on one's own record, a
   case's mentor, the last administrator): 403 or 409 from the view.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import abort, current_app, g
from flask_login import current_user
from sqlalchemy import Select, select

from .db import db
from .models import Branch, CheckinMeeting, Community, DuesLine, Member, PointEntry, Publication, SelfRecord, User

SECRETARY_ROLES = ("street_admin", "community_secretary", "branch_secretary")
SECRETARIES = frozenset(SECRETARY_ROLES)
MEMBER_ADMINS = frozenset({"street_admin", "community_secretary"})
STREET_ADMIN = frozenset({"street_admin"})
EVERYONE = frozenset({*SECRETARY_ROLES, "member"})


@dataclass(frozen=True)
class Access:
    """A view's declared policy: the roles that may use it (none: public, no login)."""

    roles: frozenset[str]
    public: bool = False


_LOADERS: dict[str, Callable[[int], Any]] = {}


def scope_loader(argument: str) -> Callable:
    """Register the loader of the objects a URL argument names: it returns the object in the current
    user's scope, and aborts 404 outside it (or when there is no such object)."""
    def register(fn: Callable[[int], Any]) -> Callable[[int], Any]:
        _LOADERS[argument] = fn
        return fn
    return register


def loaded(argument: str, value: int) -> Any:
    """The object of a URL argument in the user's scope, loaded once per request."""
    cache = g.setdefault("_in_scope", {})
    key = (argument, value)
    if key not in cache:
        cache[key] = _LOADERS[argument](value)
    return cache[key]


def requires(*roles: str | frozenset[str]) -> Callable:
    """The view's policy: a login, the URL's objects in scope (404), one of ``roles`` (403)."""
    allowed = frozenset(r for group in roles for r in ((group,) if isinstance(group, str) else group))

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            for name, value in kwargs.items():
                if name in _LOADERS:
                    loaded(name, value)
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)
        guarded.access = Access(allowed)
        return guarded
    return decorate


def public(view: Callable) -> Callable:
    """A view anyone may use without logging in (the board, the residents' query form, login, setup)."""
    view.access = Access(frozenset(), public=True)
    return view


def user() -> User:
    return current_user._get_current_object()


def has_role(*roles: str | frozenset[str], u: User | None = None) -> bool:
    """What a page shows by role (a tab, the street-wide choice) asks here, as the decorators do."""
    u = u or user()
    wanted = set()
    for r in roles:
        wanted |= {r} if isinstance(r, str) else set(r)
    return getattr(u, "role", None) in wanted


def is_secretary(u: User | None = None) -> bool:
    return has_role(SECRETARIES, u=u)


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


@scope_loader("branch_id")
def _branch(branch_id: int) -> tuple[Branch, Community]:
    row = db.session.execute(
        select(Branch, Community).join(Community, Community.id == Branch.community_id).where(Branch.id == branch_id)
    ).first()
    if row is None or not branch_in_scope(row[0], row[1]):
        abort(404)
    return row[0], row[1]


@scope_loader("community_id")
def _community(community_id: int) -> Community:
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


@scope_loader("member_id")
def _member(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or member.street_id != user().street_id or not member_visible(member):
        abort(404)
    return member


@scope_loader("entry_id")
def _entry(entry_id: int) -> tuple[PointEntry, Member]:
    """A ledger entry, seen through its member."""
    entry = db.session.get(PointEntry, entry_id)
    if entry is None:
        abort(404)
    return entry, loaded("member_id", entry.member_id)


@scope_loader("record_id")
def _self_record(record_id: int) -> tuple[SelfRecord, Member]:
    record = db.session.get(SelfRecord, record_id)
    if record is None:
        abort(404)
    return record, loaded("member_id", record.member_id)


@scope_loader("dues_line_id")
def _dues_line(dues_line_id: int) -> tuple[DuesLine, Member]:
    """A line of the dues register, seen through its member."""
    line = db.session.get(DuesLine, dues_line_id)
    if line is None:
        abort(404)
    return line, loaded("member_id", line.member_id)


@scope_loader("checkin_id")
def _checkin(checkin_id: int) -> CheckinMeeting:
    """A meeting open for sign-in, seen through its branch."""
    cm = db.session.get(CheckinMeeting, checkin_id)
    if cm is None:
        abort(404)
    loaded("branch_id", cm.branch_id)
    return cm


@scope_loader("publication_id")
def _publication(publication_id: int) -> tuple[Publication, Branch, Community]:
    pub = db.session.get(Publication, publication_id)
    if pub is None:
        abort(404)
    branch, community = loaded("branch_id", pub.branch_id)
    return pub, branch, community


def get_branch_or_404(branch_id: int) -> tuple[Branch, Community]:
    return loaded("branch_id", branch_id)


def get_community_or_404(community_id: int) -> Community:
    return loaded("community_id", community_id)


def get_member_or_404(member_id: int) -> Member:
    return loaded("member_id", member_id)


def get_entry_or_404(entry_id: int) -> tuple[PointEntry, Member]:
    return loaded("entry_id", entry_id)


def get_self_record_or_404(record_id: int) -> tuple[SelfRecord, Member]:
    return loaded("record_id", record_id)


def get_publication_or_404(publication_id: int) -> tuple[Publication, Branch, Community]:
    return loaded("publication_id", publication_id)


def get_checkin_of_branch_or_404(branch: Branch, checkin_id: int) -> CheckinMeeting:
    """A meeting open for sign-in in scope that is this branch's (a URL or a form naming another's: 404)."""
    cm = loaded("checkin_id", checkin_id)
    if cm.branch_id != branch.id:
        abort(404)
    return cm
