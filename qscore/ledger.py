"""Writing to the points ledger: validated, append-only, attributed, audited.

Every screen that records points (inline entry, meetings, confirmed self-records, opening balances,
answers to residents' queries) goes through record_entry or correct_entry, so the rules hold
everywhere: no update or delete, corrections name what they correct, and entries dated in a
published quarter are prior-period adjustments that need a reason (DOMAIN.md).
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import bindparam, exists, insert, select

from . import audit
from .branch_lock import lock_branches
from .db import db
from .models._common import utcnow
from .models import (BranchSpell, Leave, Member, MemberType, PointEntry, Publication, SchemeVersion, User,
                     YearReview)
from .scheme import Indicator
from .scheme_versions import ensure_year, scheme_for_year, version_read
from .scoring import (N_, EntryError, check_earned_on, check_note, entry_points, live_entry_clause, quarter_of,
                      type_on, year_sums)
from .refusals import Refusal

NOTE_MAX = 500

LEDGER_ERROR_TEXTS: dict[str, str] = {
    "note_too_long": N_("The note is longer than 500 characters."),
    "before_roll": N_("The member came onto the roll on {date}; the date earned cannot be earlier."),
    "year_closed": N_("The {year} review is confirmed: entries dated in {year} are no longer accepted."),
    "adjustment_needs_reason": N_("{period} is already published: say in the note why this is recorded now."),
    "duplicate_submit": N_("This form was already submitted: the entry is recorded once."),
    "already_corrected": N_("This entry has already been corrected."),
    "is_correction": N_("A correction cannot itself be corrected; record a new entry instead."),
    "reason_required": N_("Give a reason for the correction."),
    "excused_by_leave": N_("{name} has a registered leave or exemption on {date}: no deduction for absence."),
    "member_inactive": N_("{name} is no longer on the roll."),
}


class LedgerError(Refusal):
    """A refused write; ``field`` says which form field the message belongs next to."""

    TEXTS = LEDGER_ERROR_TEXTS


# scoring.EntryError keys -> the form field they concern
ENTRY_ERROR_FIELDS = {
    "unknown_indicator": "indicator", "indicator_retired": "indicator", "indicator_not_applicable": "indicator",
    "hours_required": "value", "hours_invalid": "value", "points_not_allowed": "value",
    "date_in_future": "earned_on", "date_too_early": "earned_on", "note_required": "note",
}


def period_label(year: int, quarter: int) -> str:
    return f"{year}-Q{quarter}"


def type_history(member_id: int) -> list[tuple[date, str]]:
    return [(r.effective_from, r.type_code) for r in db.session.scalars(
        select(MemberType).where(MemberType.member_id == member_id)
        .order_by(MemberType.effective_from, MemberType.id))]


def branch_on(member: Member, day: date) -> int:
    """The member's branch on a day (branch spells are half-open); the current branch if unknown."""
    branch_id = db.session.scalar(
        select(BranchSpell.branch_id).where(
            BranchSpell.member_id == member.id, BranchSpell.starts_on <= day,
            (BranchSpell.ends_on.is_(None)) | (BranchSpell.ends_on > day))
        .order_by(BranchSpell.starts_on.desc()).limit(1))
    return branch_id or member.branch_id


def publication_covering(member: Member, day: date) -> Publication | None:
    """The live publication of the quarter containing ``day`` by the member's branch at that quarter."""
    quarter = quarter_of(day.month)
    quarter_end = date(day.year, quarter * 3, calendar.monthrange(day.year, quarter * 3)[1])
    branch_id = branch_on(member, quarter_end)
    return db.session.scalar(
        select(Publication).where(
            Publication.branch_id == branch_id, Publication.year == day.year, Publication.quarter == quarter,
            Publication.retracted_at.is_(None))
        .order_by(Publication.published_at.desc()).limit(1))


def year_review_confirmed(member: Member, year: int) -> bool:
    return bool(db.session.scalar(select(exists().where(
        YearReview.branch_id == branch_on(member, date(year, 12, 31)), YearReview.year == year,
        YearReview.status == "confirmed"))))


