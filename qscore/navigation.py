"""The navigation each role sees: only what it may use, and only pages that exist."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request
from flask_babel import lazy_gettext

from .access import has_role
from .i18n import translate
from .scheme import N_


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    text: str  # the label's msgid
    roles: tuple[str, ...]
    # Other pages of this entry (endpoint prefixes): the booklet of /members/<id> marks "My points booklet".
    also: tuple[str, ...] = ()

    @property
    def label(self):
        return lazy_gettext(self.text)


ALL = ("street_admin", "community_secretary", "branch_secretary", "member")
SECRETARIES = ("street_admin", "community_secretary", "branch_secretary")

ITEMS = (
    NavItem("home.index", N_("Overview"), ALL),
    NavItem("entry.my_branch", N_("Roster and points"), ("branch_secretary",)),
    NavItem("booklet.mine", N_("My points booklet"), ALL, ("booklet.",)),
    NavItem("publish.index", N_("Publication"), SECRETARIES, ("publish.",)),
    NavItem("service.index", N_("Posts and households"), SECRETARIES, ("service.",)),
    NavItem("dues.index", N_("Dues register"), SECRETARIES, ("dues.",)),
    NavItem("assessment.index", N_("Monthly assessment"), SECRETARIES, ("assessment.",)),
    NavItem("review.index", N_("Year-end review"), SECRETARIES, ("review.",)),
    NavItem("review.approvals", N_("Approvals"), ("street_admin",)),
    NavItem("stats.index", N_("Figures"), SECRETARIES, ("stats.",)),
    NavItem("queries.index", N_("Residents' queries"), SECRETARIES, ("queries.",)),
    NavItem("admin.members", N_("Members"), ("street_admin", "community_secretary"),
            ("admin.member", "admin.transfer", "admin.status", "admin.change_type", "admin.import", "admin.opening")),
    NavItem("admin.index", N_("Administration"), ("street_admin",), ("admin.",)),
    NavItem("board.index", N_("Noticeboard"), ALL),
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
    return [{"endpoint": i.endpoint, "label": translate(i.text), "active": i is current} for i in items]
