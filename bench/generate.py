"""Build a qscore database at a scale, fast, with the demo street's realism.

Why a separate generator: ``qscore.demo`` builds a 300-member street through the ORM and checks
every member against the rules; at district scale (7,246 members, ~1.6M ledger entries) that
would take hours. This one reuses the demo's name lists and type mixes but simulates the years
month by month and writes each month with bulk inserts (executemany on SQLite, COPY on
PostgreSQL), ids assigned here. Month by month keeps the physical order of the ledger as a real
database has it: entries of one branch are scattered among everyone else's, by date.

What is in it: streets, communities and branches of every kind; members with Chinese names
(and a few hostile ones: ``<script>``, quotes, a 100-character name) in four types, with type
changes and leaves; for every branch a monthly organisational life (J1 linked to the meeting by
meeting_id, absences as K1), a quarterly branch general meeting, study (J2), the annual appraisal
(J4), volunteer activities (Z3 with hours as quantity), the charity day (Z7); per member dues
(J3 quarterly, K2 in arrears), booklet/pledge/report items (J5-J7), volunteer posts (Z1),
contact households (Z2), own volunteer hours (Z3), key tasks (Z4), suggestions (Z5), pairing
(Z6), commendations (Z7), deductions (K3, one K4 and one veto per street), flexible attendance
at another branch, entries recorded twice and corrected (corrects_id), self-records pending,
confirmed and rejected; an audit row per entry; Q1-Q3 of the last year published per branch with
real snapshots (canonical JSON and SHA-256, scored by qscore.scoring); every past year's review
confirmed with its grades. Accounts: a street admin per street, a community secretary per
community and a secretary per branch (each linked to a member), all with BENCH_PASSWORD hashed
once with a cheap method.

A marker (table ``bench_meta``: scale, generator version, last day, a fingerprint of the app's
schema) lets a later run reuse the database instead of building it again.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.schema import CreateIndex
from werkzeug.security import generate_password_hash

from qscore.db import db
from qscore.demo import COMPOUND_SURNAMES, GIVEN, ORG_LIFE_TOPICS, POSTS, SINGLE_GIVEN, STUDY_TOPICS, SURNAMES, TYPE_MIX
from qscore.models import (Branch, BranchSpell, Community, Leave, Meeting, Member, MemberType, Publication,
                           ReviewGrade, SchemeVersion, SelfRecord, Street, User, YearReview)
from qscore.scheme import Scheme, default_scheme_data
from qscore.names import sort_key
from qscore.scoring import MemberLedger, entry_points, score_member, year_sums

from . import dbio
from . import dues_plan
from .dues_plan import DUES_CLOSED_THROUGH
from .scales import GENERATOR_VERSION, LAST_DAY, Scale

BENCH_PASSWORD = "bench-password-2026"
CHEAP_HASH = "pbkdf2:sha256:1000"  # the bench logs in thousands of times; scrypt would dominate
HOSTILE_NAMES = ("<script>alert(1)</script>", "王\"小'明 & <b>", "欧阳" + "长" * 98)
BIG_TABLES = ("point_entry", "audit_log")  # secondary indexes dropped during the load, rebuilt after

STREET_NAMES = ("城东街道", "城西街道", "城南街道", "城北街道", "中山街道", "湖滨街道", "新华街道")
COMMUNITY_WORDS = ("前进", "和平", "光明", "幸福", "新华", "建设", "胜利", "东风", "朝阳", "红星", "长安",
                   "民主", "团结", "友谊", "文化", "人民", "解放", "振兴", "育才", "春晖", "金桥", "滨河")
CORRECTION_NOTE = "录入错误，更正"
TRANSITIONS = {"A": ("B", "C"), "B": ("D",), "C": ("A", "B"), "D": ("B",)}
VOLUNTEER = {3: (5, "学雷锋志愿服务日", Decimal("2.5")), 6: (14, "社区环境卫生整治", Decimal("2")),
             10: (11, "重阳节敬老助老志愿服务", Decimal("3")), 12: (6, "冬季消防安全巡查", Decimal("2"))}
HOURS = tuple(Decimal(h) for h in ("1", "1.5", "2", "2.5", "3", "4"))


class FastRandom(random.Random):
    """randint and choice from random() alone: the generator draws ~10 million numbers, and the
    stdlib's unbiased versions are several times slower (a bias below 2**-40 is irrelevant here)."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]


def database_path(scale: str) -> Path:
    return Path(__file__).resolve().parent / f"bench-{scale}.sqlite3"


def database_url(scale: str) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{database_path(scale)}"


# ---------------------------------------------------------------------------------------------
# The plan, in memory
# ---------------------------------------------------------------------------------------------

@dataclass(eq=False)
class B:
    id: int
    community: int
    street: int
    name: str
    kind: str
    size: int
    members: list["M"] = field(default_factory=list)
    secretary_user: int = 0
    base_day: int = 12
    org: tuple[int, date] | None = None  # this month's organisational life: (meeting id, day)
    extra: list = field(default_factory=list)  # this month's other meetings


@dataclass(eq=False)
class M:
    id: int
    branch: B
    name: str
    gender: str
    birth_year: int
    type: str
    on_roll_since: date
    left_roll_on: date | None = None
    status: str = "active"
    types: list[tuple[date, str, str]] = field(default_factory=list)
    leaves: list[tuple[str, date, date, str]] = field(default_factory=list)
    post: bool = False
    households: bool = False
    pairing: bool = False
    weak: bool = False
    diligence: float = 1.0
    host: B | None = None
    recorder: int = 0  # who records this member's entries (never the member's own account)
    agg: dict[int, dict[tuple[str, str, int], list]] = field(default_factory=dict)

    def on_roll(self, d: date) -> bool:
        return self.on_roll_since <= d and (self.left_roll_on is None or d < self.left_roll_on)

    def leave_on(self, d: date) -> str | None:
        for kind, s, e, _r in self.leaves:
            if s <= d <= e:
                return kind
        return None