def open_for_corrections(member: Member, year: int, today: date) -> bool:
    """Entries of a year can be corrected until that year's review of the member's branch is confirmed."""
    return year >= today.year or not year_review_confirmed(member, year)


def on_leave(member_id: int, day: date) -> bool:
    return bool(db.session.scalar(select(exists().where(
        Leave.member_id == member_id, Leave.starts_on <= day, Leave.ends_on >= day))))


@dataclass(frozen=True)
class Recorded:
    entry: PointEntry
    indicator: Indicator
    adjusts: Publication | None


class MemberFacts(Protocol):
    """What the ledger's rules read of a member: a Member, or a row of these columns (a meeting's lines)."""

    id: int
    name: str
    status: str
    branch_id: int
    on_roll_since: date


@dataclass(frozen=True)
class NewEntry:
    """One entry to record, as record_entry takes it."""

    member: MemberFacts
    indicator_code: str
    value: Any
    earned_on: date
    note: str
    source: str = "inline"
    meeting_id: int | None = None
    host_branch_id: int | None = None
    idempotency_key: str | None = None
    self_record_id: int | None = None


@dataclass(frozen=True)
class Checked:
    """A NewEntry that passed every rule: the row to insert and what the screens show about it."""

    new: NewEntry
    indicator: Indicator
    adjusts: Publication | None
    row: dict[str, Any]
    summary: str


ID_CHUNK = 500  # bound parameters per IN list


def _chunks(values: list) -> list[list]:
    return [values[i:i + ID_CHUNK] for i in range(0, len(values), ID_CHUNK)]


def _in(column):
    return column.in_(bindparam("ids", expanding=True))


# The batch's queries, built once (building and caching a statement costs more than running it here).
# They run on the session's connection, in its transaction, after one flush (as autoflush would).
_Q_TYPES = (select(MemberType.member_id, MemberType.effective_from, MemberType.type_code)
            .where(_in(MemberType.member_id)).order_by(MemberType.member_id, MemberType.effective_from, MemberType.id))
_Q_ON_LEAVE = (select(Leave.member_id, Leave.starts_on, Leave.ends_on)
               .where(_in(Leave.member_id), Leave.starts_on <= bindparam("last"), Leave.ends_on >= bindparam("first")))
_Q_KEYS = select(PointEntry.idempotency_key).where(_in(PointEntry.idempotency_key))
_Q_SPELLS = (select(BranchSpell.member_id, BranchSpell.starts_on, BranchSpell.ends_on, BranchSpell.branch_id)
             .where(_in(BranchSpell.member_id)).order_by(BranchSpell.starts_on.desc()))
_Q_REVIEWS = select(YearReview.branch_id).where(
    _in(YearReview.branch_id), YearReview.year == bindparam("year"), YearReview.status == "confirmed")
_Q_PUBS = select(Publication.id, Publication.branch_id, Publication.year, Publication.quarter,
                 Publication.published_at).where(
    _in(Publication.branch_id), Publication.year.in_(bindparam("years", expanding=True)),
    Publication.quarter.in_(bindparam("quarters", expanding=True)), Publication.retracted_at.is_(None))
_Q_VERSION = (select(SchemeVersion.id).where(SchemeVersion.year == bindparam("year"))
              .order_by(SchemeVersion.version.desc()).limit(1))


def _rows(stmt, ids, **params) -> list:
    """Rows of a prebuilt statement for a list of ids (per chunk), on the session's connection.

    Pending changes are flushed first, as the session's autoflush would before an ORM query."""
    out: list = []
    chunks = _chunks(sorted(set(ids)))
    if chunks:
        db.session.flush()
        conn = db.session.connection()
        for chunk in chunks:
            out += conn.execute(stmt, {"ids": chunk, **params}).all()
    return out


