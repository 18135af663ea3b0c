"""The ledger in SQL: which entries are live, their month and year on both engines, and the grouped sums.

fetch_ledgers reads the stored year sums (year_sums.py); the grouped query here is what those sums are
computed from, and what answers when a stored row cannot (an "as of" before its last entry).
"""
from __future__ import annotations

from datetime import date
from typing import Sequence

from sqlalchemy import Integer, and_, cast, exists, extract, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.functions import FunctionElement

from ..models.ledger import PointEntry
from .sums import Key, MemberLedger


ID_CHUNK = 900  # bound parameters per IN list; below every SQLite's limit. A Select is never chunked.
MemberIds = Sequence[int] | Select


_CORRECTION = aliased(PointEntry, name="correction")


def live_entry_clause():
    """Live entries: not a correction, and not corrected by any entry.

    Written as coalesce(...) = 0 rather than IS NULL: without statistics SQLite would otherwise seek
    the unique index on corrects_id for NULL and read every live entry of the whole ledger
    (the benchmark found this made the roster grow with the ledger, not the branch).
    """
    return and_(
        func.coalesce(PointEntry.corrects_id, 0) == 0,
        ~exists().where(_CORRECTION.corrects_id == PointEntry.id),
    )


class _DatePart(FunctionElement):
    """EXTRACT(<part> FROM a date column) as an integer. On SQLite, where a date is stored as
    'YYYY-MM-DD' text, it is read from the text: EXTRACT there is strftime(), which parses every
    date (about 15% of the grouped ledger query's CPU time on the district benchmark)."""

    type = Integer()
    inherit_cache = True
    name = "date_part"


class month_of(_DatePart):
    inherit_cache = True


class year_of(_DatePart):
    inherit_cache = True


@compiles(month_of)
def _compile_month(element, compiler, **kw):
    return compiler.process(extract("month", *element.clauses), **kw)


@compiles(year_of)
def _compile_year(element, compiler, **kw):
    return compiler.process(extract("year", *element.clauses), **kw)


@compiles(month_of, "sqlite")
def _compile_month_sqlite(element, compiler, **kw):
    return f"CAST(substr({compiler.process(element.clauses, **kw)}, 6, 2) AS INTEGER)"


@compiles(year_of, "sqlite")
def _compile_year_sqlite(element, compiler, **kw):
    return f"CAST(substr({compiler.process(element.clauses, **kw)}, 1, 4) AS INTEGER)"


def _id_filters(column, member_ids: MemberIds) -> list:
    """IN filters for the ids: one for a Select (a subquery of ids), one per chunk of a list."""
    if isinstance(member_ids, Select):
        return [column.in_(member_ids)]
    ids = sorted({int(i) for i in member_ids})
    return [column.in_(ids[i:i + ID_CHUNK]) for i in range(0, len(ids), ID_CHUNK)]


def ledgers_from_entries(db, member_ids: MemberIds, year: int, end: date, *,
                         last: dict[int, date] | None = None) -> dict[int, MemberLedger]:
    """Live points per member of ``year`` earned before ``end``, in one grouped query per ID_CHUNK ids.

    ``db``: a Session or a Connection. Given a list, every id gets a ledger (empty if no entries); given a
    Select of ids, only members with entries appear. ``last``, if given, receives each member's latest
    earned_on among the entries summed.
    """
    month = month_of(PointEntry.earned_on)
    # Sums in whole tenths, computed by the database: exact on both engines (SQLite keeps NUMERIC as REAL, whose
    # sum rounds to the tenth it stands for), and no Decimal is built per row.
    tenths_sum = cast(func.round(func.sum(PointEntry.points) * 10), Integer)
    ledgers: dict[int, MemberLedger] = {} if isinstance(member_ids, Select) else {
        int(i): MemberLedger() for i in member_ids}
    current = None
    sums: dict[Key, int] = {}
    counts: dict[Key, int] = {}
    first_dates: dict[Key, date] = {}
    columns = [PointEntry.member_id, PointEntry.indicator_code, PointEntry.category, month, tenths_sum,
               func.count(PointEntry.id), func.min(PointEntry.earned_on)]
    if last is not None:
        columns.append(func.max(PointEntry.earned_on))
    for id_filter in _id_filters(PointEntry.member_id, member_ids):
        stmt = (
            select(*columns)
            .where(id_filter, PointEntry.earned_on >= date(year, 1, 1), PointEntry.earned_on < end,
                   live_entry_clause())
            .group_by(PointEntry.member_id, PointEntry.indicator_code, PointEntry.category, month)
        )
        for member_id, code, category, m, total, count, first, *latest in db.execute(stmt):
            if member_id != current:  # rows come member by member (not required, only faster)
                ledger = ledgers.get(member_id)
                if ledger is None:
                    ledger = ledgers[member_id] = MemberLedger()
                current, sums, counts, first_dates = member_id, ledger.tenths, ledger.counts, ledger.first_dates
            key = (code, category, m if type(m) is int else int(m))
            sums[key] = total if type(total) is int else int(total)
            counts[key] = count if type(count) is int else int(count)
            first_dates[key] = _day(first)
            if latest:
                day = _day(latest[0])
                if member_id not in last or day > last[member_id]:
                    last[member_id] = day
    return ledgers


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
