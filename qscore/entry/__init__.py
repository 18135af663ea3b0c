"""The secretaries' entry area: the branch roster with inline entry, meetings, leaves, corrections."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("entry", __name__)


@bp.context_processor
def _helpers():
    from ..idempotency import new_key

    return {"new_key": new_key}


from . import roster, meetings  # noqa: E402,F401  (views register on bp)
