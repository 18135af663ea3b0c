"""Stored year sums: each member's live ledger of a year, kept beside the ledger, read by scoring.

Grading a district from the ledger groups ~330,000 entries (1.8–3 s on these machines); the stored
sums are one row per member-year, kept in the same transaction as the write that touched it. A new
entry that corrects nothing is added to its row (exact: it takes no other entry out); a correction
recomputes the member's year from the ledger (it takes an entry out, and a first date cannot be
decremented):
- every ORM insert of a PointEntry, by the flush listener below (record_entry, correct_entry, tests);
- Core bulk inserts call ``add_entries`` or ``refresh`` themselves (ledger.write_entries, the demo,
  the benchmark).
On PostgreSQL the rows are locked before the ledger is read, so two branches writing one member
(a guest at a host branch's meeting) cannot overwrite each other's sums. ``check`` compares every row
with the ledger; ``rebuild`` recomputes them all (restores, the migration, `flask qscore rebuild-sums`).
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from typing import Iterable

from sqlalchemy import delete, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from ..models.ledger import LedgerYearSums, PointEntry
from .ledger_sql import MemberIds, _id_filters, ledgers_from_entries
from .sums import MemberLedger

SUMS = LedgerYearSums.__table__
Pair = tuple[int, int]  # (member_id, year)


def encode(ledger: MemberLedger) -> str:
    keys = sorted(ledger.tenths)
    return json.dumps({"k": keys, "t": [ledger.tenths[k] for k in keys], "c": [ledger.counts[k] for k in keys],
                       "f": [ledger.first_dates[k].toordinal() for k in keys]}, separators=(",", ":"))


def decode(text: str) -> MemberLedger:
    data = json.loads(text)
    keys = list(map(tuple, data["k"]))
    return MemberLedger(dict(zip(keys, data["t"])), dict(zip(keys, data["c"])),
                        dict(zip(keys, map(date.fromordinal, data["f"]))))


def fetch_ledgers(db, member_ids: MemberIds, year: int, as_of: date) -> dict[int, MemberLedger]:
    """Live points per member of ``year`` earned on or before ``as_of``: the stored rows, one per member.

    A row whose last entry is later than as_of (a past quarter's end, a booklet's month) cannot say what
    stood on as_of: those members are summed from the ledger. Given a list, every id gets a ledger (empty
    if no entries); given a Select of ids, only members with entries appear.
    """
    return {m: as_ledger(v) for m, v in fetch_ledger_sources(db, member_ids, year, as_of).items()}


def as_ledger(source: str | MemberLedger) -> MemberLedger:
    """A value of fetch_ledger_sources as a ledger: a stored row's text decoded, a grouped ledger as it is."""
    return decode(source) if type(source) is str else source


def fetch_ledger_sources(db, member_ids: MemberIds, year: int, as_of: date) -> dict[int, str | MemberLedger]:
    """fetch_ledgers, with stored rows left as their text: a caller scoring thousands of members decodes each
    in turn (so at most one decoded ledger is alive at a time, which halves the garbage collector's work)."""
    end = min(as_of + timedelta(days=1), date(year + 1, 1, 1))
    out: dict[int, str | MemberLedger] = {} if isinstance(member_ids, Select) else {
        int(i): MemberLedger() for i in member_ids}
    behind: list[int] = []
    for id_filter in _id_filters(SUMS.c.member_id, member_ids):
        stmt = select(SUMS.c.member_id, SUMS.c.sums, SUMS.c.last_earned_on).where(SUMS.c.year == year, id_filter)
        for member_id, text, last in db.execute(stmt):
            if last is None:
                continue
            if last >= end:
                behind.append(member_id)
            else:
                out[member_id] = text
    if behind:
        out.update(ledgers_from_entries(db, behind, year, end))
    return out


def add_entries(db, entries: Iterable[tuple[int, str, str, date, object]]) -> None:
    """Add new live entries (member_id, indicator, category, earned_on, points) to their stored rows.

    A new entry that corrects nothing takes no other entry out of the sums, so adding it to the row is exact
    (a 60-member meeting: ~3 ms, against ~25 ms to regroup those members' year). Corrections go through
    ``refresh``. Rows are locked before they are read (PostgreSQL), as in refresh.
    """
    by_year: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for member_id, code, category, earned_on, points in entries:
        by_year[earned_on.year][int(member_id)].append((code, category, earned_on, points))
    for year in sorted(by_year):
        ids = sorted(by_year[year])
        stored = _locked_rows(db, ids, year)
        rows = []
        for member_id in ids:
            text, last = stored.get(member_id, ("", None))
            ledger = decode(text) if text else MemberLedger()
            for code, category, earned_on, points in by_year[year][member_id]:
                ledger.add(code, category, earned_on, points)
                last = earned_on if last is None or earned_on > last else last
            rows.append({"member_id": member_id, "year": year, "sums": encode(ledger), "last_earned_on": last})
        db.execute(_upsert(db), rows)


