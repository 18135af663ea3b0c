"""The year-end review (一年一评议): the branch meeting's grades, rectification cases (限期整改),
proposals to the street, commendation lists and the red-flag branch (红旗党支部).

One blueprint; its views are split by audience into modules. Access is checked per view: the
review pages are the secretaries', a case is also its mentor's (any role), approvals the street's.
"""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("review", __name__)


from . import views, cases, approvals, awards  # noqa: E402,F401  (views register on bp)
from .data import case_alerts, decisions_for_member, mentored_case_count  # noqa: E402,F401  (booklet, start pages)
