"""Floors of the dues register (qscore/dues/) and of a sign-in at the door (qscore/checkin.py), in the style
of floors.py: the reads and writes the path needs through the raw DB-API connection, the same decisions in
plain Python, ``html.escape`` and joins.

- grid: the branch's members of the year, their rates, the year's lines (voids taken out), the year's closes,
  (last year's lines only for members owing every month since January, as the app); the same page markup.
- close: one branch's month closed as qscore.dues.close_month closes it, and committed: the close row, the J3
  and K2 that follow (entries, DuesPoint rows, stored year sums, audit rows), the close's audit row. Leaner on
  purpose: the lines of the previous month are those already read when it is of the same year; the entry
  rules that cannot fire for an entry the register writes (a note is always given, the item is neither an
  absence nor hours) are not checked.
- sign_in: the phone's POST, as qscore.checkin.phone_sign_in: on SQLite inside BEGIN IMMEDIATE (on PostgreSQL the
  throttle's two advisory locks), the meeting by its token with its branch, the street's networks and whether a
  demo street exists (one query); the throttle's reads in one query (the pair's failures since its last success,
  the address's window, the account-wide ceiling per meeting and the unfamiliar addresses' one, whether the
  account names a user); open?, the networks, the code; the branch's active members, names compared after
  normalise_name on both sides; the login-attempt row and the retention's delete; the meeting's row again (FOR
  UPDATE on PostgreSQL), still open?; the sign-in row (INSERT … ON CONFLICT DO NOTHING, where the app uses a
  savepoint) and its audit row; the commit; the phone page in the anonymous layout (lang switch, no menu).
  Not done: the CSRF check of the form (no floor checks CSRF), the guests of flexible attendance (only looked
  up when no member of the branch has the name: the bench never takes that path).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import time
import unicodedata
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from babel.support import Translations

from qscore import config as qconfig
from qscore.checkin import NAME_MAX, normalise_name
from qscore.scoring import check_earned_on, entry_points, quarter_of, type_on
from qscore.templating import MEETING_KIND_NAMES

from . import dbio
from .floors import BRANCH_TYPES, SHANGHAI, E, Floors

CENT = Decimal("0.01")
MARK = {"paid": "✓", "late": "迟", "partial": "½", "unpaid": "✗", "exempt": "免", "no_rate": "?"}
SAID = {"paid": "已交", "late": "逾期交纳", "partial": "部分交纳", "unpaid": "未交", "exempt": "减免", "no_rate": "未设金额",
        "future": "未到期", "none": "不在册", "nothing_due": "无需交纳"}
OWED = ("unpaid", "partial")
CODE_TAG = b"checkin-code\0%d"
_ZH = Translations.load(str(Path(__file__).resolve().parent.parent / "qscore" / "translations"), ["zh_Hans_CN"])
KIND_ZH = {k: E(_ZH.gettext(v)) for k, v in MEETING_KIND_NAMES.items()}  # read once, as the page chrome
DEMO_ZH = E(_ZH.gettext("Demo data: this street is made up for trying qscore out. Do not enter real members here."))
CUR_PAGE, CUR_TRUE = 'aria-current="page"', 'aria-current="true"'


def month_last(y: int, mo: int) -> date:
    return date(y + (mo == 12), mo % 12 + 1, 1) - timedelta(days=1)


def dec(v) -> Decimal:
    return Decimal(str(v)).quantize(CENT) if isinstance(v, float) else Decimal(v).quantize(CENT)


class DuesFloors:
    def __init__(self, f: Floors, config=None):
        self.f = f
        # the throttle's settings (qscore/config.py, or the app's config when given)
        self.cfg = {k: (config or {}).get(k, getattr(qconfig, k)) for k in dir(qconfig) if k.startswith("LOGIN_")}

    # -- the register -------------------------------------------------------------------------------------
    def members(self, branch_id: int, year: int, order: bool = True):
        f = self.f
        return f.rows("SELECT id, name, on_roll_since, left_roll_on, status FROM member WHERE branch_id = ? AND "
                      "on_roll_since <= ? AND (left_roll_on IS NULL OR left_roll_on >= ?)"
                      + (" ORDER BY name_key, name, id" if order else ""),
                      (branch_id, f.c.d(date(year, 12, 31)), f.c.d(date(year, 1, 1))))

    def rates(self, ids) -> dict[int, list]:
        out = defaultdict(list)
        if ids:
            for mid, monthly, start in self.f.rows(
                    f"SELECT member_id, monthly, effective_from FROM dues_rate WHERE member_id IN ({', '.join('?' * len(ids))}) "
                    "ORDER BY member_id, effective_from, id", tuple(ids)):
                out[mid].append((self.f._date(start), dec(monthly)))
        return out

    def lines(self, ids, year: int) -> dict[int, dict[int, list]]:
        out: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
        if not ids:
            return out
        rows = self.f.rows(f"SELECT id, member_id, month, kind, amount, paid_on, corrects_id FROM dues_line WHERE "
                           f"member_id IN ({', '.join('?' * len(ids))}) AND year = ? ORDER BY id", (*ids, year))
        voided = {r[6] for r in rows if r[3] == "void"}
        for lid, mid, mo, kind, amount, paid_on, _c in rows:
            if kind != "void" and lid not in voided:
                out[mid][mo].append((lid, kind, dec(amount), self.f._date(paid_on) if paid_on else None))
        return out

    @staticmethod
    def rate_in(rates, y: int, mo: int):
        first, cur = date(y, mo, 1), None
        for start, monthly in rates:
            if start <= first:
                cur = monthly
        return cur

    def cell(self, since, left, rates, lines, y: int, mo: int, today: date):
        """(status, due, paid, on_time, lines) as qscore.dues.register.month_dues."""
        first, last = date(y, mo, 1), month_last(y, mo)
        if not (since <= last and (left is None or left > first)):
            return "none", None, Decimal(0), False, lines
        due = self.rate_in(rates, y, mo)
        paid, settled = Decimal(0), None
        for lid, kind, amount, on in sorted((x for x in lines if x[1] == "payment"), key=lambda x: (x[3] or date.max, x[0])):
            paid += amount
            if settled is None and due is not None and paid >= due:
                settled = on
        if any(x[1] == "exemption" for x in lines):
            return "exempt", due, paid, True, lines
        if due is None:
            return "no_rate", None, paid, False, lines
        if due <= 0:
            return "nothing_due", due, paid, True, lines
        if paid >= due:
            return "paid", due, paid, settled is not None and settled <= last, lines
        if paid > 0:
            return "partial", due, paid, False, lines
        return ("future" if first > today else "unpaid"), due, paid, False, lines

    def grid(self, token: str, branch_id: int) -> str:
        f = self.f
        user = f.session(token)
        b = f.branch(branch_id, user)
        day = f.today
        year, month = day.year, day.month
        members = self.members(branch_id, year)
        ids = [m[0] for m in members]
        rates, lines = self.rates(ids), self.lines(ids, year)
        rows = []
        for mid, name, since, left, _st in members:
            since, left = f._date(since), f._date(left) if left else None
            cells = {mo: self.cell(since, left, rates[mid], lines[mid][mo], year, mo, day) for mo in range(1, 13)}
            rows.append([mid, name, self.rate_in(rates[mid], year, month), cells, 0, since, left])
        last_ended = month - 1 if month_last(year, month) > day else month
        back = []
        for r in rows:
            n = 0
            for mo in range(last_ended, 0, -1):
                if r[3][mo][0] not in OWED:
                    break
                n += 1
            r[4] = n
            if n == last_ended:
                back.append(r)
        if back:
            before = self.lines([r[0] for r in back], year - 1)
            for r in back:
                for mo in range(12, 0, -1):
                    if self.cell(r[5], r[6], rates[r[0]], before[r[0]][mo], year - 1, mo, day)[0] not in OWED:
                        break
                    r[4] += 1
        closes = {mo for (mo,) in f.rows("SELECT month FROM dues_close WHERE branch_id = ? AND year = ?",
                                         (branch_id, year))}
        totals = {mo: [0, 0] for mo in range(1, 13)}
        for r in rows:
            for mo, c in r[3].items():
                if c[0] in ("paid", "exempt"):
                    totals[mo][0] += 1
                elif c[0] in OWED:
                    totals[mo][1] += 1
        return f.page(user, f"{b[1]} · {year}年党费收缴", self._grid_body(b, user, year, month, day, rows, closes, totals),
                      f"/branches/{branch_id}/dues")

    def _grid_body(self, b, user, year, month, day, rows, closes, totals) -> str:
        bid = b[0]
        chosen = f"{year:04d}-{month:02d}"
        csrf = self.f.csrf()
        ym = lambda mo: f"{year}年{mo}月"  # noqa: E731
        out = [f'<div class="page-header">\n  <div>\n    <p class="eyebrow">{E(b[5])} · {E(b[1])}</p>\n'
               f'    <h1>{year}年党费收缴</h1>\n    <p class="page-subtitle">每名党员逐月的党费情况。勾选 {chosen} 已交的党员，'
               '一次保存；结算月份时，按登记自动记分。</p>\n  </div>\n  <nav class="page-actions" aria-label="年度">\n'
               f'    <a class="btn" href="/branches/{bid}/dues/export.xlsx?year={year}">下载 Excel</a>\n    ',
               "".join(f'<a class="btn{" btn-primary" if y == year else ""}" href="/branches/{bid}/dues?year={y}" '
                       f'{CUR_PAGE if y == year else ""}>{y}</a>' for y in range(day.year, day.year - 4, -1)),
               '\n  </nav>\n</div>\n\n<ul class="dues-legend" aria-label="图例">\n'
               + "".join(f'  <li><span class="dues-mark dues-{k}">{MARK[k]}</span> {SAID[k]}</li>\n'
                         for k in ("paid", "late", "partial", "unpaid", "exempt", "no_rate"))
               + f'</ul>\n\n\n<form class="dues-month-choice" method="get" action="/branches/{bid}/dues">\n'
               f'  <input type="hidden" name="year" value="{year}">\n  <label class="field-label" for="show-month">登记月份</label>\n'
               '  <select class="input" id="show-month" name="month">\n    ',
               "".join(f'<option value="{year:04d}-{mo:02d}" {"selected" if mo == month else ""}>{ym(mo)}</option>'
                       for mo in range(1, 13)),
               '\n  </select>\n  <button class="btn" type="submit">显示</button>\n</form>\n'
               f'<form class="card dues-card" method="post" action="/branches/{bid}/dues/paid" novalidate>\n'
               f'  <input type="hidden" name="csrf_token" value="{csrf}">\n  <input type="hidden" name="month" value="{chosen}">\n'
               f'  <div class="dues-paid-bar">\n    <p class="dues-paid-month"><strong>登记 {ym(month)} 的党费</strong></p>\n'
               '    <div class="field">\n      <label class="field-label" for="paid-through">交至</label>\n'
               '      <select class="input" id="paid-through" name="through" >\n        ',
               "".join(f'<option value="{year:04d}-{mo:02d}" >{ym(mo)}{" （仅本月）" if mo == month else ""}</option>'
                       for mo in range(month, 13)),
               '\n      </select>\n      \n    </div>\n    <div class="field">\n      <label class="field-label" '
               f'for="paid-on">交纳日期</label>\n      <input class="input" type="date" id="paid-on" name="paid_on" '
               f'value="{min(day, month_last(year, month)).isoformat()}" max="{day.isoformat()}" >\n      \n    </div>\n'
               '    <div class="field">\n      <label class="field-label" for="paid-method">交纳方式</label>\n'
               '      <select class="input" id="paid-method" name="method">\n        <option value="cash" selected>现金</option>'
               '<option value="transfer" >转账</option><option value="proxy" >委托代缴</option><option value="online" >线上交纳</option>\n'
               '      </select>\n      \n    </div>\n    <div class="form-actions">\n      <button class="btn btn-primary '
               'btn-large" type="submit">保存：本月已交</button>\n      <button class="btn" type="button" data-check-all='
               '"member_ids">勾选全部未交</button>\n    </div>\n  </div>\n  \n  \n\n  <div class="table-wrap">\n'
               f'  <table class="table dues-grid">\n    <caption class="visually-hidden">{year}年党费收缴 · {E(b[1])}</caption>\n'
               f'    <thead>\n      <tr>\n        <th scope="col" class="dues-tick-col">{chosen} 已交</th>\n'
               '        <th scope="col">党员</th>\n        <th scope="col" class="num">每月应交</th>\n        ',
               "".join(f'<th scope="col" class="dues-month{" is-chosen" if mo == month else ""}"><a href="/branches/{bid}/dues?'
                       f'year={year}&amp;month={year:04d}-{mo:02d}" {CUR_TRUE if mo == month else ""}>{mo}月</a>'
                       + ('<span class="dues-closed">已结算</span>' if mo in closes else "") + "</th>" for mo in range(1, 13)),
               "\n      </tr>\n    </thead>\n    <tbody>\n    "]
        own = user[7]
        for mid, name, rate, cells, streak, _s, _l in rows:
            d = cells[month]
            if mid == own:
                tick = '<span class="muted small">本人</span>'
            elif d[0] in ("unpaid", "partial", "future"):
                tick = (f'<label class="dues-tick"><input type="checkbox" name="member_ids" value="{mid}" ><span '
                        f'class="visually-hidden">{E(name)} 已交 {chosen}</span></label>')
            elif d[0] in ("paid", "exempt"):
                tick = f'<span class="dues-done" aria-hidden="true">✓</span><span class="visually-hidden">{SAID[d[0]]}</span>'
            else:
                tick = ""
            warn = (f'<div class="dues-warn dues-flag">连续 {streak} 个月未交，需跟进处置</div>' if streak >= 6 else
                    f'<div class="dues-warn">连续 {streak} 个月未交</div>' if streak >= 3 else "")
            out.append(f'\n      <tr class="">\n        <td class="dues-tick-col">\n          {tick}\n        </td>\n'
                       f'        <th scope="row">\n          <a href="/branches/{b[0]}/dues/members/{mid}?year={year}">{E(name)}</a>\n'
                       f'          {warn}\n          \n        </th>\n        <td class="num">'
                       + (f"{rate:.2f}" if rate is not None else
                          f'<a class="small" href="/branches/{b[0]}/dues/members/{mid}?year={year}#rate">设置</a>')
                       + "</td>\n        ")
            for mo in range(1, 13):
                st, _due, paid, on_time, _x = cells[mo]
                kind = "late" if st == "paid" and not on_time else st
                said = SAID[kind]
                sel = " is-chosen" if mo == month else ""
                if st in ("none", "future", "nothing_due") and not paid:
                    out.append(f'\n        \n        \n        <td class="dues-cell{sel}"><span class="dues-mark dues-{st}" '
                               f'title="{said}" aria-hidden="true">·</span><span class="visually-hidden">{said}</span></td>\n        ')
                else:
                    amt = f" {paid:.2f}" if paid else ""
                    out.append(f'\n        \n        \n        <td class="dues-cell{sel}"><span class="dues-mark dues-{kind}" '
                               f'title="{said}{amt}" aria-hidden="true">{MARK.get(kind, "·")}</span><span '
                               f'class="visually-hidden">{said}{amt}</span></td>\n        ')
            out.append("\n      </tr>\n    ")
        if not rows:
            out.append('<tr><td colspan="15" class="empty">本年度没有在册党员。</td></tr>')
        cells = []
        for mo in range(1, 13):
            s, o = totals[mo]
            p = f"{(Decimal(s * 100) / (s + o)).quantize(Decimal('0.1'), 'ROUND_HALF_UP')}%" if s + o and mo <= day.month else "—"
            cells.append(f'<td class="dues-rate{" is-chosen" if mo == month else ""}">{p}</td>')
        last_closable = day.month - (0 if month_last(day.year, day.month) <= day else 1)
        closable = list(range(1, last_closable + 1))
        pick = month if month in closable else closable[-1]
        out.append('\n    </tbody>\n    <tfoot>\n      <tr>\n        <td></td><th scope="row">收缴率</th><td></td>\n        '
                   + "".join(cells) + '\n      </tr>\n    </tfoot>\n  </table>\n  </div>\n</form>\n\n'
                   '<section class="card dues-close-card">\n  <h2>月度结算</h2>\n  <p>结算月份时按登记计分：季度最后一个月结算时，'
                   '本季度按时足额交纳的记 J3；某月结算即为对该月欠缴的催缴，若在下月结束前完成，下月结算时仍未交清的，按欠缴一个月记 K2。'
                   '重复结算只补记缺少的，不会重复记分。</p>\n  \n  \n'
                   f'  <form method="post" action="/branches/{bid}/dues/close" class="dues-close-form" novalidate>\n'
                   f'    <input type="hidden" name="csrf_token" value="{csrf}">\n    <label class="field-label" for="close-month">'
                   '结算月份</label>\n    <select class="input" id="close-month" name="month">\n      '
                   + "".join(f'<option value="{year:04d}-{mo:02d}" {"selected" if mo == pick else ""}>{ym(mo)}'
                             f'{" · 已结算" if mo in closes else ""}</option>' for mo in closable)
                   + '\n    </select>\n    <button class="btn btn-primary" type="submit">结算所选月份</button>\n    \n'
                   '  </form>\n  \n</section>\n\n<section class="card dues-import-card" id="import">\n  <h2>导入全年党费登记表</h2>\n'
                   '  <p>即支部平时记的登记表：每行一名党员，每列一个月。单元格填交纳日期、金额、√（当月足额交纳）或“免”（经批准减免）。'
                   '导入前逐格检查，有任何错误都不导入；已交清的月份保持不变。\n'
                   f'    <a href="/branches/{bid}/dues/template.xlsx?year={year}">下载已填好本支部党员的 {year} 年登记表</a></p>\n  \n'
                   f'  <form method="post" action="/branches/{bid}/dues/import" enctype="multipart/form-data" class="dues-import-form" novalidate>\n'
                   f'    <input type="hidden" name="csrf_token" value="{csrf}">\n    <input type="hidden" name="year" value="{year}">\n'
                   f'    <div class="field"><label class="field-label" for="sheet-file">{year} 年党费登记表（.xlsx）</label>\n'
                   '      <input class="input" type="file" id="sheet-file" name="file" accept=".xlsx" >\n      </div>\n'
                   '    <div class="field"><label class="field-label" for="sheet-approval">标“免”的单元格：由谁、何时批准减免</label>\n'
                   '      <input class="input" id="sheet-approval" name="approval" maxlength="200" value="" >\n      </div>\n'
                   '    <div class="field"><label class="field-label" for="sheet-method">交纳方式</label>\n'
                   '      <select class="input" id="sheet-method" name="method"><option value="cash" selected>现金</option>'
                   '<option value="transfer" >转账</option><option value="proxy" >委托代缴</option><option value="online" >线上交纳'
                   '</option></select></div>\n    <button class="btn btn-primary" type="submit">导入登记表</button>\n  </form>\n</section>\n')
        return "".join(out)

    # -- closing a month --------------------------------------------------------------------------------
    def close(self, token: str, branch_id: int, year: int, month: int) -> str:
        """qscore.dues.close_month for one branch, committed; returns the redirect the app answers."""
        f = self.f
        user = f.session(token)
        b = f.branch(branch_id, user)
        day = f.today
        last = month_last(year, month)
        if last > day:
            raise ValueError("month not ended")
        cur = f.raw.cursor()
        q = lambda sql: dbio.q(f.dialect, sql)  # noqa: E731
        found = f.rows("SELECT id FROM dues_close WHERE branch_id = ? AND year = ? AND month = ?", (branch_id, year, month))
        now = f._ts(datetime.utcnow())
        if found:
            close_id, first_close = found[0][0], False
        else:
            cur.execute(q("INSERT INTO dues_close (branch_id, year, month, closed_by_id, closed_at, closed_on) "
                          "VALUES (?, ?, ?, ?, ?, ?) RETURNING id"), (branch_id, year, month, user[0], now, f.c.d(day)))
            close_id, first_close = cur.fetchone()[0], True
        earned_on = min(last, day)
        vid, scheme = f.scheme(earned_on.year)
        paid_code = next((i.code for i in scheme.indicators.values() if i.role == "dues_paid" and not i.retired), None)
        arrears_code = next((i.code for i in scheme.indicators.values() if i.role == "dues_arrears" and not i.retired), None)
        members = []
        for mid, name, since, left, status in self.members(branch_id, year, order=False):
            since, left = f._date(since), f._date(left) if left else None
            if since <= earned_on and (left is None or left > earned_on):
                members.append((mid, name, since, left, status))
        ids = [m[0] for m in members]
        rates = self.rates(ids)
        q_months = range(month - 2, month + 1) if month % 3 == 0 else range(0)
        wanted = []
        lines = self.lines(ids, year) if q_months else None
        if q_months and paid_code:
            for mid, name, since, left, _s in members:
                cells = [self.cell(since, left, rates[mid], lines[mid][mo], year, mo, day) for mo in q_months]
                counted = [c for c in cells if c[0] not in ("none", "nothing_due")]
                if counted and all(c[3] for c in counted):
                    lids = [x[0] for c in counted for x in c[4]]
                    wanted.append((mid, paid_code, year, month // 3, lids,
                                   f"党费登记：{year}年第{month // 3}季度按时足额交纳（登记第 {', '.join(map(str, lids))} 行）"))
        py, pm = (year - 1, 12) if month == 1 else (year, month - 1)
        reminder = f.rows("SELECT closed_on FROM dues_close WHERE branch_id = ? AND year = ? AND month = ?",
                          (branch_id, py, pm))
        reminded = bool(reminder) and f._date(reminder[0][0]) <= last
        if reminded and arrears_code:
            prev = lines if (lines is not None and py == year) else self.lines(ids, py)
            for mid, name, since, left, _s in members:
                c = self.cell(since, left, rates[mid], prev[mid][pm], py, pm, day)
                if c[0] in OWED:
                    lids = [x[0] for x in c[4]]
                    owed = max((c[1] or Decimal(0)) - c[2], Decimal(0))
                    wanted.append((mid, arrears_code, py, pm, lids, f"党费登记：{py}-{pm:02d} 催缴后仍欠 {owed} 元"
                                   + (f"（已交部分见登记第 {', '.join(map(str, lids))} 行）" if lids else "")))
        wids = sorted({w[0] for w in wanted}) or [0]
        marks = ", ".join("?" * len(wids))
        have = {(r[0], r[1], r[2], r[3]) for r in f.rows(
            f"SELECT member_id, indicator_code, year, period FROM dues_point WHERE member_id IN ({marks})", tuple(wids))}
        k2_months = {(m, y, p) for m, c, y, p in have if c == arrears_code}
        after = month_last(*((year + 1, 1) if month == 12 else (year, month + 1)))
        first = min([date(py, pm, 1)] + ([date(year, q_months[0], 1)] if q_months else []))
        codes = [c for c in (paid_code, arrears_code) if c]
        by_hand = defaultdict(list)
        for mid, code, on in f.rows(
                f"SELECT p.member_id, p.indicator_code, p.earned_on FROM point_entry p LEFT JOIN dues_point d ON "
                f"d.entry_id = p.id WHERE p.member_id IN ({marks}) AND p.indicator_code IN ({', '.join('?' * len(codes))}) "
                f"AND p.earned_on >= ? AND p.earned_on <= ? AND COALESCE(p.corrects_id, 0) = 0 AND NOT EXISTS "
                f"(SELECT 1 FROM point_entry c WHERE c.corrects_id = p.id) AND d.entry_id IS NULL",
                (*wids, *codes, f.c.d(first), f.c.d(after))):
            by_hand[(mid, code)].append(f._date(on))
        for mid, code, y, period, _l, _n in sorted(wanted, key=lambda w: (w[1] != arrears_code, w[2], w[3])):
            if (mid, code, y, period) in have:
                continue
            fm = 3 * period - 2 if code == paid_code else period
            end = 3 * period if code == paid_code else period
            span = (date(y, fm, 1), month_last(*((y + 1, 1) if end == 12 else (y, end + 1))))
            days = by_hand.get((mid, code), [])
            hit = next((d for d in sorted(days) if span[0] <= d <= span[1]), None)
            if hit is not None:
                days.remove(hit)
                have.add((mid, code, y, period))
                if code == arrears_code:
                    k2_months.add((mid, y, period))
        by_member = {m[0]: m for m in members}
        histories = f.histories(BRANCH_TYPES.replace("AND m.status = 'active' ", ""), (branch_id,))
        todo = []
        for mid, code, y, period, lids, note in wanted:
            if (mid, code, y, period) in have:
                continue
            if code == paid_code and any((mid, y, mo) in k2_months for mo in q_months):
                continue
            if user[7] == mid:
                continue
            todo.append((mid, code, y, period, lids, note[:500], f"dues:{code}:{mid}:{y}:{period}"))
        written = {"J3": 0, "K2": 0}
        if todo:
            keys = {k for (k,) in f.rows(f"SELECT idempotency_key FROM point_entry WHERE idempotency_key IN "
                                         f"({', '.join('?' * len(todo))})", tuple(t[6] for t in todo))}
            check_earned_on(earned_on, day, previous_year_open=True)
            pub = f.rows("SELECT id, year, quarter FROM publication WHERE branch_id = ? AND year = ? AND quarter = ? "
                         "AND retracted_at IS NULL ORDER BY published_at DESC, id DESC LIMIT 1",
                         (branch_id, earned_on.year, quarter_of(earned_on.month)))
            adjusts = pub[0][0] if pub else None
            values, params, sums, audit = [], [], [], []
            for mid, code, y, period, lids, note, key in todo:
                m = by_member[mid]
                if m[4] != "active" or key in keys:
                    continue  # refused, as check_entries refuses it
                ind = scheme.indicators[code]
                ev = entry_points(scheme, code, type_on(histories[mid], earned_on), None)
                values.append("(?, ?, ?, ?, ?, ?, ?, ?, ?, 'dues', ?, ?, ?, ?, ?)")
                params += [mid, branch_id, earned_on.year, code, ind.category, f.c.num(ev.points), None,
                           f.c.d(earned_on), note, vid, user[0], now, adjusts, key]
                sums.append((mid, code, ind.category, earned_on, ev.points))
                summary = f"{m[1]} {code} {ev.points} on {earned_on}" + (f" (adjusts {pub[0][1]}-Q{pub[0][2]})" if pub else "")
                audit.append((mid, summary, code, y, period, lids))
            if values:
                cur.execute(q("INSERT INTO point_entry (member_id, branch_id, year, indicator_code, category, points, "
                              "quantity, earned_on, note, source, scheme_version_id, recorded_by_id, recorded_at, "
                              "adjusts_publication_id, idempotency_key) VALUES " + ", ".join(values)
                              + " RETURNING id, idempotency_key"), params)
                by_key = {k: i for i, k in cur.fetchall()}
                eids = [by_key[f"dues:{code}:{mid}:{y}:{period}"] for mid, _s, code, y, period, _l in audit]
                cur.execute(q("INSERT INTO dues_point (entry_id, member_id, indicator_code, year, period, close_id, lines) "
                              "VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(eids))),
                            [v for eid, (mid, _s, code, y, period, lids) in zip(eids, audit)
                             for v in (eid, mid, code, y, period, close_id, ",".join(map(str, lids)))])
                cur.execute(q("INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, member_id, "
                              "summary, ip) VALUES " + ", ".join(["(?, ?, ?, 'entry_added', 'pointentry', ?, ?, ?, "
                                                                  "'127.0.0.1')"] * len(eids))),
                            [v for eid, (mid, s, *_r) in zip(eids, audit) for v in (now, user[0], user[1], eid, mid, s)])
                f.add_sums(sums)
                for _m, _s, code, *_r in audit:
                    written[code] += 1
        cur.execute(q("INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, summary, ip) "
                      "VALUES (?, ?, ?, 'dues_month_closed', 'duesclose', ?, ?, '127.0.0.1')"),
                    (now, user[0], user[1], close_id, f"{b[1]} {year}-{month:02d}: {written['J3']} {paid_code or 'J3'}, "
                                                      f"{written['K2']} {arrears_code or 'K2'} written"
                                                      + ("" if first_close else " (closed again)")))
        f.raw.commit()
        return f"303 /branches/{branch_id}/dues?year={year}&month={year}-{month:02d} {written}"

    # -- a sign-in at the door -------------------------------------------------------------------------
    def sign_in(self, token: str, code: str, name: str, address: str = "127.0.0.1") -> str:
        try:
            return self._sign_in(token, code, name, address)
        except BaseException:
            self.f.raw.rollback()  # a refusal's own writes were committed before it was raised
            raise

    def _sign_in(self, token: str, code: str, name: str, address: str) -> str:
        """POST /checkin/<token> from an anonymous phone, with the screen's code and a name, as
        qscore.checkin.phone_sign_in: the throttle's reads (the pair, the address, the account-wide ceilings),
        the meeting open, the code, the member by normalised name, the login-attempt row (and the retention's
        delete), the meeting re-read under a lock, the sign-in row and its audit row; the phone page."""
        f, cfg = self.f, self.cfg
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", token or ""):
            raise LookupError("no meeting")
        cur = f.raw.cursor()
        q = lambda sql: dbio.q(f.dialect, sql)  # noqa: E731
        if f.sqlite and not f.raw.in_transaction:
            cur.execute("BEGIN IMMEDIATE")  # as the app's writing requests: the throttle's reads and the writes in one
        row = f.rows("SELECT cm.id, cm.branch_id, cm.held_on, cm.kind, cm.topic, cm.opens_at, cm.closes_at, "
                     "cm.code_secret, cm.closed_at, cm.meeting_id, b.name, "
                     "(SELECT s.value FROM setting s WHERE s.street_id = c.street_id AND s.key = 'checkin_networks'), "
                     "(SELECT st.id FROM street st WHERE st.demo = ? LIMIT 1) FROM checkin_meeting cm "
                     "JOIN branch b ON b.id = cm.branch_id JOIN community c ON c.id = b.community_id WHERE cm.token = ?",
                     (f.c.boolean(True), token))
        if not row:
            raise LookupError("no meeting")
        cid, branch_id, held_on, kind, topic, opens, closes, secret, closed_at, meeting_id, bname, nets, demo = row[0]
        opens, closes = (datetime.fromisoformat(x) if isinstance(x, str) else x for x in (opens, closes))
        now = datetime.combine(f.today, datetime.now(SHANGHAI).time().replace(tzinfo=None))  # clock.now, FIXED_TODAY
        utc = datetime.utcnow()
        # the throttle (throttle.check, kind "checkin": the meeting stands for the account), in one round trip
        account = f"checkin-{cid}"
        key = hmac.new(f.secret, b"login-attempt\0" + account.encode(), hashlib.sha256).hexdigest()
        if not f.sqlite:
            for ns, value in ((b"login-attempt\0", address[:64]), (b"login-account\0", key)):
                cur.execute("SELECT pg_advisory_xact_lock(%s)",
                            (int.from_bytes(hashlib.sha256(ns + value.encode()).digest()[:8], "big", signed=True),))
        no, yes, ip = f.c.boolean(False), f.c.boolean(True), address[:64]
        familiar = 'SELECT us.ip FROM user_session us JOIN "user" u ON u.id = us.user_id WHERE u.username = ? AND us.created_at > ?'
        since_familiar = f._ts(utc - timedelta(days=cfg["LOGIN_FAMILIAR_DAYS"]))
        in_hour = f._ts(utc - timedelta(seconds=cfg["LOGIN_ACCOUNT_WINDOW_SECONDS"]))
        (failures, last, by_address, on_account, is_familiar, strangers, known), = f.rows(
            "SELECT pair.n, pair.last, "
            "(SELECT COUNT(*) FROM login_attempt WHERE ip = ? AND success = ? AND at > ?), "
            "(SELECT COUNT(*) FROM login_attempt WHERE account_hash = ? AND success = ? AND at > ?), "
            f"(SELECT 1 FROM ({familiar} AND us.ip = ? LIMIT 1) fam), "
            f"(SELECT COUNT(*) FROM login_attempt WHERE account_hash = ? AND ip NOT IN ({familiar}) AND success = ? AND at > ?), "
            '(SELECT id FROM "user" WHERE username = ?) '
            "FROM (SELECT COUNT(*) AS n, MAX(at) AS last FROM login_attempt WHERE account_hash = ? AND ip = ? AND success = ? "
            "AND id > (SELECT COALESCE(MAX(id), 0) FROM login_attempt WHERE account_hash = ? AND ip = ? AND success = ?) "
            "AND at > ?) pair",
            (ip, no, f._ts(utc - timedelta(seconds=cfg["LOGIN_ADDRESS_WINDOW_SECONDS"])),
             key, no, in_hour, account, since_familiar, ip, key, account, since_familiar, no, in_hour, account,
             key, ip, no, key, ip, yes, f._ts(utc - timedelta(hours=cfg["LOGIN_FAILURE_MEMORY_HOURS"]))))
        beyond = failures - cfg["LOGIN_FREE_FAILURES"]
        if beyond >= 0:
            last = datetime.fromisoformat(last) if isinstance(last, str) else last
            if last + timedelta(seconds=min(2 ** min(beyond, 32), cfg["LOGIN_MAX_DELAY_SECONDS"])) > utc:
                raise ValueError("throttled")
        # each window's wait is positive exactly when its cap of failures lies within it
        if (by_address >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"] > 0 or on_account >= cfg["LOGIN_ACCOUNT_MAX_FAILURES"] > 0
                or (not is_familiar and strangers >= cfg["LOGIN_ACCOUNT_UNFAMILIAR_FAILURES"] > 0)):
            raise ValueError("throttled")

        def attempt(ok: bool) -> None:  # throttle.record
            stamp = f._ts(datetime.utcnow())
            cur.execute(q("INSERT INTO login_attempt (at, kind, account_hash, account_known, ip, success) VALUES "
                          "(?, 'checkin', ?, ?, ?, ?)"), (stamp, key, f.c.boolean(known is not None), ip, f.c.boolean(ok)))
            cur.execute(q("DELETE FROM login_attempt WHERE at < ?"),
                        (f._ts(datetime.utcnow() - timedelta(days=cfg["LOGIN_ATTEMPT_RETENTION_DAYS"])),))

        def refuse(why: str):
            f.raw.commit()
            raise ValueError(why)

        def is_open(closed_at, meeting_id, opens, closes) -> bool:
            opens, closes = (datetime.fromisoformat(x) if isinstance(x, str) else x for x in (opens, closes))
            return closed_at is None and meeting_id is None and opens <= now < closes

        if not is_open(closed_at, meeting_id, opens, closes):
            refuse("not open")
        ranges = (json.loads(nets) if isinstance(nets, str) else nets) or []
        if ranges:  # the street's networks (network_allows); a refusal is logged, as a wrong code is counted
            try:
                where = ipaddress.ip_address(address)
                where = getattr(where, "ipv4_mapped", None) or where
                allowed = any(where in ipaddress.ip_network(r, strict=False) for r in ranges)
            except ValueError:
                allowed = False
            if not allowed:
                attempt(False)
                cur.execute(q("INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, summary, "
                              "\"before\", \"after\", ip) VALUES (?, NULL, '', 'checkin_refused', 'checkinmeeting', ?, ?, "
                              "'null', 'null', ?)"),
                            (f._ts(datetime.utcnow()), cid, f"{f._date(held_on)} {topic}: from {ip or '?'}, outside the "
                                                            "street's networks", ip))
                refuse("network")
        typed = "".join(unicodedata.normalize("NFKC", code or "").split())
        step = int(time.time()) // 180
        if not (len(typed) == 4 and typed.isascii() and typed.isdigit() and any(hmac.compare_digest(
                f"{int.from_bytes(hmac.new(secret.encode(), CODE_TAG % s, hashlib.sha256).digest()[:8], 'big') % 10000:04d}",
                typed) for s in (step, step - 1))):
            attempt(False)
            refuse("wrong code")
        name = normalise_name(name)
        if not name or len(name) > NAME_MAX:
            raise ValueError("name")
        # the branch's active members, names compared normalised on both sides
        found = [(i, x) for i, x in f.rows("SELECT id, name FROM member WHERE branch_id = ? AND status = 'active'",
                                           (branch_id,)) if normalise_name(x) == name]
        if not found:  # the app then looks among the guests of flexible attendance: not a path the bench takes
            raise NotImplementedError("the floor signs in members of the meeting's branch")
        if len(found) > 1:
            raise ValueError("name shared")
        mid, mname = found[0]
        attempt(True)
        # checkin.sign_in: the meeting's row again, under a lock (PostgreSQL), still open?
        again = f.rows("SELECT closed_at, meeting_id, opens_at, closes_at FROM checkin_meeting WHERE id = ?"
                       + ("" if f.sqlite else " FOR UPDATE"), (cid,))[0]
        if not is_open(*again):
            refuse("not open")
        stamp = datetime.utcnow()
        cur.execute(q("INSERT INTO checkin (checkin_meeting_id, member_id, at, way, by_id, ip) VALUES (?, ?, ?, 'code', "
                      "NULL, ?) ON CONFLICT (checkin_meeting_id, member_id) DO NOTHING RETURNING id"),
                    (cid, mid, f._ts(stamp), ip))
        got = cur.fetchone()
        new = got is not None
        if new:
            cur.execute(q("INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, member_id, "
                          "summary, \"before\", \"after\", ip) VALUES (?, NULL, '', 'checkin_signed', 'checkin', ?, ?, ?, "
                          "'null', 'null', ?)"),  # JSON null, as the ORM writes an audit row's empty before / after
                        (f._ts(datetime.utcnow()), got[0], mid, f"{mname} {f._date(held_on)} {topic} (code)", ip))
        else:  # signed in before: the first sign-in stands, nothing is written
            at = f.rows("SELECT at FROM checkin WHERE checkin_meeting_id = ? AND member_id = ?", (cid, mid))[0][0]
            stamp = datetime.fromisoformat(at) if isinstance(at, str) else at
        f.raw.commit()
        held = f._date(held_on)
        said = f"已签到：{E(mname)}" if new else f"{E(mname)} 已签到过，未作更改。"
        body = (f'<div class="checkin-phone">\n  <p class="eyebrow">{E(bname)}</p>\n  <h1>{E(topic)}</h1>\n'
                f'  <p class="muted">{KIND_ZH.get(kind, E(kind))} · <span class="checkin-when">{held.isoformat()} '
                f'{opens:%H:%M}–{closes:%H:%M}</span></p>\n  \n  <div class="checkin-ok" role="status">\n'
                '    <p class="checkin-ok-mark" aria-hidden="true">✓</p>\n'
                f'    <p class="checkin-ok-text">{said}</p>\n    <p class="muted">签到时间 {f._local(stamp)[11:]}</p>\n'
                '  </div>\n  \n</div>\n')
        return self._public_page("会议签到", body, f"/checkin/{token}", demo is not None, "checkin-phone-page",
                                 '<link rel="stylesheet" href="/static/checkin.css">')

    def _public_page(self, title: str, body: str, path: str, demo: bool, body_class: str, head: str) -> str:
        """The layout of a page without a login (base.html for an anonymous visitor: no street, no menu)."""
        token = self.f.csrf()
        return "".join((
            '<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="htmx-config" content=\'{"historyCacheSize":0,"refreshOnHistoryMiss":true,'
            '"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":'
            '[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},'
            '{"code":"[45]..","swap":false,"error":true}]}\'>\n'
            f"<title>{E(title)} · 党员积分管理</title>\n"
            '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n<link rel="stylesheet" href="/static/app.css">\n'
            '<link rel="stylesheet" href="/static/password.css">\n'
            '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>\n<script src="/static/app.js" defer></script>\n'
            f'<script src="/static/password.js" defer></script>\n{head}\n'
            f'</head>\n<body class="{body_class}" hx-headers=\'{{"X-CSRFToken": "{token}"}}\'>\n'
            '<a class="skip-link" href="#main">跳到正文</a>\n',
            f'<div class="demo-banner" role="status">{DEMO_ZH}</div>\n' if demo else "",
            '<header class="topbar"><div class="topbar-inner"><a class="brand" href="/"><span class="brand-mark" '
            'aria-hidden="true">★</span><span class="brand-text"><span class="brand-title">党员积分管理</span>'
            '<span class="brand-sub">社区党员分类量化管理</span></span></a><div class="topbar-tools">'
            '<form class="lang-switch" method="post" action="/lang">'
            f'<input type="hidden" name="csrf_token" value="{token}"><input type="hidden" name="next" value="{E(path)}">'
            '<button name="lang" value="zh_CN" aria-pressed="true" lang="zh-CN">中文</button>'
            '<button name="lang" value="en" aria-pressed="false" lang="en">English</button></form></div></div></header>\n'
            '<main id="main" class="page" tabindex="-1">\n',
            body, '</main>\n<footer class="footer"><span>社区党员分类量化管理</span></footer>\n</body>\n</html>'))
