"""Sign-in at the door (签到): a meeting opened for sign-in, and each member's sign-in to it.

A secretary opens a meeting (date, kind, indicator, topic, the hours of the day it takes sign-ins); members
sign in on their own phone through the meeting's address (the QR code on the office screen), logged in or with
the screen's rotating code and their name, or by a tap on the tablet at the door. Closing the meeting hands
the sign-ins to the meeting form, where one save writes the entries (qscore/meetings.py); ``meeting_id``
then names the meeting recorded. A sign-in row is never updated or deleted; signing in twice adds nothing.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow

CHECKIN_WAYS = ("account", "code", "tablet")  # logged in on a phone, screen code and name, a tap on the tablet


class CheckinMeeting(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    held_on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    indicator_code: Mapped[str] = mapped_column(String(8))
    topic: Mapped[str] = mapped_column(String(200))
    # The street's wall-clock time (not UTC): what the secretary typed and the screen shows.
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    # The meeting's address for phones (/checkin/<token>): random, so no one finds a meeting by counting.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    # The tablet's address at the door (/checkin/tablet/<tablet_token>): taps for this meeting and nothing else,
    # without a secretary's login on a device left in the room.
    tablet_token: Mapped[str] = mapped_column(String(32), unique=True)
    # The key of the screen's rotating code (qscore/checkin.py), shown only as the code of the moment.
    code_secret: Mapped[str] = mapped_column(String(32))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"), unique=True)


class Checkin(db.Model):
    __table_args__ = (UniqueConstraint("checkin_meeting_id", "member_id", name="uq_checkin_meeting_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_meeting_id: Mapped[int] = mapped_column(ForeignKey("checkin_meeting.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    way: Mapped[str] = mapped_column(String(8))
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # the account logged in (phone or tablet)
    ip: Mapped[str] = mapped_column(String(64), default="")
