"""The demo's ledger: every member's entries of the past year and this one, checked against the scoring rules
while planned (qualified members stay qualified, advanced ones reach it), then written in bulk."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import insert

from ..db import db
from ..demo_mode import DEMO_STREET
from ..models import PointEntry
from ..scoring import Entry, MemberLedger, suggest_grade, year_score, year_sums
from .corrections import write_corrections, write_self_records
from .days import each_month, last_day
from .meetings import meeting_item
from .plan import CONTACT_NOTES, KEY_TASKS, PAIRING_NOTES, SUGGESTION_NOTES
from .records import MemberRecord, duty_note

if TYPE_CHECKING:
    from .builder import _Builder


def plan_entries(b: _Builder) -> None:
    """Every member's entries of the two years: meeting by meeting, then the periodic ones, then the specials."""
    for br in b.branches:
        for mt in sorted(br.meetings, key=lambda x: x.held_on):
            for m in br.members:
                if m.on_roll(mt.held_on):
                    meeting_item(b, m, mt)
    for m in b.members:
        periodic_items(b, m)
    for m in b.members:
        special_items(b, m)


def periodic_items(b: _Builder, m: MemberRecord) -> None:
    """What a member earns each quarter and month while on the roll, key tasks and commendations."""
    r = b.rng
    end = min(b.today, m.left_roll_on - timedelta(days=1)) if m.left_roll_on else b.today
    start = max(b.start, m.on_roll_since)
    if start > end:
        return
    # Quarterly: dues (J3), booklet (J5), identity and pledge (J6), reports (J7), pairing (Z6).
    for y, mo in each_month(start, end):
        if mo % 3 != 1 and not (y, mo) == (start.year, start.month):
            continue
        q = (mo - 1) // 3 + 1
        dues(b, m, y, q, start, end)
        t_mid = m.type_on(date(y, q * 3 - 1, 15))
        weak = m.special in ("low", "lost")
        dil = 0 if weak else m.diligence
        p5 = 0.95 * dil
        p6 = 0.9 * dil
        p7 = 0.1 if weak else 0.92 if t_mid in ("C", "D") else 0.8 * dil
        for code, p, month_in_q, note in (("J5", p5, 3, "季度对账核查积分手册和学习笔记"),
                                          ("J6", p6, 2, "佩戴党员徽章，践行年度承诺"),
                                          ("J7", p7, r.choice((1, 2, 3)), "向支部汇报思想和工作情况")):
            d = date(y, (q - 1) * 3 + month_in_q, r.randint(10, 28))
            if start <= d <= end and r.random() < p:
                b.add(m, code, d, note=note)
        if m.pairing:
            d = date(y, (q - 1) * 3 + r.randint(1, 3), r.randint(1, 28))
            if start <= d <= end and r.random() < 0.85:
                b.add(m, "Z6", d, note=r.choice(PAIRING_NOTES))
        if m.tier == "advanced" and r.random() < 0.15:
            d = date(y, (q - 1) * 3 + r.randint(1, 3), r.randint(1, 28))
            if start <= d <= end:
                b.add(m, "Z5", d, note=r.choice(SUGGESTION_NOTES))
    # Monthly: the branch confirms a past month's duty at the member's posts early the next month (one Z1
    # on the month's last day, as service.duty writes it); documented visits to contact households (Z2).
    for y, mo in each_month(start, end):
        first, last = date(y, mo, 1), last_day(y, mo)
        t = m.type_on(first)
        serving = m.serving(first, last)
        if serving and last < end and m.special not in ("low", "lost") and not m.leave_on(first + timedelta(14)):
            if r.random() < (0.6 if m.tier == "advanced" else 0.3) * (0.5 if t == "D" else 1):
                b.add(m, "Z1", last, note=duty_note(serving), source="post", delays=(1, 2, 3, 4, 6, 8))
        if m.households and m.special not in ("low", "lost"):
            p = 0.25 if m.tier == "advanced" else 0.1
            d = date(y, mo, r.randint(1, 28))
            if start <= d <= end and r.random() < p and any(h.in_force(d, d) for h in m.households):
                b.add(m, "Z2", d, note=r.choice(CONTACT_NOTES), source="post")
    # Key tasks (Z4) and commendations (Z7).
    for back, mo, day, task in KEY_TASKS:
        d = date(b.year - back, mo, day)
        if not (start <= d <= end) or m.type_on(d) == "D" or m.leave_on(d) or m.special in ("low", "lost"):
            continue
        if r.random() < (0.3 if m.tier == "advanced" else 0.05):
            key = r.random() < 0.2
            b.add(m, "Z4", d, 5 if key else 3, note=task + ("（担任负责人）" if key else ""))
    if m.tier == "advanced" and r.random() < 0.3:
        d = date(b.prev, r.randint(2, 12), r.randint(1, 28))
        if start <= d <= end:
            pts, note = r.choice(((1, "收到居民感谢信"), (1, "收到居民赠送锦旗"), (3, "获评街道优秀志愿者")))
            b.add(m, "Z7", d, pts, note=note)