def _upsert(db):
    stmt = pg_insert(SUMS) if _dialect(db) == "postgresql" else sqlite_insert(SUMS)
    return stmt.on_conflict_do_update(index_elements=[SUMS.c.member_id, SUMS.c.year],
                                      set_={"sums": stmt.excluded.sums, "last_earned_on": stmt.excluded.last_earned_on})


def _locked_rows(db, ids: list[int], year: int) -> dict[int, tuple[str, date | None]]:
    """The stored rows of these members' year, locked until the transaction ends on PostgreSQL (made first if
    missing, so that there is a row to lock); SQLite's writers are already one at a time (BEGIN IMMEDIATE)."""
    postgres = _dialect(db) == "postgresql"
    if postgres:
        db.execute(pg_insert(SUMS).on_conflict_do_nothing(),
                   [{"member_id": i, "year": year, "sums": "", "last_earned_on": None} for i in ids])
    out: dict[int, tuple[str, date | None]] = {}
    for id_filter in _id_filters(SUMS.c.member_id, ids):
        stmt = (select(SUMS.c.member_id, SUMS.c.sums, SUMS.c.last_earned_on)
                .where(SUMS.c.year == year, id_filter).order_by(SUMS.c.member_id))
        for member_id, text, last in db.execute(stmt.with_for_update() if postgres else stmt):
            out[member_id] = (text, last)
    return out


def refresh(db, pairs: Iterable[Pair]) -> None:
    """Recompute the stored sums of these member-years from the ledger (``db``: a Session or Connection)."""
    by_year: dict[int, set[int]] = defaultdict(set)
    for member_id, year in pairs:
        by_year[int(year)].add(int(member_id))
    for year in sorted(by_year):
        ids = sorted(by_year[year])
        if _dialect(db) == "postgresql":
            # Locked before the ledger is read: under READ COMMITTED the read then sees every entry committed
            # by a writer that held them first.
            _locked_rows(db, ids, year)
        last: dict[int, date] = {}
        ledgers = ledgers_from_entries(db, ids, year, date(year + 1, 1, 1), last=last)
        db.execute(_upsert(db), [{"member_id": i, "year": year, "sums": encode(ledgers[i]),
                                  "last_earned_on": last.get(i)} for i in ids])


def rebuild(db) -> int:
    """Recompute every member-year with ledger entries (and drop any other row); returns the rows written."""
    db.execute(delete(SUMS))
    pairs = db.execute(select(PointEntry.member_id, PointEntry.year).distinct()).all()
    refresh(db, pairs)
    return len(pairs)


def check(db) -> list[Pair]:
    """The member-years whose stored sums differ from the ledger's (empty when all agree)."""
    stored = {(m, y): (text, last) for m, y, text, last in db.execute(
        select(SUMS.c.member_id, SUMS.c.year, SUMS.c.sums, SUMS.c.last_earned_on))}
    wrong: list[Pair] = []
    years = {y for _m, y in stored} | set(db.execute(select(PointEntry.year).distinct()).scalars())
    for year in sorted(years):
        last: dict[int, date] = {}
        ids = select(PointEntry.member_id).where(PointEntry.year == year).distinct()
        ledgers = ledgers_from_entries(db, ids, year, date(year + 1, 1, 1), last=last)
        for pair in sorted({(m, year) for m in ledgers} | {p for p in stored if p[1] == year}):
            ledger = ledgers.get(pair[0], MemberLedger())
            text, day = stored.get(pair, ("", None))
            if last.get(pair[0]) != day or (ledger.tenths and (not text or decode(text) != ledger)):
                wrong.append(pair)
    return wrong


def _dialect(db) -> str:
    bind = db.get_bind() if hasattr(db, "get_bind") else db  # a Session (scoped or not), or a Connection
    return bind.dialect.name


@event.listens_for(Session, "after_flush")
def _refresh_after_orm_inserts(session: Session, flush_context) -> None:
    new = [o for o in session.new if isinstance(o, PointEntry)]
    if not new:
        return
    corrections = {(o.member_id, o.earned_on.year) for o in new if o.corrects_id is not None}
    add_entries(session.connection(), [(o.member_id, o.indicator_code, o.category, o.earned_on, o.points)
                                       for o in new if o.corrects_id is None])
    if corrections:
        refresh(session.connection(), corrections)
