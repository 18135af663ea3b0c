"""The navigation each role sees: only what it may use, and only pages that exist."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...]


ALL = ("street_admin", "community_secretary", "branch_secretary", "member")
SECRETARIES = ("street_admin", "community_secretary", "branch_secretary")

ITEMS = (
    NavItem("home.index", _l("Overview"), ALL),
    NavItem("entry.my_branch", _l("Roster and points"), ("branch_secretary",)),
    NavItem("booklet.mine", _l("My points booklet"), ALL),
    NavItem("publish.index", _l("Publication"), SECRETARIES),
    NavItem("review.index", _l("Year-end review"), SECRETARIES),
    NavItem("review.approvals", _l("Approvals"), ("street_admin",)),
    NavItem("stats.index", _l("Figures"), SECRETARIES),
    NavItem("queries.index", _l("Residents' queries"), SECRETARIES),
    NavItem("admin.members", _l("Members"), ("street_admin", "community_secretary")),
    NavItem("admin.index", _l("Administration"), ("street_admin",)),
    NavItem("board.index", _l("Noticeboard"), ALL),
)


def items_for(user) -> list[dict]:
    """Nav entries for the user's role whose endpoints are registered (later pages join as they land)."""
    views = current_app.view_functions
    out = []
    for item in ITEMS:
        if user.role not in item.roles or item.endpoint not in views:
            continue
        if item.endpoint == "booklet.mine" and user.member_id is None:
            continue
        # A page of the same area marks its entry (the booklet of /members/<id> marks "My points booklet").
        area = item.endpoint.split(".")[0]
        active = request.endpoint == item.endpoint or (area != "home" and request.blueprint == area)
        out.append({"endpoint": item.endpoint, "label": item.label, "active": active})
    return out
