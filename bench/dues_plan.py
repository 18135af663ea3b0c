"""The generated street's dues register (党费收缴) of the bench year, as a branch keeps it (qscore/dues/).

Part of the generator (generate.py binds these functions as its methods): a monthly amount (DuesRate) per
member from January of the bench year (or the first month on the roll), and payment lines month by month up
to LAST_DAY: most members pay every month, some a quarter or half a year ahead, a few late or part, some fall
into arrears (the weak ones more often), a few have their dues waived (exemption lines, approved). Every
branch closed January to DUES_CLOSED_THROUGH (August) a few days after each month ended, as qscore.dues.close_month
does: J3 per quarter paid on time and in full, K2 per month still owed after the reminder, each entry with its
DuesPoint row and the close's audit row. September and October are not closed yet: the bench's dues_close case
closes September (a quarter's end: J3 and K2 both follow). The bench year's J3 and K2 come only from these
closes; earlier years keep their entries typed by hand. Its own random stream: the rest of the data is the
same as without the register.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from qscore.models import DuesClose, DuesLine, DuesPoint, DuesRate

from . import dbio
from .scales import LAST_DAY

DUES_CLOSED_THROUGH = 8  # months of the bench year every branch has closed (the bench closes the next one)
RATES = {"A": ("8.50", "12.00", "15.00", "20.00", "25.60", "30.00", "45.00"), "B": ("2.00", "3.00", "5.00", "6.80", "10.00"),
         "C": ("5.00", "8.00", "10.00", "12.00"), "D": ("1.00", "2.00", "3.00")}
METHODS = ("cash", "cash", "cash", "online", "online", "transfer", "proxy")
CENT = Decimal("0.01")


def _month_last(y: int, mo: int) -> date:
    return date(y + (mo == 12), mo % 12 + 1, 1) - timedelta(days=1)


def _weekday(day: date) -> date:
    wd = day.weekday()
    return day - timedelta(days=1) if wd == 5 else day + timedelta(days=1) if wd == 6 else day


def _on_roll_month(m, y: int, mo: int) -> bool:
    first, last = date(y, mo, 1), _month_last(y, mo)
    return m.on_roll_since <= last and (m.left_roll_on is None or m.left_roll_on > first)


def plan_dues(self) -> None:
    """Every member's rate and lines of the year, in memory; line ids in the order they were recorded."""
    d, y = self.drng, self.dues_year
    self.dues: dict[int, tuple[Decimal, int, list]] = {}
    lines: list[list] = []  # [id, member, month, kind, amount, paid_on, method, note, recorded_at]
    for m in self.members:
        months = [mo for mo in range(1, 13) if _on_roll_month(m, y, mo)]
        if not months:
            continue
        first = months[0]
        rate = Decimal(d.choice(RATES[m.type]))
        own: list[list] = []
        method = d.choice(METHODS)

        def pay(mo: int, on: date, amount: Decimal = rate) -> None:
            if on <= LAST_DAY and mo in months:
                own.append([None, m, mo, "payment", amount, on, method, "", None])

        u = d.random()
        if (m.type == "D" and u < 0.25) or d.random() < 0.01:
            on = date(y, first, d.randint(5, 25))
            for mo in months:
                if on <= LAST_DAY:
                    own.append([None, m, mo, "exemption", Decimal(0), on, "", f"经支委会{on.isoformat()}会议研究同意减免", None])
        elif d.random() < (0.35 if m.weak else 0.04):  # falls behind from a month on; some pay it back late
            stop = d.randint(2, 10)
            back = d.random() < 0.5
            for mo in months:
                if mo < stop:
                    pay(mo, date(y, mo, d.randint(1, 28)))
                elif mo == stop and d.random() < 0.3:
                    pay(mo, date(y, mo, d.randint(1, 28)), (rate / 2).quantize(CENT))
                elif back and mo >= stop + 3:
                    if mo == stop + 3:
                        on = date(y, mo, d.randint(1, 28))
                        for late in range(stop, mo):
                            pay(late, on)
                    pay(mo, date(y, mo, d.randint(1, 28)))
        else:
            style = d.random()
            if style < 0.55:  # every month
                for mo in months:
                    x = d.random()
                    if x < 0.05 and mo < 12:
                        pay(mo, date(y, mo + 1, d.randint(1, 15)))  # paid late
                    elif x < 0.06:
                        pay(mo, date(y, mo, d.randint(1, 28)), (rate / 2).quantize(CENT))  # part paid
                    else:
                        pay(mo, date(y, mo, d.randint(1, 28)))
            else:  # a quarter or half a year at once, in its first month on the roll
                span = 3 if style < 0.85 else 6
                for start in range(1, 13, span):
                    block = [mo for mo in range(start, start + span) if mo in months]
                    if block:
                        on = date(y, block[0], d.randint(1, 28))
                        for mo in block:
                            pay(mo, on)
        for line in own:
            line[8] = min(line[5] + timedelta(days=d.choice((0, 0, 0, 1, 2))), LAST_DAY)
        lines += own
        self.dues[m.id] = (rate, first, own)
    lines.sort(key=lambda x: (x[8], x[1].id, x[2]))
    for line in lines:
        line[0] = self.take("dues_line")
    self.dues_lines = lines
    self.dues_k2 = set()