def type_histories(member_ids: list[int]) -> dict[int, list[tuple[date, str]]]:
    """type_history of many members in one query (per chunk of ids)."""
    out: dict[int, list[tuple[date, str]]] = {int(i): [] for i in member_ids}
    for member_id, effective_from, type_code in _rows(_Q_TYPES, list(out)):
        out[member_id].append((effective_from, type_code))
    return out


def members_on_leave(member_ids: list[int], day: date) -> set[int]:
    """Which of the members have a leave or exemption covering ``day`` (on_leave for many)."""
    return {r[0] for r in _rows(_Q_ON_LEAVE, [int(i) for i in member_ids], first=day, last=day)}


@lru_cache(maxsize=512)
def _quarter_end(day: date) -> date:
    quarter = quarter_of(day.month)
    return date(day.year, quarter * 3, calendar.monthrange(day.year, quarter * 3)[1])


class _Facts:
    """What the rules need to know about a batch's members, read with a few set-based queries.

    Each lookup is the set-based twin of a one-member helper above (branch_on, year_review_confirmed,
    type_history, on_leave, publication_covering) and answers the same; each query runs at most once,
    when a rule first needs it.
    """

    def __init__(self, items: list[NewEntry], today: date):
        self.items = items
        self.today = today
        self.ids = sorted({n.member.id for n in items})
        self._spells: dict[int, list[tuple[date, date | None, int]]] | None = None
        self._branch_on: dict[tuple[int, date], int] = {}
        self._histories: dict[int, list[tuple[date, str]]] | None = None
        self._used_keys: set[str] | None = None
        self._reviews: set[int] | None = None
        self._leaves: dict[int, list[tuple[date, date]]] | None = None
        self._pubs: dict[tuple[int, int, int], int] | None = None
        self._schemes: dict[int, Any] = {}
        self._versions: dict[int, int] = {}
        self._points: dict[tuple, Any] = {}

    def lock(self) -> None:
        """Serialise with publications (branch_lock): of each entry's quarter, and of its branch's next one.

        Taken before any rule reads what a publication or an idempotency key decides."""
        lock_branches({self.branch_on(n.member, _quarter_end(n.earned_on)) for n in self.items}
                      | {n.member.branch_id for n in self.items})

    def key_used(self, key: str) -> bool:
        if self._used_keys is None:
            keys = [n.idempotency_key for n in self.items if n.idempotency_key]
            self._used_keys = {r[0] for r in _rows(_Q_KEYS, keys)}
        return key in self._used_keys

    def branch_on(self, member: MemberFacts, day: date) -> int:
        found = self._branch_on.get((member.id, day))
        if found is not None:
            return found
        if self._spells is None:
            self._spells = defaultdict(list)
            for member_id, starts_on, ends_on, branch_id in _rows(_Q_SPELLS, self.ids):
                self._spells[member_id].append((starts_on, ends_on, branch_id))
            for spells in self._spells.values():  # the latest start first, as the query orders them
                spells.sort(key=lambda s: s[0], reverse=True)
        found = member.branch_id
        for starts_on, ends_on, branch_id in self._spells.get(member.id, ()):
            if starts_on <= day and (ends_on is None or ends_on > day):
                found = branch_id or member.branch_id
                break
        self._branch_on[(member.id, day)] = found
        return found

    def previous_year_open(self, member: MemberFacts) -> bool:
        year_end = date(self.today.year - 1, 12, 31)
        if self._reviews is None:
            branches = [self.branch_on(n.member, year_end) for n in self.items]
            self._reviews = {r[0] for r in _rows(_Q_REVIEWS, branches, year=year_end.year)}
        return self.branch_on(member, year_end) not in self._reviews

    def history(self, member_id: int) -> list[tuple[date, str]]:
        if self._histories is None:
            self._histories = type_histories(self.ids)
        return self._histories[member_id]

    def scheme(self, year: int):
        if year not in self._schemes:
            self._schemes[year] = scheme_for_year(year)
        return self._schemes[year]

    def entry_points(self, year: int, code: str, type_code: str, value: Any):
        """scoring.entry_points, once per distinct (indicator, type, value) of the batch."""
        try:
            key = (year, code, type_code, value)
            hash(key)
        except TypeError:
            return entry_points(self.scheme(year), code, type_code, value)
        if key not in self._points:
            self._points[key] = entry_points(self.scheme(year), code, type_code, value)
        return self._points[key]

    def version_id(self, year: int) -> int:
        if year not in self._versions:
            # ensure_year(year).id, without loading the version's data when it exists
            found = version_read(year)  # the version the points were computed from, when this request read one
            if found is None:
                db.session.flush()
                found = db.session.connection().execute(_Q_VERSION, {"year": year}).scalar()
            self._versions[year] = found or ensure_year(year).id
        return self._versions[year]

    def on_leave(self, member_id: int, day: date) -> bool:
        if self._leaves is None:
            days = [n.earned_on for n in self.items]
            self._leaves = defaultdict(list)
            for mid, starts_on, ends_on in _rows(_Q_ON_LEAVE, self.ids, first=min(days), last=max(days)):
                self._leaves[mid].append((starts_on, ends_on))
        return any(s <= day <= e for s, e in self._leaves.get(member_id, ()))

    def publication_covering(self, member: MemberFacts, day: date) -> Publication | None:
        if self._pubs is None:
            wanted = {(self.branch_on(n.member, _quarter_end(n.earned_on)), n.earned_on.year,
                       quarter_of(n.earned_on.month)) for n in self.items}
            latest: dict[tuple[int, int, int], tuple] = {}
            for pub_id, branch_id, year, quarter, published_at in _rows(
                    _Q_PUBS, [b for b, _y, _q in wanted], years=sorted({y for _b, y, _q in wanted}),
                    quarters=sorted({q for _b, _y, q in wanted})):
                key = (branch_id, year, quarter)
                if key not in latest or (published_at, pub_id) > latest[key]:
                    latest[key] = (published_at, pub_id)
            self._pubs = {key: pub_id for key, (_at, pub_id) in latest.items()}
        pub_id = self._pubs.get((self.branch_on(member, _quarter_end(day)), day.year, quarter_of(day.month)))
        return db.session.get(Publication, pub_id) if pub_id is not None else None