def dues(b: _Builder, m: MemberRecord, y: int, q: int, start: date, end: date) -> None:
    """A quarter's dues (J3), or months unpaid after reminders (K2): the arrears streaks, now and then anyone."""
    r = b.rng
    months = [(y, (q - 1) * 3 + i) for i in (1, 2, 3)]
    unpaid = False
    if m.special == "k2_streak" and y == b.prev and q in (2, 3):
        unpaid = True
    elif m.special == "low" and ((y == b.prev and q in (3, 4)) or (y == b.year and q == 1)):
        unpaid = True
    elif m.special == "lost" and ((y == b.prev and q in (3, 4)) or (y == b.year and q in (1, 2))):
        unpaid = True
    elif r.random() < 0.04 and m.special not in ("veto", "k4"):
        unpaid = True
    if not unpaid:
        d = date(y, (q - 1) * 3 + 1, r.randint(5, 25))
        if d < start:
            d = start
        if d > end:
            return
        t = m.type_on(d)
        note = ""
        if t in ("C", "D"):
            note = r.choice(("", "线上缴纳", "委托家属代缴" if t == "D" else "委托支部代缴"))
        b.add(m, "J3", d, note=note)
        b.dues_paid.append((m, [mo for yy, mo in months], y, d, note))  # the register's lines (demo/dues.py)
        return
    streak = m.special in ("k2_streak", "lost", "low")
    for yy, mm in months:
        d = date(yy, mm, 25)
        if not (start <= d <= end):
            continue
        if m.special == "low" and mm not in (8, 9, 11) and yy == b.prev:
            continue
        if streak or (mm == months[0][1] and r.random() < 0.5):
            b.add(m, "K2", d, note=f"{mm}月党费经催缴仍未交纳")


def special_items(b: _Builder, m: MemberRecord) -> None:
    """The heavier deduction (K4), the veto, the unkept pledge (K3) of the special members; a rare K3 for others."""
    r = b.rng
    p = b.prev
    if m.special == "k4":
        b.add(m, "K4", date(p, 8, 6), -5, note="参与赌博，经查属实")
    elif m.special == "veto":
        b.add(m, "V", date(p, 10, 15),
              note=f"受党内严重警告处分（{DEMO_STREET}纪工委〔{p}〕3号处分决定），一票否决")
    elif m.special == "low":
        b.add(m, "K3", date(p, 6, 12), -3, note="未履行年度承诺的帮扶事项")
    elif not m.special and m.tier == "qualified" and r.random() < 0.012:
        b.add(m, "K3", date(p, r.randint(3, 11), r.randint(1, 28)), -3, note="未完成支部交办的宣传任务")


# -- checking the plan against the rules ----------------------------------------------------------

def planned_grade(b: _Builder, m: MemberRecord, year: int) -> tuple[Decimal, str | None]:
    """The score and suggested grade the planned entries give (qscore.scoring, as the app computes them)."""
    scheme = b.schemes[year]
    as_of = date(year, 12, 31) if year < b.year else b.today
    entries = [Entry(e["indicator_code"], e["category"], e["earned_on"], e["points"])
               for e in m.rows if e["year"] == year]
    ledger = MemberLedger.from_entries(entries, year=year, as_of=as_of)
    history = [(d, t) for d, t, _r, _w in m.types]
    ys = year_score(scheme, year, as_of, history, ledger)
    g = suggest_grade(scheme, year, as_of, ys.score, ledger, on_roll_since=m.on_roll_since,
                      left_roll_on=m.left_roll_on, status=m.status)
    return ys.score, g.code


