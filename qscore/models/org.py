"""Organisations: a street (街道) holds communities (社区) which hold party branches (党支部)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import db
from ._common import utcnow

# ordinary, re-employment (再就业支部), retirees, mobile members, other
BRANCH_KINDS = ("ordinary", "reemployment", "retirees", "mobile", "other")


class Street(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Loaded by the demo command: shows the demo banner, and real data is refused beside it.
    demo: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    communities: Mapped[list["Community"]] = relationship(back_populates="street", lazy="raise")


class Community(db.Model):
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    retired: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    street: Mapped[Street] = relationship(back_populates="communities", lazy="raise")
    branches: Mapped[list["Branch"]] = relationship(back_populates="community", lazy="raise")


class Branch(db.Model):
    __table_args__ = (UniqueConstraint("community_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="ordinary")
    # Indicator codes offered as one-click buttons on the roster.
    quick_indicators: Mapped[str] = mapped_column(String(100), default="J1,Z3")
    retired: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    community: Mapped[Community] = relationship(back_populates="branches", lazy="raise")
