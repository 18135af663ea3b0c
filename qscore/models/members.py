"""Members, their type history (分类), branch history, and registered leaves."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db
from ..names import sort_key
from ._common import utcnow

MEMBER_STATUSES = (
    "active", "transferred_out", "persuaded_withdraw", "expelled", "probation_cancelled", "deceased",
)
LEAVE_KINDS = ("leave", "health_exemption", "working_away", "other")


class Member(db.Model):
    __table_args__ = (Index("ix_member_branch_status", "branch_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    name: Mapped[str] = mapped_column(String(100))
    # Pinyin of the name (qscore/names.py), kept whenever the name is set: every list orders by it.
    name_key: Mapped[str] = mapped_column(String(800), default="")
    gender: Mapped[str] = mapped_column(String(1), default="")  # "M", "F"
    birth_year: Mapped[int | None]
    joined_party_on: Mapped[date | None]
    on_roll_since: Mapped[date]
    probationary: Mapped[bool] = mapped_column(default=False)
    booklet_no: Mapped[str] = mapped_column(String(32), default="")
    # Private: never on the board, views are audited.
    phone: Mapped[str] = mapped_column(String(32), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(24), default="active")
    left_roll_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    branch = relationship("Branch", lazy="raise")


@event.listens_for(Member.name, "set")
def _keep_name_key(target: Member, value: str, _old, _initiator) -> None:
    target.name_key = sort_key(value or "")


class MemberType(db.Model):
    """One row per classification decision: the type applies from effective_from on."""

    __table_args__ = (Index("ix_member_type_member_from", "member_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    type_code: Mapped[str] = mapped_column(String(1))  # A-D
    effective_from: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")
    own_wish: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class BranchSpell(db.Model):
    """Which branch a member belonged to, from when to when (half-open; open while current)."""

    __table_args__ = (Index("ix_branch_spell_branch", "branch_id", "starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Leave(db.Model):
    """A registered leave or exemption; inclusive of both ends, as people say them."""

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[str] = mapped_column(String(24))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
