"""What happened to how a person signs in (a password changed or reset, a second step set up): they are told."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow


class AccountEvent(db.Model):
    """One change to an account's way in, shown to its holder on every page until acknowledged (ASVS 2.5.5)."""

    __table_args__ = (Index("ix_account_event_user_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    kind: Mapped[str] = mapped_column(String(32))  # account_events.KINDS
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # Another person who made the change, and their name as it was then; none when the holder made it.
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    by_name: Mapped[str] = mapped_column(String(100), default="")
    # The holder's own login in which they made it: that browser is not told again.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("user_session.id"))
    ip: Mapped[str] = mapped_column(String(64), default="")
    acknowledged_at: Mapped[datetime | None]
