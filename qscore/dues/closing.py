"""Closing a month: the points that follow from the register (J3, K2), written once, and what the register
says against a J3 or K2 typed by hand."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from flask_babel import force_locale, gettext as _
from sqlalchemy import func, select, tuple_

from .. import audit, ledger
from ..branch_lock import lock_branches
from ..db import db
from ..models import Branch, DuesClose, DuesPoint, Member, PointEntry, User
from ..scheme_versions import scheme_for_year
from ..scoring import live_entry_clause
from .register import (J3, K2, OWED, DuesError, _on_roll_on, branch_members, label, live_lines, month_dues, month_last, next_month, previous_month, rates_of)

# -- closing a month: the points ---------------------------------------------------------------------------

@dataclass
class Closed:
    close: DuesClose
    first_close: bool
    j3: list[int] = field(default_factory=list)      # entry ids written now
    k2: list[int] = field(default_factory=list)
    own: list[Member] = field(default_factory=list)  # the closing secretary's own lines: left to another
    refused: list[tuple[Member, str, str]] = field(default_factory=list)  # (member, code, why) not written
    had: int = 0                                     # entries the register had produced before
    by_hand: list[tuple[Member, str]] = field(default_factory=list)  # the ledger had one already: none written
    reminded: bool = False                           # the previous month was closed in time (K2 can follow)
    reminded_late: bool = False                      # ... closed, but after this month had ended
    contradicted: list[Member] = field(default_factory=list)  # no J3: a month of the quarter has a K2


def _role_codes(year: int, role: str) -> list[str]:
    return [i.code for i in scheme_for_year(year).indicators_with(role=role)]


def _codes(year: int) -> tuple[str | None, str | None]:
    """The year's scheme's indicators for dues paid and dues in arrears (by role), if it has them."""
    scheme = scheme_for_year(year)
    paid = next((i.code for i in scheme.indicators_with(role="dues_paid") if not i.retired), None)
    arrears = next((i.code for i in scheme.indicators_with(role="dues_arrears") if not i.retired), None)
    return paid, arrears


def close_month(branch: Branch, year: int, month: int, *, by: User, today: date) -> Closed:
    """Close (or close again) a branch's month and write the points that follow (flushed, not committed).

    The previous month's close is its reminder only when it was made by the end of this month: a month closed
    late (catching up) reminded nobody in time, and its arrears are not deducted. A J3 is not written for a
    quarter with a K2 of one of its months (the register's, or one typed by hand). Notes are in Chinese, the
    street's language, whoever closes.
    """
    last = month_last(year, month)
    if last > today:
        raise DuesError("month_not_ended", "month", month=label(year, month))
    lock_branches([branch.id])
    close = db.session.scalar(select(DuesClose).where(DuesClose.branch_id == branch.id, DuesClose.year == year,
                                                      DuesClose.month == month))
    first_close = close is None
    if close is None:
        close = DuesClose(branch_id=branch.id, year=year, month=month, closed_by_id=by.id, closed_on=today)
        db.session.add(close)
        db.session.flush()
    out = Closed(close, first_close)
    earned_on = min(last, today)
    paid_code, arrears_code = _codes(earned_on.year)
    wanted: list[tuple[Member, str, int, int, list[int], str]] = []  # member, code, year, period, lines, note

    members = [m for m in branch_members(branch, year) if _on_roll_on(m, earned_on)]
    # The register read as rows of what a month's state needs, of the months the close looks at only.
    rates = rates_of((m.id for m in members), facts_only=True)
    q_months = range(month - 2, month + 1) if month % 3 == 0 else range(0)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        if q_months and paid_code:
            q = month // 3
            lines = live_lines([m.id for m in members], year, facts_only=True, months=q_months)
            for m in members:
                cells = [month_dues(m, rates[m.id], lines[m.id][mo], year, mo, today) for mo in q_months]
                counted = [c for c in cells if c.status not in ("none", "nothing_due")]
                if counted and all(c.on_time for c in counted):
                    ids = [x.id for c in counted for x in c.lines]
                    wanted.append((m, paid_code, year, q, ids, _(
                        "Dues register: %(year)d Q%(q)d paid on time and in full (register lines %(lines)s)",
                        year=year, q=q, lines=", ".join(map(str, ids)))))
        py, pm = previous_month(year, month)
        reminder = db.session.scalar(select(DuesClose.closed_on).where(
            DuesClose.branch_id == branch.id, DuesClose.year == py, DuesClose.month == pm))
        out.reminded = reminder is not None and reminder <= last
        out.reminded_late = reminder is not None and not out.reminded
        if out.reminded and arrears_code:
            prev_lines = live_lines([m.id for m in members], py, facts_only=True, months=[pm])  # rates: every year's
            for m in members:
                c = month_dues(m, rates[m.id], prev_lines[m.id][pm], py, pm, today)
                if c.status in OWED:
                    ids = [x.id for x in c.lines]
                    wanted.append((m, arrears_code, py, pm, ids,
                                   _("Dues register: %(month)s still owes %(owed)s yuan after the reminder",
                                     month=label(py, pm), owed=c.owed)
                                   + (_(" (part paid: register lines %(lines)s)", lines=", ".join(map(str, ids)))
                                      if ids else "")))
    ids_wanted = [w[0].id for w in wanted] or [0]
    points = list(db.session.scalars(select(DuesPoint).where(DuesPoint.member_id.in_(ids_wanted))))
    have = {(p.member_id, p.indicator_code, p.year, p.period) for p in points}
    # An entry of the same indicator typed by hand stands for the register's, each for one period only: a J3
    # earned in the quarter or the month after it; a K2 earned in the month owed or the month after it.
    after = month_last(*next_month(year, month))
    first = min([date(py, pm, 1)] + ([date(year, q_months[0], 1)] if q_months else []))
    by_hand = _live_in(ids_wanted, [c for c in (paid_code, arrears_code) if c], first, after)
    k2_months = {(p.member_id, p.year, p.period) for p in points if p.indicator_code == arrears_code}
    for m, code, y, period, _ids, _note in sorted(wanted, key=lambda w: (w[1] != arrears_code, w[2], w[3])):
        if (m.id, code, y, period) in have:
            continue
        days = by_hand.get((m.id, code), [])
        first_month = 3 * period - 2 if code == paid_code else period
        span = (date(y, first_month, 1), month_last(*next_month(y, 3 * period if code == paid_code else period)))
        hit = next((d for d in sorted(days) if span[0] <= d <= span[1]), None)
        if hit is not None:
            days.remove(hit)  # consumed: one hand entry stands for one period
            have.add((m.id, code, y, period))
            out.by_hand.append((m, code))
            if code == arrears_code:
                k2_months.add((m.id, y, period))
    out.had = db.session.scalar(select(func.count()).select_from(DuesPoint).where(DuesPoint.close_id == close.id))
    todo = []
    for m, code, y, period, ids, note in wanted:
        if (m.id, code, y, period) in have:
            continue
        if code == paid_code and any((m.id, y, mo) in k2_months for mo in q_months):
            out.contradicted.append(m)  # a month of the quarter was deducted as owed: no J3 for it
            continue
        if by.member_id == m.id:
            out.own.append(m)
            continue
        todo.append((m, code, y, period, ids, ledger.NewEntry(
            member=m, indicator_code=code, value=None, earned_on=earned_on, note=note[:ledger.NOTE_MAX],
            source="dues", idempotency_key=f"dues:{code}:{m.id}:{y}:{period}")))
    checked = ledger.check_entries([t[5] for t in todo], today=today)
    ok = []
    for t, c in zip(todo, checked):
        if isinstance(c, Exception):
            out.refused.append((t[0], t[1], ledger.error_field_and_text(c, _)[1]))
        else:
            ok.append((t, c))
    ids = ledger.write_entries([c for _t, c in ok], user=by)
    for ((m, code, y, period, line_ids, _n), _c), entry_id in zip(ok, ids):
        db.session.add(DuesPoint(entry_id=entry_id, member_id=m.id, indicator_code=code, year=y, period=period,
                                 close_id=close.id, lines=",".join(map(str, line_ids))))
        (out.j3 if code == paid_code else out.k2).append(entry_id)
    db.session.flush()
    audit.record("dues_month_closed", close, user=by,
                 summary=f"{branch.name} {label(year, month)}: {len(out.j3)} {paid_code or J3}, "
                         f"{len(out.k2)} {arrears_code or K2} written" + ("" if first_close else " (closed again)"))
    return out


def _live_in(member_ids: list[int], codes: list[str], first: date, last: date) -> dict[tuple[int, str], list[date]]:
    """Days of the members' live entries of ``codes`` earned between ``first`` and ``last``, other than the
    register's own."""
    out: dict[tuple[int, str], list[date]] = defaultdict(list)
    if member_ids and codes:
        for mid, code, on in db.session.execute(
                select(PointEntry.member_id, PointEntry.indicator_code, PointEntry.earned_on)
                .outerjoin(DuesPoint, DuesPoint.entry_id == PointEntry.id)
                .where(PointEntry.member_id.in_(member_ids), PointEntry.indicator_code.in_(codes),
                       PointEntry.earned_on >= first, PointEntry.earned_on <= last, live_entry_clause(),
                       DuesPoint.entry_id.is_(None))):
            out[(mid, code)].append(on)
    return out


def _disagreement(member: Member, role: str, earned_on: date, today: date) -> tuple[str, list[str]] | None:
    """What the register says against a J3 or K2 typed by hand: ("unpaid", months of the quarter not paid on
    time and in full) for a J3, ("paid", the months settled) for a K2 whose month and the one before are both
    settled. None when it agrees, or when the member's dues are not kept in the register (no amount set)."""
    y, m = earned_on.year, earned_on.month
    code_periods = ([(y, (m - 1) // 3 + 1)] if role == "dues_paid" else [previous_month(y, m), (y, m)])
    written = db.session.scalars(select(DuesPoint).join(PointEntry, PointEntry.id == DuesPoint.entry_id).where(
        DuesPoint.member_id == member.id, PointEntry.indicator_code.in_(_role_codes(y, role)),
        tuple_(DuesPoint.year, DuesPoint.period).in_(code_periods), live_entry_clause())).first()
    if written is not None:  # the register wrote this period's entry already
        return "written", [f"{written.year} Q{written.period}" if role == "dues_paid"
                           else label(written.year, written.period)]
    rates = rates_of([member.id])[member.id]
    if not rates:
        return None
    if role == "dues_paid":
        months = [(y, mo) for mo in range(3 * ((m - 1) // 3) + 1, 3 * ((m - 1) // 3) + 4)]
    else:
        months = [previous_month(y, m), (y, m)]
    lines = {yy: live_lines([member.id], yy)[member.id] for yy in {yy for yy, _mo in months}}
    cells = [(yy, mo, month_dues(member, rates, lines[yy][mo], yy, mo, today)) for yy, mo in months]
    if role == "dues_paid":
        bad = [label(yy, mo) for yy, mo, c in cells if c.status != "none" and not c.on_time]
        return ("unpaid", bad) if bad else None
    counted = [(yy, mo, c) for yy, mo, c in cells if c.status != "none"]
    if counted and all(c.settled for _y, _m, c in counted):
        return "paid", [label(yy, mo) for yy, mo, _c in counted]
    return None


def register_doubts(member: Member, indicator_code: str, earned_on: date, today: date) -> list[ledger.Doubt]:
    """What to ask before a J3 or K2 typed by hand, from the register (ledger.likely_mistakes asks the rest):
    "register_unpaid" — the quarter is not shown paid on time; "register_paid" — the months a K2 is about are
    shown paid; "register_written" — the register wrote this period's entry already. None for other items,
    and none for a member whose dues the register does not keep (no amount set)."""
    indicator = scheme_for_year(earned_on.year).indicators.get(indicator_code)
    if indicator is None or indicator.role not in ("dues_paid", "dues_arrears"):
        return []
    said = _disagreement(member, indicator.role, earned_on, today)
    return [] if said is None else [ledger.Doubt(f"register_{said[0]}", None, None, tuple(said[1]))]
