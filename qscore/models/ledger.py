"""The points ledger (append-only), members' self-records, and meetings/activities."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow

# organisational life, study, volunteer activity, charity-day donation (慈善一日捐), other
MEETING_KINDS = ("org_life", "study", "volunteer", "charity", "other")
ENTRY_SOURCES = ("inline", "meeting", "self_record", "opening_balance", "correction", "query", "post", "dues", "demo")


class Meeting(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    held_on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(16))
    indicator_code: Mapped[str] = mapped_column(String(8), default="")
    topic: Mapped[str] = mapped_column(String(200), default="")
    hours: Mapped[Decimal | None] = mapped_column(Numeric(6, 1))
    expected_count: Mapped[int] = mapped_column(default=0)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointEntry(db.Model):
    """One line of the ledger. Never updated or deleted: a correction is a new row naming this one."""

    __table_args__ = (
        Index("ix_point_entry_member_earned", "member_id", "earned_on"),
        Index("ix_point_entry_year_member", "year", "member_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    # The member's branch when recorded: whose next publication lists a prior-period adjustment.
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    year: Mapped[int]
    indicator_code: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(1))  # J, Z, K
    points: Mapped[Decimal] = mapped_column(Numeric(7, 1))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(7, 1))  # hours, where the unit is hours
    earned_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), default="inline")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"), index=True)
    host_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    scheme_version_id: Mapped[int | None] = mapped_column(ForeignKey("scheme_version.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A correction names the entry it corrects; unique, so an entry is corrected at most once.
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("point_entry.id"), unique=True)
    self_record_id: Mapped[int | None] = mapped_column(ForeignKey("self_record.id"), unique=True)
    # Set when earned in a quarter the branch had already published (a prior-period adjustment).
    adjusts_publication_id: Mapped[int | None] = mapped_column(ForeignKey("publication.id"), index=True)
    # Guards against a double submit of the same form.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class LedgerYearSums(db.Model):
    """A member's live points of one year, summed per (indicator, category, month): what scoring reads.

    Derived from point_entry only, in the same transaction as every ledger write (scoring/year_sums.py), so
    grading a district reads one row per member instead of grouping the year's ledger; `flask qscore
    rebuild-sums` recomputes it. Not a score: editing a scheme or a member's type needs no rebuild.
    """

    __tablename__ = "ledger_year_sums"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # {"k": [[indicator, category, month], …], "t": [tenths], "c": [entries], "f": [first earned_on as ordinal]}
    sums: Mapped[str] = mapped_column(Text)
    # The latest earned_on among the live entries summed: a row answers "as of" any day on or after it.
    last_earned_on: Mapped[date | None]


class SelfRecord(db.Model):
    """An item a member wrote into their own booklet, pending until a secretary decides."""

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    indicator_code: Mapped[str] = mapped_column(String(8))
    earned_on: Mapped[date]
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(7, 1))
    note: Mapped[str] = mapped_column(Text, default="")
    # member (from the booklet), reconciliation (entered by the secretary from the paper booklet), or
    # meeting (the recording secretary's own line of a meeting, confirmed by another person)
    origin: Mapped[str] = mapped_column(String(16), default="member")
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meeting.id"))
    host_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    status: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