def _check(n: NewEntry, facts: _Facts, batch_keys: set[str]) -> Checked:
    """Every rule of the ledger for one entry, in record_entry's order (so the same refusal wins)."""
    member, earned_on, today = n.member, n.earned_on, facts.today
    note = (n.note or "").strip()
    if len(note) > NOTE_MAX:
        raise LedgerError("note_too_long", "note")
    if member.status != "active":
        raise LedgerError("member_inactive", "", name=member.name)
    if n.idempotency_key and (n.idempotency_key in batch_keys or facts.key_used(n.idempotency_key)):
        raise LedgerError("duplicate_submit", "")
    # Only an entry of an earlier year asks whether that year is still open (one query fewer for this year's).
    previous_open = earned_on.year >= today.year or facts.previous_year_open(member)
    check_earned_on(earned_on, today, previous_year_open=previous_open)
    if earned_on.year < today.year and not previous_open:
        raise LedgerError("year_closed", "earned_on", year=earned_on.year)
    if earned_on < member.on_roll_since:
        raise LedgerError("before_roll", "earned_on", date=member.on_roll_since.isoformat())
    type_code = type_on(facts.history(member.id), earned_on)
    scheme = facts.scheme(earned_on.year)
    value_ = facts.entry_points(earned_on.year, n.indicator_code, type_code, n.value)
    indicator = scheme.indicators[n.indicator_code]
    check_note(indicator, note)
    if indicator.role == "absence" and facts.on_leave(member.id, earned_on):
        raise LedgerError("excused_by_leave", "indicator", name=member.name, date=earned_on.isoformat())
    adjusts = facts.publication_covering(member, earned_on)
    if adjusts is not None and not note:
        raise LedgerError("adjustment_needs_reason", "note", period=period_label(adjusts.year, adjusts.quarter))
    row = dict(
        member_id=member.id, branch_id=member.branch_id, year=earned_on.year, indicator_code=indicator.code,
        category=indicator.category, points=value_.points, quantity=value_.quantity, earned_on=earned_on,
        note=note, source=n.source, meeting_id=n.meeting_id, host_branch_id=n.host_branch_id,
        scheme_version_id=facts.version_id(earned_on.year), recorded_by_id=None,
        self_record_id=n.self_record_id, adjusts_publication_id=adjusts.id if adjusts else None,
        idempotency_key=n.idempotency_key or None,
    )
    summary = (f"{member.name} {indicator.code} {value_.points} on {earned_on}"
               + (f" (adjusts {period_label(adjusts.year, adjusts.quarter)})" if adjusts else ""))
    return Checked(n, indicator, adjusts, row, summary)


