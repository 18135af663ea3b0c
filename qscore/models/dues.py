"""The dues register (党费收缴): what each member owes a month, what they paid, and the months a branch closed.

Append-only like the ledger: a line is never updated or deleted; a mistake is undone by a "void" line that
names it (and a new line if something else was meant). Points follow from the register when a month is
closed (qscore/dues/): the entries it generated are listed in dues_point, one per member, indicator and
period, so a close run again never writes one twice.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow

DUES_METHODS = ("cash", "transfer", "proxy", "online")  # 现金, 转账, 委托代缴, 线上
DUES_LINE_KINDS = ("payment", "exemption", "void")      # 交纳, 减免 (approved), 作废 (names the line it undoes)


class DuesRate(db.Model):
    """A member's monthly amount due from a month on (the latest row starting on or before a month is in force)."""

    __table_args__ = (Index("ix_dues_rate_member_from", "member_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    monthly: Mapped[Decimal] = mapped_column(Numeric(9, 2))
    effective_from: Mapped[date]  # the first day of a month
    note: Mapped[str] = mapped_column(Text, default="")
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    set_at: Mapped[datetime] = mapped_column(default=utcnow)


class DuesLine(db.Model):
    """One line of the register: a payment for a member's month, an approved reduction or exemption, or the
    voiding of an earlier line (``corrects_id``, unique: a line is voided at most once)."""

    __table_args__ = (Index("ix_dues_line_member_year", "member_id", "year", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)  # the member's when recorded
    year: Mapped[int]
    month: Mapped[int]
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Numeric(9, 2), default=Decimal(0))
    paid_on: Mapped[date | None]
    method: Mapped[str] = mapped_column(String(12), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # an exemption's approval, a void's reason
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("dues_line.id"), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class DuesClose(db.Model):
    """A branch's month closed by a secretary: the register's points of that month were worked out then
    (run again later, it adds only what is missing)."""

    __table_args__ = (UniqueConstraint("branch_id", "year", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    year: Mapped[int]
    month: Mapped[int]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_on: Mapped[date]  # the street's day it was first closed: a reminder by the next month's end is in time


class DuesPoint(db.Model):
    """A ledger entry the register produced: J3 for a quarter (period 1-4), K2 for a month (period 1-12).
    Unique per member, indicator, year and period: whatever happens to the entry later (a correction on the
    roster), the close never writes it again."""

    __table_args__ = (UniqueConstraint("member_id", "indicator_code", "year", "period"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("point_entry.id"), primary_key=True, autoincrement=False)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    indicator_code: Mapped[str] = mapped_column(String(8))
    year: Mapped[int]
    period: Mapped[int]
    close_id: Mapped[int] = mapped_column(ForeignKey("dues_close.id"), index=True)
    lines: Mapped[str] = mapped_column(Text, default="")  # the register lines it follows from: "12,13,14"
