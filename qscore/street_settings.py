"""Street settings with their defaults (the administration pages edit them)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .db import db
from .models import Setting

DEFAULTS: dict[str, Any] = {
    "office_phone": "",
    "opinion_box": "",
    "query_public_url": "",
    "board_rotation_seconds": 20,
    "supervision_days": 5,
    "mask_names": True,
    "flexible_branch_kinds": ["reemployment"],
    "timezone": "Asia/Shanghai",
    # A deduction of at least this many points asks "are you sure?" before it is recorded.
    "deduction_confirm_points": 5,
    # Sign-in at the door from a phone only from these address ranges (CIDR); empty: from anywhere.
    "checkin_networks": [],
    # The noticeboard shows "党费已交" beside each member whose quarter was paid in full when it was published.
    "board_dues_paid": False,
}


def get_setting(street_id: int, key: str) -> Any:
    value = db.session.scalar(select(Setting.value).where(Setting.street_id == street_id, Setting.key == key))
    return DEFAULTS[key] if value is None else value


def all_settings(street_id: int) -> dict[str, Any]:
    stored = dict(db.session.execute(select(Setting.key, Setting.value).where(Setting.street_id == street_id)).all())
    return {**DEFAULTS, **{k: v for k, v in stored.items() if k in DEFAULTS}}


def set_setting(street_id: int, key: str, value: Any) -> None:
    if key not in DEFAULTS:
        raise KeyError(key)
    row = db.session.scalar(select(Setting).where(Setting.street_id == street_id, Setting.key == key))
    if row is None:
        db.session.add(Setting(street_id=street_id, key=key, value=value))
    else:
        row.value = value