def check_entries(items: Sequence[NewEntry], *, today: date,
                  schemes: dict[int, Any] | None = None) -> list[Checked | EntryError | LedgerError]:
    """Apply every rule of record_entry to many entries at once, writing nothing.

    One result per item, in order: a Checked, or the refusal record_entry would have raised had the
    items been recorded one after another (an idempotency key repeated within the batch is refused
    the second time). The facts are read with a constant number of set-based queries. ``schemes``:
    scheme_for_year of some years, when the caller has just read them (saves reading them again).
    """
    items = list(items)
    facts = _Facts(items, today)
    facts._schemes.update(schemes or {})
    facts.lock()
    keys: set[str] = set()
    out: list[Checked | EntryError | LedgerError] = []
    for n in items:
        try:
            out.append(_check(n, facts, keys))
            if n.idempotency_key:
                keys.add(n.idempotency_key)
        except (EntryError, LedgerError) as err:
            out.append(err)
    return out


def write_entries(checked: Sequence[Checked], *, user: User | None, at: datetime | None = None,
                  meeting_id: int | None = None) -> list[int]:
    """Insert checked entries and their audit rows in two bulk statements; returns the entry ids.

    The same rows as record_entry writes one by one (entry_added, with the entry as "after"), in the
    current transaction (flushed, not committed). ``at``: when they were recorded (the demo's past days).
    ``meeting_id``: the meeting of every entry, when its row is written only after the entries were checked.
    """
    checked = list(checked)
    if not checked:
        return []
    db.session.flush()  # whatever the entries refer to (a meeting) is in the database first
    user_id = getattr(user, "id", None)
    now = at or utcnow()  # one transaction, one time
    extra = {"recorded_by_id": user_id, "recorded_at": now, **({"meeting_id": meeting_id} if meeting_id else {})}
    rows = [{**c.row, **extra} for c in checked]
    ids = _insert_returning_ids(rows)
    year_sums.add_entries(db.session, [(row["member_id"], row["indicator_code"], row["category"], row["earned_on"],
                                        row["points"]) for row in rows])  # checked entries correct nothing
    audit.record_many("entry_added", "pointentry", [
        dict(object_id=entry_id, member_id=row["member_id"], summary=c.summary,
             after=_row_dict(entry_id, row, corrects_id=None))
        for entry_id, row, c in zip(ids, rows, checked)], user=user, at=now)
    return ids


_INSERTS: dict[tuple[str, ...], Any] = {}
_INSERT_BY_KEY = insert(PointEntry.__table__).returning(PointEntry.__table__.c.id,
                                                        PointEntry.__table__.c.idempotency_key)