def _state(self, m, y: int, mo: int, as_of: date) -> tuple[str, bool, list[int], Decimal]:
    """The month as the register said it on ``as_of``: (status, on time, its line ids, owed) as
    qscore.dues.register.month_dues reads it."""
    if not _on_roll_month(m, y, mo):
        return "none", False, [], Decimal(0)
    rate, first, lines = self.dues.get(m.id, (None, 13, []))
    live = sorted((x for x in lines if x[2] == mo and x[5] <= as_of), key=lambda x: (x[5], x[0]))
    ids = [x[0] for x in live]
    if any(x[3] == "exemption" for x in live):
        return "exempt", True, ids, Decimal(0)
    if rate is None or mo < first:
        return "no_rate", False, ids, Decimal(0)
    paid, settled_on = Decimal(0), None
    for x in live:
        paid += x[4]
        if settled_on is None and paid >= rate:
            settled_on = x[5]
    if paid >= rate:
        return "paid", settled_on <= _month_last(y, mo), ids, Decimal(0)
    return ("partial" if paid > 0 else "unpaid"), False, ids, (rate - paid).quantize(CENT)


def close_dues(self, y: int, mo: int) -> None:
    """Every branch closes month ``mo`` a few days after it ended (by its secretary): the points that follow."""
    d = self.drng
    last = _month_last(y, mo)
    q_months = range(mo - 2, mo + 1) if mo % 3 == 0 else range(0)
    version = self.version_ids[y]
    for b in self.branches:
        closed_on = min(_weekday(date(y, mo + 1, d.randint(2, 8))), LAST_DAY)
        close_id = self.take("dues_close")
        self.dues_rows["dues_close"].append({"id": close_id, "branch_id": b.id, "year": y, "month": mo,
                                             "closed_by_id": b.secretary_user,
                                             "closed_at": datetime(closed_on.year, closed_on.month, closed_on.day, 9, 0),
                                             "closed_on": closed_on})
        wanted = []
        for m in b.members:
            if not m.on_roll(last) or m is b.members[0]:  # the secretary's own: left to another secretary
                continue
            if q_months:
                cells = [_state(self, m, y, x, closed_on) for x in q_months]
                counted = [c for c in cells if c[0] != "none"]
                if counted and all(c[1] for c in counted) and not any((m.id, x) in self.dues_k2 for x in q_months):
                    ids = [i for c in counted for i in c[2]]
                    wanted.append((m, "J3", mo // 3, ids, f"党费登记：{y}年第{mo // 3}季度按时足额交纳（登记第 "
                                                           f"{', '.join(map(str, ids))} 行）"))
            if mo >= 2:  # the previous month was closed early this month: its close was the reminder
                status, _on, ids, owed = _state(self, m, y, mo - 1, closed_on)
                if status in ("unpaid", "partial"):
                    wanted.append((m, "K2", mo - 1, ids, f"党费登记：{y}-{mo - 1:02d} 催缴后仍欠 {owed} 元"
                                   + (f"（已交部分见登记第 {', '.join(map(str, ids))} 行）" if ids else "")))
        n = {"J3": 0, "K2": 0}
        for m, code, period, ids, note in sorted(wanted, key=lambda w: w[1] != "K2"):
            tenths, pts, qty, cat, text = self.points(code, self.cur_type[m.id], None)
            row = [None, m.id, b.id, y, code, cat, pts, qty, self.c.d(last), note[:500], "dues", None, None, version,
                   b.secretary_user, self.c.ts(closed_on, 9, 0), None, None, None, f"dues:{code}:{m.id}:{y}:{period}"]
            self.buf.append(row)
            self.audit_text.append((m.name, code, text, last))
            agg = m.agg.setdefault(y, {})
            v = agg.get((code, cat, mo))
            if v is None:
                agg[(code, cat, mo)] = [tenths, 1, last]
            else:
                v[0] += tenths
                v[1] += 1
            if code == "K2":
                self.dues_k2.add((m.id, period))
            self.dues_pending.append((row, m.id, code, y, period, close_id, ",".join(map(str, ids))))
            n[code] += 1
        self.dues_rows["audit"].append((closed_on, b.secretary_user, close_id,
                                        f"{b.name} {y}-{mo:02d}: {n['J3']} J3, {n['K2']} K2 written"))


