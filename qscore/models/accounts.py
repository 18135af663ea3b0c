"""Accounts, their server-side sessions and login attempts (for throttling)."""
from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow

ROLES = ("street_admin", "community_secretary", "branch_secretary", "member")


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(24))
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    # The account holder's own member record: gives the member's rights on it.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active


class UserSession(db.Model):
    """A login: the cookie carries only its random token, so ending it here ends it everywhere."""

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    fresh_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    ip: Mapped[str] = mapped_column(String(64), default="")


class LoginAttempt(db.Model):
    """Every password check (login, password change, the approvals' re-entry), for qscore/throttle.py.

    The typed username is kept only as a keyed hash (HMAC with SECRET_KEY) and whether it named an
    account: a mistyped password in the username field is never stored in clear.
    """

    __table_args__ = (
        Index("ix_login_attempt_pair", "account_hash", "ip", "at"),
        Index("ix_login_attempt_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # login, password, step_up
    account_hash: Mapped[str] = mapped_column(String(64))
    account_known: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(default=False)