def _insert_returning_ids(rows: list[dict[str, Any]]) -> list[int]:
    """One multi-row INSERT of ledger rows; the new ids in the order of ``rows``.

    RETURNING's row order is not guaranteed (and asking SQLAlchemy to sort by parameter order makes
    it insert row by row on SQLite), so each returned row is matched back to its parameters: by its
    idempotency key when every row has its own (a meeting's lines), else by its values (rows with
    the same values are interchangeable, each gets one of their ids).
    """
    keys = [row.get("idempotency_key") for row in rows]
    if all(keys) and len(set(keys)) == len(keys):
        # Reading back every column of every row to match them cost a third of a meeting's insert.
        by_key = {key: entry_id for entry_id, key in db.session.connection().execute(_INSERT_BY_KEY, rows)}
        return [by_key[key] for key in keys]
    names = tuple(rows[0])
    stmt = _INSERTS.get(names)
    if stmt is None:
        table = PointEntry.__table__
        stmt = _INSERTS[names] = insert(table).returning(table.c.id, *(table.c[n] for n in names))
    result = db.session.connection().execute(stmt, rows)
    by_values: dict[tuple, list[int]] = defaultdict(list)
    for r in result:
        by_values[tuple(r[1:])].append(r[0])
    for found in by_values.values():
        found.sort(reverse=True)
    return [by_values[tuple(row[n] for n in names)].pop() for row in rows]


def record_entries(items: Sequence[NewEntry], *, user: User | None, today: date) -> list[int]:
    """Record many entries at once, all or none: raises the first item's refusal, else writes all."""
    checked = check_entries(items, today=today)
    for c in checked:
        if isinstance(c, Exception):
            raise c
    return write_entries(checked, user=user)


def record_entry(*, member: Member, indicator_code: str, value: Any, earned_on: date, note: str, user: User | None,
                 today: date, source: str = "inline", meeting_id: int | None = None,
                 host_branch_id: int | None = None, idempotency_key: str | None = None,
                 self_record_id: int | None = None, history: list[tuple[date, str]] | None = None) -> Recorded:
    """Validate and add one ledger entry (flushed, not committed). Raises EntryError or LedgerError.

    ``history``: the member's type_history, when the caller has just read it (saves reading it again).
    """
    new = NewEntry(member=member, indicator_code=indicator_code, value=value, earned_on=earned_on, note=note,
                   source=source, meeting_id=meeting_id, host_branch_id=host_branch_id,
                   idempotency_key=idempotency_key, self_record_id=self_record_id)
    facts = _Facts([new], today)
    if history is not None:
        facts._histories = {member.id: history}
    facts.lock()
    checked = _check(new, facts, set())
    entry = PointEntry(**{**checked.row, "recorded_by_id": getattr(user, "id", None)})
    db.session.add(entry)
    db.session.flush()
    audit.record("entry_added", entry, member_id=member.id, user=user, summary=checked.summary,
                 after=_entry_dict(entry))
    return Recorded(entry, checked.indicator, checked.adjusts)


@dataclass(frozen=True)
class Doubt:
    """A likely mistake to ask about before recording (never a refusal): what the ledger already holds."""

    key: str  # "same_day": the same item again that day; "attended_and_absent"; "large_deduction";
    #           "register_unpaid" (a J3 the dues register does not show paid); "register_paid" (a K2 it shows paid)
    existing: PointEntry | None = None
    points: Decimal | None = None
    months: tuple[str, ...] = ()  # "register_unpaid"/"register_paid": the dues register's months against it


DOUBT_ROLES = frozenset({"attendance", "absence"})


def likely_mistakes(member: Member, indicator_code: str, value: Any, earned_on: date, *,
                    threshold: Decimal, history: list[tuple[date, str]] | None = None) -> list[Doubt]:
    """What a careful colleague would ask about: the same item for the same member and day again; an
    attendance and an absence on one day; a deduction of ``threshold`` points or more. An entry the
    ledger would refuse anyway raises no doubt (recording it gives the refusal)."""
    scheme = scheme_for_year(earned_on.year)
    indicator = scheme.indicators.get(indicator_code)
    if indicator is None:
        return []
    try:
        points = entry_points(scheme, indicator, type_on(history or type_history(member.id), earned_on), value).points
    except EntryError:
        return []
    doubts: list[Doubt] = []
    same_day = db.session.scalars(select(PointEntry).where(
        PointEntry.member_id == member.id, PointEntry.earned_on == earned_on, live_entry_clause())
        .order_by(PointEntry.id)).all()
    for e in same_day:
        other = scheme.indicators.get(e.indicator_code)
        if e.indicator_code == indicator.code:
            doubts.append(Doubt("same_day", e))
        elif other is not None and {other.role, indicator.role} == DOUBT_ROLES:
            doubts.append(Doubt("attended_and_absent", e))
    if points < 0 and -points >= threshold:
        doubts.append(Doubt("large_deduction", None, points))
    return doubts


