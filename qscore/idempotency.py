"""Idempotency keys: a form carries one, so a double submit records once and answers like the first.

A key is what ``new_key`` makes (32 hex characters) or any short token of letters, digits, ``_`` and
``-``; the ledger stores it, with a suffix per member for a meeting (``key:member_id``), in a
64-character column, so a key is at most 40 characters. Anything else is a malformed request: 400.
"""
from __future__ import annotations

import re
import uuid

from flask import abort
from sqlalchemy import func, select

from .db import db
from .models import PointEntry

KEY_MAX = 40
_KEY = re.compile(rf"[A-Za-z0-9_-]{{8,{KEY_MAX}}}")


def new_key() -> str:
    return uuid.uuid4().hex


def key_from(value: str | None) -> str | None:
    """The submitted key, None when there is none; a malformed or over-long key is refused with 400."""
    if value is None or value == "":
        return None
    if not _KEY.fullmatch(value):
        abort(400)
    return value


def entry_with_key(key: str | None) -> PointEntry | None:
    """The entry a first submit with this key recorded."""
    if not key:
        return None
    return db.session.scalar(select(PointEntry).where(PointEntry.idempotency_key == key))


def entries_with_key_prefix(key: str) -> int:
    """How many entries a meeting recorded under this key (``key:member_id``)."""
    return db.session.scalar(select(func.count()).select_from(PointEntry).where(
        PointEntry.idempotency_key.startswith(f"{key}:", autoescape=True))) or 0
