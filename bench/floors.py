"""Floors: the least work that could produce each path's visible data.

A floor runs the queries the path needs through the raw DB-API connection (``raw_connection()``,
same process, same database), turns the same visible fields into HTML with ``html.escape`` and
string joins, and computes scores with the pure functions of ``qscore.scoring`` on raw-fetched
sums (the rules are the minimum computation for a capped score). No framework, no ORM, no
template engine, no cache of results.

Where a floor is leaner than the app, it is on purpose (that is what a floor is for):
- one grouped query serves both the year's sums and the early-warning months (the app runs two);
- a branch's members, types, sums and pending counts are selected by branch, not by id lists;
- an inline add reads the branch once and scores its member "before" by taking the new entry
  out of the sums in memory, instead of re-querying; the row and the totals share one read;
- checks that cannot fire for the submitted data are skipped (an entry dated this quarter is never in
  the previous year, so that year's review state is not read); the member's branch at the end
  of an unfinished quarter is the current branch, so no branch-spell lookup;
- a meeting writes its entries and audit rows with one multi-row INSERT each;
- the booklet builds the member's year ledger from the entries it lists anyway.
- the live-entry test is written ``COALESCE(p.corrects_id, 0) = 0``: with ``corrects_id IS NULL``
  SQLite (no ANALYZE statistics, as a deployed qscore has none) seeks the UNIQUE index on
  corrects_id for NULL and reads every live entry of the ledger; see the closing note of the run.
What every floor still does, because the visible data needs it: authenticate the session (one
indexed lookup), authorise the scope, read the year's scheme row (parsing the JSON is memoised
by its text, as the app memoises it by content hash), and mint the CSRF token and idempotency
keys the page carries.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import os
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from qscore.scheme import Scheme
from qscore.figures import month_last_day as _month_last
from qscore.scoring import (RegisterMonths, MemberLedger, year_sums, check_earned_on, check_note, early_warnings, entry_points,
                            quarter_of, round_half_up, score_member, type_on, year_score, _month_index)

from . import dbio

E = html.escape
TYPE_LABEL = {"A": "第一类", "B": "第二类", "C": "第三类", "D": "第四类"}
KIND_LABEL = {"ordinary": "普通党支部", "reemployment": "再就业党支部", "retirees": "离退休党支部",
              "mobile": "流动党员党支部", "other": "其他党支部"}
ROLE_LABEL = {"street_admin": "街道管理员", "community_secretary": "社区党组织书记", "branch_secretary": "党支部书记",
              "member": "党员"}
GRADE_ORDER = ("advanced", "qualified", "rectify")
SOURCE_LABEL = {"inline": "支部录入", "meeting": "会议签到", "self_record": "党员自记，已确认", "opening_balance": "期初积分",
                "correction": "更正", "query": "群众质询", "post": "奉献岗", "demo": "演示数据"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
UTC = ZoneInfo("UTC")
OOB = ' hx-swap-oob="true"'
CURRENT = ' aria-current="page"'
BRANCH_TYPES = ("SELECT t.member_id, t.effective_from, t.type_code FROM member_type t JOIN member m "
                "ON m.id = t.member_id WHERE m.branch_id = ? AND m.status = 'active' "
                "ORDER BY t.member_id, t.effective_from, t.id")
LIVE = "COALESCE(p.corrects_id, 0) = 0 AND NOT EXISTS (SELECT 1 FROM point_entry c WHERE c.corrects_id = p.id)"
# Over a whole year of the ledger, one pass over the (few) corrected ids beats a probe per entry.
LIVE_BULK = ("COALESCE(p.corrects_id, 0) = 0 AND p.id NOT IN "
             "(SELECT corrects_id FROM point_entry WHERE corrects_id IS NOT NULL)")


def pts(value) -> str:
    return f"{round_half_up(Decimal(value)):f}".removesuffix(".0")


def signed(value) -> str:
    t = pts(value)
    return t if t.startswith("-") or t == "0" else "+" + t


def nav_by_role(app) -> dict[str, list[tuple[str, str, str]]]:
    """The menu each role sees, as (endpoint, url, Chinese label): static per deployment, like the
    rest of the page chrome, so it is worked out once, outside the timed floors."""
    from flask import url_for
    from flask_babel import force_locale

    from qscore.navigation import ITEMS

    out: dict[str, list[tuple[str, str, str]]] = {}
    with app.test_request_context(), force_locale("zh_CN"):
        for role in ROLE_LABEL:
            out[role] = [(i.endpoint, url_for(i.endpoint), str(i.label)) for i in ITEMS
                         if role in i.roles and i.endpoint in app.view_functions]
    return out


class Floors:
    def __init__(self, raw, today: date, secret: bytes = b"bench-secret-key",
                 nav: dict[str, list[tuple[str, str, str]]] | None = None):
        self.nav = nav or {}
        self.raw = raw
        self.dialect = dbio.dialect_of(raw)
        self.sqlite = self.dialect == "sqlite"
        self.c = dbio.Codec(self.dialect)
        self.today = today
        self.secret = secret
        self._schemes: dict[str, Scheme] = {}
        self.ym = "substr(p.earned_on, 1, 7)" if self.sqlite else "to_char(p.earned_on, 'YYYY-MM')"
        self.month = "CAST(substr(p.earned_on, 6, 2) AS INTEGER)" if self.sqlite else "EXTRACT(MONTH FROM p.earned_on)::int"

    # -- small pieces every page needs -------------------------------------------------------
    def rows(self, sql: str, params=()):
        cur = self.raw.cursor()
        cur.execute(dbio.q(self.dialect, sql), params)
        out = cur.fetchall()
        cur.close()
        return out

    def _date(self, v) -> date:
        return date.fromisoformat(v) if isinstance(v, str) else v

    def _dec(self, v) -> Decimal:
        return Decimal("%.1f" % v) if isinstance(v, float) else Decimal(v)

    def _tenths(self, v) -> int:
        """A sum of points as the scoring's ledger holds it: whole tenths."""
        return int(self._dec(v) * 10)

    def histories(self, sql: str, params=()) -> dict[int, list]:
        """Type histories from rows of (member_id, effective_from, type_code), in date order."""
        out: dict[int, list] = defaultdict(list)
        for mid, start, code in self.rows(sql, params):
            out[mid].append((self._date(start), code))
        return out

    def ledgers(self, sql: str, params=()) -> dict[int, MemberLedger]:
        """Year ledgers from rows of (member_id, indicator, category, month, sum, count, first date)."""
        return self.ledgers_of(self.rows(sql, params))

    def ledgers_of(self, rows) -> dict[int, MemberLedger]:
        out: dict[int, MemberLedger] = defaultdict(MemberLedger)
        for mid, code, cat, mo, total, n, first_on in rows:
            led = out[mid]
            led.tenths[(code, cat, mo)] = self._tenths(total)
            led.counts[(code, cat, mo)] = n
            led.first_dates[(code, cat, mo)] = self._date(first_on)
        return out

    def add_sums(self, entries: list[tuple[int, str, str, date, Decimal]]) -> None:
        """What a ledger write owes the stored year sums: each new entry added to its member's row (read, add,
        write back in one statement), as qscore.scoring.year_sums.add_entries does."""
        year = entries[0][3].year
        ids = sorted({e[0] for e in entries})
        stored = {mid: (text, last) for mid, text, last in self.rows(
            f"SELECT member_id, sums, last_earned_on FROM ledger_year_sums WHERE year = ? "
            f"AND member_id IN ({', '.join('?' * len(ids))})", (year, *ids))}
        ledgers, lasts = {}, {}
        for mid in ids:
            text, last = stored.get(mid, ("", None))
            ledgers[mid] = year_sums.decode(text) if text else MemberLedger()
            lasts[mid] = self._date(last) if last else None
        for mid, code, cat, day, points in entries:
            ledgers[mid].add(code, cat, day, points)
            lasts[mid] = day if lasts[mid] is None or day > lasts[mid] else lasts[mid]
        self.raw.cursor().executemany(dbio.q(self.dialect,
            "INSERT INTO ledger_year_sums (member_id, year, sums, last_earned_on) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (member_id, year) DO UPDATE SET sums = excluded.sums, last_earned_on = excluded.last_earned_on"),
            [(mid, year, year_sums.encode(ledgers[mid]), self.c.d(lasts[mid])) for mid in ids])

    def stored_ledgers(self, year: int, as_of: date) -> dict[int, MemberLedger]:
        """Every member's stored year sums (what the app reads), each valid as of a day on or after its last entry."""
        out: dict[int, MemberLedger] = defaultdict(MemberLedger)
        for mid, text, last in self.rows("SELECT member_id, sums, last_earned_on FROM ledger_year_sums WHERE year = ?",
                                         (year,)):
            if last is not None:
                if self._date(last) > as_of:
                    raise ValueError(f"member {mid} has entries after {as_of}: the floor would read the ledger")
                out[mid] = year_sums.decode(text)
        return out

    def session(self, token: str):
        """The login behind the cookie: one indexed lookup (session, account, street)."""
        row = self.rows('SELECT u.id, u.username, u.display_name, u.role, u.street_id, u.community_id, u.branch_id, '
                        'u.member_id, u.active, s.name, s.demo, us.expires_at, us.id FROM user_session us '
                        'JOIN "user" u ON u.id = us.user_id JOIN street s ON s.id = u.street_id '
                        'WHERE us.token_hash = ? AND us.ended_at IS NULL',
                        (hashlib.sha256(token.encode()).hexdigest(),))
        if not row or not row[0][8]:
            raise PermissionError("no session")
        return row[0]

    def csrf(self) -> str:
        return hmac.new(self.secret, os.urandom(20), hashlib.sha1).hexdigest()

    def scheme(self, year: int) -> tuple[int, Scheme]:
        sql = "SELECT id, data FROM scheme_version WHERE year = ? ORDER BY version DESC LIMIT 1"
        if not self.sqlite:
            sql = sql.replace("data", "data::text")
        vid, text = self.rows(sql, (year,))[0]
        s = self._schemes.get(text)
        if s is None:
            s = self._schemes[text] = Scheme.from_dict(json.loads(text))
        return vid, s

    def branch(self, branch_id: int, user) -> tuple:
        row = self.rows("SELECT b.id, b.name, b.kind, b.quick_indicators, c.id, c.name, c.street_id FROM branch b "
                        "JOIN community c ON c.id = b.community_id WHERE b.id = ?", (branch_id,))
        if not row:
            raise LookupError("no branch")
        b = row[0]
        role, street, community, own_branch = user[3], user[4], user[5], user[6]
        if b[6] != street or not (role == "street_admin" or (role == "community_secretary" and b[4] == community)
                                  or (role == "branch_secretary" and b[0] == own_branch)):
            raise LookupError("out of scope")
        return b

    def page(self, user, title: str, body: str, path: str, main_class: str = "page") -> str:
        token = self.csrf()
        nav = [(u, label) for endpoint, u, label in self.nav.get(user[3], ())
               if endpoint != "booklet.mine" or user[7] is not None]
        # Every page of a logged-in user shows the account's waiting notices (the app reads them on each page).
        notices = self.rows("SELECT id, kind, at, by_name FROM account_event WHERE user_id = ? AND acknowledged_at IS "
                            "NULL AND (session_id IS NULL OR session_id != ?) ORDER BY at, id LIMIT 5", (user[0], user[12]))
        body = "".join(f'<div class="flash flash-warning" role="status">{E(kind)} {at} {E(by)}</div>'
                       for _i, kind, at, by in notices) + body
        return "".join((
            '<!doctype html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="htmx-config" content=\'{"historyCacheSize":0,"refreshOnHistoryMiss":true,'
            '"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":'
            '[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},'
            '{"code":"[45]..","swap":false,"error":true}]}\'>\n',
            f"<title>{E(title)} · 党员积分管理</title>\n",
            '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
            '<link rel="stylesheet" href="/static/app.css">\n'
            '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>\n'
            '<script src="/static/app.js" defer></script>\n</head>\n',
            f'<body hx-headers=\'{{"X-CSRFToken": "{token}"}}\'>\n<a class="skip-link" href="#main">跳到正文</a>\n',
            '<div class="demo-banner" role="status">演示数据</div>\n' if user[10] else "",
            '<header class="topbar"><div class="topbar-inner"><a class="brand" href="/"><span class="brand-mark" '
            'aria-hidden="true">★</span><span class="brand-text"><span class="brand-title">党员积分管理</span>'
            f'<span class="brand-sub">{E(user[9])}</span></span></a><div class="topbar-tools">'
            '<form class="lang-switch" method="post" action="/lang">'
            f'<input type="hidden" name="csrf_token" value="{token}"><input type="hidden" name="next" value="{E(path)}">'
            '<button name="lang" value="zh_CN" aria-pressed="true" lang="zh-CN">中文</button>'
            '<button name="lang" value="en" aria-pressed="false" lang="en">English</button></form>',
            f'<span class="whoami"><span class="whoami-name">{E(user[2] or user[1])}</span>'
            f'<span class="whoami-role">{ROLE_LABEL[user[3]]}</span></span>'
            '<a class="topbar-link" href="/password">密码</a><form method="post" action="/logout">'
            f'<input type="hidden" name="csrf_token" value="{token}"><button class="topbar-button" type="submit">退出'
            '</button></form></div></div><nav class="mainnav" aria-label="主导航"><ul>',
            "".join(f'<li><a href="{u}">{label}</a></li>' for u, label in nav),
            f'</ul></nav></header>\n<main id="main" class="{main_class}" tabindex="-1">\n',
            body,
            '</main>\n<footer class="footer"><span>社区党员分类量化管理</span></footer>\n</body>\n</html>',
        ))

    # -- a branch's members and their scores (roster, inline add) ----------------------------
    def branch_state(self, branch_id: int, scheme: Scheme, day: date, warn_only: int | None = None) -> dict:
        """Everything the roster shows per member: 7 queries for any branch size (``warn_only``: the one member
        whose warnings the answer shows, as after an inline add: the register is read for that member only)."""
        members = self.rows("SELECT id, name, probationary, on_roll_since, left_roll_on, status FROM member "
                            "WHERE branch_id = ? AND status = 'active' ORDER BY name_key, name, id", (branch_id,))
        histories = self.histories(BRANCH_TYPES, (branch_id,))
        first = _month_index(day.year, day.month) - 11
        start = date(first // 12, first % 12 + 1, 1)
        ledgers: dict[int, MemberLedger] = defaultdict(MemberLedger)
        months: dict[int, tuple[set, set, set]] = defaultdict(lambda: (set(), set(), set()))
        absence, arrears = scheme.codes_with(role="absence"), scheme.codes_with(role="dues_arrears")
        # The stored year sums of this year and the last (what the app reads), one row per member and year.
        begin, stop = (start.year, start.month), (day.year, day.month)
        for mid, y, text, last in self.rows(
                "SELECT s.member_id, s.year, s.sums, s.last_earned_on FROM member m JOIN ledger_year_sums s "
                "ON s.member_id = m.id WHERE m.branch_id = ? AND m.status = 'active' AND s.year >= ? AND s.year <= ?",
                (branch_id, start.year, day.year)):
            if last is None:
                continue
            if self._date(last) > day:
                raise ValueError(f"member {mid} has entries after {day}: the floor would read the ledger")
            led = year_sums.decode(text)
            if y == day.year:
                ledgers[mid] = led
            act, ab, ar = months[mid]
            for (code, _cat, mo), n in led.counts.items():
                if n and begin <= (y, mo) <= stop:
                    act.add((y, mo))
                    if code in absence:
                        ab.add((y, mo))
                    if code in arrears:
                        ar.add((y, mo))
        pending = dict(self.rows(
            "SELECT s.member_id, COUNT(*) FROM self_record s JOIN member m ON m.id = s.member_id WHERE m.branch_id = ? "
            "AND m.status = 'active' AND s.status = 'pending' GROUP BY s.member_id", (branch_id,)))
        attendance = scheme.codes_with(role="attendance")
        codes = sorted(attendance | absence)
        elsewhere: dict[int, list] = defaultdict(list)
        k1: dict[int, list] = defaultdict(list)
        for eid, mid, code, on, home, host, host_name in self.rows(
                "SELECT p.id, p.member_id, p.indicator_code, p.earned_on, p.branch_id, p.host_branch_id, hb.name "
                "FROM member m JOIN point_entry p ON p.member_id = m.id LEFT JOIN branch hb ON hb.id = p.host_branch_id "
                f"WHERE m.branch_id = ? AND m.status = 'active' AND p.earned_on >= ? AND p.earned_on <= ? "
                f"AND p.indicator_code IN ({', '.join('?' * len(codes))}) AND {LIVE} ORDER BY p.earned_on",
                (branch_id, self.c.d(day.replace(day=1)), self.c.d(day), *codes)):
            if code in attendance and host and host != home:
                elsewhere[mid].append((self._date(on), host_name))
            elif code in absence:
                k1[mid].append((eid, self._date(on)))
        return {"members": members, "histories": histories, "ledgers": ledgers, "months": months,
                "pending": pending, "elsewhere": elsewhere, "owed": self.owed_run(branch_id, members, day, warn_only),
                "conflicts": {m: v for m, v in k1.items() if m in elsewhere}}

    def owed_run(self, branch_id: int, members: list, day: date, only: int | None) -> dict[int, RegisterMonths]:
        """The dues register's months owed in a row up to the last month ended, for the members with a monthly
        amount (the app's warnings read these instead of the ledger's arrears entries): the rates, then the
        live payment and exemption lines of the last twelve months ended, one query each."""
        who = "m.branch_id = ? AND m.status = 'active'" + (" AND m.id = ?" if only else "")
        args = (branch_id, only) if only else (branch_id,)
        rates: dict[int, list] = defaultdict(list)
        for mid, frm, monthly in self.rows(f"SELECT r.member_id, r.effective_from, r.monthly FROM dues_rate r JOIN member m "
                                          f"ON m.id = r.member_id WHERE {who} ORDER BY r.member_id, r.effective_from, r.id",
                                          args):
            rates[mid].append((self._date(frm), Decimal(str(monthly))))
        if not rates:
            return {}
        last = (day.year, day.month) if _month_last(day.year, day.month) <= day else (
            (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1))
        lines: dict[tuple, list] = defaultdict(list)
        for mid, y, mo, kind, amount in self.rows(
                f"SELECT l.member_id, l.year, l.month, l.kind, l.amount FROM dues_line l JOIN member m ON m.id = l.member_id "
                f"WHERE {who} AND l.kind <> 'void' AND l.year >= ? AND NOT EXISTS "
                f"(SELECT 1 FROM dues_line v WHERE v.corrects_id = l.id) AND (l.kind <> 'payment' OR l.paid_on <= ?)",
                (*args, last[0] - 1, self.c.d(day))):
            lines[(mid, y, mo)].append((kind, Decimal(str(amount))))
        out = {}
        by_id = {m[0]: m for m in members}
        for mid, rs in rates.items():
            m = by_id.get(mid)
            if m is None:
                continue
            since, left = self._date(m[3]), self._date(m[4]) if m[4] else None
            owed, (y, mo) = set(), last
            while len(owed) < 12:
                first, end = date(y, mo, 1), _month_last(y, mo)
                due = next((amt for frm, amt in reversed(rs) if frm <= first), None)
                got = lines.get((mid, y, mo), [])
                on_roll = since <= end and (left is None or left > first)
                paid = sum((a for k, a in got if k == "payment"), Decimal(0))
                if not (on_roll and due is not None and due > 0 and not any(k == "exemption" for k, _a in got)
                        and paid < due):
                    break
                owed.add((y, mo))
                y, mo = (y - 1, 12) if mo == 1 else (y, mo - 1)
            out[mid] = RegisterMonths((rs[0][0].year, rs[0][0].month), frozenset(owed))
        return out

    def score_all(self, st: dict, scheme: Scheme, day: date) -> tuple[dict, dict]:
        scores, warnings = {}, {}
        n = scheme.thresholds.warning_streak_months
        for mid, name, prob, since, left, status in st["members"]:
            since = self._date(since)
            scores[mid] = score_member(scheme, day.year, day, st["histories"][mid], st["ledgers"][mid],
                                       on_roll_since=since, left_roll_on=self._date(left) if left else None,
                                       status=status, member_id=mid)
            act, ab, ar = st["months"][mid]
            warnings[mid] = early_warnings(as_of=day, streak_months=n, absence_months=ab,
                                           arrears_months=st["owed"][mid].arrears(ar) if mid in st["owed"] else ar,
                                           active_months=act,
                                           on_roll_since=since)
        return scores, warnings

    # -- roster -------------------------------------------------------------------------------
    def _cap_notes(self, s, scheme) -> dict[str, list[str]]:
        notes: dict[str, list[str]] = {"month": [], "quarter": [], "J": [], "Z": []}
        for hit in s.current_caps:
            if hit.scope == "month":
                notes["month"].append(f"{hit.code} 已达月上限")
            elif hit.scope == "quarter":
                notes["quarter"].append(f"{hit.code} 已达季度上限")
            elif hit.scope == "year":
                ind = scheme.indicators.get(hit.code)
                if ind is not None and ind.category in notes:
                    notes[ind.category].append(f"{hit.code} 已达年度上限")
            elif hit.scope == "category" and hit.code in notes:
                notes[hit.code].append(f"类别上限 {pts(s.basic_cap if hit.code == 'J' else s.contribution_cap)} 已达到")
        return notes

    @staticmethod
    def _capped(value, notes: list[str]) -> str:
        if not notes:
            return pts(value)
        t = E("；".join(notes))
        return f'{pts(value)}<span class="cap-mark" title="{t}" aria-label="{t}">▲</span>'

    def row(self, b, m, s, st, scheme, warnings, user, quick, added: str = "") -> str:
        mid, name, prob = m[0], m[1], m[2]
        notes = self._cap_notes(s, scheme)
        bid = b[0]
        parts = [f'<tr id="member-{mid}-row" class="roster-row{" row-flash" if added else ""}"'
                 f'{" data-refocus" if added else ""}>\n<th scope="row" class="name-cell">'
                 f'<a href="/members/{mid}">{E(name)}</a>']
        if prob:
            parts.append('<span class="tag">预备党员</span>')
        n_pending = st["pending"].get(mid)
        if n_pending:
            parts.append(f'<a class="pill pill-info" href="/members/{mid}" title="自记事项待确认">{n_pending} 条待确认</a>')
        for on, host in st["elsewhere"].get(mid, ()):
            parts.append(f'<span class="tag tag-elsewhere" title="{on.isoformat()} 在{E(host)}参加组织生活">异地参加</span>')
        for w in warnings:
            parts.append(f'<div class="warn-text small">{E(w.text())}</div>')
        t = s.type_code
        parts.append(f'</th>\n<td><span class="type-badge type-{t.lower()}" title="{E(scheme.types[t].zh)}">'
                     f'{TYPE_LABEL[t]}</span></td>\n'
                     f'<td class="num">{self._capped(s.month.total, notes["month"])}</td>\n'
                     f'<td class="num">{self._capped(s.quarter.total, notes["quarter"])}</td>\n'
                     f'<td class="num">{self._capped(s.j, notes["J"])}</td>\n'
                     f'<td class="num">{self._capped(s.z, notes["Z"])}</td>\n'
                     f'<td class="num {"neg" if s.k < 0 else ""}">{pts(s.k)}</td>\n'
                     f'<td class="num strong score-cell">{pts(s.score)}</td>\n<td class="actions">')
        if user[7] != mid:
            base = f"/branches/{bid}/members/{mid}"
            parts.append(f'<button class="btn btn-small btn-primary row-add" hx-get="{base}/add">记分</button>')
            for code in quick:
                ind = scheme.indicators[code]
                if ind.is_hours:
                    parts.append(f'<button class="btn btn-small quick" hx-get="{base}/add?indicator={code}" '
                                 f'title="{E(ind.zh)}">{code} …</button>')
                elif ind.applies(t):
                    p = signed(ind.points_for(t))
                    parts.append(f'<button class="btn btn-small quick" hx-post="{base}/quick/{code}" '
                                 f'hx-vals=\'{{"idempotency_key": "{uuid.uuid4().hex}"}}\' title="{E(ind.zh)} {p}">'
                                 f'{code} {p}</button>')
            parts.append(f'<button class="btn btn-small btn-ghost" hx-get="{base}/entries">明细/撤销</button>')
        else:
            parts.append('<span class="muted small">本人记录：由其他书记录入。</span>')
        parts.append(added)
        for eid, on in st["conflicts"].get(mid, ()):
            parts.append(f'<div class="row-msg row-warn">{on.isoformat()} 记有 K1，但{E(name)}本月已在其他支部参加组织生活。'
                         f'<button class="btn btn-small" hx-post="/entries/{eid}/correct" hx-vals=\'{{"reason": '
                         f'"本月已在其他支部参加组织生活", "idempotency_key": "{uuid.uuid4().hex}"}}\'>更正该 K1</button></div>')
        parts.append("</td>\n</tr>\n")
        return "".join(parts)

    def totals(self, st, scores, warnings, oob: bool = False) -> str:
        n = len(st["members"])
        total = sum((s.score for s in scores.values()), Decimal(0))
        grades: dict[str, int] = defaultdict(int)
        for s in scores.values():
            grades[s.grade.code or "none"] += 1
        month = sum((s.month.total for s in scores.values()), Decimal(0))
        avg = pts(round_half_up(Fraction(total) / n)) if n else "—"  # the exact mean, rounded once
        return (f'<section id="branch-totals" class="stats-row roster-totals" aria-label="支部合计"'
                f'{OOB if oob else ""}>\n'
                f'<div class="stat"><div class="stat-value">{n}</div><div class="stat-label">党员</div></div>\n'
                f'<div class="stat"><div class="stat-value" id="branch-average">{avg}</div>'
                f'<div class="stat-label">平均累计得分</div></div>\n'
                f'<div class="stat"><div class="stat-value" id="branch-month-total">{pts(month)}</div>'
                f'<div class="stat-label">本月得分</div></div>\n'
                f'<div class="stat"><div class="stat-value">{grades.get("advanced", 0)} / {grades.get("rectify", 0)}'
                f'</div><div class="stat-label">建议优秀 / 限期整改</div></div>\n'
                f'<div class="stat"><div class="stat-value">{sum(st["pending"].get(m[0], 0) for m in st["members"])}'
                f'</div><div class="stat-label">待确认自记</div></div>\n</section>\n')

    def roster(self, token: str, branch_id: int) -> str:
        user = self.session(token)
        b = self.branch(branch_id, user)
        day = self.today
        _vid, scheme = self.scheme(day.year)
        st = self.branch_state(branch_id, scheme, day)
        scores, warnings = self.score_all(st, scheme, day)
        quick = [c for c in (b[3] or "").split(",") if c in scheme.indicators and not scheme.indicators[c].retired]
        rows = [self.row(b, m, scores[m[0]], st, scheme, warnings[m[0]], user, quick) for m in st["members"]]
        cats = scheme.categories
        body = "".join((
            f'<div class="page-header"><div><p class="eyebrow">{E(b[5])} · {KIND_LABEL.get(b[2], b[2])}</p>'
            f'<h1>{E(b[1])}</h1><p class="page-subtitle">{day.year} 年积分，截至 {day.isoformat()}。点击行内“记分”录入。</p>'
            f'</div><div class="page-actions"><a class="btn" href="/branches/{b[0]}/meetings/new">录入会议或活动</a>'
            f'<a class="btn" href="/branches/{b[0]}/leaves">请假与免除</a></div></div>\n',
            self.totals(st, scores, warnings),
            '<section class="card roster-card"><div class="table-wrap"><table class="table roster" id="roster">'
            '<thead><tr><th scope="col">姓名</th><th scope="col">类别</th><th scope="col" class="num">本月</th>'
            '<th scope="col" class="num">本季度</th>'
            f'<th scope="col" class="num" title="{E(cats["J"].zh)}">基本要求 (J)</th>'
            f'<th scope="col" class="num" title="{E(cats["Z"].zh)}">发挥作用 (Z)</th>'
            f'<th scope="col" class="num" title="{E(cats["K"].zh)}">扣分 (K)</th>'
            '<th scope="col" class="num">年度累计得分</th><th scope="col" class="actions-col">记分</th></tr></thead>\n'
            '<tbody hx-target="closest tr" hx-swap="outerHTML">\n',
            "".join(rows) or '<tr><td colspan="9" class="empty">本支部没有在册党员。</td></tr>',
            '</tbody></table></div></section>\n<details class="card quick-settings"><summary>每行的快捷按钮</summary>'
            f'<form method="post" action="/branches/{b[0]}/quick" class="quick-form">'
            '<div class="check-grid">',
            "".join(f'<label class="check"><input type="checkbox" name="codes" value="{i.code}"'
                    f'{" checked" if i.code in quick else ""}> <strong>{i.code}</strong> {E(i.zh)}</label>'
                    for i in scheme.indicators.values() if not i.retired and not i.veto),
            '</div><button class="btn btn-primary" type="submit">保存快捷按钮</button></form></details>\n',
        ))
        return self.page(user, b[1], body, f"/branches/{b[0]}/roster", "page page-wide")

    # -- inline add ---------------------------------------------------------------------------
    def inline_add(self, token: str, branch_id: int, member_id: int, code: str, value, note: str, key: str,
                   earned_on: date | None = None) -> str:
        user = self.session(token)
        b = self.branch(branch_id, user)
        day = self.today
        on = earned_on or day
        vid, scheme = self.scheme(day.year)
        st = self.branch_state(branch_id, scheme, day, warn_only=member_id)  # read before the insert; the entry is added below
        m = next((x for x in st["members"] if x[0] == member_id), None)
        if m is None or user[7] == member_id:
            raise LookupError("not a member of this branch, or one's own record")
        history = st["histories"][member_id]
        type_code = type_on(history, on)
        ev = entry_points(scheme, code, type_code, value)
        ind = scheme.indicators[code]
        check_note(ind, note)
        check_earned_on(on, day, previous_year_open=True)
        if on < self._date(m[3]):
            raise ValueError("before the roll")
        # The same item for the same member and day again is asked about before it is written (the app's doubt).
        same_day = self.rows("SELECT e.indicator_code FROM point_entry e WHERE e.member_id = ? AND e.earned_on = ? "
                             "AND COALESCE(e.corrects_id, 0) = 0 AND NOT EXISTS (SELECT 1 FROM point_entry c "
                             "WHERE c.corrects_id = e.id)", (member_id, self.c.d(on)))
        if any(r[0] == code for r in same_day):
            raise ValueError("the same item on the same day: the app asks first")
        q = quarter_of(on.month)
        pub = self.rows("SELECT id, year, quarter FROM publication WHERE branch_id = ? AND year = ? AND quarter = ? "
                        "AND retracted_at IS NULL ORDER BY published_at DESC LIMIT 1", (branch_id, on.year, q))
        if pub and not note:
            raise ValueError("adjustment needs a reason")
        now = datetime.utcnow()
        cur = self.raw.cursor()
        cur.execute(dbio.q(self.dialect,
                    "INSERT INTO point_entry (member_id, branch_id, year, indicator_code, category, points, quantity, "
                    "earned_on, note, source, scheme_version_id, recorded_by_id, recorded_at, adjusts_publication_id, "
                    "idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'inline', ?, ?, ?, ?, ?) RETURNING id"),
                    (member_id, branch_id, on.year, code, ind.category, self.c.num(ev.points), self.c.num(ev.quantity),
                     self.c.d(on), note, vid, user[0], self._ts(now), pub[0][0] if pub else None, key))
        entry_id = cur.fetchone()[0]
        cur.execute(dbio.q(self.dialect,
                    "INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, member_id, summary, "
                    "ip) VALUES (?, ?, ?, 'entry_added', 'pointentry', ?, ?, ?, '127.0.0.1')"),
                    (self._ts(now), user[0], user[1], entry_id, member_id, f"{m[1]} {code} {ev.points} on {on}"))
        self.add_sums([(member_id, code, ind.category, on, ev.points)])
        self.raw.commit()
        led = st["ledgers"][member_id]
        before = MemberLedger(dict(led.tenths), dict(led.counts), dict(led.first_dates))
        led.add(code, ind.category, on, ev.points)
        act, ab, ar = st["months"][member_id]
        for months, wanted in ((act, True), (ab, ind.role == "absence"), (ar, ind.role == "dues_arrears")):
            if wanted:
                months.add((on.year, on.month))
        scores, warnings = self.score_all(st, scheme, day)
        s0 = score_member(scheme, day.year, day, history, before, on_roll_since=self._date(m[3]), member_id=member_id)
        after = scores[member_id]
        counted = after.score - s0.score
        msg = [f'<div class="row-msg" role="status">已记录：{code} {signed(ev.points)}（{on.isoformat()}）。']
        if counted != ev.points:
            msg.append(f"<strong>计入得分 {signed(counted)}。</strong>")
        for hit in after.caps_reached:
            if hit.code == code and ((hit.scope == "month" and hit.period == on.month)
                                     or (hit.scope == "quarter" and hit.period == q) or hit.scope == "year"):
                msg.append(f'<strong class="warn-text">{code} 已达上限。</strong>')
                break
            if hit.scope == "category" and hit.code == ind.category:
                msg.append('<strong class="warn-text">该类别已达年度上限。</strong>')
                break
        if pub:
            msg.append(f'<span class="tag tag-adjust">{pub[0][1]}-Q{pub[0][2]} 公示后补记</span>')
        msg.append(f'<button class="btn-link" hx-get="/entries/{entry_id}/correct">撤销</button></div>')
        quick = [c for c in (b[3] or "").split(",") if c in scheme.indicators and not scheme.indicators[c].retired]
        return (self.row(b, m, after, st, scheme, warnings[member_id], user, quick, "".join(msg))
                + self.totals(st, scores, warnings, oob=True))

    def _ts(self, dt: datetime):
        return dt.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else dt

    # -- a meeting for the whole branch ---------------------------------------------------------
    def meeting(self, token: str, branch_id: int, held_on: date, topic: str, key: str) -> str:
        user = self.session(token)
        b = self.branch(branch_id, user)
        vid, scheme = self.scheme(held_on.year)
        ind = next(i for i in scheme.indicators.values() if i.role == "attendance" and not i.retired)
        members = self.rows("SELECT id, name, on_roll_since FROM member WHERE branch_id = ? AND status = 'active' "
                            "ORDER BY name, id", (branch_id,))
        histories = self.histories(BRANCH_TYPES, (branch_id,))
        check_earned_on(held_on, self.today, previous_year_open=True)
        pub = self.rows("SELECT id FROM publication WHERE branch_id = ? AND year = ? AND quarter = ? "
                        "AND retracted_at IS NULL ORDER BY published_at DESC LIMIT 1",
                        (branch_id, held_on.year, quarter_of(held_on.month)))
        adjusts = pub[0][0] if pub else None
        now = self._ts(datetime.utcnow())
        d = self.c.d(held_on)
        cur = self.raw.cursor()
        cur.execute(dbio.q(self.dialect,
                    "INSERT INTO meeting (branch_id, held_on, kind, indicator_code, topic, expected_count, recorded_by_id, "
                    "recorded_at) VALUES (?, ?, 'org_life', ?, ?, ?, ?, ?) RETURNING id"),
                    (branch_id, d, ind.code, topic, len(members), user[0], now))
        meeting_id = cur.fetchone()[0]
        values, params, who = [], [], []
        for mid, name, since in members:
            if mid == user[7] or held_on < self._date(since):
                raise ValueError("own record, or not on the roll yet")
            ev = entry_points(scheme, ind, type_on(histories[mid], held_on))
            values.append("(?, ?, ?, ?, ?, ?, ?, ?, ?, 'meeting', ?, ?, ?, ?, ?, ?, ?)")
            params += [mid, branch_id, held_on.year, ind.code, ind.category, self.c.num(ev.points), None, d, topic,
                       meeting_id, branch_id, vid, user[0], now, adjusts]
            params.append(f"{key}:{mid}")
            who.append((mid, name, ev.points))
        cur.execute(dbio.q(self.dialect,
                    "INSERT INTO point_entry (member_id, branch_id, year, indicator_code, category, points, quantity, "
                    "earned_on, note, source, meeting_id, host_branch_id, scheme_version_id, recorded_by_id, "
                    "recorded_at, adjusts_publication_id, idempotency_key) VALUES "
                    + ", ".join(values)
                    + " RETURNING id"), params)
        ids = [r[0] for r in cur.fetchall()]
        audit_params = []
        on = held_on.isoformat()
        for eid, (mid, name, p) in zip(ids, who):
            # What the audit page shows as "Recorded as" for each entry (the app's entry_added row carries it).
            after = json.dumps({"id": eid, "member_id": mid, "indicator": ind.code, "points": str(p), "quantity": None,
                                "earned_on": on, "note": topic, "source": "meeting", "corrects_id": None,
                                "adjusts_publication_id": adjusts})
            audit_params += [now, user[0], user[1], "entry_added", "pointentry", eid, mid, f"{name} {ind.code} {p} on {held_on}",
                             after]
        audit_params += [now, user[0], user[1], "meeting_recorded", "meeting", meeting_id, None,
                         f"{b[1]} {held_on} org_life {topic}: {len(ids)} entries", None]
        cur.execute(dbio.q(self.dialect, "INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, "
                                         "member_id, summary, after, ip) VALUES "
                           + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, '127.0.0.1')"] * (len(ids) + 1))),
                    audit_params)
        self.add_sums([(mid, ind.code, ind.category, held_on, p) for mid, _n, p in who])
        self.raw.commit()
        return f"302 /branches/{branch_id}/roster 会议已记录：写入 {len(ids)} 条记录。"

    # -- a member's booklet ---------------------------------------------------------------------
    def booklet(self, token: str, member_id: int) -> str:
        user = self.session(token)
        row = self.rows("SELECT m.id, m.name, m.branch_id, m.street_id, m.on_roll_since, m.left_roll_on, m.status, "
                        "m.booklet_no, m.probationary, b.name, b.community_id, c.name FROM member m "
                        "JOIN branch b ON b.id = m.branch_id JOIN community c ON c.id = b.community_id WHERE m.id = ?",
                        (member_id,))
        if not row:
            raise LookupError("no member")
        (mid, name, branch_id, street, since, left, status, booklet_no, prob, bname, cid, cname) = row[0]
        role = user[3]
        if street != user[4] or not (user[7] == mid or role == "street_admin"
                                     or (role == "community_secretary" and cid == user[5])
                                     or (role == "branch_secretary" and branch_id == user[6])):
            raise LookupError("out of scope")
        day = self.today
        year = day.year
        since = self._date(since)
        _vid, scheme = self.scheme(year)
        types = self.rows("SELECT type_code, effective_from, reason, own_wish, decided_by_id FROM member_type "
                          "WHERE member_id = ? ORDER BY effective_from, id", (mid,))
        history = [(self._date(t[1]), t[0]) for t in types]
        entries = self.rows("SELECT id, indicator_code, category, points, quantity, earned_on, note, source, "
                            "host_branch_id, recorded_by_id, recorded_at, corrects_id, adjusts_publication_id "
                            "FROM point_entry WHERE member_id = ? AND year = ? ORDER BY earned_on, id", (mid, year))
        years = sorted({y for (y,) in self.rows("SELECT DISTINCT year FROM point_entry WHERE member_id = ?", (mid,))}
                       | {year} | ({year - 1} if since.year < year else set()), reverse=True)
        records = self.rows("SELECT id, indicator_code, earned_on, quantity, note, status, reject_reason, decided_by_id, "
                            "decided_at FROM self_record WHERE member_id = ? AND (status = 'pending' OR "
                            "(status = 'rejected' AND earned_on >= ? AND earned_on < ?)) ORDER BY earned_on, id",
                            (mid, self.c.d(date(year, 1, 1)), self.c.d(date(year + 1, 1, 1))))
        corrections = {e[11]: e for e in entries if e[11] is not None}
        corrected = set(corrections)
        ledger = MemberLedger()
        lines: dict[int, list] = defaultdict(list)
        for e in entries:
            if e[11] is None:
                on = self._date(e[5])
                lines[on.month].append((e, on, corrections.get(e[0])))
                if e[0] not in corrected and on <= day:
                    ledger.add(e[1], e[2], on, self._dec(e[3]))
        user_ids = {e[9] for e in entries} | {t[4] for t in types} | {r[7] for r in records}
        user_ids.discard(None)
        names = {i: d or u for i, d, u in self.rows(
            f'SELECT id, display_name, username FROM "user" WHERE id IN ({", ".join("?" * len(user_ids))})',
            tuple(user_ids))} if user_ids else {}
        hosts = {e[8] for e in entries if e[8] is not None and e[8] != branch_id}
        host_names = dict(self.rows(f"SELECT id, name FROM branch WHERE id IN ({', '.join('?' * len(hosts))})",
                                    tuple(hosts))) if hosts else {}
        adjusts = {e[12] for e in entries if e[12] is not None}
        pubs = {i: f"{y}-Q{q}" for i, y, q in self.rows(
            f"SELECT id, year, quarter FROM publication WHERE id IN ({', '.join('?' * len(adjusts))})",
            tuple(adjusts))} if adjusts else {}
        # The decisions about the member the booklet lists (none in the generated street: read, shown when there are).
        grades = self.rows("SELECT r.year, g.grade FROM review_grade g JOIN year_review r ON r.id = g.review_id "
                           "WHERE g.member_id = ? AND r.status = 'confirmed' ORDER BY r.year DESC", (mid,))
        cases = self.rows("SELECT id, status, deadline FROM rectification_case WHERE member_id = ? "
                          "ORDER BY opened_at DESC, id DESC", (mid,))
        score = score_member(scheme, year, day, history, ledger, on_roll_since=since,
                             left_roll_on=self._date(left) if left else None, status=status, member_id=mid)
        last = day.month
        running = {}
        for mo in range(1, last + 1):
            end = min(date(year + (mo == 12), mo % 12 + 1, 1) - timedelta(days=1), day)
            running[mo] = year_score(scheme, year, end, history, ledger).score
        first = 1 if since.year < year else since.month
        months = [mo for mo in range(1, last + 1) if mo >= first or lines[mo]]
        return self.page(user, f"积分手册 · {name} · {year}",
                         self._booklet_body(scheme, score, mid, name, booklet_no, since, prob, status, bname, cname,
                                            year, years, types, names, months, running, lines, host_names, pubs,
                                            records, day, user, grades, cases),
                         f"/members/{mid}")

    def _booklet_body(self, scheme, score, mid, name, booklet_no, since, prob, status, bname, cname, year, years,
                      types, names, months, running, lines, host_names, pubs, records, day, user, grades=(),
                      cases=()) -> str:
        cats = scheme.categories
        t = score.type_code

        def fig(v, sign=False):
            if not v:
                return '<span class="zero">0</span>'
            return f'<span class="{"neg" if v < 0 else ""}">{signed(v) if sign else pts(v)}</span>'

        out = [f'<div id="booklet" class="booklet"><header class="booklet-head"><div class="booklet-id">'
               f'<p class="booklet-kicker">积分手册 · {year}</p><h1>{E(name)}</h1><p class="booklet-meta">'
               f'<span class="type-badge type-{t.lower()}">{TYPE_LABEL[t]}</span> <span>{E(scheme.types[t].zh)}</span>'
               f'<span>{E(cname)} · {E(bname)}</span>',
               f'<span>手册编号 {E(booklet_no)}</span>' if booklet_no else "",
               f'<span>{since.isoformat()} 起在册</span>',
               '<span class="tag">预备党员</span>' if prob else "",
               '<span class="tag">已不在册</span>' if status != "active" else "",
               '</p></div><div class="booklet-tools">']
        if len(years) > 1:
            out.append('<nav class="year-tabs" aria-label="年度">')
            for y in years:
                u = f"/members/{mid}?year={y}"
                out.append(f'<a href="{u}" hx-get="{u}" hx-target="#booklet" hx-swap="outerHTML" hx-push-url="true"'
                           f'{CURRENT if y == year else ""}>{y}</a>')
            out.append("</nav>")
        out.append(f'<a class="btn" href="/members/{mid}/print?year={year}">打印</a></div></header>'
                   '<section id="booklet-figures" class="booklet-figures" aria-label="年度得分"><div class="stats-row">')
        for label, value, hint in (
                ("年度累计得分", pts(score.score), f"满分 {pts(score.max_score)} · 截至 {day.isoformat()}"),
                ("基础分", pts(score.base), "按类别逐月计算"),
                (cats["J"].zh, pts(score.j), f"已得 {pts(score.j_uncapped)} · 上限 {pts(score.basic_cap)}"
                 if score.j_uncapped > score.j else f"上限 {pts(score.basic_cap)}"),
                (cats["Z"].zh, pts(score.z), f"已得 {pts(score.z_uncapped)} · 上限 {pts(score.contribution_cap)}"
                 if score.z_uncapped > score.z else f"上限 {pts(score.contribution_cap)}"),
                (cats["K"].zh, pts(score.k), "不设上限")):
            out.append(f'<div class="stat"><div class="stat-value">{value}</div><div class="stat-label">{E(label)}</div>'
                       f'<div class="stat-hint">{hint}</div></div>')
        out.append("</div>")
        if score.veto:
            out.append('<div class="flash flash-error" role="status">本年度有一票否决记录：年度得分为 0。</div>')
        out.append('<div class="grid-2"><section class="card"><h2 class="card-title">逐月</h2><div class="table-wrap">'
                   '<table class="table booklet-summary"><thead><tr><th scope="col">月份</th>'
                   f'<th scope="col" class="num">{E(cats["J"].zh)}</th><th scope="col" class="num">{E(cats["Z"].zh)}</th>'
                   f'<th scope="col" class="num">{E(cats["K"].zh)}</th><th scope="col" class="num">月合计</th>'
                   '<th scope="col" class="num">月末年度得分</th></tr></thead><tbody>')
        detail = score.detail.months
        for mo in months:
            p = detail[mo - 1]
            out.append(f'<tr><th scope="row"><a href="#month-{mo}">{mo}月</a></th><td class="num">{fig(p.j)}</td>'
                       f'<td class="num">{fig(p.z)}</td><td class="num">{fig(p.k)}</td>'
                       f'<td class="num strong">{fig(p.total, True)}</td>'
                       f'<td class="num year-cell">{pts(running[mo]) if mo in running else "–"}</td></tr>')
        out.append(f'</tbody><tfoot><tr><th scope="row">年度（封顶后）</th><td class="num">{pts(score.j)}</td>'
                   f'<td class="num">{pts(score.z)}</td><td class="num">{fig(score.k)}</td>'
                   f'<td class="num muted small">基础分 {pts(score.base)}</td>'
                   f'<td class="num year-cell strong">{pts(score.score)}</td></tr></tfoot></table></div></section>'
                   '<section class="card"><h2 class="card-title">类别及其变化</h2><ol class="timeline type-history">')
        for code, start, reason, wish, by in reversed(types):
            out.append(f'<li><div><span class="type-badge type-{code.lower()}">{TYPE_LABEL[code]}</span> '
                       f'<strong>{E(scheme.types[code].zh)}</strong></div><div class="small">自 {self._date(start).isoformat()}'
                       + (f" · 由 {E(names[by])} 决定" if by in names else "") + "</div>"
                       + (f'<div class="small"><span class="muted">原因：</span> {E(reason)}</div>' if reason else "")
                       + (f'<div class="small"><span class="muted">本人意愿：</span> {E(wish)}</div>' if wish else "")
                       + "</li>")
        out.append("</ol></section></div></section>")
        pending = [r for r in records if r[5] == "pending"]
        if pending and user[7] != mid:
            out.append(f'<section class="card" id="booklet-pending"><h2 class="card-title">待确认的自记事项 '
                       f'<span class="pill pill-warn">{len(pending)}</span></h2><ul class="pending-list">')
            for r in pending:
                out.append(f'<li id="self-record-{r[0]}"><span class="ind-code">{r[1]}</span> '
                           f'{E(scheme.indicators[r[1]].zh)} · {self._date(r[2]).isoformat()} · {E(r[4])}'
                           f'<form hx-post="/self-records/{r[0]}/confirm"><button class="btn btn-small btn-primary">确认'
                           f'</button></form><form hx-post="/self-records/{r[0]}/reject"><input name="reason">'
                           '<button class="btn btn-small">退回</button></form></li>')
            out.append("</ul></section>")
        rejected = [r for r in records if r[5] == "rejected"]
        if rejected:
            out.append('<section class="card"><h2 class="card-title">已退回</h2><ul>')
            for r in rejected:
                out.append(f'<li>{r[1]} {self._date(r[2]).isoformat()} {E(r[4])} · 退回原因：{E(r[6])}</li>')
            out.append("</ul></section>")
        if grades or cases:
            out.append('<section class="card member-decisions"><h2 class="card-title">关于我的决定</h2><ul>'
                       + "".join(f"<li>{y} {E(g)}</li>" for y, g in grades)
                       + "".join(f"<li>{E(st)} {E(str(dl))}</li>" for _i, st, dl in cases) + "</ul></section>")
        out.append(f'<section id="service-declare" class="card declare-card" hx-get="/members/{mid}/declare" '
                   'hx-trigger="load" hx-swap="innerHTML"><h2 class="card-title">奉献岗和联系户</h2>'
                   f'<p><a href="/members/{mid}/declare">查看和申报奉献岗、联系户</a></p></section>')
        # A secretary may undo the entries of a year still open for corrections (the current year is).
        undo = user[3] != "member" and user[7] != mid and status == "active" and year >= day.year
        n_entries = sum(len(v) for v in lines.values())
        out.append(f'<div id="booklet-months" class="booklet-months"><h2 class="section-title">逐月明细 '
                   f'<span class="muted small">{n_entries} 条</span></h2>')
        for mo in reversed(months):
            p = detail[mo - 1]
            out.append(f'<section class="card booklet-month" id="month-{mo}"><header class="month-head">'
                       f'<h3>{year}年{mo}月</h3><dl class="month-figs"><div><dt>{E(cats["J"].zh)}</dt><dd>{fig(p.j)}</dd>'
                       f'</div><div><dt>{E(cats["Z"].zh)}</dt><dd>{fig(p.z)}</dd></div><div><dt>{E(cats["K"].zh)}</dt>'
                       f'<dd>{fig(p.k)}</dd></div><div class="fig-total"><dt>月合计</dt><dd>{fig(p.total, True)}</dd></div>'
                       + (f'<div class="fig-year"><dt>月末年度得分</dt><dd>{pts(running[mo])}</dd></div>' if mo in running
                          else "") + "</dl></header>")
            if not lines[mo]:
                out.append('<p class="empty">本月无记录。</p></section>')
                continue
            out.append('<div class="table-wrap"><table class="table booklet-table"><thead><tr><th scope="col">日期</th>'
                       '<th scope="col">事项</th><th scope="col" class="num">分值</th><th scope="col" class="num">时长</th>'
                       '<th scope="col">备注</th><th scope="col">记录人</th>'
                       + ('<th scope="col" class="c-undo">撤销</th>' if undo else "") + '</tr></thead><tbody>')
            for e, on, c in lines[mo]:
                ind = scheme.indicators.get(e[1])
                item = f'<span class="ind-code">{e[1]}</span> <span class="ind-name">{E(ind.zh) if ind else ""}</span>'
                p = self._dec(e[3])
                tags = ""
                if e[12] in pubs:
                    tags += f'<span class="tag tag-adjust">{pubs[e[12]]} 公示后补记</span>'
                if e[8] in host_names:
                    tags += f'<span class="tag tag-elsewhere">在{E(host_names[e[8]])}参加</span>'
                hours = f"{pts(self._dec(e[4]))} 小时" if e[4] is not None else ""
                out.append(f'<tr id="entry-{e[0]}" class="{"is-corrected" if c else ""}"><td class="nowrap">'
                           f'{on.isoformat()}</td><td>'
                           + (f'<del>{item}</del> <span class="tag tag-struck">已更正</span>' if c else item) + tags
                           + '</td><td class="num pts">'
                           + (f"<del>{signed(p)}</del>" if c else f'<span class="{"neg" if p < 0 else "pos"}">{signed(p)}</span>')
                           + f'</td><td class="num">{hours}</td><td class="note">{E(e[6])}</td><td class="who">'
                           f'{E(names.get(e[9], "—"))}<span class="who-meta">{SOURCE_LABEL.get(e[7], e[7])} · '
                           f'{self._local(e[10])}</span></td>'
                           + ((f'<td class="c-undo"><button class="btn btn-small" hx-get="/entries/{e[0]}/correct?on=booklet" '
                               f'hx-target="#entry-{e[0]}" hx-swap="outerHTML">撤销</button></td>' if not c else "<td></td>")
                              if undo else "") + "</tr>")
                if c:
                    out.append(f'<tr id="entry-{e[0]}-correction" class="correction-row"><td class="nowrap" aria-hidden='
                               f'"true">↳</td><td><span class="tag tag-correction">更正</span></td><td class="num pts neg">'
                               f'{signed(self._dec(c[3]))}</td><td class="num"></td><td class="note"><span class="muted">'
                               f'原因：</span> {E(c[6])}</td><td class="who">{E(names.get(c[9], "—"))}<span class="who-meta">'
                               f'{self._local(c[10])}</span></td>' + ("<td></td>" if undo else "") + "</tr>")
            out.append("</tbody></table></div></section>")
        out.append("</div></div>")
        return "".join(out)

    def _local(self, ts) -> str:
        if isinstance(ts, str):
            ts = datetime.fromisoformat(ts)
        return ts.replace(tzinfo=UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")

    # -- the suggested grades of every active member ----------------------------------------------
    def grading(self, year: int, as_of: date) -> dict[int, str | None]:
        """Every active member's suggested grade; ``self.grading_split`` says where the time went."""
        import time
        t0 = time.perf_counter()
        _vid, scheme = self.scheme(year)
        members = self.rows("SELECT id, on_roll_since, left_roll_on, status FROM member WHERE status = 'active' "
                            "ORDER BY id")
        histories = self.histories(
            "SELECT t.member_id, t.effective_from, t.type_code FROM member_type t JOIN member m "
            "ON m.id = t.member_id WHERE m.status = 'active' ORDER BY t.member_id, t.effective_from, t.id")
        ledgers = self.stored_ledgers(year, min(as_of, date(year, 12, 31)))
        t1 = time.perf_counter()
        out = {}
        for mid, since, left, status in members:
            s = score_member(scheme, year, as_of, histories[mid], ledgers[mid], on_roll_since=self._date(since),
                             left_roll_on=self._date(left) if left else None, status=status, member_id=mid)
            out[mid] = s.grade.code
        self.grading_split = {"read_ms": round((t1 - t0) * 1000, 1),
                              "score_member_ms": round((time.perf_counter() - t1) * 1000, 1)}
        return out
