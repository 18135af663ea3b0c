"""The year-end review (一年一评议), grades, rectification cases (限期整改) and proposals."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow


class YearReview(db.Model):
    __table_args__ = (UniqueConstraint("branch_id", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    year: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft, confirmed
    meeting_on: Mapped[date | None]
    members_present: Mapped[int | None]
    members_total: Mapped[int | None]
    chair: Mapped[str] = mapped_column(String(100), default="")
    minutes: Mapped[str] = mapped_column(Text, default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[datetime | None]


class ReviewGrade(db.Model):
    __table_args__ = (UniqueConstraint("review_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("year_review.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    score: Mapped[str] = mapped_column(String(12), default="")
    suggested: Mapped[str] = mapped_column(String(12), default="")
    suggested_reason: Mapped[str] = mapped_column(Text, default="")
    grade: Mapped[str] = mapped_column(String(12))  # advanced, qualified, rectify, none
    override_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class RectificationCase(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    review_grade_id: Mapped[int | None] = mapped_column(ForeignKey("review_grade.id"), unique=True)
    problems: Mapped[str] = mapped_column(Text, default="")
    # The mentor (专人帮扶) is a member of the branch; an account is not needed to be one.
    mentor_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    plan: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date]
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, rectified, proposed, closed
    outcome: Mapped[str] = mapped_column(String(20), default="")
    outcome_reason: Mapped[str] = mapped_column(Text, default="")
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseFollowUp(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("rectification_case.id"), index=True)
    on: Mapped[date]
    text: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Proposal(db.Model):
    """A branch meeting's proposal to persuade to withdraw (劝退) or expel (除名), for street approval."""

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("rectification_case.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # persuade_withdraw, expel
    meeting_on: Mapped[date]
    members_present: Mapped[int]
    members_total: Mapped[int]
    votes_for: Mapped[int]
    votes_against: Mapped[int]
    votes_abstain: Mapped[int]
    member_statement: Mapped[str] = mapped_column(Text, default="")
    # Set only when the meeting was held before the case's deadline had passed: the street approves the reason too.
    early_reason: Mapped[str] = mapped_column(Text, default="")
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, approved, rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    comment: Mapped[str] = mapped_column(Text, default="")
