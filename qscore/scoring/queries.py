"""The SQL layer: a constant number of grouped queries for any number of members."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Protocol, Sequence

from sqlalchemy import Integer, and_, cast, exists, extract, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.functions import FunctionElement

from ..models.ledger import PointEntry
from ..models.members import MemberType
from ..scheme import Scheme
from .member import MemberScore, score_member
from .periods import month_index
from .reasons import Reason
from .sums import Key, MemberLedger
from .types import MissingTypeHistory
from .warnings import WarningMonths, early_warnings


ID_CHUNK = 900  # bound parameters per IN list; below every SQLite's limit. A Select is never chunked.
MemberIds = Sequence[int] | Select


class MemberLike(Protocol):
    id: int
    on_roll_since: date
    left_roll_on: date | None
    status: str


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


def fetch_ledgers(session: Session, member_ids: MemberIds, year: int, as_of: date) -> dict[int, MemberLedger]:
    """Live points per member of ``year`` earned on or before ``as_of``, in one grouped query.

    Range: [Jan 1 of year, min(as_of + 1 day, Jan 1 of next year)), half-open. Given a list, every
    id gets a ledger (empty if no entries); given a Select of ids, only members with entries appear.
    """
    end = min(as_of + timedelta(days=1), date(year + 1, 1, 1))
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
    for id_filter in _id_filters(PointEntry.member_id, member_ids):
        stmt = (
            select(PointEntry.member_id, PointEntry.indicator_code, PointEntry.category, month,
                   tenths_sum, func.count(PointEntry.id), func.min(PointEntry.earned_on))
            .where(id_filter, PointEntry.earned_on >= date(year, 1, 1), PointEntry.earned_on < end,
                   live_entry_clause())
            .group_by(PointEntry.member_id, PointEntry.indicator_code, PointEntry.category, month)
        )
        for member_id, code, category, m, total, count, first in session.execute(stmt):
            if member_id != current:  # rows come member by member (not required, only faster)
                ledger = ledgers.get(member_id)
                if ledger is None:
                    ledger = ledgers[member_id] = MemberLedger()
                current, sums, counts, first_dates = member_id, ledger.tenths, ledger.counts, ledger.first_dates
            key = (code, category, m if type(m) is int else int(m))
            sums[key] = total if type(total) is int else int(total)
            counts[key] = count if type(count) is int else int(count)
            first_dates[key] = first if isinstance(first, date) else date.fromisoformat(str(first))
    return ledgers


def fetch_type_histories(session: Session, member_ids: MemberIds) -> dict[int, list[tuple[date, str]]]:
    """Type records per member, ordered by effective_from then id (a later row on a date wins)."""
    out: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for id_filter in _id_filters(MemberType.member_id, member_ids):
        stmt = (select(MemberType.member_id, MemberType.effective_from, MemberType.type_code)
                .where(id_filter)
                .order_by(MemberType.member_id, MemberType.effective_from, MemberType.id))
        for member_id, effective_from, type_code in session.execute(stmt):
            out[member_id].append((effective_from, type_code))
    return dict(out)


def score_members(session: Session, scheme: Scheme, year: int, as_of: date,
                  members: Sequence[MemberLike]) -> dict[int, MemberScore]:
    """Score and grade many members: two grouped queries (per ID_CHUNK members), never one per member.

    Raises MissingTypeHistory if a member has no type record.
    """
    members = list(members)
    if not members:
        return {}
    ids = [m.id for m in members]
    ledgers = fetch_ledgers(session, ids, year, as_of)
    histories = fetch_type_histories(session, ids)
    out: dict[int, MemberScore] = {}
    for m in members:
        history = histories.get(m.id)
        if not history:
            raise MissingTypeHistory(f"member {m.id} has no type record")
        out[m.id] = score_member(scheme, year, as_of, history, ledgers[m.id], on_roll_since=m.on_roll_since,
                                 left_roll_on=m.left_roll_on, status=m.status, member_id=m.id)
    return out


def fetch_warning_months(session: Session, scheme: Scheme, member_ids: MemberIds, as_of: date,
                         lookback_months: int = 12) -> dict[int, WarningMonths]:
    """Months with live entries in the ``lookback_months`` months up to as_of (across a year end),
    in one grouped query: absence-role, dues_arrears-role, and any entry."""
    first = month_index(as_of.year, as_of.month) - lookback_months + 1
    start = date(first // 12, first % 12 + 1, 1)
    absence = scheme.codes_with(role="absence")
    arrears = scheme.codes_with(role="dues_arrears")
    y = year_of(PointEntry.earned_on)
    m = month_of(PointEntry.earned_on)
    out: dict[int, WarningMonths] = {} if isinstance(member_ids, Select) else {
        int(i): WarningMonths() for i in member_ids}
    for id_filter in _id_filters(PointEntry.member_id, member_ids):
        stmt = (select(PointEntry.member_id, PointEntry.indicator_code, y, m)
                .where(id_filter, PointEntry.earned_on >= start, PointEntry.earned_on < as_of + timedelta(days=1),
                       live_entry_clause())
                .group_by(PointEntry.member_id, PointEntry.indicator_code, y, m))
        current = wm = None
        for member_id, code, yy, mm in session.execute(stmt):
            if member_id != current:  # rows come member by member (not required, only faster)
                wm = out.get(member_id)
                if wm is None:
                    wm = out[member_id] = WarningMonths()
                current = member_id
            ym = (yy if type(yy) is int else int(yy), mm if type(mm) is int else int(mm))
            wm.active.add(ym)
            if code in absence:
                wm.absence.add(ym)
            if code in arrears:
                wm.arrears.add(ym)
    return out


def member_warnings(session: Session, scheme: Scheme, as_of: date,
                    members: Sequence[MemberLike]) -> dict[int, list[Reason]]:
    """Early warnings for many members in one grouped query (see early_warnings)."""
    members = list(members)
    months = fetch_warning_months(session, scheme, [m.id for m in members], as_of)
    n = scheme.thresholds.warning_streak_months
    return {
        m.id: early_warnings(as_of=as_of, streak_months=n, absence_months=months[m.id].absence,
                             arrears_months=months[m.id].arrears, active_months=months[m.id].active,
                             on_roll_since=m.on_roll_since)
        for m in members
    }