def dues_points_of_month(self) -> None:
    """The closes' DuesPoint rows, once the month's entries have their ids (flush_month)."""
    for row, mid, code, y, period, close_id, lines in self.dues_pending:
        self.dues_rows["dues_point"].append({"entry_id": row[0], "member_id": mid, "indicator_code": code, "year": y,
                                             "period": period, "close_id": close_id, "lines": lines})
    self.dues_pending = []


def write_dues(self) -> None:
    raw, rows, y = self.raw, self.dues_rows, self.dues_year
    by_id = {m.id: m for m in self.members}
    rows["dues_rate"] = [
        {"id": self.take("dues_rate"), "member_id": mid, "monthly": rate, "effective_from": date(y, first, 1),
         "note": "", "set_by_id": by_id[mid].recorder,
         "set_at": datetime(y, first, 1, 10, 0) if first > 1 else datetime(y - 1, 12, 28, 10, 0)}
        for mid, (rate, first, _l) in self.dues.items()]
    rows["dues_line"] = [
        {"id": i, "member_id": m.id, "branch_id": m.branch.id, "year": y, "month": mo, "kind": kind, "amount": amount,
         "paid_on": on, "method": method, "note": note, "corrects_id": None, "recorded_by_id": m.recorder,
         "recorded_at": datetime(rec.year, rec.month, rec.day, 10 + i % 7, i % 60), "idempotency_key": None}
        for i, m, mo, kind, amount, on, method, note, rec in self.dues_lines]
    dbio.insert_dicts(raw, DuesRate.__table__, rows["dues_rate"])
    dbio.insert_dicts(raw, DuesLine.__table__, rows["dues_line"])
    dbio.insert_dicts(raw, DuesClose.__table__, rows["dues_close"])
    dbio.insert_dicts(raw, DuesPoint.__table__, rows["dues_point"])
    aid = self.take("audit_log", len(rows["audit"]))
    dbio.bulk_insert(raw, "audit_log", ("id", "at", "user_id", "username", "action", "object_type", "object_id",
                                        "member_id", "summary", "before", "after", "ip"),
                     [(aid + i, self.c.ts(on, 9, 0), uid, self.usernames.get(uid, ""), "dues_month_closed", "duesclose",
                       cid, None, summary, None, None, "") for i, (on, uid, cid, summary) in enumerate(rows["audit"])])
    for t in ("dues_rate", "dues_line", "dues_close", "dues_point"):
        self.count(t, len(rows[t]))
    self.count("audit_log", len(rows["audit"]))
    raw.commit()