def balance(b: _Builder) -> None:
    """Qualified members stay below advanced (the past year, and this year's projection as of today);
    advanced members reach it (the past year)."""
    for y in (b.prev, b.year):
        balance_year(b, y)


def balance_year(b: _Builder, y: int) -> None:
    """Takes contributions (Z) from a qualified member who would be advanced; adds some to an advanced one."""
    order = ("Z1", "Z2", "Z5", "Z6", "Z7", "Z4", "Z3")
    for m in b.members:
        if m.special in ("left", "recent", "k4", "low", "lost", "veto", "k1_streak", "k2_streak"):
            continue
        if y == b.year and m.tier != "qualified":
            continue
        score, code = planned_grade(b, m, y)
        if m.tier == "qualified":
            guard = 0
            while (code == "advanced" or score >= 90) and guard < 60:
                guard += 1
                rows = [e for e in m.rows if e["year"] == y and e["category"] == "Z" and e["note"] != "慈善一日捐"]
                if not rows:
                    break
                # The earliest of the first kind goes: the latest months keep their duty and visits.
                m.rows.remove(min(rows, key=lambda e: (order.index(e["indicator_code"]), e["earned_on"])))
                score, code = planned_grade(b, m, y)
        elif m.tier == "advanced":
            guard = 0
            while code != "advanced" and guard < 20:
                guard += 1
                boost(b, m, y)
                score, code = planned_grade(b, m, y)


def boost(b: _Builder, m: MemberRecord, y: int) -> None:
    """One more contribution: a visit in a quarter without any, else a suggestion (Z5), else a thank-you (Z7)."""
    r = b.rng
    start = max(date(y, 1, 1), m.on_roll_since)
    quarters = {(e["earned_on"].month - 1) // 3 + 1 for e in m.rows if e["year"] == y and e["category"] == "Z"}
    for q in range(1, 5):
        d = date(y, (q - 1) * 3 + 2, r.randint(1, 28))
        if q not in quarters and d >= start:
            b.add(m, "Z2", d, note=r.choice(CONTACT_NOTES), source="post")
            return
    z5 = sum(1 for e in m.rows if e["year"] == y and e["indicator_code"] == "Z5")
    d = date(y, r.randint(max(start.month, 1), 12), r.randint(1, 28))
    if z5 < 3:
        b.add(m, "Z5", d, note=r.choice(SUGGESTION_NOTES))
    else:
        b.add(m, "Z7", d, 1, note="收到居民感谢信")


def flexible_conflict(b: _Builder) -> None:
    """One home K1 in a month the member attended another branch's organisational life (the
    roster flags it and offers its correction)."""
    for m in b.members:
        if m.flexible_host is None:
            continue
        elsewhere = sorted((e for e in m.rows if e["host_branch_id"] is not None and e["year"] == b.year),
                           key=lambda e: e["earned_on"], reverse=True)
        for e in elsewhere:
            home = m.branch.org_life.get((e["earned_on"].year, e["earned_on"].month))
            if home is None or any(x is not e and x["indicator_code"] in ("J1", "K1")
                                   and (x["earned_on"].year, x["earned_on"].month) == (home.held_on.year,
                                                                                       home.held_on.month)
                                   for x in m.rows):
                continue
            b.add(m, "K1", home.held_on, note=f"无故缺席{home.held_on.month}月主题党日")
            return


# -- writing it ------------------------------------------------------------------------------------

def write_ledger(b: _Builder) -> int:
    """The planned entries in one executemany (in the order they were recorded), then what came later: the
    corrections and re-entries, and the entries of confirmed self-records. How many entries were written."""
    rows = sorted((e for m in b.members for e in m.rows), key=lambda e: (e["recorded_at"], e["member_id"]))
    db.session.execute(insert(PointEntry.__table__), rows)  # one executemany
    corrected, later = write_corrections(b)
    later += write_self_records(b)
    later.sort(key=lambda e: e["recorded_at"])
    db.session.execute(insert(PointEntry.__table__), later)
    year_sums.refresh(db.session, {(e["member_id"], e["earned_on"].year) for e in rows + later})
    return len(rows) + corrected + len(later)