def is_live(entry: PointEntry) -> bool:
    return entry.corrects_id is None and not db.session.scalar(
        select(exists().where(PointEntry.corrects_id == entry.id)))


def correct_entry(*, entry: PointEntry, reason: str, user: User | None, today: date,
                  idempotency_key: str | None = None) -> Recorded:
    """Write the correction of ``entry``: a new row naming it, which takes both out of every sum."""
    member = db.session.get(Member, entry.member_id)
    lock_branches([branch_on(member, _quarter_end(entry.earned_on)), member.branch_id])
    reason = (reason or "").strip()
    if not reason:
        raise LedgerError("reason_required", "reason")
    if len(reason) > NOTE_MAX:
        raise LedgerError("note_too_long", "reason")
    if idempotency_key and db.session.scalar(select(exists().where(PointEntry.idempotency_key == idempotency_key))):
        raise LedgerError("duplicate_submit", "")
    if entry.corrects_id is not None:
        raise LedgerError("is_correction", "")
    if db.session.scalar(select(exists().where(PointEntry.corrects_id == entry.id))):
        raise LedgerError("already_corrected", "")
    if not open_for_corrections(member, entry.year, today):
        raise LedgerError("year_closed", "", year=entry.year)
    adjusts = publication_covering(member, entry.earned_on)
    correction = PointEntry(
        member_id=entry.member_id, branch_id=member.branch_id, year=entry.year,
        indicator_code=entry.indicator_code, category=entry.category, points=-entry.points,
        quantity=-entry.quantity if entry.quantity is not None else None, earned_on=entry.earned_on,
        note=reason, source="correction", meeting_id=entry.meeting_id, host_branch_id=entry.host_branch_id,
        scheme_version_id=entry.scheme_version_id, recorded_by_id=getattr(user, "id", None),
        corrects_id=entry.id, adjusts_publication_id=adjusts.id if adjusts else None,
        idempotency_key=idempotency_key or None,
    )
    db.session.add(correction)
    db.session.flush()
    audit.record("entry_corrected", correction, member_id=member.id, user=user,
                 summary=f"corrects entry {entry.id}: {reason}", before=_entry_dict(entry),
                 after=_entry_dict(correction))
    scheme = scheme_for_year(entry.year)
    indicator = scheme.indicators.get(entry.indicator_code)
    return Recorded(correction, indicator, adjusts)


def _entry_dict(e: PointEntry) -> dict[str, Any]:
    return {
        "id": e.id, "member_id": e.member_id, "indicator": e.indicator_code, "points": str(e.points),
        "quantity": str(e.quantity) if e.quantity is not None else None, "earned_on": e.earned_on.isoformat(),
        "note": e.note, "source": e.source, "corrects_id": e.corrects_id,
        "adjusts_publication_id": e.adjusts_publication_id,
    }


def _row_dict(entry_id: int, row: dict[str, Any], corrects_id: int | None) -> dict[str, Any]:
    """_entry_dict of an entry inserted in bulk, from its row."""
    return {
        "id": entry_id, "member_id": row["member_id"], "indicator": row["indicator_code"],
        "points": str(row["points"]), "quantity": str(row["quantity"]) if row["quantity"] is not None else None,
        "earned_on": row["earned_on"].isoformat(), "note": row["note"], "source": row["source"],
        "corrects_id": corrects_id, "adjusts_publication_id": row["adjusts_publication_id"],
    }


def error_field_and_text(err: Exception, gettext) -> tuple[str, str]:
    """Where a refusal's message goes on a form, and the message in the user's language."""
    if isinstance(err, EntryError):
        return ENTRY_ERROR_FIELDS.get(err.key, ""), err.text(gettext)
    if isinstance(err, LedgerError):
        return err.field, err.text(gettext)
    raise err


