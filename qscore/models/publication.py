"""Quarterly reconciliation, publications (公示) with immutable snapshots, and residents' queries."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow


class Reconciliation(db.Model):
    """A member's quarter, checked against their booklet: agrees, or deferred (absent)."""

    __table_args__ = (UniqueConstraint("branch_id", "year", "quarter", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    year: Mapped[int]
    quarter: Mapped[int]
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    status: Mapped[str] = mapped_column(String(12))  # agrees, deferred
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Publication(db.Model):
    """A branch's published quarter. The snapshot and its hash never change once written."""

    __table_args__ = (
        Index("ix_publication_branch_period", "branch_id", "year", "quarter"),
        # At most one live publication of a branch-quarter, whatever races the application loses.
        Index("uq_publication_live_quarter", "branch_id", "year", "quarter", unique=True,
              sqlite_where=text("retracted_at IS NULL"), postgresql_where=text("retracted_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    year: Mapped[int]
    quarter: Mapped[int]
    published_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    meeting_on: Mapped[date | None]
    members_present: Mapped[int | None]
    members_total: Mapped[int | None]
    chair: Mapped[str] = mapped_column(String(100), default="")
    supervision_ends_on: Mapped[date]
    snapshot: Mapped[str] = mapped_column(Text)  # canonical JSON, UTF-8
    adjustments: Mapped[str] = mapped_column(Text, default="[]")  # canonical JSON of earlier-quarter changes
    sha256: Mapped[str] = mapped_column(String(64))
    retracted_at: Mapped[datetime | None]
    retracted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    retract_reason: Mapped[str] = mapped_column(Text, default="")


class PublicationAdjustment(db.Model):
    """An entry listed in a publication as an adjustment to an earlier published quarter.

    Written with the publication and never changed: an adjustment is listed by the first live
    publication of its branch made after it was committed, and by that one only.
    """

    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id"), primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("point_entry.id"), primary_key=True, index=True)


class ResidentQuery(db.Model):
    """A resident's question about a published score (群众监督)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("publication.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    member_label: Mapped[str] = mapped_column(String(100), default="")
    question: Mapped[str] = mapped_column(Text)
    asker_name: Mapped[str] = mapped_column(String(100), default="")
    asker_contact: Mapped[str] = mapped_column(String(100), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_at: Mapped[datetime | None]
    correction_entry_id: Mapped[int | None] = mapped_column(ForeignKey("point_entry.id"))
