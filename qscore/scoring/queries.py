"""The SQL layer: a constant number of queries for any number of members."""
from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext
from datetime import date
from typing import Collection, Mapping, Protocol, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from ..collector import collector_paused
from ..models.members import MemberType
from ..scheme import Scheme
from .member import MemberScore, score_member
from .ledger_sql import MemberIds, _id_filters
from .periods import month_index
from .reasons import Reason
from .types import MissingTypeHistory
from .warnings import RegisterMonths, WarningMonths, early_warnings
from .sums import MemberLedger
from .year_sums import as_ledger, fetch_ledger_sources


class MemberLike(Protocol):
    id: int
    on_roll_since: date
    left_roll_on: date | None
    status: str


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


BATCH = 500  # scoring this many members or more pauses the cycle collector (qscore/collector.py)
Sources = Mapping[int, "str | MemberLedger"]  # fetch_ledger_sources' answer: member id -> stored text or ledger


def score_members(session: Session, scheme: Scheme, year: int, as_of: date,
                  members: Sequence[MemberLike], sources: Sources | None = None) -> dict[int, MemberScore]:
    """Score and grade many members: two queries (per ID_CHUNK members), never one per member; one if the
    caller has read the members' ledger sources of ``year`` as of ``as_of`` already.

    Raises MissingTypeHistory if a member has no type record.
    """
    members = list(members)
    if not members:
        return {}
    ids = [m.id for m in members]
    ledgers = fetch_ledger_sources(session, ids, year, as_of) if sources is None else sources
    histories = fetch_type_histories(session, ids)
    out: dict[int, MemberScore] = {}
    with collector_paused() if len(members) >= BATCH else nullcontext():
        for m in members:
            history = histories.get(m.id)
            if not history:
                raise MissingTypeHistory(f"member {m.id} has no type record")
            out[m.id] = score_member(scheme, year, as_of, history, as_ledger(ledgers[m.id]),
                                     on_roll_since=m.on_roll_since, left_roll_on=m.left_roll_on, status=m.status,
                                     member_id=m.id)
    return out


def fetch_warning_months(session: Session, scheme: Scheme, member_ids: MemberIds, as_of: date,
                         lookback_months: int = 12, known: Mapping[int, Sources] | None = None,
                         ) -> dict[int, WarningMonths]:
    """Months with live entries in the ``lookback_months`` months up to as_of (across a year end), read from
    the stored year sums of each year the window touches: absence-role, dues_arrears-role, and any entry.
    ``known`` holds years already read as of ``as_of`` (by year)."""
    known = known or {}
    first = month_index(as_of.year, as_of.month) - lookback_months + 1
    start = (first // 12, first % 12 + 1)
    stop = (as_of.year, as_of.month)
    absence = scheme.codes_with(role="absence")
    arrears = scheme.codes_with(role="dues_arrears")
    listed = not isinstance(member_ids, Select)
    out: dict[int, WarningMonths] = {int(i): WarningMonths() for i in member_ids} if listed else {}
    for year in range(start[0], as_of.year + 1):
        sources = known[year] if year in known else fetch_ledger_sources(session, member_ids, year, as_of)
        for member_id, source in sources.items():
            wm = out.get(member_id)
            if wm is None and listed:
                continue  # a known year's rows may hold more members than were asked for
            ledger = as_ledger(source)
            if not ledger.counts:
                continue
            if wm is None:
                wm = out[member_id] = WarningMonths()
            for (code, _category, month), n in ledger.counts.items():
                ym = (year, month)
                if n and start <= ym <= stop:
                    wm.active.add(ym)
                    if code in absence:
                        wm.absence.add(ym)
                    if code in arrears:
                        wm.arrears.add(ym)
    return out


def member_warnings(session: Session, scheme: Scheme, as_of: date, members: Sequence[MemberLike],
                    known: Mapping[int, Sources] | None = None,
                    owed: Mapping[int, RegisterMonths] | None = None) -> dict[int, list[Reason]]:
    """Early warnings for many members in one grouped query (see early_warnings). ``owed``: what the dues
    register says of the members it names (dues.owed_run): from the month its first amount took effect, its
    months owed stand for the ledger's arrears entries (the register is the record; the entries follow from it
    a month later); before that month, the entries still tell."""
    members = list(members)
    months = fetch_warning_months(session, scheme, [m.id for m in members], as_of, known=known)
    n = scheme.thresholds.warning_streak_months
    owed = owed or {}
    return {
        m.id: early_warnings(as_of=as_of, streak_months=n, absence_months=months[m.id].absence,
                             arrears_months=(owed[m.id].arrears(months[m.id].arrears) if m.id in owed
                                             else months[m.id].arrears),
                             active_months=months[m.id].active, on_roll_since=m.on_roll_since)
        for m in members
    }


def score_and_warn(session: Session, scheme: Scheme, year: int, as_of: date, members: Sequence[MemberLike],
                   warn: Collection[int] | None = None,
                   owed: Mapping[int, RegisterMonths] | None = None,
                   ) -> tuple[dict[int, MemberScore], dict[int, list[Reason]]]:
    """score_members and member_warnings as of one day, the members' stored rows of ``year`` read and decoded
    once for both (the roster, the home pages and the month's pages show a member's score beside its warnings).
    ``warn``: the members whose warnings are wanted, when not all (the others are only scored)."""
    members = list(members)
    if not members:
        return {}, {}
    ledgers = {i: as_ledger(s) for i, s in fetch_ledger_sources(session, [m.id for m in members], year, as_of).items()}
    warned = members if warn is None else [m for m in members if m.id in warn]
    return (score_members(session, scheme, year, as_of, members, ledgers),
            member_warnings(session, scheme, as_of, warned, known={year: ledgers}, owed=owed) if warned else {})
