"""Scores of many members at once, summarised per branch, for start pages and overviews.

It only combines the scoring package's results; qscore/scoring alone knows the rules.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import func, select

from .db import db
from .models import Member, SelfRecord
from .scheme_versions import scheme_for_year
from .dues import owed_run
from .scoring import MemberScore, Reason, round_half_up, score_and_warn


@dataclass
class BranchSummary:
    members: int = 0
    score_sum: Decimal = Decimal(0)
    grades: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    warnings: int = 0
    pending: int = 0

    @property
    def average(self) -> Decimal | None:
        """The exact mean, rounded once, half up (60.0 and 60.1 average 60.1, as on the statistics page)."""
        return round_half_up(Fraction(self.score_sum) / self.members) if self.members else None

    def add(self, score: MemberScore, warned: bool, pending: int) -> None:
        self.members += 1
        self.score_sum += score.score
        self.grades[score.grade.code or "none"] += 1
        self.warnings += warned
        self.pending += pending


@dataclass
class Standings:
    members: list[Member]
    scores: dict[int, MemberScore]
    warnings: dict[int, list[Reason]]
    pending: dict[int, int]  # pending self-records per member
    by_branch: dict[int, BranchSummary]
    total: BranchSummary


def active_members(branch_ids: list[int]) -> list[Member]:
    if not branch_ids:
        return []
    return list(db.session.scalars(
        select(Member).where(Member.branch_id.in_(branch_ids), Member.status == "active")
        .order_by(Member.branch_id, Member.name_key, Member.name, Member.id)))


def standings(branch_ids: list[int], today: date) -> Standings:
    members = active_members(branch_ids)
    scheme = scheme_for_year(today.year)
    scores, warnings = score_and_warn(db.session, scheme, today.year, today, members,
                                      owed=owed_run(members, today))
    pending = dict(db.session.execute(
        select(SelfRecord.member_id, func.count())
        .join(Member, Member.id == SelfRecord.member_id)
        .where(SelfRecord.status == "pending", Member.branch_id.in_(branch_ids), Member.status == "active")
        .group_by(SelfRecord.member_id)).all()) if branch_ids else {}
    by_branch, total = summarise(members, scores, warnings, pending)
    return Standings(members, scores, warnings, pending, by_branch, total)


def summarise(members: list[Member], scores: dict[int, MemberScore], warnings: dict[int, list[Reason]],
              pending: dict[int, int]) -> tuple[dict[int, BranchSummary], BranchSummary]:
    """The members added up per branch and in all: home pages, overviews and the roster's totals."""
    by_branch: dict[int, BranchSummary] = defaultdict(BranchSummary)
    total = BranchSummary()
    for m in members:
        s, warned, waiting = scores[m.id], bool(warnings.get(m.id)), pending.get(m.id, 0)
        by_branch[m.branch_id].add(s, warned, waiting)
        total.add(s, warned, waiting)
    return by_branch, total
