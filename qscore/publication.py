"""Quarterly publication (公示): the immutable snapshot, its hash, prior-period adjustments, retraction.

The snapshot's canonical JSON is DOMAIN.md's: one object per member on the branch's roll at the
quarter's end, sorted by member id, with member_id, name, type (A-D), J, Z, K, quarter_total and
year_to_date as one-decimal strings; json.dumps(rows, sort_keys=True, separators=(",", ":"),
ensure_ascii=False) encoded as UTF-8, hashed with SHA-256.
"""
from __future__ import annotations

import calendar
import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, bindparam, exists, func, select
from sqlalchemy.orm import aliased

from . import audit
from .branch_lock import lock_branches
from .db import db, read_columns
from .dues import quarter_settled
from .names import sort_key
from .models import (Branch, BranchSpell, Member, PointEntry, Publication, PublicationAdjustment,
                     Reconciliation, SelfRecord, User)
from .models._common import utcnow
from .scheme_versions import scheme_for_year
from .scoring import N_, score_members
from .street_settings import get_setting
from .templating import rounded
from .refusals import Refusal

PUBLISH_ERROR_TEXTS = {
    "not_ended": N_("{period} has not ended yet: a quarter can be published only after its last day."),
    "already_published": N_("{period} is already published for this branch."),
    "pending": N_("{n} self-recorded items are still pending: confirm or reject them first."),
    "unreconciled": N_("{n} members are not yet reconciled or deferred."),
    "meeting_required": N_("Record the branch meeting: its date, members present and total."),
    "meeting_counts": N_("Members present must be between 0 and the total."),
    "meeting_date": N_("The meeting date must be after the quarter and not after today."),
    "reason_required": N_("Give the reason for retracting the publication."),
    "already_retracted": N_("This publication is already retracted."),
}


class PublishError(Refusal):
    TEXTS = PUBLISH_ERROR_TEXTS

    def __init__(self, key: str, publication: Publication | None = None, **params: Any):
        self.publication = publication  # already_published: the live one, for "published by X at T"
        super().__init__(key, status=409 if key in ("already_published", "already_retracted") else 422, **params)


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    last_month = quarter * 3
    return date(year, last_month - 2, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])


