"""The demo street's dues register: a rate for every member and the lines its ledger's J3 entries imply; and
the meeting open for sign-in at the door.

A quarter the ledger gives J3 was paid at once, in advance, on the day of that J3 (cash, online or by proxy as
its note says); a quarter of arrears (K2) has no lines, so the grid shows those members unpaid. Nothing here
draws from the demo's random generator: the rest of the street stays as it was.
"""
from __future__ import annotations

import calendar
import secrets
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import insert

from ..db import db
from ..models import Checkin, CheckinMeeting, DuesLine, DuesRate
from .builder import _Builder

RATES = (Decimal("2.00"), Decimal("5.00"), Decimal("8.50"), Decimal("12.00"), Decimal("20.00"))
LOW_INCOME = Decimal("0.20")  # 生活困难的党员：每月 0.2 元


def _method(note: str) -> str:
    return "online" if "线上" in note else "proxy" if "代缴" in note else "cash"


def _rate(m) -> Decimal:
    return LOW_INCOME if m.type_on(m.on_roll_since) == "D" else RATES[m.id % len(RATES)]


def write_dues(b: _Builder) -> int:
    """The rates and lines, in two bulk inserts; how many lines."""
    rates = [{"member_id": m.id, "monthly": _rate(m), "effective_from": max(m.on_roll_since, date(b.prev, 1, 1))
              .replace(day=1), "note": "", "set_by_id": b.recorder(m), "set_at": datetime(b.prev, 1, 5, 2, 0)}
             for m in b.members]
    lines = []
    for m, months, year, paid_on, note in b.dues_paid:
        rate = _rate(m)
        for month in months:
            last = date(year, month, calendar.monthrange(year, month)[1])
            if m.on_roll_since > last or (m.left_roll_on is not None and m.left_roll_on <= date(year, month, 1)):
                continue
            lines.append({"member_id": m.id, "branch_id": m.branch.id, "year": year, "month": month, "kind": "payment",
                          "amount": rate, "paid_on": paid_on, "method": _method(note), "note": "",
                          "recorded_by_id": b.recorder(m),
                          "recorded_at": datetime(paid_on.year, paid_on.month, paid_on.day, 3, 0)})
    db.session.execute(insert(DuesRate.__table__), rates)
    if lines:
        db.session.execute(insert(DuesLine.__table__), lines)
    return len(lines)


def write_open_meeting(b: _Builder) -> None:
    """One meeting of the first branch open for sign-in today, with the first few of its members signed in
    (two on their phones with the code, one on the tablet): what the office screen shows when one tries it."""
    branch = b.branches[0]
    members = [m for m in b.members if m.branch is branch and m.left_roll_on is None and m.on_roll_since <= b.today]
    by = branch.user_id
    opens, closes = datetime.combine(b.today, time(7, 30)), datetime.combine(b.today, time(23, 30))
    cm = CheckinMeeting(branch_id=branch.id, held_on=b.today, kind="org_life", indicator_code="J1",
                        topic=f"{b.today.month}月主题党日：重温入党誓词", opens_at=opens, closes_at=closes,
                        token=secrets.token_urlsafe(16), tablet_token=secrets.token_urlsafe(16),
                        code_secret=secrets.token_hex(16), opened_by_id=by)
    # Timestamps are stored in UTC: opened a few minutes before the sign-in opens on the street's clock.
    utc = opens.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).astimezone(ZoneInfo("UTC"))
    cm.opened_at = utc.replace(tzinfo=None) - timedelta(minutes=10)
    db.session.add(cm)
    db.session.flush()
    ways = ("code", "code", "tablet")
    db.session.execute(insert(Checkin.__table__), [
        {"checkin_meeting_id": cm.id, "member_id": m.id, "at": utc.replace(tzinfo=None) + timedelta(minutes=3 + 2 * i),
         "way": way, "by_id": None, "ip": ""}
        for i, (m, way) in enumerate(zip(members, ways))])
