"""Labels of the review's states, for Python code (templates use review/_labels.html)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

MEMBER_STATUS_LABELS = {
    "active": _l("On the roll"),
    "transferred_out": _l("Transferred out"),
    "persuaded_withdraw": _l("Persuaded to withdraw"),
    "expelled": _l("Expelled"),
    "probation_cancelled": _l("Probation cancelled"),
    "deceased": _l("Deceased"),
}