def period(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


# The statements of a publish, built once: building one cost more than running it (issue 16).
_DAY = bindparam("day", type_=Date)
_ON_ROLL = (
    select(Member)
    .where(Member.id.in_(select(BranchSpell.member_id).where(
        BranchSpell.branch_id == bindparam("branch_id"), BranchSpell.starts_on <= _DAY,
        (BranchSpell.ends_on.is_(None)) | (BranchSpell.ends_on > _DAY))),
        Member.on_roll_since <= _DAY, (Member.left_roll_on.is_(None)) | (Member.left_roll_on > _DAY))
    .order_by(Member.name_key, Member.name, Member.id))


# The same members as rows of what readiness and the snapshot read (no ORM object to load, then expire).
_ON_ROLL_ROWS = _ON_ROLL.with_only_columns(Member.id, Member.name, Member.on_roll_since, Member.left_roll_on,
                                           Member.status)


def members_on_roll(branch_id: int, day: date) -> list[Member]:
    """Members of the branch on ``day`` (by branch spell and time on the roll), in pinyin order of name."""
    return list(db.session.scalars(_ON_ROLL, {"branch_id": branch_id, "day": day}))


def _one(value) -> str:
    return f"{rounded(value):f}"  # always one decimal in the snapshot: "5.0"


def snapshot_rows(branch_id: int, year: int, quarter: int, members: list[Any] | None = None,
                  dues_by: date | None = None) -> list[dict[str, Any]]:
    """Per member: quarter points by category, quarter total, year score to date at the quarter's end; with
    ``dues_by`` (the street shows it on the noticeboard), ``dues_paid`` for each member on the dues register:
    the quarter paid in full by that day (dues.quarter_settled), frozen with the rest. Never an amount.

    ``members``: the members on the roll at the quarter's end (Members, or readiness' rows of them), when
    the caller has just read them."""
    _start, end = quarter_bounds(year, quarter)
    members = members_on_roll(branch_id, end) if members is None else members
    scores = score_members(db.session, scheme_for_year(year), year, end, members)
    settled = quarter_settled(members, year, quarter, dues_by) if dues_by is not None else {}
    rows = []
    for m in members:
        s = scores[m.id]
        q = s.quarter
        rows.append({"member_id": m.id, "name": m.name, "type": s.type_code, "J": _one(q.j), "Z": _one(q.z),
                     "K": _one(q.k), "quarter_total": _one(q.total), "year_to_date": _one(s.score),
                     **({"dues_paid": settled[m.id]} if m.id in settled else {})})
    return rows


def canonical_json(rows: list[dict]) -> str:
    return json.dumps(sorted(rows, key=lambda r: r["member_id"]), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_LIVE = select(Publication).where(
    Publication.branch_id == bindparam("branch_id"), Publication.year == bindparam("year"),
    Publication.quarter == bindparam("quarter"), Publication.retracted_at.is_(None))


def live_publication(branch_id: int, year: int, quarter: int) -> Publication | None:
    return db.session.scalar(_LIVE, {"branch_id": branch_id, "year": year, "quarter": quarter})


_ADJUSTED = aliased(Publication, name="adjusted")
_LISTING = aliased(Publication, name="listing")
_UNLISTED = (
    select(PointEntry.id, PointEntry.member_id, PointEntry.indicator_code, PointEntry.points, PointEntry.earned_on,
           PointEntry.corrects_id, Member.name, _ADJUSTED.year, _ADJUSTED.quarter)
    .join(Member, Member.id == PointEntry.member_id)
    .join(_ADJUSTED, and_(_ADJUSTED.id == PointEntry.adjusts_publication_id, _ADJUSTED.retracted_at.is_(None)))
    # Said again of the entry itself (the join says it of the publication): SQLite then skips the branch's
    # ordinary entries before asking whether each is listed, instead of after.
    .where(PointEntry.branch_id == bindparam("branch_id"), PointEntry.adjusts_publication_id.isnot(None),
           ~exists().where(PublicationAdjustment.entry_id == PointEntry.id,
                           PublicationAdjustment.publication_id == _LISTING.id, _LISTING.retracted_at.is_(None)))
    .order_by(PointEntry.id))


def unlisted_adjustments(branch: Branch) -> list[dict[str, str | int]]:
    """Entries of the branch that adjust a live earlier publication and no live publication lists yet.

    The next publication of the branch lists them, once: what is listed is a row of
    PublicationAdjustment, so the cut-off is what was committed, never a comparison of timestamps.
    A retracted listing frees its entries for the next publication; an entry adjusting a retracted
    publication is left out (the quarter's next publication counts it in its snapshot).
    """
    return [{"entry_id": r.id, "member_id": r.member_id, "name": r.name, "period": period(r.year, r.quarter),
             "indicator": r.indicator_code, "points": _one(r.points), "earned_on": r.earned_on.isoformat(),
             "correction": r.corrects_id is not None}
            for r in read_columns(_UNLISTED, {"branch_id": branch.id})]


def later_adjustments(publication: Publication) -> list[tuple[PointEntry, str, User | None]]:
    """Entries committed after the publication that change its quarter: (entry, member name, recorder)."""
    return [tuple(r) for r in db.session.execute(
        select(PointEntry, Member.name, User)
        .join(Member, Member.id == PointEntry.member_id)
        .outerjoin(User, User.id == PointEntry.recorded_by_id)
        .where(PointEntry.adjusts_publication_id == publication.id)
        .order_by(PointEntry.id))]


@dataclass
class Readiness:
    ended: bool
    published: Publication | None
    pending: int
    unreconciled: list[Any]  # rows of _ON_ROLL_ROWS, as on_roll
    on_roll: list[Any] = field(default_factory=list)  # the members on the roll at the quarter's end

    @property
    def ready(self) -> bool:
        return self.ended and self.published is None and self.pending == 0 and not self.unreconciled


_PENDING = select(func.count()).select_from(SelfRecord).where(
    SelfRecord.member_id.in_(bindparam("ids", expanding=True)), SelfRecord.status == "pending",
    SelfRecord.earned_on <= _DAY)
_RECONCILED = select(Reconciliation.member_id).where(
    Reconciliation.branch_id == bindparam("branch_id"), Reconciliation.year == bindparam("year"),
    Reconciliation.quarter == bindparam("quarter"))


def readiness(branch: Branch, year: int, quarter: int, today: date) -> Readiness:
    _start, end = quarter_bounds(year, quarter)
    members = list(read_columns(_ON_ROLL_ROWS, {"branch_id": branch.id, "day": end}))
    ids = [m.id for m in members]
    pending = read_columns(_PENDING, {"ids": ids, "day": end}).scalar() if ids else 0
    done = set(read_columns(_RECONCILED, {"branch_id": branch.id, "year": year, "quarter": quarter}).scalars())
    return Readiness(today > end, live_publication(branch.id, year, quarter), pending,
                     [m for m in members if m.id not in done], members)


def publish(*, branch: Branch, year: int, quarter: int, user: User, today: date, meeting_on: date | None,
            present: int | None, total: int | None, chair: str, street_id: int,
            published_at: datetime | None = None) -> Publication:
    """Store the snapshot once every condition holds; raises PublishError otherwise (nothing written).

    The branch is locked first (branch_lock): a second publisher waits and then finds this one, and
    entries of the quarter are either committed before (in the snapshot) or wait and are flagged.
    """
    p = period(year, quarter)
    lock_branches([branch.id])
    state = readiness(branch, year, quarter, today)
    if not state.ended:
        raise PublishError("not_ended", period=p)
    if state.published is not None:
        raise PublishError("already_published", state.published, period=p)
    if state.pending:
        raise PublishError("pending", n=state.pending)
    if state.unreconciled:
        raise PublishError("unreconciled", n=len(state.unreconciled))
    if meeting_on is None or present is None or total is None:
        raise PublishError("meeting_required")
    _start, end = quarter_bounds(year, quarter)
    if not (end < meeting_on <= today):
        raise PublishError("meeting_date")
    if not (0 <= present <= total) or total <= 0:
        raise PublishError("meeting_counts")
    days = int(get_setting(street_id, "supervision_days"))
    pub = store_publication(branch, year, quarter, published_by_id=user.id, meeting_on=meeting_on,
                            members_present=present, members_total=total, chair=chair.strip()[:100],
                            supervision_ends_on=today + timedelta(days=days), published_at=published_at,
                            members=state.on_roll,
                            dues_by=today if get_setting(street_id, "board_dues_paid") else None)
    # A statement of its own: as an object it would have the session flush again at the commit.
    rows = pub.snapshot.count("member_id")
    audit.record_many("quarter_published", "publication", [dict(
        object_id=pub.id, summary=f"{branch.name} {p}: {rows} members, sha256 {pub.sha256}")])
    return pub


def store_publication(branch: Branch, year: int, quarter: int, *, published_at: datetime | None = None,
                      members: list[Any] | None = None, dues_by: date | None = None, **fields: Any) -> Publication:
    """The publication row: the quarter's snapshot and its hash, and the adjustments it lists (once).

    ``members``: the members on the roll at the quarter's end, when the caller has just read them;
    ``dues_by``: snapshot_rows' (the street shows "党费已交")."""
    text = canonical_json(snapshot_rows(branch.id, year, quarter, members, dues_by))
    listed = unlisted_adjustments(branch)
    pub = Publication(branch_id=branch.id, year=year, quarter=quarter, snapshot=text, sha256=sha256_of(text),
                      adjustments=canonical_json_list(listed), published_at=published_at or utcnow(), **fields)
    db.session.add(pub)
    db.session.flush()
    db.session.add_all([PublicationAdjustment(publication_id=pub.id, entry_id=a["entry_id"]) for a in listed])
    return pub


def canonical_json_list(items: list[dict]) -> str:
    return json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def retract(*, publication: Publication, reason: str, user: User) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise PublishError("reason_required")
    if publication.retracted_at is not None:
        raise PublishError("already_retracted")
    publication.retracted_at = utcnow()
    publication.retracted_by_id = user.id
    publication.retract_reason = reason[:1000]
    audit.record("publication_retracted", publication, summary=reason[:500])


def snapshot(publication: Publication) -> list[dict[str, Any]]:
    """The published rows, in the order people read them: by the pinyin of the name (the stored JSON
    stays in member id order, which is what the hash covers)."""
    return sorted(json.loads(publication.snapshot), key=lambda r: (sort_key(r["name"]), r["name"], r["member_id"]))


def verify(publication: Publication) -> bool:
    """The stored snapshot still hashes to the stored SHA-256."""
    return sha256_of(publication.snapshot) == publication.sha256


