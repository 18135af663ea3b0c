"""The administration's own tabs: the street admin sees all, a community secretary the member pages."""
from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..access import has_role

STREET = ("street_admin",)
BOTH = ("street_admin", "community_secretary")

# (endpoint, label, roles, the other endpoints that belong to the tab)
TABS = (
    ("index", _l("Overview"), STREET, ()),
    ("organisations", _l("Organisations"), STREET,
     ("community_create", "community_head", "community_rename", "community_retire", "community_reinstate",
      "branch_create", "branch_row", "branch_update", "branch_retire", "branch_reinstate")),
    ("members", _l("Members"), BOTH,
     ("new_member", "edit_member", "member", "private_fields", "transfer", "status", "change_type", "opening_member")),
    ("type_reminders", _l("Type review"), BOTH, ()),
    ("import_roster", _l("Import and export"), BOTH, ("roster_template", "export_roster")),
    ("opening_balances", _l("Opening balances"), BOTH, ("opening_template", "opening_import")),
    ("accounts", _l("Accounts"), STREET,
     ("account_new", "account_edit", "account_disable", "account_enable", "account_reset", "account_bulk",
      "second_step_reset")),
    ("scheme", _l("Scheme"), STREET,
     ("scheme_year", "scheme_start", "scheme_edit", "scheme_export", "scheme_import")),
    ("settings", _l("Settings"), STREET, ()),
    ("audit_log", _l("Audit log"), STREET, ("audit_export",)),
)


def admin_tabs() -> list[dict]:
    if not current_user.is_authenticated:
        return []
    current = (request.endpoint or "").removeprefix("admin.")
    return [{"endpoint": f"admin.{name}", "label": label, "active": current == name or current in others}
            for name, label, roles, others in TABS if has_role(roles)]