def _weekday(d: date) -> date:
    wd = d.weekday()
    return d - timedelta(days=1) if wd == 5 else d + timedelta(days=1) if wd == 6 else d


def _month_end(y: int, m: int) -> date:
    return date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)


class Generator:
    def __init__(self, scale: Scale, raw, log=print):
        self.scale = scale
        self.raw = raw
        self.log = log
        self.dialect = dbio.dialect_of(raw)
        self.c = dbio.Codec(self.dialect)
        self.rng = FastRandom(f"qscore-bench-{scale.name}")
        self.branches: list[B] = []
        self.members: list[M] = []
        self.scheme = Scheme.from_dict(default_scheme_data())
        self.version_ids: dict[int, int] = {}
        self.usernames: dict[int, str] = {}
        self.picks: dict[str, Any] = {}
        self.counts: dict[str, int] = {}
        self._points: dict[tuple, tuple] = {}
        self.next_id = {"point_entry": 1, "audit_log": 1, "meeting": 1, "self_record": 1, "publication": 1,
                        "year_review": 1, "review_grade": 1, "member_type": 1, "leave": 1}
        self.drng = FastRandom(f"qscore-bench-dues-{scale.name}")  # the register's own draws (dues.py's plan)
        self.dues_year = LAST_DAY.year
        self.dues_pending: list[tuple] = []
        self.dues_rows: dict[str, list] = {"dues_rate": [], "dues_line": [], "dues_close": [], "dues_point": [],
                                           "audit": []}
        for t in ("dues_rate", "dues_line", "dues_close"):
            self.next_id[t] = 1
        self.community_user: dict[int, int] = {}
        self.community_names: dict[int, str] = {}
        self.seconds = {"insert": 0.0, "score": 0.0}  # where generation time goes (wall clock)

    # -- ids and counts ---------------------------------------------------------------------
    def take(self, table: str, n: int = 1) -> int:
        first = self.next_id[table]
        self.next_id[table] += n
        return first

    def count(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n

    # -- organisations ------------------------------------------------------------------------
    def plan_organisations(self) -> None:
        r = self.rng
        s = self.scale
        per_community = [s.branches // s.communities + (1 if i < s.branches % s.communities else 0)
                         for i in range(s.communities)]
        cid = 0
        self.streets = []
        self.communities = []
        for si, n_comm in enumerate(s.communities_per_street):
            self.streets.append({"id": si + 1, "name": STREET_NAMES[si], "demo": False})
            words = r.sample(COMMUNITY_WORDS, n_comm)
            for w in words:
                cid += 1
                cname = f"{w}社区"
                self.community_names[cid] = cname
                self.communities.append({"id": cid, "street_id": si + 1, "name": cname})
                n = per_community[cid - 1]
                kinds = ["ordinary"] * n
                if n >= 3:
                    kinds[-1] = "retirees"
                if n >= 4 and r.random() < 0.5:
                    kinds[-2] = "reemployment"
                if n >= 5 and r.random() < 0.25:
                    kinds[-3] = "mobile"
                k = 0
                for kind in kinds:
                    if kind == "ordinary":
                        k += 1
                        name = f"{cname}第{'一二三四五六七八九十'[k - 1]}党支部"
                    else:
                        name = cname + {"retirees": "离退休党支部", "reemployment": "再就业党支部",
                                        "mobile": "流动党员党支部"}[kind]
                    self.branches.append(B(len(self.branches) + 1, cid, si + 1, name, kind, 0,
                                           base_day=r.randint(8, 20)))
        # Sizes: a long tail around ~17, retirees' branches larger; one ordinary branch of exactly 60.
        b60 = next(b for b in self.branches if b.kind == "ordinary" and b.name.endswith("第二党支部"))
        others = [b for b in self.branches if b is not b60]
        weights = [math.exp(r.gauss(math.log(14), 0.45)) * {"retirees": 1.6, "mobile": 0.7}.get(b.kind, 1.0)
                   for b in others]
        target = s.members - 60
        raw_sizes = [w * target / sum(weights) for w in weights]
        sizes = [max(5, int(x)) for x in raw_sizes]
        order = sorted(range(len(others)), key=lambda i: raw_sizes[i] - int(raw_sizes[i]), reverse=True)
        i = 0
        while sum(sizes) < target:
            sizes[order[i % len(order)]] += 1
            i += 1
        while sum(sizes) > target:
            j = max(range(len(sizes)), key=lambda k: sizes[k])
            sizes[j] -= 1
        for b, n in zip(others, sizes):
            b.size = n
        b60.size = 60
        median = sorted(b.size for b in self.branches)[len(self.branches) // 2]
        mb = min((b for b in self.branches if b.kind == "ordinary" and not b.name.endswith("第一党支部")
                  and b is not b60), key=lambda b: (abs(b.size - median), b.id))
        self.picks.update(median_branch=mb.id, branch_60=b60.id, median_size=median)

    # -- people ---------------------------------------------------------------------------------
    def name_for(self, gender: str, birth_year: int) -> str:
        r = self.rng
        if r.random() < 0.015:
            surname = r.choice(COMPOUND_SURNAMES)
        else:
            surname = SURNAMES[min(int(r.expovariate(1 / 18)), len(SURNAMES) - 1)]
        if r.random() < 0.04:
            return surname + r.choice(SINGLE_GIVEN[gender])
        era = "old" if birth_year < 1958 else "mid" if birth_year < 1980 else "young"
        first, second = GIVEN[(era, gender)]
        return surname + r.choice(first) + r.choice(second)

    def plan_members(self) -> None:
        r = self.rng
        s = self.scale
        first, last = s.first_day, LAST_DAY
        span = (last - first).days
        left_rate = 0.012 * s.years
        p_old = max(0.0, min(1.0, (s.members_at_start - s.members * left_rate) / s.members))
        mid = 0
        for b in self.branches:
            n_left = int(b.size * left_rate + r.random())
            for i in range(b.size + n_left):
                mid += 1
                t = self.weighted(TYPE_MIX[b.kind])
                if i == 0:
                    t = "B" if b.kind == "retirees" else "A"
                gender = r.choice("MF")
                birth = {"A": r.randint(1970, 1998), "B": r.randint(1940, 1965), "C": r.randint(1965, 2000),
                         "D": r.randint(1932, 1958)}[t]
                if i < 2 or i >= b.size or r.random() < p_old:
                    since = first - timedelta(days=r.randint(30, 9000))
                else:
                    since = first + timedelta(days=r.randint(0, span - 30))
                if b.id == self.picks["branch_60"]:  # its meeting is entered for every member, dated in Q4
                    since = min(since, date(LAST_DAY.year, 9, 1) - timedelta(days=r.randint(0, 200)))
                m = M(mid, b, self.name_for(gender, birth), gender, birth, t, since)
                if i >= b.size:  # left the roll during the data: died or moved away
                    m.left_roll_on = first + timedelta(days=r.randint(20, span - 5))
                    m.status = r.choice(("deceased", "transferred_out"))
                m.types = [(since, t, "入册分类")]
                m.post = r.random() < 0.8
                m.households = r.random() < 0.76
                m.pairing = r.random() < 0.12
                m.weak = i >= 2 and r.random() < 0.03
                m.diligence = r.uniform(0.5, 1.0)
                if t == "D" and r.random() < 0.35:
                    m.leaves.append(("health_exemption", max(since, first), date(last.year, 12, 31),
                                     "行动不便，经支委会同意免于参加集中组织生活，送学上门"))
                elif t == "C" and r.random() < 0.15:
                    s0 = first + timedelta(days=r.randint(0, span - 60))
                    m.leaves.append(("working_away", s0, s0 + timedelta(days=r.randint(120, 300)),
                                     "外出务工，已与务工地党组织联系"))
                b.members.append(m)
                self.members.append(m)
        by_id = {b.id: b for b in self.branches}
        for name, bid in zip(HOSTILE_NAMES, (self.picks["median_branch"],) * 3):
            victim = by_id[bid].members[3 + HOSTILE_NAMES.index(name)]
            victim.name = name
        by_id[self.picks["branch_60"]].members[7].name = HOSTILE_NAMES[1]
        # Flexible attendance: some members of re-employment branches attend another branch.
        for b in self.branches:
            if b.kind != "reemployment":
                continue
            hosts = [h for h in self.branches if h.community == b.community and h.kind == "ordinary"]
            for m in b.members[2:]:
                if hosts and r.random() < 0.2:
                    m.host = r.choice(hosts)

    def weighted(self, pairs) -> str:
        return self.rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]

    # -- writing the fixed part -----------------------------------------------------------------
    def write_organisations(self) -> None:
        raw = self.raw
        created = datetime(self.scale.first_day.year - 1, 12, 1, 2, 0)
        dbio.insert_dicts(raw, Street.__table__, [{**s, "created_at": created} for s in self.streets])
        dbio.insert_dicts(raw, Community.__table__, [{**x, "created_at": created} for x in self.communities])
        dbio.insert_dicts(raw, Branch.__table__, [
            {"id": b.id, "community_id": b.community, "name": b.name, "kind": b.kind,
             "quick_indicators": "J1,Z2" if b.kind == "retirees" else "J1,Z3", "created_at": created}
            for b in self.branches])
        for y in range(self.scale.first_day.year, LAST_DAY.year + 1):
            self.version_ids[y] = y - self.scale.first_day.year + 1
        dbio.insert_dicts(raw, SchemeVersion.__table__, [
            {"id": vid, "year": y, "version": 1, "data": default_scheme_data(), "reason": "shipped default",
             "created_at": datetime(y, 1, 1, 2, 0)} for y, vid in self.version_ids.items()])
        r = self.rng
        prefix = {}
        rows = []
        for m in self.members:
            n = prefix[m.branch.community] = prefix.get(m.branch.community, 0) + 1
            rows.append({
                "id": m.id, "street_id": m.branch.street, "branch_id": m.branch.id, "name": m.name,
                "name_key": sort_key(m.name),
                "gender": m.gender, "birth_year": m.birth_year,
                "joined_party_on": m.on_roll_since - timedelta(days=r.randint(0, 4000)),
                "on_roll_since": m.on_roll_since, "probationary": m.on_roll_since > LAST_DAY - timedelta(days=365)
                and r.random() < 0.3, "booklet_no": f"C{m.branch.community:02d}-{m.on_roll_since.year}-{n:04d}",
                "phone": "139" + f"{r.randrange(10 ** 8):08d}",
                "address": f"{self.community_names[m.branch.community][:-2]}小区{r.randint(1, 28)}幢{r.randint(1, 6)}0{r.randint(1, 4)}室",
                "status": m.status, "left_roll_on": m.left_roll_on, "created_at": self.c_dt(m.on_roll_since)})
        dbio.insert_dicts(raw, Member.__table__, rows)
        self.count("member", len(rows))
        # Accounts, all with one cheap hash (hashed once).
        pw = generate_password_hash(BENCH_PASSWORD, method=CHEAP_HASH)
        users = []
        uid = 0
        for s in self.streets:
            uid += 1
            users.append({"id": uid, "username": f"admin-{s['id']}", "display_name": f"{s['name']}党工委",
                          "password_hash": pw, "role": "street_admin", "street_id": s["id"]})
        first_branch: dict[int, B] = {}
        for b in self.branches:
            first_branch.setdefault(b.community, b)
        for cm in self.communities:
            uid += 1
            m = first_branch[cm["id"]].members[1]
            users.append({"id": uid, "username": f"cs-{cm['id']}", "display_name": m.name, "password_hash": pw,
                          "role": "community_secretary", "street_id": cm["street_id"], "community_id": cm["id"],
                          "member_id": m.id})
            self.community_user[cm["id"]] = uid
        for b in self.branches:
            uid += 1
            m = b.members[0]
            users.append({"id": uid, "username": f"bs-{b.id}", "display_name": m.name, "password_hash": pw,
                          "role": "branch_secretary", "street_id": b.street, "community_id": b.community,
                          "branch_id": b.id, "member_id": m.id})
            b.secretary_user = uid
        self.usernames = {u["id"]: u["username"] for u in users}
        dbio.insert_dicts(raw, User.__table__, [{k: u.get(k) for k in (
            "id", "username", "display_name", "password_hash", "role", "street_id", "community_id", "branch_id",
            "member_id")} for u in users])
        self.count("user", len(users))
        for b in self.branches:
            for m in b.members:
                m.recorder = self.community_user[b.community] if m is b.members[0] else b.secretary_user
        self.picks["password"] = BENCH_PASSWORD
        raw.commit()

    # -- the ledger, month by month ---------------------------------------------------------------
    def points(self, code: str, type_code: str, value) -> tuple:
        key = (code, type_code, value)
        hit = self._points.get(key)
        if hit is None:
            ev = entry_points(self.scheme, code, type_code, value)
            hit = self._points[key] = (int(ev.points * 10), self.c.num(ev.points), self.c.num(ev.quantity),
                                       self.scheme.indicators[code].category, str(ev.points))
        return hit

    def add(self, m: M, code: str, d: date, value=None, note: str = "", meeting: int | None = None,
            host: int | None = None, source: str = "inline", count: bool = True) -> list:
        tenths, pts, qty, cat, text = self.points(code, self.cur_type[m.id], value)
        r = self.rng
        rec = min(d + timedelta(days=r.choice((0, 0, 1, 2, 3))), LAST_DAY)
        row = [None, m.id, m.branch.id, d.year, code, cat, pts, qty, self.c.d(d), note, source, meeting, host,
               self.version_ids[d.year], m.recorder, self.c.ts(rec, r.randint(9, 13), r.randint(0, 59)),
               None, None, None, None]
        self.buf.append(row)
        self.audit_text.append((m.name, code, text, d))
        if count:
            agg = m.agg.get(d.year)
            if agg is None:
                agg = m.agg[d.year] = {}
            k = (code, cat, d.month)
            v = agg.get(k)
            if v is None:
                agg[k] = [tenths, 1, d]
            else:
                v[0] += tenths
                v[1] += 1
                if d < v[2]:
                    v[2] = d
            if r.random() < 0.002:  # recorded twice by mistake, the second one corrected a few days later
                dup = self.add(m, code, d, value, note, meeting, host, source, count=False)
                corr = self.add(m, code, d, value, CORRECTION_NOTE, None, None, "correction", count=False)
                corr[6] = -pts if pts else pts
                corr[7] = -qty if qty is not None else None
                corr[16] = dup  # the dup's id once assigned
        return row

    def _skip_add(self) -> None:
        """The draws ``add`` makes for one counted entry: its recorded day and time, the rare duplicate (then
        the duplicate's and its correction's recorded day and time)."""
        r = self.rng
        r.choice((0, 0, 1, 2, 3)), r.randint(9, 13), r.randint(0, 59)
        if r.random() < 0.002:
            for _ in range(2):
                r.choice((0, 0, 1, 2, 3)), r.randint(9, 13), r.randint(0, 59)

    plan_dues = dues_plan.plan_dues
    close_dues = dues_plan.close_dues
    dues_points_of_month = dues_plan.dues_points_of_month
    write_dues = dues_plan.write_dues

    def simulate(self) -> None:
        first = self.scale.first_day
        y, mo = first.year, first.month
        self.cur_type = {m.id: m.type for m in self.members}
        specials = self.plan_specials()
        while (y, mo) <= (LAST_DAY.year, LAST_DAY.month):
            self.buf: list[list] = []
            self.audit_text: list[tuple] = []
            self.meeting_rows: list[dict] = []
            self.self_records: list[dict] = []
            self.type_changes(y, mo)
            for b in self.branches:
                self.plan_meetings(b, y, mo)
            for b in self.branches:
                self.month_of_branch(b, y, mo)
            for m, d, code, value, note in specials.get((y, mo), ()):
                if m.on_roll(d):
                    self.add(m, code, d, value, note)
            if (y, mo) >= (LAST_DAY.year, LAST_DAY.month - 1):
                self.self_recording(y, mo)
            if y == self.dues_year and mo <= DUES_CLOSED_THROUGH:
                self.close_dues(y, mo)
            self.flush_month()
            self.dues_points_of_month()
            if mo in (3, 6, 9) and y == LAST_DAY.year and _month_end(y, mo) < LAST_DAY:
                self.publish(y, mo // 3)
            if mo == 12:
                self.review(y)
                for m in self.members:
                    m.agg.pop(y, None)
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)

    def plan_specials(self) -> dict[tuple[int, int], list]:
        """One K4 (heavier) and one veto per street in the last year, a few K3 everywhere."""
        r = self.rng
        out: dict[tuple[int, int], list] = {}
        for s in self.streets:
            pool = [m for m in self.members if m.branch.street == s["id"] and m.status == "active"
                    and m is not m.branch.members[0] and m.on_roll_since < date(LAST_DAY.year, 1, 1)]
            k4, veto = r.sample(pool, 2)
            d = date(LAST_DAY.year, r.randint(3, 9), r.randint(1, 28))
            out.setdefault((d.year, d.month), []).append((k4, d, "K4", Decimal(-5), "参与赌博，经查属实"))
            d = date(LAST_DAY.year, r.randint(3, 9), r.randint(1, 28))
            out.setdefault((d.year, d.month), []).append(
                (veto, d, "V", None, f"受党内严重警告处分（{s['name']}纪工委处分决定），一票否决"))
        for m in self.members:
            if r.random() < 0.01 * self.scale.years:
                d = self.scale.first_day + timedelta(days=r.randint(0, (LAST_DAY - self.scale.first_day).days))
                out.setdefault((d.year, d.month), []).append((m, d, "K3", Decimal(-3), "未完成支部交办的宣传任务"))
        return out

    def type_changes(self, y: int, mo: int) -> None:
        r = self.rng
        start = date(y, mo, 1)
        for m in self.members:
            if r.random() < 0.003 and m.on_roll(start) and m.on_roll_since < start - timedelta(days=90) \
                    and m is not m.branch.members[0]:
                new = r.choice(TRANSITIONS[m.type])
                m.types.append((start, new, {"B": "达到退休年龄，办理退休手续", "D": "因病行动不便，本人申请转为第四类",
                                             "C": "离开社区工作岗位，外出务工", "A": "被聘为社区网格员"}[new]))
                m.type = self.cur_type[m.id] = new
                if new == "D" and r.random() < 0.5:
                    m.leaves.append(("health_exemption", start, date(LAST_DAY.year, 12, 31),
                                     "行动不便，经支委会同意免于参加集中组织生活，送学上门"))

    def meeting(self, b: B, d: date, kind: str, code: str, topic: str, hours: Decimal | None = None) -> int | None:
        if not (self.scale.first_day <= d <= LAST_DAY):
            return None
        mid = self.take("meeting")
        self.meeting_rows.append({"id": mid, "branch_id": b.id, "held_on": d, "kind": kind, "indicator_code": code,
                                  "topic": topic, "hours": hours,
                                  "expected_count": sum(1 for m in b.members if m.on_roll(d)),
                                  "recorded_by_id": b.secretary_user,
                                  "recorded_at": self.c_dt(min(d + timedelta(days=1), LAST_DAY))})
        return mid

    @staticmethod
    def c_dt(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 9, 30)

    def plan_meetings(self, b: B, y: int, mo: int) -> None:
        """The branch's meetings of the month: organisational life, and the quarter's, year's others."""
        r = self.rng
        d = _weekday(date(y, mo, min(28, max(1, b.base_day + r.randint(-2, 2)))))
        mid = self.meeting(b, d, "org_life", "J1", f"{mo}月主题党日：{ORG_LIFE_TOPICS[mo]}")
        b.org = (mid, d) if mid else None
        b.extra = []
        plan = []
        if mo % 3 == 0:
            plan.append((_weekday(date(y, mo, 24)), "org_life", "general", "J1",
                         f"{y}年第{mo // 3}季度支部党员大会：积分对账", None))
        if mo in (2, 5, 8, 11):
            plan.append((_weekday(date(y, mo, 18)), "study", "study", "J2", STUDY_TOPICS[(mo - 2) // 3], None))
        if mo == 1:
            plan.append((_weekday(date(y, 1, 26)), "other", "study", "J4", f"{y - 1}年度组织生活会暨民主评议党员", None))
        if mo in VOLUNTEER:
            day, topic, hours = VOLUNTEER[mo]
            plan.append((_weekday(date(y, mo, day)), "volunteer", "volunteer", "Z3", topic, hours))
        if mo == 4:
            plan.append((_weekday(date(y, 4, 18)), "charity", "charity", "Z7", "慈善一日捐", Decimal(1)))
        for d, kind, how, code, topic, value in plan:
            mid = self.meeting(b, d, kind, code, topic, value if kind == "volunteer" else None)
            if mid:
                b.extra.append((mid, d, how, code, value))

    def month_of_branch(self, b: B, y: int, mo: int) -> None:
        month_first, month_last = date(y, mo, 1), min(_month_end(y, mo), LAST_DAY)
        for m in b.members:
            if not (m.on_roll_since <= month_last and (m.left_roll_on is None or m.left_roll_on > month_first)):
                continue
            if b.org is not None and m.on_roll(b.org[1]):
                self.org_life(m, b, y, mo)
            for mid, d, how, code, value in b.extra:
                if m.on_roll(d):
                    self.meeting_item(m, b, mid, d, how, code, value)
            self.periodic(m, y, mo, month_first, month_last)

    def attend_p(self, m: M) -> float:
        if m.weak:
            return 0.4
        return {"A": 0.96, "B": 0.95, "C": 0.9, "D": 0.5}[self.cur_type[m.id]]

    def org_life(self, m: M, b: B, y: int, mo: int) -> None:
        r = self.rng
        org, d = b.org
        leave = m.leave_on(d) if m.leaves else None
        if leave == "health_exemption":
            if r.random() < 0.6:
                self.add(m, "J1", min(d + timedelta(days=r.randint(1, 4)), LAST_DAY, _month_end(y, mo)),
                         note="送学上门，在家学习")
            return
        if leave == "working_away":
            if r.random() < 0.55:
                self.add(m, "J1", d, note="在务工地党组织参加主题党日，有证明材料")
            return
        if m.host is not None and m.host.org is not None and r.random() < 0.35 and m.on_roll(m.host.org[1]):
            self.add(m, "J1", m.host.org[1], meeting=m.host.org[0], host=m.host.id, source="meeting")
            return
        if r.random() < self.attend_p(m):
            self.add(m, "J1", d, meeting=org, host=b.id, source="meeting")
        elif self.cur_type[m.id] == "D":
            if r.random() < 0.6:
                self.add(m, "J1", min(d + timedelta(days=2), LAST_DAY, _month_end(y, mo)), note="送学上门，在家学习")
        elif r.random() < (0.8 if m.weak else 0.35):
            self.add(m, "K1", d, note=f"无故缺席{mo}月主题党日", source="meeting")

    def meeting_item(self, m: M, b: B, mid: int, d: date, kind: str, code: str, value) -> None:
        r = self.rng
        t = self.cur_type[m.id]
        leave = m.leave_on(d) if m.leaves else None
        if kind == "volunteer":
            if not leave and t != "D" and not m.weak and r.random() < 0.5 * m.diligence:
                self.add(m, code, d, value if r.random() < 0.8 else max(Decimal(1), value - 1), note="志愿服务",
                         meeting=mid, host=b.id, source="meeting")
        elif kind == "charity":
            if r.random() < 0.9:
                self.add(m, code, d, value, note="慈善一日捐", meeting=mid, host=b.id, source="meeting")
        elif leave:
            if leave == "health_exemption" and r.random() < 0.6:
                self.add(m, code, d, note="送学上门，在家学习")
        elif r.random() < self.attend_p(m) - 0.03:
            self.add(m, code, d, meeting=mid, host=b.id, source="meeting")

    def periodic(self, m: M, y: int, mo: int, first: date, last: date) -> None:
        r = self.rng
        lo = max(first, m.on_roll_since)
        hi = last if m.left_roll_on is None else min(last, m.left_roll_on - timedelta(days=1))
        if lo > hi:
            return
        span = (hi - lo).days

        def day() -> date:
            return lo + timedelta(days=r.randint(0, span))

        dil = 0.3 if m.weak else m.diligence
        q_month = (mo - 1) % 3  # 0, 1, 2 within the quarter
        if q_month == 0:
            if y == self.dues_year:  # the register's year: J3 and K2 follow from its closes (close_dues)
                if r.random() < (0.5 if m.weak else 0.96):
                    day(), r.choice(("", "", "线上缴纳"))
                self._skip_add()  # the same draws as the typed entry's, so the rest of the data stays as it was
            elif r.random() < (0.5 if m.weak else 0.96):
                self.add(m, "J3", day(), note=r.choice(("", "", "线上缴纳")))
            else:
                self.add(m, "K2", hi, note=f"{mo}月党费经催缴仍未交纳")
        if q_month == 2 and r.random() < 0.95 * dil + 0.05:
            self.add(m, "J5", day(), note="季度对账核查积分手册和学习笔记")
        if q_month == 1 and r.random() < 0.9 * dil + 0.05:
            self.add(m, "J6", day(), note="佩戴党员徽章，践行年度承诺")
        if q_month == r.randrange(3) and r.random() < 0.85 * dil + 0.1:
            self.add(m, "J7", day(), note="向支部汇报思想和工作情况")
        leave = m.leaves and m.leave_on(hi)
        if m.post and not leave and r.random() < 0.9 * dil:
            self.add(m, "Z1", day(), note=f"{POSTS[m.id % len(POSTS)]}履职")
        if m.households and r.random() < 0.85 * dil:
            self.add(m, "Z2", day(), note="走访联系户，了解诉求并帮助解决")
            if r.random() < 0.45:
                self.add(m, "Z2", day(), note="电话联系联系户，转达社区通知")
        if not leave and r.random() < 0.7 * dil:
            self.add(m, "Z3", day(), r.choice(HOURS), note="参加社区志愿服务")
        if mo in (1, 7) and r.random() < 0.15:
            self.add(m, "Z4", day(), r.choice((Decimal(3), Decimal(3), Decimal(5))), note="防汛值守")
        if r.random() < 0.04 * dil:
            self.add(m, "Z5", day(), note="调解邻里纠纷")
        if m.pairing and q_month == 1:
            self.add(m, "Z6", day(), note="结对帮扶困难家庭")
        if r.random() < 0.02:
            self.add(m, "Z7", day(), r.choice((Decimal(1), Decimal(1), Decimal(3))), note="收到居民感谢信")

    def self_recording(self, y: int, mo: int) -> None:
        """Self-records of the last weeks: most pending, some confirmed (with their entry), some rejected."""
        r = self.rng
        first, last = date(y, mo, 1), min(_month_end(y, mo), LAST_DAY)
        for m in self.members:
            if not (m.status == "active" and m.on_roll_since < first) or r.random() > 0.015:
                continue
            d = first + timedelta(days=r.randint(0, (last - first).days))
            code, value, note = r.choice((("Z2", None, "走访联系户，帮助独居老人联系维修"),
                                          ("Z3", Decimal(2), "参加社区垃圾分类宣传志愿服务"),
                                          ("Z5", None, "调解邻里漏水纠纷"), ("J6", None, "在小区门口党员先锋岗亮身份")))
            status = "pending" if r.random() < 0.7 else r.choice(("confirmed", "rejected"))
            sid = self.take("self_record")
            rec = {"id": sid, "member_id": m.id, "indicator_code": code, "earned_on": d,
                   "quantity": value if code == "Z3" else None, "note": note, "origin": "member", "status": status,
                   "reject_reason": "该活动已由支部统一录入，请勿重复登记" if status == "rejected" else "",
                   "created_by_id": m.recorder, "created_at": self.c_dt(d),
                   "decided_by_id": m.recorder if status != "pending" else None,
                   "decided_at": self.c_dt(min(d + timedelta(days=2), LAST_DAY)) if status != "pending" else None}
            self.self_records.append(rec)
            if status == "confirmed":
                row = self.add(m, code, d, value, note=note, source="self_record")
                row[17] = sid

    def flush_month(self) -> None:
        raw = self.raw
        dbio.insert_dicts(raw, Meeting.__table__, self.meeting_rows)
        dbio.insert_dicts(raw, SelfRecord.__table__, self.self_records)
        self.count("meeting", len(self.meeting_rows))
        self.count("self_record", len(self.self_records))
        order = sorted(range(len(self.buf)), key=lambda i: self.buf[i][8])
        rows = [self.buf[i] for i in order]
        texts = [self.audit_text[i] for i in order]
        first = self.take("point_entry", len(rows))
        for i, row in enumerate(rows):
            row[0] = first + i
        audits = []
        aid = self.take("audit_log", len(rows))
        usernames = self.usernames
        for i, (row, (name, code, text, d)) in enumerate(zip(rows, texts)):
            if row[16] is not None:
                row[16] = row[16][0]
                action, summary = "entry_corrected", f"corrects entry {row[16]}: {CORRECTION_NOTE}"
            else:
                action, summary = "entry_added", f"{name} {code} {text} on {d.isoformat()}"
            audits.append((aid + i, row[15], row[14], usernames.get(row[14], ""), action, "pointentry", row[0], row[1],
                           summary, None, None, ""))
        t0 = time.perf_counter()
        dbio.bulk_insert(raw, "point_entry", PE_COLS, rows)
        dbio.bulk_insert(raw, "audit_log", AUDIT_COLS, audits)
        self.count("point_entry", len(rows))
        self.count("audit_log", len(audits))
        raw.commit()
        self.seconds["insert"] += time.perf_counter() - t0

    # -- publications and reviews (scored by qscore.scoring, as the app will) -------------------
    def ledger(self, m: M, year: int) -> MemberLedger:
        led = MemberLedger()
        for k, (tenths, n, first) in m.agg.get(year, {}).items():
            led.tenths[k] = tenths
            led.counts[k] = n
            led.first_dates[k] = first
        return led

    def score(self, m: M, year: int, as_of: date, status: str = "active", left: date | None = None):
        t0 = time.perf_counter()
        history = [(d, t) for d, t, _r in m.types if d <= as_of] or [m.types[0][:2]]
        s = score_member(self.scheme, year, as_of, history, self.ledger(m, year), on_roll_since=m.on_roll_since,
                         left_roll_on=left, status=status, member_id=m.id)
        self.seconds["score"] += time.perf_counter() - t0
        return s

    def publish(self, year: int, quarter: int) -> None:
        end = _month_end(year, quarter * 3)
        published = end + timedelta(days=10)
        rows = []
        for b in self.branches:
            snap = []
            for m in sorted(b.members, key=lambda x: x.id):
                if not m.on_roll(end):
                    continue
                s = self.score(m, year, end)
                qp = s.detail.quarters[quarter - 1]
                snap.append({"member_id": m.id, "name": m.name, "type": s.type_code, "J": str(qp.j), "Z": str(qp.z),
                             "K": str(qp.k), "quarter_total": str(qp.total), "year_to_date": str(s.score)})
            text = json.dumps(snap, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            rows.append({"id": self.take("publication"), "branch_id": b.id, "year": year, "quarter": quarter,
                         "published_at": self.c_dt(published), "published_by_id": b.secretary_user,
                         "meeting_on": _weekday(date(year, quarter * 3, 24)), "members_present": len(snap) - 2,
                         "members_total": len(snap), "chair": b.members[0].name,
                         "supervision_ends_on": published + timedelta(days=5), "snapshot": text, "adjustments": "[]",
                         "sha256": hashlib.sha256(text.encode()).hexdigest()})
        dbio.insert_dicts(self.raw, Publication.__table__, rows)
        self.count("publication", len(rows))
        self.raw.commit()

    def review(self, year: int) -> None:
        if year >= LAST_DAY.year:
            return
        end = date(year, 12, 31)
        reviews, grades = [], []
        for b in self.branches:
            rid = self.take("year_review")
            meeting_on = _weekday(date(year + 1, 1, 20))
            graded = []
            for m in b.members:
                if m.on_roll_since > end or (m.left_roll_on is not None and m.left_roll_on <= date(year, 1, 1)):
                    continue
                left = m.left_roll_on if m.left_roll_on is not None and m.left_roll_on <= end else None
                s = self.score(m, year, end, m.status if left else "active", left)
                code = s.grade.code or "none"
                graded.append(code)
                grades.append({"id": self.take("review_grade"), "review_id": rid, "member_id": m.id,
                               "score": str(s.score), "suggested": code,
                               "suggested_reason": "；".join(x.text() for x in s.grade.reasons), "grade": code,
                               "override_reason": "", "decided_by_id": b.secretary_user,
                               "decided_at": self.c_dt(meeting_on)})
            reviews.append({"id": rid, "branch_id": b.id, "year": year, "status": "confirmed", "meeting_on": meeting_on,
                            "members_present": max(0, len(graded) - 2), "members_total": len(graded),
                            "chair": b.members[0].name, "minutes": f"{year}年度民主评议党员大会",
                            "confirmed_by_id": b.secretary_user, "confirmed_at": self.c_dt(meeting_on)})
        dbio.insert_dicts(self.raw, YearReview.__table__, reviews)
        dbio.insert_dicts(self.raw, ReviewGrade.__table__, grades)
        self.count("year_review", len(reviews))
        self.count("review_grade", len(grades))
        self.raw.commit()

    # -- the history tables, written last ---------------------------------------------------------
    def write_histories(self) -> None:
        types, spells, leaves = [], [], []
        for m in self.members:
            cs = self.community_user[m.branch.community]
            for d, t, reason in m.types:
                types.append({"id": self.take("member_type"), "member_id": m.id, "type_code": t, "effective_from": d,
                              "reason": reason, "own_wish": "", "decided_by_id": cs, "recorded_at": self.c_dt(d)})
            spells.append({"id": m.id, "member_id": m.id, "branch_id": m.branch.id, "starts_on": m.on_roll_since,
                           "ends_on": m.left_roll_on, "recorded_by_id": cs, "recorded_at": self.c_dt(m.on_roll_since)})
            for kind, s, e, reason in m.leaves:
                leaves.append({"id": self.take("leave"), "member_id": m.id, "kind": kind, "starts_on": s, "ends_on": e,
                               "reason": reason, "recorded_by_id": m.recorder, "recorded_at": self.c_dt(s)})
        dbio.insert_dicts(self.raw, MemberType.__table__, types)
        dbio.insert_dicts(self.raw, BranchSpell.__table__, spells)
        dbio.insert_dicts(self.raw, Leave.__table__, leaves)
        self.count("member_type", len(types))
        self.count("leave", len(leaves))
        self.raw.commit()

    def run(self) -> dict[str, Any]:
        self.plan_organisations()
        self.plan_members()
        self.plan_dues()
        self.write_organisations()
        self.simulate()
        self.write_histories()
        self.write_dues()
        return {"counts": self.counts, "picks": self.picks, "seconds": self.seconds}


PE_COLS = ("id", "member_id", "branch_id", "year", "indicator_code", "category", "points", "quantity", "earned_on",
           "note", "source", "meeting_id", "host_branch_id", "scheme_version_id", "recorded_by_id", "recorded_at",
           "corrects_id", "self_record_id", "adjusts_publication_id", "idempotency_key")
AUDIT_COLS = ("id", "at", "user_id", "username", "action", "object_type", "object_id", "member_id", "summary",
              "before", "after", "ip")


# ---------------------------------------------------------------------------------------------
# Entry point: reuse or build
# ---------------------------------------------------------------------------------------------

def schema_fingerprint() -> str:
    """The app's tables and columns: a database built for another schema is built again."""
    parts = [t.name + ":" + ",".join(f"{c.name} {c.type!r}" for c in t.columns)
             for t in sorted(db.metadata.tables.values(), key=lambda t: t.name)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def marker(scale: Scale) -> dict[str, str]:
    return {"scale": scale.name, "generator_version": GENERATOR_VERSION, "last_day": LAST_DAY.isoformat(),
            "schema": schema_fingerprint()}


def ensure_database(app, scale: Scale, log=print, force: bool = False) -> dict[str, Any]:
    """The database at ``scale``: reused when its marker matches, else built from scratch."""
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            meta = dbio.read_meta(raw)
        finally:
            raw.close()
        if not force and all(meta.get(k) == v for k, v in marker(scale).items()):
            meta["reused"] = True
            return meta
        log(f"generating the {scale.name} database ({'PostgreSQL' if os.environ.get('DATABASE_URL', '').startswith('postgres') else 'SQLite'})…")
        t0, cpu0 = time.perf_counter(), time.process_time()
        _fresh_schema(app, scale)
        raw = db.engine.raw_connection()
        try:
            dialect = dbio.dialect_of(raw)
            cur = raw.cursor()
            if dialect == "sqlite":
                # Bulk load only (the app's connections set WAL and foreign keys again).
                for pragma in ("journal_mode=OFF", "foreign_keys=OFF", "synchronous=OFF", "cache_size=-400000",
                               "temp_store=MEMORY"):
                    cur.execute(f"PRAGMA {pragma}").fetchall()
            dropped = _drop_big_indexes(raw)
            result = Generator(scale, raw, log).run()
            t_idx = time.perf_counter()
            for ix in dropped:
                cur.execute(str(CreateIndex(ix).compile(dialect=db.engine.dialect)))
            raw.commit()
            dbio.reset_sequences(raw, [t.name for t in db.metadata.sorted_tables if "id" in t.c])
            with db.engine.begin() as conn:  # the stored year sums, as the app's migration fills them
                year_sums.rebuild(conn)
            if dialect == "postgresql":
                raw.cursor().execute("ANALYZE")  # autovacuum would, soon after such a load
                raw.commit()
            else:
                cur.execute("PRAGMA journal_mode=WAL").fetchall()
            meta = {**marker(scale), "counts": result["counts"], "picks": result["picks"],
                    "generation_seconds": round(time.perf_counter() - t0, 2),
                    "generation_cpu_seconds": round(time.process_time() - cpu0, 2),
                    "generation_breakdown_seconds": {
                        "bulk_inserts_of_ledger_and_audit": round(result["seconds"]["insert"], 1),
                        "scoring_publications_and_reviews": round(result["seconds"]["score"], 1),
                        "index_build": round(time.perf_counter() - t_idx, 1)},
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]}
            dbio.write_meta(raw, meta)
        finally:
            raw.close()
        db.engine.dispose()
        meta["reused"] = False
        log(f"generated in {meta['generation_seconds']:.1f} s ({meta['generation_cpu_seconds']:.1f} s CPU; "
            f"{meta['generation_breakdown_seconds']}): {meta['counts']}")
        return meta


def _fresh_schema(app, scale: Scale) -> None:
    db.session.remove()
    if db.engine.dialect.name == "sqlite":
        db.engine.dispose()
        path = Path(db.engine.url.database)
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {dbio.META_TABLE}")
        db.drop_all()
    db.create_all()


def _drop_big_indexes(raw) -> list:
    cur = raw.cursor()
    dropped = []
    for name in BIG_TABLES:
        for ix in db.metadata.tables[name].indexes:
            cur.execute(f"DROP INDEX {ix.name}")
            dropped.append(ix)
    raw.commit()
    return dropped
