"""The secretaries' entry area: the branch roster with inline entry, meetings, leaves, corrections."""
from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user, login_required

from ..access import SECRETARY_ROLES

bp = Blueprint("entry", __name__)


@bp.before_request
@login_required
def _secretaries_only():
    if current_user.role not in SECRETARY_ROLES:
        abort(403)


@bp.context_processor
def _helpers():
    from .data import cap_notes
    from ..idempotency import new_key

    return {"cap_notes": cap_notes, "new_key": new_key}


from . import roster, meetings  # noqa: E402,F401  (views register on bp)
