"""The scheme of the year, stored as versions of a JSON document (the format of scheme.default.json)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow


class SchemeVersion(db.Model):
    __table_args__ = (UniqueConstraint("year", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    version: Mapped[int] = mapped_column(default=1)
    data: Mapped[Any] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
