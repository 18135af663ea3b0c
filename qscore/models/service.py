"""Volunteer posts (奉献岗), contact households (联系户) and volunteer teams (志愿服务队)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import db
from ._common import utcnow


class PostKind(db.Model):
    """A kind of volunteer post from the list a community keeps (building lead, patrol, ...)."""

    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    retired: Mapped[bool] = mapped_column(default=False)


class MemberPost(db.Model):
    """A post a member declared; pending until a secretary confirms it; ended when given up."""

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    post_kind_id: Mapped[int] = mapped_column(ForeignKey("post_kind.id"))
    declared_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, confirmed, rejected, ended
    ended_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]


class PostService(db.Model):
    """A month on duty at a post, confirmed by the secretary: it wrote the Z1 entry."""

    __table_args__ = (UniqueConstraint("member_post_id", "month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_post_id: Mapped[int] = mapped_column(ForeignKey("member_post.id"))
    month: Mapped[date]  # the first day of the month served
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("point_entry.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Household(db.Model):
    """A household a member keeps contact with; the label (often an address) is private (docs/privacy.md)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    declared_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, confirmed, rejected, ended
    ended_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HouseholdVisit(db.Model):
    """A documented contact with a household: it wrote the Z2 entry."""

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id"), index=True)
    visited_on: Mapped[date]
    note: Mapped[str] = mapped_column(Text, default="")
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("point_entry.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class VolunteerTeam(db.Model):
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    founded_on: Mapped[date]
    dissolved_on: Mapped[date | None]


class TeamMembership(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("volunteer_team.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    joined_on: Mapped[date]
    left_on: Mapped[date | None]
