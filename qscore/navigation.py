"""The navigation each role sees: only what it may use, and only pages that exist."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_babel import lazy_gettext as _l

from .access import has_role


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...]
    # Other pages of this entry (endpoint prefixes): the booklet of /members/<id> marks "My points booklet".
    also: tuple[str, ...] = ()


ALL = ("street_admin", "community_secretary", "branch_secretary", "member")
SECRETARIES = ("street_admin", "community_secretary", "branch_secretary")

ITEMS = (
    NavItem("home.index", _l("Overview"), ALL),
    NavItem("entry.my_branch", _l("Roster and points"), ("branch_secretary",)),
    NavItem("booklet.mine", _l("My points booklet"), ALL, ("booklet.",)),
    NavItem("publish.index", _l("Publication"), SECRETARIES, ("publish.",)),
    NavItem("service.index", _l("Posts and households"), SECRETARIES, ("service.",)),
    NavItem("assessment.index", _l("Monthly assessment"), SECRETARIES, ("assessment.",)),
    NavItem("review.index", _l("Year-end review"), SECRETARIES, ("review.",)),
    NavItem("review.approvals", _l("Approvals"), ("street_admin",)),
    NavItem("stats.index", _l("Figures"), SECRETARIES, ("stats.",)),
    NavItem("queries.index", _l("Residents' queries"), SECRETARIES, ("queries.",)),
    NavItem("admin.members", _l("Members"), ("street_admin", "community_secretary"),
            ("admin.member", "admin.transfer", "admin.status", "admin.change_type", "admin.import", "admin.opening")),
    NavItem("admin.index", _l("Administration"), ("street_admin",), ("admin.",)),
    NavItem("board.index", _l("Noticeboard"), ALL),
)


def items_for(user) -> list[dict]:
    """Nav entries for the user's role whose endpoints are registered (later pages join as they land)."""
    views = current_app.view_functions
    items = [i for i in ITEMS if has_role(i.roles, u=user) and i.endpoint in views
             and not (i.endpoint == "booklet.mine" and user.member_id is None)]
    endpoint = request.endpoint or ""
    # Exactly one entry is marked: the page's own, else the entry with the longest matching prefix.
    current = next((i for i in items if i.endpoint == endpoint), None)
    if current is None:
        matches = [(len(p), i) for i in items for p in i.also if endpoint.startswith(p)]
        current = max(matches, key=lambda m: m[0])[1] if matches else None
    return [{"endpoint": i.endpoint, "label": i.label, "active": i is current} for i in items]
