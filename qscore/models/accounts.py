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
    # When a first-time password stops working (qscore/passwords.py); None once the holder chose their own.
    password_expires_at: Mapped[datetime | None]
    locale: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The second step (qscore/second_step): the TOTP secret sealed with a key from SECRET_KEY, never shown again,
    # and the last time-step whose code was accepted, so that no code works twice.
    totp_secret: Mapped[str | None] = mapped_column(String(160))
    totp_last_step: Mapped[int | None]
    totp_enrolled_at: Mapped[datetime | None]

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def has_second_step(self) -> bool:
        return self.totp_secret is not None


class RecoveryCode(db.Model):
    """A printed one-time code that stands in for the phone once (qscore/second_step): kept only as a salted hash."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


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
    # The browser's own description, cut and without control characters (shown on "my sign-ins").
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    # Not a new login: the same browser's login went on under a new token (after a password change).
    renewed: Mapped[bool] = mapped_column(default=False)


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
    kind: Mapped[str] = mapped_column(String(16))  # throttle.KINDS: login, password, step_up, second_step …
    account_hash: Mapped[str] = mapped_column(String(64))
    account_known: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str] = mapped_column(String(64))
    success: Mapped[bool] = mapped_column(default=False)
