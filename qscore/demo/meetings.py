"""The demo's meetings: each branch's calendar of organisational life, study, review, volunteer and charity
days, and each member's entry for a meeting they attended, followed from home or work away, or missed."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from ..db import db
from ..models import Meeting
from .days import each_month, working_day
from .plan import CHARITY_DAY, ORG_LIFE_TOPICS, STUDY_TOPICS, VOLUNTEER_EVENTS
from .records import BranchRecord, MeetingRecord, MemberRecord

if TYPE_CHECKING:
    from .builder import _Builder


def plan_meetings(b: _Builder) -> None:
    """Each month's organisational life (J1), the quarter's study (J2), January's review meeting (J4), the
    volunteer days (Z3) and the charity day (Z7), on working days up to today."""
    r = b.rng
    for br in b.branches:
        base = r.randint(8, 20)
        study_day = r.randint(5, 25)
        for y, mo in each_month(b.start, b.today):
            day = working_day(date(y, mo, min(28, max(1, base + r.randint(-2, 2)))))
            add_meeting(b, br, day, "org_life", "J1", f"{mo}月主题党日：{ORG_LIFE_TOPICS[mo]}")
            if mo in (2, 5, 8, 11):
                add_meeting(b, br, working_day(date(y, mo, study_day)), "study", "J2", STUDY_TOPICS[(mo - 2) // 3])
            if mo == 1:
                add_meeting(b, br, working_day(date(y, 1, min(28, base + 5))), "other", "J4",
                            f"{y - 1}年度组织生活会暨民主评议党员")
            for vm, vd, topic, hours in VOLUNTEER_EVENTS:
                if vm == mo:
                    add_meeting(b, br, working_day(date(y, mo, vd)), "volunteer", "Z3", topic, hours)
            if CHARITY_DAY[0] == mo:
                add_meeting(b, br, working_day(date(y, mo, CHARITY_DAY[1])), "charity", "Z7", CHARITY_DAY[2])


def add_meeting(b: _Builder, br: BranchRecord, d: date, kind: str, code: str, topic: str,
                hours: Decimal | None = None) -> None:
    if d > b.today:
        return
    mt = MeetingRecord(br, d, kind, code, topic, hours)
    br.meetings.append(mt)
    if kind == "org_life":
        br.org_life[(d.year, d.month)] = mt


def write_meetings(b: _Builder) -> None:
    """The meetings in each branch's order of days, with their expected count (the roll less those on leave)."""
    meetings = [mt for br in b.branches for mt in sorted(br.meetings, key=lambda x: x.held_on)]
    for mt in meetings:
        mt.orm = Meeting(branch_id=mt.branch.id, held_on=mt.held_on, kind=mt.kind, indicator_code=mt.code,
                         topic=mt.topic, hours=mt.hours,
                         expected_count=sum(1 for m in mt.branch.members
                                            if m.on_roll(mt.held_on) and not m.leave_on(mt.held_on)),
                         recorded_by_id=mt.branch.user_id, recorded_at=b.stamp(b.later(mt.held_on, (0, 0, 1)), 17))
    db.session.add_all([mt.orm for mt in meetings])
    db.session.flush()


def attend_p(m: MemberRecord, d: date) -> float:
    """How likely the member attends a meeting in person that day."""
    t = m.type_on(d)
    if m.special == "low":
        return 0.35
    if m.special == "lost":
        return 0.2
    if t == "D":
        return 0.5
    base = {"A": 0.96, "B": 0.95, "C": 0.9}[t]
    return min(0.99, base + (0.02 if m.tier == "advanced" else 0))


def meeting_item(b: _Builder, m: MemberRecord, mt: MeetingRecord) -> None:
    """The member's entry for one meeting of their branch: attended (or at a host branch, at home, at work
    away), absent without excuse (K1), or nothing."""
    r = b.rng
    d = mt.held_on
    t = m.type_on(d)
    leave = m.leave_on(d)
    if mt.kind == "org_life":
        if m.special == "k1_streak" and k1_month(b, d):
            b.add(m, "K1", d, note=f"无故缺席{d.month}月主题党日")
            return
        if leave == "health_exemption":
            if r.random() < 0.6:
                b.add(m, "J1", b.home_day(m, d, (1, 2, 3, 5)), note="送学上门，在家学习")
            return
        if leave == "working_away":
            if r.random() < 0.55:
                b.add(m, "J1", d, note="在务工地党组织参加主题党日，有证明材料")
            return
        if leave:
            return
        if m.flexible_host is not None and r.random() < 0.35:
            host = m.flexible_host.org_life.get((d.year, d.month))
            if host is not None and m.on_roll(host.held_on):
                b.add(m, "J1", host.held_on, meeting=host, host=host.branch)
                return
        if r.random() < attend_p(m, d):
            b.add(m, "J1", d, meeting=mt)
        elif t == "D":
            if r.random() < 0.6:
                b.add(m, "J1", b.home_day(m, d, (1, 2, 3, 5)), note="送学上门，在家学习")
        elif r.random() < (0.9 if m.special in ("low", "lost") else 0.35):
            b.add(m, "K1", d, note=f"无故缺席{d.month}月主题党日")
    elif mt.kind in ("study", "other"):
        code = mt.code
        home_note = "书面自评，由联系人代交" if code == "J4" else "送学上门，在家学习"
        if leave == "health_exemption":
            if r.random() < 0.7:
                b.add(m, code, b.home_day(m, d, (1, 2, 4)), note=home_note)
            return
        if leave == "working_away":
            if r.random() < 0.6:
                b.add(m, code, b.home_day(m, d, (0, 1, 2)), note="线上参加学习，有截图证明")
            return
        if leave:
            return
        if r.random() < attend_p(m, d) - 0.03:
            b.add(m, code, d, meeting=mt)
        elif t == "D" and r.random() < 0.7:
            b.add(m, code, b.home_day(m, d, (1, 2, 4)), note=home_note)
    elif mt.kind == "volunteer":
        if leave or t == "D" or m.special in ("low", "lost"):
            return
        if r.random() < (0.6 if m.tier == "advanced" else 0.35 * m.diligence):
            hours = mt.hours if r.random() < 0.8 else max(Decimal("1"), mt.hours - 1)
            b.add(m, "Z3", d, hours, note=mt.topic, meeting=mt)
    elif mt.kind == "charity":
        if m.special != "lost" and r.random() < (0.8 if t == "D" else 0.9):
            b.add(m, "Z7", d, 1, note="慈善一日捐", meeting=mt)


def k1_month(b: _Builder, d: date) -> bool:
    """The months of the unexcused-absence streak (last spring and summer; the three months before today's)."""
    if d.year == b.prev:
        return 3 <= d.month <= 8
    return b.today.month - 3 <= d.month < b.today.month
