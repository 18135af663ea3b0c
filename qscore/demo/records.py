"""The demo's plan in memory: each branch, member, meeting, volunteer post and contact household as the
builder decides it, before it is written (their ``id`` is set once it is)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from ..models import Meeting


@dataclass
class BranchRecord:
    index: int
    community: int
    name: str
    kind: str
    size: int
    members: list["MemberRecord"] = field(default_factory=list)
    id: int | None = None
    secretary: "MemberRecord | None" = None
    user_id: int | None = None
    org_life: dict[tuple[int, int], "MeetingRecord"] = field(default_factory=dict)
    meetings: list["MeetingRecord"] = field(default_factory=list)


@dataclass
class MeetingRecord:
    branch: BranchRecord
    held_on: date
    kind: str
    code: str
    topic: str
    hours: Decimal | None = None
    orm: Meeting | None = None


@dataclass
class Held:
    """A volunteer post (``what`` is its kind) or a contact household (``what`` is its private label)."""

    what: str
    declared_on: date
    status: str = "confirmed"   # pending, confirmed, rejected, ended (MemberPost and Household)
    ended_on: date | None = None
    id: int | None = None

    def in_force(self, first: date, last: date) -> bool:
        """Confirmed (or since ended) and held at some time in [first, last] (service.duty's rule)."""
        return (self.status in ("confirmed", "ended") and self.declared_on <= last
                and (self.ended_on is None or self.ended_on > first))


@dataclass
class MemberRecord:
    index: int
    branch: BranchRecord
    type0: str
    gender: str
    birth_year: int
    name: str = ""
    joined_party_on: date | None = None
    on_roll_since: date = date(2000, 1, 1)
    probationary: bool = False
    booklet_no: str = ""
    phone: str = ""
    address: str = ""
    status: str = "active"
    left_roll_on: date | None = None
    role: str = ""               # secretary, community, account
    tier: str = "qualified"      # advanced, qualified
    special: str = ""            # k1_streak, k2_streak, low, lost, veto, k4, recent
    posts: list[Held] = field(default_factory=list)
    households: list[Held] = field(default_factory=list)
    pairing: bool = False
    diligence: float = 1.0       # scales the optional items of qualified members
    flexible_host: BranchRecord | None = None
    types: list[tuple[date, str, str, str]] = field(default_factory=list)  # (from, type, reason, wish)
    leaves: list[tuple[str, date, date, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    id: int | None = None
    user_id: int | None = None

    def on_roll(self, d: date) -> bool:
        return self.on_roll_since <= d and (self.left_roll_on is None or d < self.left_roll_on)

    def type_on(self, d: date) -> str:
        current = self.types[0][1]
        for start, code, _r, _w in self.types:
            if start <= d:
                current = code
        return current

    def leave_on(self, d: date) -> str | None:
        for kind, start, end, _reason in self.leaves:
            if start <= d <= end:
                return kind
        return None

    def serving(self, first: date, last: date) -> list[Held]:
        """The posts in force in a month, in the order the duty screen lists them (by kind)."""
        return sorted((p for p in self.posts if p.in_force(first, last)), key=lambda p: p.what)

    def open_posts(self) -> list[Held]:
        return [p for p in self.posts if p.status in ("pending", "confirmed")]


def duty_note(posts: list[Held]) -> str:
    """The note service.duty writes on a month's Z1 (its Chinese text: "Volunteer post: %(posts)s")."""
    return "奉献岗：" + "、".join(p.what for p in posts)
