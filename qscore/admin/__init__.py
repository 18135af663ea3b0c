"""The street office's administration: organisations, accounts, members and their types, the roster
workbook, opening balances, the scheme of the year, settings and the audit log.

The street admin sees all of it; a community secretary sees only the member pages, and only
within their own community (out of scope is 404, a page they may not use is 403).
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.context_processor
def _admin_helpers():
    from ..audit import ACTION_LABELS
    from .labels import GENDER_LABELS, INDICATOR_ROLE_LABELS, MEMBER_STATUS_LABELS, THRESHOLD_LABELS, WEIGHT_LABELS
    from .nav import admin_tabs

    return {
        "admin_tabs": admin_tabs(),
        "member_status_label": lambda s: MEMBER_STATUS_LABELS.get(s, s),
        "gender_label": lambda g: GENDER_LABELS.get(g, "—"),
        "action_label": lambda a: ACTION_LABELS.get(a, a),
        "threshold_label": lambda k: THRESHOLD_LABELS.get(k, k),
        "weight_label": lambda k: WEIGHT_LABELS.get(k, k),
        "indicator_role_label": lambda k: INDICATOR_ROLE_LABELS.get(k, k),
    }


from . import (  # noqa: E402,F401  (views register on bp)
    accounts, audit_log, classification, dashboard, imports, members, opening, organisations, scheme_admin,
    settings_admin,
)
