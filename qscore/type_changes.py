"""When a member's type may change (DOMAIN.md "Type changes"): no earlier than the first day of the
quarter after the latest live publication covering the member, in the branches they belonged to then,
so a change never alters a published snapshot."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from .db import db
from .models import BranchSpell, Member, Publication
from .publication import quarter_bounds


def latest_published_quarter(member: Member) -> tuple[int, int] | None:
    """The latest (year, quarter) with a live publication by a branch the member belonged to then."""
    best = None
    spells = db.session.scalars(select(BranchSpell).where(BranchSpell.member_id == member.id)).all()
    spans = [(s.branch_id, s.starts_on, s.ends_on) for s in spells] or [(member.branch_id, member.on_roll_since, None)]
    rows = db.session.execute(select(Publication.branch_id, Publication.year, Publication.quarter).where(
        Publication.branch_id.in_({b for b, _s, _e in spans}), Publication.retracted_at.is_(None))).all()
    for branch_id, year, quarter in rows:
        first, last = quarter_bounds(year, quarter)
        covered = any(b == branch_id and last >= s and (e is None or first < e) for b, s, e in spans)
        if covered and (best is None or (year, quarter) > best):
            best = (year, quarter)
    return best


def earliest_type_change(member: Member) -> date:
    latest = latest_published_quarter(member)
    if latest is None:
        return member.on_roll_since
    year, quarter = latest
    start = date(year + 1, 1, 1) if quarter == 4 else date(year, quarter * 3 + 1, 1)
    return max(start, member.on_roll_since)
