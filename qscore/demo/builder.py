"""The demo's builder: the random streams, the plan in memory, and the two things every area does with them:
stamp a time and record a ledger row. What it plans and writes per area is in the modules beside it, as
functions taking the builder (people, service, meetings, ledger, corrections, publishing, review)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from ..scheme import Scheme
from ..scoring import entry_points
from . import people
from .days import last_day
from .records import BranchRecord, MeetingRecord, MemberRecord


class _Builder:
    """What the demo street will be, decided before and while it is written; the same for a seed and a day."""

    def __init__(self, today: date, seed: int):
        self.today = today
        self.seed = seed
        self.year = today.year
        self.prev = today.year - 1
        self.start = date(self.prev, 1, 1)
        # Separate streams: names and people depend on the seed only, not on today.
        self.rng_people = random.Random(f"qscore-demo-people-{seed}")
        self.rng_names = random.Random(f"qscore-demo-names-{seed}")
        self.rng = random.Random(f"qscore-demo-life-{seed}-{today.isoformat()}")
        self.tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
        self.branches: list[BranchRecord] = []
        self.members: list[MemberRecord] = []
        self.community_secretaries: list[MemberRecord] = []
        self.community_user: dict[int, int] = {}
        self.schemes: dict[int, Scheme] = {}
        self.scheme_version: dict[int, int] = {}
        self.account_members: list[MemberRecord] = []
        self.corrections: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        self.self_records: list[dict[str, Any]] = []
        # Quarters paid (member, months, year, day paid, the J3's note): the dues register says the same.
        self.dues_paid: list[tuple[Any, list[int], int, date, str]] = []
        self._points: dict[tuple, Any] = {}

    # -- time -------------------------------------------------------------------------------
    def stamp(self, d: date, hour: int | None = None) -> datetime:
        """A local working-hours time on day d, stored as naive UTC like every timestamp."""
        hour = self.rng.randint(9, 20) if hour is None else hour
        local = datetime(d.year, d.month, d.day, hour, self.rng.randint(0, 59), tzinfo=self.tz)
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    def later(self, d: date, delays=(0, 0, 1, 1, 2, 3, 5)) -> date:
        return min(d + timedelta(days=self.rng.choice(delays)), self.today)

    def home_day(self, m: MemberRecord, d: date, delays: tuple[int, ...]) -> date:
        """A few days after a meeting, for study delivered at home: same month, on the roll, not after today."""
        day = min(self.later(d, delays), last_day(d.year, d.month))
        return day if m.on_roll(day) else d

    # -- people -------------------------------------------------------------------------------
    def plan_people(self) -> None:
        """The branches and their members with their names, which depend on the seed alone (a test compares seeds)."""
        people.plan_people(self)

    # -- entries ----------------------------------------------------------------------------
    def recorder(self, m: MemberRecord, branch: BranchRecord | None = None) -> int:
        """The secretary of the branch; nobody records their own points (then the community's)."""
        br = branch or m.branch
        if br.secretary is m:
            return self.community_user[br.community]
        return br.user_id

    def add(self, m: MemberRecord, code: str, d: date, value: Any = None, note: str = "", *,
            meeting: MeetingRecord | None = None, host: BranchRecord | None = None, delays=(0, 0, 1, 1, 2, 3, 5),
            source: str | None = None) -> dict[str, Any]:
        scheme = self.schemes[d.year]
        value_points = self.points(d.year, code, m.type_on(d), value)
        by = (meeting.branch if meeting is not None else None)
        row = {
            "member_id": m.id, "branch_id": m.branch.id, "year": d.year, "indicator_code": code,
            "category": scheme.indicators[code].category, "points": value_points.points,
            "quantity": value_points.quantity, "earned_on": d, "note": note,
            "source": source or ("meeting" if meeting is not None else "demo"),
            "meeting_id": meeting.orm.id if meeting is not None else None,
            "host_branch_id": host.id if host is not None else None,
            "scheme_version_id": self.scheme_version[d.year],
            "recorded_by_id": self.recorder(m, by),
            "recorded_at": self.stamp(self.later(d, delays), self.rng.randint(18, 21) if meeting else None),
            "corrects_id": None, "self_record_id": None,
        }
        m.rows.append(row)
        return row

    def points(self, year: int, code: str, type_code: str, value: Any = None):
        """The points the scheme gives (qscore.scoring.entry_points), memoised: thousands of rows."""
        key = (year, code, type_code, value)
        if key not in self._points:
            self._points[key] = entry_points(self.schemes[year], code, type_code, value)
        return self._points[key]
