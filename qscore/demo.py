"""The demo street (示范街道): a realistic street to try qscore with, the same for a given seed and day.

``load_demo(today)`` builds three communities, ten branches and 300 members with their type
history, branch spells, leaves, meetings, about two years of ledger (the past full year and the
current year up to ``today``), a few corrections, self-records in every state and the accounts
listed by ``demo_accounts()``, all with the password ``qscore-demo``.

The grades of the past year come out as a street office would expect them: most members
qualified, about a sixth advanced, a handful to rectify (an unexcused-absence streak, a dues-arrears
streak, two low scores, a veto), one heavier deduction on an otherwise strong member. The plan is
checked against the scoring rules while it is built (``qscore.scoring``): a member meant to be
qualified whose contributions would make them advanced loses some, and the reverse.

The demo is a separate mode: ``is_real_data_present()`` is what the CLI checks before loading it,
and what the login can check to refuse the demo's shared password once real data exists.

A meeting's ``expected_count`` is the branch's roll on the day less members on a registered leave
(the attendance definition of scheme.default.json's branch index and the figures page).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import exists, func, insert, select, text

from . import audit
from .db import db
from .models import (Branch, BranchSpell, Community, Leave, Meeting, Member, MemberType, PointEntry, Reconciliation,
                     RectificationCase, SelfRecord, Street, User)
from .scheme import Scheme
from .scheme_versions import ensure_year, scheme_for_year
from .scoring import Entry, MemberLedger, entry_points, suggest_grade, year_score
from .security import hash_password

DEMO_PASSWORD = "qscore-demo"
DEMO_STREET = "示范街道"
DEFAULT_SEED = 2026

# (name, booklet prefix, housing estates)
COMMUNITIES = (
    ("前进社区", "QJ", ("前进新村", "前进路小区")),
    ("和平社区", "HP", ("和平里小区", "和平花园")),
    ("光明社区", "GM", ("光明花苑", "光明新村")),
)
# (community index, name, kind, members)
BRANCHES = (
    (0, "前进社区第一党支部", "ordinary", 34),
    (0, "前进社区第二党支部", "ordinary", 31),
    (0, "前进社区离退休党支部", "retirees", 40),
    (0, "前进社区再就业党支部", "reemployment", 24),
    (1, "和平社区第一党支部", "ordinary", 33),
    (1, "和平社区第二党支部", "ordinary", 30),
    (1, "和平社区流动党员党支部", "mobile", 18),
    (2, "光明社区第一党支部", "ordinary", 32),
    (2, "光明社区第二党支部", "ordinary", 30),
    (2, "光明社区第三党支部", "ordinary", 28),
)
TYPE_MIX = {
    "ordinary": (("A", 18), ("B", 52), ("C", 16), ("D", 14)),
    "retirees": (("B", 72), ("D", 28)),
    "reemployment": (("C", 88), ("A", 12)),
    "mobile": (("C", 100),),
}
# The member accounts: (branch index, type, what the member shows off).
MEMBER_ACCOUNTS = (
    (0, "A", "qualified"),
    (2, "B", "advanced"),
    (3, "C", "flexible"),
    (4, "B", "qualified"),
    (7, "C", "away"),
)

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏"
            "吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛")
# (era, gender): (first characters, second characters) of two-character given names
GIVEN = {
    ("old", "M"): ("建国德志卫振永树宝长金福庆学文玉明春", "国华明刚东林山顺生祥发才成民忠良仁义全"),
    ("old", "F"): ("秀桂玉淑凤素丽美春冬翠金月爱", "英兰珍芬华梅芳琴荣霞云娥凤香"),
    ("mid", "M"): ("志建海晓立卫红永国新伟小振", "强华涛东军新国平波斌勇伟明峰刚"),
    ("mid", "F"): ("丽晓红雪玉秀春海艳桂美亚", "萍红梅燕霞丽芳娟琴玲敏华"),
    ("young", "M"): ("浩子宇家文志俊嘉博明天晨思", "然豪航轩博远杰宇涛鹏辉阳"),
    ("young", "F"): ("雨思梦晓佳欣诗雅婉子美静", "欣琪瑶雯怡涵萱婷悦彤琳"),
}
SINGLE_GIVEN = {"M": "伟强磊军勇斌涛杰明超刚", "F": "静敏丽娟艳芳燕婷丹英"}

ORG_LIFE_TOPICS = {
    1: "传达上级会议精神，部署全年工作", 2: "学习党章，重温入党誓词", 3: "学雷锋志愿服务主题党日",
    4: "清明祭英烈，传承红色基因", 5: "学习党纪处分条例", 6: "“七一”前夕重温入党誓词",
    7: "庆祝建党纪念日，表彰先进", 8: "防汛防台安全知识学习", 9: "文明城市创建动员",
    10: "重阳敬老，关爱困难党员", 11: "学习全会精神", 12: "年度积分公示与工作总结",
}
STUDY_TOPICS = ("党课：学习习近平新时代中国特色社会主义思想", "党课：党史学习教育",
                "集中学习：《中国共产党纪律处分条例》", "党课：学习全会精神")
# (month, day, topic, hours)
VOLUNTEER_EVENTS = (
    (3, 5, "学雷锋志愿服务日", Decimal("2.5")),
    (6, 14, "社区环境卫生整治", Decimal("2")),
    (10, 11, "重阳节敬老助老志愿服务", Decimal("3")),
    (12, 6, "冬季消防安全巡查", Decimal("2")),
)
CHARITY_DAY = (4, 18, "慈善一日捐")
# (years back from the current year, month, day, task) — emergency and key tasks (Z4)
KEY_TASKS = (
    (1, 1, 20, "春节期间安全巡防值守"),
    (1, 7, 10, "防汛值守"),
    (1, 9, 20, "文明城市创建集中整治"),
    (1, 11, 15, "流感高发期疫情防控值守"),
    (0, 1, 25, "春节期间安全巡防值守"),
    (0, 3, 20, "文明城市创建迎检"),
    (0, 5, 10, "防汛应急值守"),
)
POSTS = ("楼道长", "治安巡逻岗", "环境卫生监督岗", "政策宣传岗", "文明劝导岗", "垃圾分类督导岗",
         "邻里调解岗", "关爱独居老人岗", "小区议事岗")
CONTACT_NOTES = ("走访联系户，了解诉求并帮助解决", "电话联系联系户，转达社区通知", "走访联系户，宣传防诈骗知识",
                 "帮助联系户办理高龄补贴")
SUGGESTION_NOTES = ("关于小区停车管理的建议被社区采纳", "调解邻里噪音纠纷", "调解楼上漏水纠纷",
                    "提出加装电梯协调方案被采纳")
PAIRING_NOTES = ("结对帮扶困难家庭", "结对帮扶独居老人")
AWAY_CITIES = ("杭州", "宁波", "苏州", "深圳", "上海", "广州")

# (from, to, reasons, own wishes) of type changes; counts in TYPE_CHANGE_PLAN
TYPE_CHANGES = {
    ("A", "B"): (("达到退休年龄，办理退休手续",), ("本人申请按离退休党员管理",)),
    ("B", "D"): (("突发脑梗，行动不便", "年老体弱，长期卧床", "因病行动不便，出行需人陪同"),
                 ("本人及家属申请转为第四类管理，希望能送学上门",)),
    ("A", "C"): (("合同到期离开社区工作岗位，现待业", "离开社区工作岗位，外出务工"),
                 ("本人同意转为第三类，外出期间通过线上方式学习",)),
    ("C", "A"): (("被聘为社区网格员", "到社区党群服务中心就业"), ("本人愿意参与社区工作，接受第一类标准",)),
    ("C", "B"): (("达到退休年龄，办理退休手续",), ("本人申请按离退休党员管理",)),
    ("D", "B"): (("身体康复，能正常参加活动",), ("本人要求恢复参加集中组织生活",)),
}
TYPE_CHANGE_PLAN = (("A", "B", 4), ("B", "D", 5), ("A", "C", 3), ("C", "A", 4), ("C", "B", 2), ("D", "B", 2))

CORRECTION_NOTE = "录入错误，更正"
REENTRY_NOTE = "更正后重新录入"


def demo_accounts() -> list[tuple[str, str, str]]:
    """(username, role, scope) of every demo account; all have the password DEMO_PASSWORD."""
    rows = [("street", "street_admin", DEMO_STREET)]
    rows += [(f"community{i + 1}", "community_secretary", c[0]) for i, c in enumerate(COMMUNITIES)]
    rows += [(f"branch{i + 1:02d}", "branch_secretary", b[1]) for i, b in enumerate(BRANCHES)]
    rows += [(f"member{i + 1}", "member", BRANCHES[b][1]) for i, (b, _t, _w) in enumerate(MEMBER_ACCOUNTS)]
    return rows


def is_real_data_present() -> bool:
    """True when the database holds anything that is not the demo: a street not marked demo, or
    members or accounts outside a demo street."""
    demo_streets = select(Street.id).where(Street.demo.is_(True))
    return bool(
        db.session.scalar(select(exists().where(Street.demo.is_(False))))
        or db.session.scalar(select(exists().where(Member.street_id.not_in(demo_streets))))
        or db.session.scalar(select(exists().where(User.street_id.not_in(demo_streets))))
    )


def demo_loaded() -> bool:
    return bool(db.session.scalar(select(exists().where(Street.demo.is_(True)))))


# ---------------------------------------------------------------------------------------------
# The plan, in memory
# ---------------------------------------------------------------------------------------------

@dataclass
class _Branch:
    index: int
    community: int
    name: str
    kind: str
    size: int
    members: list["_Member"] = field(default_factory=list)
    id: int | None = None
    secretary: "_Member | None" = None
    user_id: int | None = None
    org_life: dict[tuple[int, int], "_Meeting"] = field(default_factory=dict)
    meetings: list["_Meeting"] = field(default_factory=list)


@dataclass
class _Meeting:
    branch: _Branch
    held_on: date
    kind: str
    code: str
    topic: str
    hours: Decimal | None = None
    orm: Meeting | None = None


@dataclass
class _Member:
    index: int
    branch: _Branch
    type0: str
    gender: str
    birth_year: int
    name: str = ""
    joined_party_on: date | None = None
    on_roll_since: date = date(2000, 1, 1)
    probationary: bool = False
    booklet_no: str = ""
    phone: str = ""
    address: str = ""
    status: str = "active"
    left_roll_on: date | None = None
    role: str = ""               # secretary, community, account
    tier: str = "qualified"      # advanced, qualified
    special: str = ""            # k1_streak, k2_streak, low, lost, veto, k4, recent
    post: str = ""
    households: bool = False
    pairing: bool = False
    diligence: float = 1.0       # scales the optional items of qualified members
    flexible_host: _Branch | None = None
    types: list[tuple[date, str, str, str]] = field(default_factory=list)  # (from, type, reason, wish)
    leaves: list[tuple[str, date, date, str]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    id: int | None = None
    user_id: int | None = None

    def on_roll(self, d: date) -> bool:
        return self.on_roll_since <= d and (self.left_roll_on is None or d < self.left_roll_on)

    def type_on(self, d: date) -> str:
        current = self.types[0][1]
        for start, code, _r, _w in self.types:
            if start <= d:
                current = code
        return current

    def leave_on(self, d: date) -> str | None:
        for kind, start, end, _reason in self.leaves:
            if start <= d <= end:
                return kind
        return None


def _last_day(y: int, m: int) -> date:
    return (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1))


def _weekday(d: date) -> date:
    """Meetings fall on working days: Saturday moves to Friday, Sunday to Monday."""
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


def _months(start: date, end: date):
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield y, m
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _weighted(rng: random.Random, pairs) -> str:
    items = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(items, weights)[0]


class _Builder:
    def __init__(self, today: date, seed: int):
        self.today = today
        self.seed = seed
        self.year = today.year
        self.prev = today.year - 1
        self.start = date(self.prev, 1, 1)
        # Separate streams: names and people depend on the seed only, not on today.
        self.rng_people = random.Random(f"qscore-demo-people-{seed}")
        self.rng_names = random.Random(f"qscore-demo-names-{seed}")
        self.rng = random.Random(f"qscore-demo-life-{seed}-{today.isoformat()}")
        self.tz = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
        self.branches: list[_Branch] = []
        self.members: list[_Member] = []
        self.community_secretaries: list[_Member] = []
        self.community_user: dict[int, int] = {}
        self.schemes: dict[int, Scheme] = {}
        self.scheme_version: dict[int, int] = {}
        self.account_members: list[_Member] = []
        self.corrections: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        self.self_records: list[dict[str, Any]] = []
        self._points: dict[tuple, Any] = {}

    # -- time -------------------------------------------------------------------------------
    def stamp(self, d: date, hour: int | None = None) -> datetime:
        """A local working-hours time on day d, stored as naive UTC like every timestamp."""
        hour = self.rng.randint(9, 20) if hour is None else hour
        local = datetime(d.year, d.month, d.day, hour, self.rng.randint(0, 59), tzinfo=self.tz)
        return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)

    def later(self, d: date, delays=(0, 0, 1, 1, 2, 3, 5)) -> date:
        return min(d + timedelta(days=self.rng.choice(delays)), self.today)

    def home_day(self, m: _Member, d: date, delays: tuple[int, ...]) -> date:
        """A few days after a meeting, for study delivered at home: same month, on the roll, not after today."""
        day = min(self.later(d, delays), _last_day(d.year, d.month))
        return day if m.on_roll(day) else d

    # -- people ---------------------------------------------------------------------------------
    def name_for(self, gender: str, birth_year: int) -> str:
        r = self.rng_names
        if r.random() < 0.015:
            surname = r.choice(COMPOUND_SURNAMES)
        else:
            weights = [max(2, 26 - i) for i in range(len(SURNAMES))]
            surname = r.choices(SURNAMES, weights)[0]
        if r.random() < 0.04:
            return surname + r.choice(SINGLE_GIVEN[gender])
        era = "old" if birth_year < 1958 else "mid" if birth_year < 1980 else "young"
        first, second = GIVEN[(era, gender)]
        while True:
            a, b = r.choice(first), r.choice(second)
            if a != b:
                return surname + a + b

    def plan_people(self) -> None:
        rp = self.rng_people
        for bi, (ci, name, kind, size) in enumerate(BRANCHES):
            br = _Branch(bi, ci, name, kind, size)
            self.branches.append(br)
            for i in range(size):
                t = _weighted(rp, TYPE_MIX[kind])
                gender = rp.choice("MF")
                if i == 0:  # the branch secretary: a community worker, or a retired cadre
                    t = "B" if kind == "retirees" else "A"
                    birth = rp.randint(1952, 1962) if t == "B" else rp.randint(1970, 1988)
                elif i == 1 and name == self._first_branch_name(ci):  # the community secretary
                    t = "A"
                    birth = rp.randint(1972, 1984)
                elif t == "A":
                    birth = rp.randint(1970, 1998)
                elif t == "B":
                    birth = rp.randint(1940, 1965)
                elif t == "C":
                    birth = rp.randint(1965, 2000)
                else:
                    birth = rp.randint(1960, 1978) if rp.random() < 0.15 else rp.randint(1932, 1958)
                m = _Member(len(self.members), br, t, gender, birth)
                m.name = self.name_for(gender, birth)
                br.members.append(m)
                self.members.append(m)
            br.secretary = br.members[0]
            br.secretary.role = "secretary"
            if name == self._first_branch_name(ci):
                br.members[1].role = "community"
                self.community_secretaries.append(br.members[1])
        self._name_clashes()

    @staticmethod
    def _first_branch_name(ci: int) -> str:
        return next(b[1] for b in BRANCHES if b[0] == ci)

    def _era(self, m: _Member) -> str:
        return "old" if m.birth_year < 1958 else "mid" if m.birth_year < 1980 else "young"

    def _name_clashes(self) -> None:
        """Three same-name pairs in different branches, and one inside the retirees' branch."""
        rp = self.rng_people
        done: set[int] = set()
        pairs = 0
        for _ in range(400):
            if pairs == 3:
                break
            a, b = rp.sample(self.members, 2)
            if a.branch is b.branch or a.index in done or b.index in done or a.role or b.role:
                continue
            if a.gender != b.gender or self._era(a) != self._era(b):
                continue
            b.name = a.name
            done |= {a.index, b.index}
            pairs += 1
        retirees = next(br for br in self.branches if br.kind == "retirees")
        women = [m for m in retirees.members if not m.role and m.gender == "F" and self._era(m) == "old"
                 and m.index not in done]
        if len(women) >= 2:
            women[-1].name = women[-2].name

    def plan_dates(self) -> None:
        r = self.rng
        prev = self.prev
        for m in self.members:
            jp_year = min(m.birth_year + r.randint(19, 38), prev - 1)
            jp_year = max(jp_year, m.birth_year + 18)
            m.joined_party_on = date(jp_year, r.randint(1, 12), r.randint(1, 28))
            lo = max(m.joined_party_on.year, 1998)
            roll_year = r.randint(lo, prev - 1) if lo < prev - 1 else prev - 1
            m.on_roll_since = max(date(roll_year, r.randint(1, 12), r.randint(1, 28)), m.joined_party_on)
        # Recent arrivals: three in a third quarter, one in a November, one this month (the latest
        # such dates not after today), some of them newly admitted (probationary).
        def latest(month: int, day: int) -> date:
            d = date(self.year, month, day)
            return d if d <= self.today else date(prev, month, day)

        young = [m for m in self.members if not m.role and m.type0 in ("A", "C") and m.birth_year >= 1985
                 and m.branch.kind in ("ordinary", "mobile")]
        picks = self.rng.sample(young, 5)
        arrivals = [(latest(7, 1), True), (latest(8, 12), True), (latest(9, 3), False),
                    (latest(11, 3), True), (date(self.today.year, self.today.month, 1), False)]
        for m, (d, new) in zip(picks, arrivals):
            m.special = "recent"
            m.on_roll_since = d
            if new:
                m.joined_party_on = d
                m.probationary = (self.today - d).days < 365
            else:
                m.joined_party_on = min(m.joined_party_on, d - timedelta(days=400))
        # Booklet numbers per community, in order of arrival.
        for ci, (_name, prefix, _estates) in enumerate(COMMUNITIES):
            ms = sorted((m for m in self.members if m.branch.community == ci), key=lambda m: (m.on_roll_since, m.index))
            for n, m in enumerate(ms, 1):
                m.booklet_no = f"{prefix}-{max(m.on_roll_since.year, prev - 1)}-{n:03d}"
        for m in self.members:
            estates = COMMUNITIES[m.branch.community][2]
            m.phone = "139" + "".join(str(r.randint(0, 9)) for _ in range(8))
            m.address = (f"{r.choice(estates)}{r.randint(1, 28)}幢{r.randint(1, 3)}单元"
                         f"{r.randint(1, 6)}0{r.randint(1, 4)}室")
            m.types = [(m.on_roll_since, m.type0, "入册分类", "")]
        # Members who left the roll last year: one transferred out, two died.
        left = [m for m in self.members if not m.role and not m.special and m.branch.kind != "mobile"]
        for m, (status, d) in zip(self.rng.sample(left, 3), (
                ("transferred_out", date(prev, 5, 31)), ("deceased", date(prev, 8, 17)),
                ("deceased", date(prev, 12, 3)))):
            m.status, m.left_roll_on, m.special = status, d, "left"

    def plan_type_changes(self) -> None:
        r = self.rng
        first = date(self.prev, 2, 1)
        months = [date(y, mo, 1) for y, mo in _months(first, self.today)]
        taken: set[int] = set()
        for frm, to, count in TYPE_CHANGE_PLAN:
            pool = [m for m in self.members if m.type0 == frm and not m.role and not m.special
                    and m.index not in taken]
            if (frm, to) == ("B", "D"):
                pool = [m for m in pool if m.birth_year <= 1952] or pool
            if to == "B" and frm in ("A", "C"):
                pool = [m for m in pool if m.birth_year < 1980] or pool
            for m in r.sample(pool, min(count, len(pool))):
                taken.add(m.index)
                when = r.choice([d for d in months if d > m.on_roll_since + timedelta(days=90)] or months[-1:])
                reasons, wishes = TYPE_CHANGES[(frm, to)]
                if to == "B" and frm in ("A", "C"):  # retires: born 60 (men) or 55/50 (women) years before
                    m.birth_year = when.year - (60 if m.gender == "M" else 55 if frm == "A" else 50)
                m.types.append((when, to, r.choice(reasons), r.choice(wishes)))

    def plan_roles(self) -> None:
        """Specials (the rectification cases, K4, flexible attendance), tiers, posts, leaves."""
        r = self.rng
        free = lambda m: not m.role and not m.special and len(m.types) == 1  # noqa: E731
        by_branch = lambda kinds: [m for m in self.members if free(m) and m.branch.kind in kinds]  # noqa: E731

        # Member accounts first, so that they show what they are meant to (MEMBER_ACCOUNTS).
        for bi, t, what in MEMBER_ACCOUNTS:
            m = next(m for m in self.branches[bi].members if free(m) and m.type0 == t)
            m.role = "account"
            if what == "advanced":
                m.tier = "advanced"
            self.account_members.append(m)

        specials = (("k1_streak", ("ordinary",), "B"), ("k2_streak", ("ordinary",), "A"),
                    ("low", ("ordinary",), "A"), ("lost", ("mobile",), "C"), ("veto", ("ordinary",), "B"),
                    ("k4", ("ordinary", "retirees"), "B"))
        for special, kinds, t in specials:
            pool = [m for m in by_branch(kinds) if m.type0 == t and m.on_roll_since.year < self.prev]
            m = r.choice(pool)
            m.special = special
            if special == "k4":
                m.tier = "advanced"

        # Flexible attendance: re-employment branch members who attend elsewhere some months.
        reemp = next(br for br in self.branches if br.kind == "reemployment")
        hosts = [br for br in self.branches if br.kind == "ordinary"]
        flex = [m for m in reemp.members if m.type0 == "C" and not m.special and len(m.types) == 1
                and m.role in ("", "account")]
        account3 = self.account_members[2]
        chosen = [account3] + r.sample([m for m in flex if m is not account3], 4)
        for m in chosen:
            m.flexible_host = r.choice(hosts)

        # Tiers: about a sixth advanced, secretaries more often.
        weight = {"A": 0.2, "B": 0.17, "C": 0.09, "D": 0.08}
        for m in self.members:
            if m.special or m.tier == "advanced" or m.role == "account":
                continue
            p = 0.75 if m.role in ("secretary", "community") else weight[m.type0]
            if r.random() < p:
                m.tier = "advanced"
        for m in self.members:
            m.diligence = r.uniform(0.85, 1.0) if m.tier == "advanced" else r.uniform(0.3, 1.0)
            m.post = r.choice(POSTS) if (m.tier == "advanced" or r.random() < 0.35) else ""
            m.households = m.tier == "advanced" or r.random() < 0.5
            m.pairing = m.tier == "advanced" and r.random() < 0.25

        # Leaves: health exemptions for type D, working away for type C, a few visits to family.
        end = date(self.year, 12, 31)
        for m in self.members:
            if m.special in ("lost", "k1_streak", "low"):
                continue
            for i, (since, t, _reason, _wish) in enumerate(m.types):
                until = m.types[i + 1][0] - timedelta(days=1) if i + 1 < len(m.types) else end
                if m.left_roll_on is not None:
                    until = min(until, m.left_roll_on - timedelta(days=1))
                start = max(since, self.start)
                if start > until:
                    continue
                if t == "D" and (r.random() < 0.35 or i > 0):
                    m.leaves.append(("health_exemption", start, until,
                                     "行动不便，经支委会同意免于参加集中组织生活，送学上门"))
                elif t == "C" and (r.random() < 0.15 or (i > 0 and m.types[i - 1][1] == "A"))\
                        and m.flexible_host is None:
                    s = max(start, date(self.prev, r.randint(2, 6), 1))
                    e = min(until, _last_day(*self._add_months(s, r.randint(5, 10))))
                    if s <= e:
                        m.leaves.append(("working_away", s, e,
                                         f"在{r.choice(AWAY_CITIES)}务工，已与务工地党组织联系"))
        away = self.account_members[4]
        s = date(self.year, 1, 1) if self.today.month > 1 else date(self.prev, 12, 1)
        away.leaves = [leave for leave in away.leaves if leave[2] < s]
        away.leaves.append(("working_away", s, date(self.year, 10, 31), "在杭州务工，已与务工地党组织联系"))
        visitors = [m for m in self.members if free(m) and m.type0 == "B" and not m.leaves]
        for m in r.sample(visitors, 6):
            s = date(self.prev, r.randint(2, 11), r.randint(1, 10))
            m.leaves.append(("leave", s, s + timedelta(days=r.randint(20, 45)), "赴外地子女家探亲"))

    @staticmethod
    def _add_months(d: date, n: int) -> tuple[int, int]:
        k = d.year * 12 + d.month - 1 + n
        return k // 12, k % 12 + 1

    # -- meetings ---------------------------------------------------------------------------
    def plan_meetings(self) -> None:
        r = self.rng
        for br in self.branches:
            base = r.randint(8, 20)
            study_day = r.randint(5, 25)
            for y, mo in _months(self.start, self.today):
                day = _weekday(date(y, mo, min(28, max(1, base + r.randint(-2, 2)))))
                self._meeting(br, day, "org_life", "J1", f"{mo}月主题党日：{ORG_LIFE_TOPICS[mo]}")
                if mo in (2, 5, 8, 11):
                    self._meeting(br, _weekday(date(y, mo, study_day)), "study", "J2", STUDY_TOPICS[(mo - 2) // 3])
                if mo == 1:
                    self._meeting(br, _weekday(date(y, 1, min(28, base + 5))), "other", "J4",
                                  f"{y - 1}年度组织生活会暨民主评议党员")
                for vm, vd, topic, hours in VOLUNTEER_EVENTS:
                    if vm == mo:
                        self._meeting(br, _weekday(date(y, mo, vd)), "volunteer", "Z3", topic, hours)
                if CHARITY_DAY[0] == mo:
                    self._meeting(br, _weekday(date(y, mo, CHARITY_DAY[1])), "charity", "Z7", CHARITY_DAY[2])

    def _meeting(self, br: _Branch, d: date, kind: str, code: str, topic: str, hours: Decimal | None = None) -> None:
        if d > self.today:
            return
        mt = _Meeting(br, d, kind, code, topic, hours)
        br.meetings.append(mt)
        if kind == "org_life":
            br.org_life[(d.year, d.month)] = mt

    # -- entries ----------------------------------------------------------------------------
    def recorder(self, m: _Member, branch: _Branch | None = None) -> int:
        """The secretary of the branch; nobody records their own points (then the community's)."""
        br = branch or m.branch
        if br.secretary is m:
            return self.community_user[br.community]
        return br.user_id

    def add(self, m: _Member, code: str, d: date, value: Any = None, note: str = "", *,
            meeting: _Meeting | None = None, host: _Branch | None = None, delays=(0, 0, 1, 1, 2, 3, 5),
            source: str | None = None) -> dict[str, Any]:
        scheme = self.schemes[d.year]
        value_points = self.points(d.year, code, m.type_on(d), value)
        by = (meeting.branch if meeting is not None else None)
        row = {
            "member_id": m.id, "branch_id": m.branch.id, "year": d.year, "indicator_code": code,
            "category": scheme.indicators[code].category, "points": value_points.points,
            "quantity": value_points.quantity, "earned_on": d, "note": note,
            "source": source or ("meeting" if meeting is not None else "demo"),
            "meeting_id": meeting.orm.id if meeting is not None else None,
            "host_branch_id": host.id if host is not None else None,
            "scheme_version_id": self.scheme_version[d.year],
            "recorded_by_id": self.recorder(m, by),
            "recorded_at": self.stamp(self.later(d, delays), self.rng.randint(18, 21) if meeting else None),
            "corrects_id": None, "self_record_id": None,
        }
        m.rows.append(row)
        return row

    def points(self, year: int, code: str, type_code: str, value: Any = None):
        """The points the scheme gives (qscore.scoring.entry_points), memoised: thousands of rows."""
        key = (year, code, type_code, value)
        if key not in self._points:
            self._points[key] = entry_points(self.schemes[year], code, type_code, value)
        return self._points[key]

    def attend_p(self, m: _Member, d: date) -> float:
        t = m.type_on(d)
        if m.special == "low":
            return 0.35
        if m.special == "lost":
            return 0.2
        if t == "D":
            return 0.5
        base = {"A": 0.96, "B": 0.95, "C": 0.9}[t]
        return min(0.99, base + (0.02 if m.tier == "advanced" else 0))

    def plan_entries(self) -> None:
        for br in self.branches:
            for mt in sorted(br.meetings, key=lambda x: x.held_on):
                for m in br.members:
                    if m.on_roll(mt.held_on):
                        self.meeting_item(m, mt)
        for m in self.members:
            self.periodic_items(m)
        for m in self.members:
            self.special_items(m)

    def meeting_item(self, m: _Member, mt: _Meeting) -> None:
        r = self.rng
        d = mt.held_on
        t = m.type_on(d)
        leave = m.leave_on(d)
        if mt.kind == "org_life":
            if m.special == "k1_streak" and self._k1_month(d):
                self.add(m, "K1", d, note=f"无故缺席{d.month}月主题党日")
                return
            if leave == "health_exemption":
                if r.random() < 0.6:
                    self.add(m, "J1", self.home_day(m, d, (1, 2, 3, 5)), note="送学上门，在家学习")
                return
            if leave == "working_away":
                if r.random() < 0.55:
                    self.add(m, "J1", d, note="在务工地党组织参加主题党日，有证明材料")
                return
            if leave:
                return
            if m.flexible_host is not None and r.random() < 0.35:
                host = m.flexible_host.org_life.get((d.year, d.month))
                if host is not None and m.on_roll(host.held_on):
                    self.add(m, "J1", host.held_on, meeting=host, host=host.branch)
                    return
            if r.random() < self.attend_p(m, d):
                self.add(m, "J1", d, meeting=mt)
            elif t == "D":
                if r.random() < 0.6:
                    self.add(m, "J1", self.home_day(m, d, (1, 2, 3, 5)), note="送学上门，在家学习")
            elif r.random() < (0.9 if m.special in ("low", "lost") else 0.35):
                self.add(m, "K1", d, note=f"无故缺席{d.month}月主题党日")
        elif mt.kind in ("study", "other"):
            code = mt.code
            home_note = "书面自评，由联系人代交" if code == "J4" else "送学上门，在家学习"
            if leave == "health_exemption":
                if r.random() < 0.7:
                    self.add(m, code, self.home_day(m, d, (1, 2, 4)), note=home_note)
                return
            if leave == "working_away":
                if r.random() < 0.6:
                    self.add(m, code, self.home_day(m, d, (0, 1, 2)), note="线上参加学习，有截图证明")
                return
            if leave:
                return
            if r.random() < self.attend_p(m, d) - 0.03:
                self.add(m, code, d, meeting=mt)
            elif t == "D" and r.random() < 0.7:
                self.add(m, code, self.home_day(m, d, (1, 2, 4)), note=home_note)
        elif mt.kind == "volunteer":
            if leave or t == "D" or m.special in ("low", "lost"):
                return
            if r.random() < (0.6 if m.tier == "advanced" else 0.35 * m.diligence):
                hours = mt.hours if r.random() < 0.8 else max(Decimal("1"), mt.hours - 1)
                self.add(m, "Z3", d, hours, note=mt.topic, meeting=mt)
        elif mt.kind == "charity":
            if m.special != "lost" and r.random() < (0.8 if t == "D" else 0.9):
                self.add(m, "Z7", d, 1, note="慈善一日捐", meeting=mt)

    def _k1_month(self, d: date) -> bool:
        if d.year == self.prev:
            return 3 <= d.month <= 8
        return self.today.month - 3 <= d.month < self.today.month

    def periodic_items(self, m: _Member) -> None:
        r = self.rng
        end = min(self.today, m.left_roll_on - timedelta(days=1)) if m.left_roll_on else self.today
        start = max(self.start, m.on_roll_since)
        if start > end:
            return
        # Quarterly: dues (J3), booklet (J5), identity and pledge (J6), reports (J7), pairing (Z6).
        for y, mo in _months(start, end):
            if mo % 3 != 1 and not (y, mo) == (start.year, start.month):
                continue
            q = (mo - 1) // 3 + 1
            self.dues(m, y, q, start, end)
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
                    self.add(m, code, d, note=note)
            if m.pairing:
                d = date(y, (q - 1) * 3 + r.randint(1, 3), r.randint(1, 28))
                if start <= d <= end and r.random() < 0.85:
                    self.add(m, "Z6", d, note=r.choice(PAIRING_NOTES))
            if m.tier == "advanced" and r.random() < 0.15:
                d = date(y, (q - 1) * 3 + r.randint(1, 3), r.randint(1, 28))
                if start <= d <= end:
                    self.add(m, "Z5", d, note=r.choice(SUGGESTION_NOTES))
        # Monthly: volunteer post on duty (Z1), contact households (Z2).
        for y, mo in _months(start, end):
            t = m.type_on(date(y, mo, 1))
            if m.post and m.special not in ("low", "lost"):
                p = (0.45 if m.tier == "advanced" else 0.07) * (0.5 if t == "D" else 1)
                d = date(y, mo, r.randint(20, 28))
                if start <= d <= end and not m.leave_on(d) and r.random() < p:
                    self.add(m, "Z1", d, note=f"{m.post}履职")
            if m.households and m.special not in ("low", "lost"):
                p = 0.2 if m.tier == "advanced" else 0.05
                d = date(y, mo, r.randint(1, 28))
                if start <= d <= end and r.random() < p:
                    self.add(m, "Z2", d, note=r.choice(CONTACT_NOTES))
        # Key tasks (Z4) and commendations (Z7).
        for back, mo, day, task in KEY_TASKS:
            d = date(self.year - back, mo, day)
            if not (start <= d <= end) or m.type_on(d) == "D" or m.leave_on(d) or m.special in ("low", "lost"):
                continue
            if r.random() < (0.3 if m.tier == "advanced" else 0.05):
                key = r.random() < 0.2
                self.add(m, "Z4", d, 5 if key else 3, note=task + ("（担任负责人）" if key else ""))
        if m.tier == "advanced" and r.random() < 0.3:
            d = date(self.prev, r.randint(2, 12), r.randint(1, 28))
            if start <= d <= end:
                pts, note = r.choice(((1, "收到居民感谢信"), (1, "收到居民赠送锦旗"), (3, "获评街道优秀志愿者")))
                self.add(m, "Z7", d, pts, note=note)

    def dues(self, m: _Member, y: int, q: int, start: date, end: date) -> None:
        r = self.rng
        months = [(y, (q - 1) * 3 + i) for i in (1, 2, 3)]
        unpaid = False
        if m.special == "k2_streak" and y == self.prev and q in (2, 3):
            unpaid = True
        elif m.special == "low" and ((y == self.prev and q in (3, 4)) or (y == self.year and q == 1)):
            unpaid = True
        elif m.special == "lost" and ((y == self.prev and q in (3, 4)) or (y == self.year and q in (1, 2))):
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
            self.add(m, "J3", d, note=note)
            return
        streak = m.special in ("k2_streak", "lost", "low")
        for yy, mm in months:
            d = date(yy, mm, 25)
            if not (start <= d <= end):
                continue
            if m.special == "low" and mm not in (8, 9, 11) and yy == self.prev:
                continue
            if streak or (mm == months[0][1] and r.random() < 0.5):
                self.add(m, "K2", d, note=f"{mm}月党费经催缴仍未交纳")

    def special_items(self, m: _Member) -> None:
        r = self.rng
        p = self.prev
        if m.special == "k4":
            self.add(m, "K4", date(p, 8, 6), -5, note="参与赌博，经查属实")
        elif m.special == "veto":
            self.add(m, "V", date(p, 10, 15),
                     note=f"受党内严重警告处分（{DEMO_STREET}纪工委〔{p}〕3号处分决定），一票否决")
        elif m.special == "low":
            self.add(m, "K3", date(p, 6, 12), -3, note="未履行年度承诺的帮扶事项")
        elif not m.special and m.tier == "qualified" and r.random() < 0.012:
            self.add(m, "K3", date(p, r.randint(3, 11), r.randint(1, 28)), -3, note="未完成支部交办的宣传任务")

    # -- checking the plan against the rules ----------------------------------------------------
    def grade(self, m: _Member, year: int) -> tuple[Decimal, str | None]:
        scheme = self.schemes[year]
        as_of = date(year, 12, 31) if year < self.year else self.today
        entries = [Entry(e["indicator_code"], e["category"], e["earned_on"], e["points"])
                   for e in m.rows if e["year"] == year]
        ledger = MemberLedger.from_entries(entries, year=year, as_of=as_of)
        history = [(d, t) for d, t, _r, _w in m.types]
        ys = year_score(scheme, year, as_of, history, ledger)
        g = suggest_grade(scheme, year, as_of, ys.score, ledger, on_roll_since=m.on_roll_since,
                          left_roll_on=m.left_roll_on, status=m.status)
        return ys.score, g.code

    def balance(self) -> None:
        """Qualified members stay below advanced, advanced members reach it (the past year)."""
        r = self.rng
        y = self.prev
        order = ("Z1", "Z2", "Z5", "Z6", "Z7", "Z4", "Z3")
        for m in self.members:
            if m.special in ("left", "recent", "k4", "low", "lost", "veto", "k1_streak", "k2_streak"):
                continue
            score, code = self.grade(m, y)
            if m.tier == "qualified":
                guard = 0
                while (code == "advanced" or score >= 90) and guard < 60:
                    guard += 1
                    rows = [e for e in m.rows if e["year"] == y and e["category"] == "Z" and e["note"] != "慈善一日捐"]
                    if not rows:
                        break
                    rows.sort(key=lambda e: order.index(e["indicator_code"]))
                    first = [e for e in rows if e["indicator_code"] == rows[0]["indicator_code"]]
                    m.rows.remove(r.choice(first))
                    score, code = self.grade(m, y)
            elif m.tier == "advanced":
                guard = 0
                while code != "advanced" and guard < 20:
                    guard += 1
                    self.boost(m, y)
                    score, code = self.grade(m, y)

    def boost(self, m: _Member, y: int) -> None:
        r = self.rng
        start = max(date(y, 1, 1), m.on_roll_since)
        quarters = {(e["earned_on"].month - 1) // 3 + 1 for e in m.rows if e["year"] == y and e["category"] == "Z"}
        for q in range(1, 5):
            d = date(y, (q - 1) * 3 + 2, r.randint(1, 28))
            if q not in quarters and d >= start:
                self.add(m, "Z2", d, note=r.choice(CONTACT_NOTES))
                return
        z5 = sum(1 for e in m.rows if e["year"] == y and e["indicator_code"] == "Z5")
        d = date(y, r.randint(max(start.month, 1), 12), r.randint(1, 28))
        if z5 < 3:
            self.add(m, "Z5", d, note=r.choice(SUGGESTION_NOTES))
        else:
            self.add(m, "Z7", d, 1, note="收到居民感谢信")

    def flexible_conflict(self) -> None:
        """One home K1 in a month the member attended another branch's organisational life (the
        roster flags it and offers its correction)."""
        for m in self.members:
            if m.flexible_host is None:
                continue
            elsewhere = sorted((e for e in m.rows if e["host_branch_id"] is not None and e["year"] == self.year),
                               key=lambda e: e["earned_on"], reverse=True)
            for e in elsewhere:
                home = m.branch.org_life.get((e["earned_on"].year, e["earned_on"].month))
                if home is None or any(x is not e and x["indicator_code"] in ("J1", "K1")
                                       and (x["earned_on"].year, x["earned_on"].month) == (home.held_on.year,
                                                                                           home.held_on.month)
                                       for x in m.rows):
                    continue
                self.add(m, "K1", home.held_on, note=f"无故缺席{home.held_on.month}月主题党日")
                return

    # -- corrections and self-records -----------------------------------------------------------
    def plan_corrections(self) -> None:
        """Ten corrected entries: four recorded twice, three with the hours typed wrong and two
        for the wrong member (one for a namesake in the same branch), the last five re-entered."""
        r = self.rng
        ok = [m for m in self.members if not m.special and m.status == "active"]
        used: set[int] = set()

        def pick(codes: tuple[str, ...], among: list[_Member]) -> tuple[_Member, dict[str, Any]] | None:
            pool = [(m, e) for m in among if m.index not in used for e in m.rows
                    if e["year"] == self.prev and e["indicator_code"] in codes and e["source"] != "correction"]
            if not pool:
                return None
            m, e = r.choice(pool)
            used.add(m.index)
            return m, e

        for _ in range(4):  # recorded twice: the second is corrected
            found = pick(("J1", "J3", "J6"), ok)
            if found:
                m, good = found
                wrong = {**good, "recorded_at": good["recorded_at"] + timedelta(minutes=r.randint(2, 50))}
                self.corrections.append((wrong, None))
        for _ in range(3):  # hours typed wrong: corrected and re-entered
            found = pick(("Z3",), ok)
            if found:
                m, good = found
                m.rows.remove(good)
                hours = good["quantity"] * 2
                points = entry_points(self.schemes[good["year"]], "Z3", m.type_on(good["earned_on"]), hours).points
                self.corrections.append(({**good, "quantity": hours, "points": points}, good))
        # Recorded for the wrong member: first the namesake in the retirees' branch.
        namesakes = [m for br in self.branches for m in br.members if m in ok and any(
            o is not m and o.name == m.name for o in br.members)]
        for among in (namesakes[:1] or ok, ok):
            found = pick(("J1", "J3", "J5", "J6"), among)
            if not found:
                continue
            m, good = found
            day = good["earned_on"]
            same = [o for o in m.branch.members if o is not m and o.name == m.name and o.on_roll(day)]
            other = r.choice(same or [o for o in m.branch.members if o is not m and o.on_roll(day)
                                      and o.branch.secretary is not o])
            m.rows.remove(good)
            points = entry_points(self.schemes[good["year"]], good["indicator_code"], other.type_on(day)).points
            self.corrections.append(({**good, "member_id": other.id, "points": points}, good))

    def plan_self_records(self) -> None:
        r = self.rng
        q_start = date(self.year, (self.today.month - 1) // 3 * 3 + 1, 1)
        span = (self.today - q_start).days
        items = (("Z2", None, "走访联系户，帮助独居老人联系维修"), ("Z3", Decimal("2"), "参加社区垃圾分类宣传志愿服务"),
                 ("Z5", None, "调解邻里漏水纠纷"), ("Z7", 1, "收到居民感谢信"), ("J6", None, "在小区门口党员先锋岗亮身份"),
                 ("Z3", Decimal("1.5"), "协助社区开展防诈骗宣传"))
        others = [m for m in self.members if m.status == "active" and not m.role and not m.special
                  and m.on_roll_since <= q_start]
        picked = r.sample(others, 16)
        groups = (("pending", self.account_members + picked[:10]), ("rejected", picked[10:12]),
                  ("confirmed", picked[12:16]))
        for status, group in groups:
            for m in group:
                code, value, note = r.choice(items)
                d = q_start + timedelta(days=r.randint(0, span))
                created = self.later(d, (0, 1, 2))
                own = m.user_id is not None
                rec = {
                    "member": m, "value": value, "member_id": m.id, "indicator_code": code, "earned_on": d,
                    "quantity": value if code == "Z3" else None, "note": note,
                    "origin": "member" if own else "reconciliation", "status": status,
                    "created_by_id": m.user_id if own else self.recorder(m),
                    "created_at": self.stamp(created, r.randint(8, 12)),
                    "reject_reason": "", "decided_by_id": None, "decided_at": None,
                }
                if status != "pending":
                    rec["decided_by_id"] = self.recorder(m)
                    rec["decided_at"] = self.stamp(self.later(created, (0, 1, 2, 3)), r.randint(14, 20))
                if status == "rejected":
                    rec["reject_reason"] = r.choice(("该活动已由支部统一录入，请勿重复登记",
                                                     "未提供服务记录，请补充联系户签字后再登记"))
                self.self_records.append(rec)


# ---------------------------------------------------------------------------------------------
# Writing it
# ---------------------------------------------------------------------------------------------

def load_demo(today: date, seed: int = DEFAULT_SEED) -> Street:
    """Build the demo street in the current session (added and flushed; the caller commits)."""
    b = _Builder(today, seed)
    b.plan_people()
    b.plan_dates()
    b.plan_type_changes()
    b.plan_roles()

    street = Street(name=DEMO_STREET, demo=True)
    db.session.add(street)
    db.session.flush()
    for y in (b.prev, b.year):
        b.scheme_version[y] = ensure_year(y).id
        b.schemes[y] = scheme_for_year(y)
    communities = [Community(street_id=street.id, name=c[0]) for c in COMMUNITIES]
    db.session.add_all(communities)
    db.session.flush()
    branches = [Branch(community_id=communities[br.community].id, name=br.name, kind=br.kind,
                       quick_indicators="J1,Z2" if br.kind == "retirees" else "J1,Z3")
                for br in b.branches]
    db.session.add_all(branches)
    db.session.flush()
    for br, orm in zip(b.branches, branches):
        br.id = orm.id

    initial = datetime(b.prev - 1, 12, 20, 2, 0)  # when the street classified its members (UTC)
    members = [Member(
        street_id=street.id, branch_id=m.branch.id, name=m.name, gender=m.gender, birth_year=m.birth_year,
        joined_party_on=m.joined_party_on, on_roll_since=m.on_roll_since, probationary=m.probationary,
        booklet_no=m.booklet_no, phone=m.phone, address=m.address, status=m.status, left_roll_on=m.left_roll_on,
        created_at=max(initial, b.stamp(m.on_roll_since)),
    ) for m in b.members]
    db.session.add_all(members)
    db.session.flush()
    for m, orm in zip(b.members, members):
        m.id = orm.id

    # Accounts: one password hash for all (scrypt is slow). Secretaries are members too.
    pw = hash_password(DEMO_PASSWORD)
    created = datetime(b.prev - 1, 12, 15, 1, 30)

    def account(username: str, display: str, role: str, *, community: Community | None = None,
                branch: _Branch | None = None, member: _Member | None = None) -> User:
        return User(username=username, display_name=display, password_hash=pw, role=role, street_id=street.id,
                    community_id=community.id if community else None, branch_id=branch.id if branch else None,
                    member_id=member.id if member else None, created_at=created)

    admin = account("street", f"{DEMO_STREET}党工委", "street_admin")
    community_users = [account(f"community{i + 1}", m.name, "community_secretary", community=communities[i], member=m)
                       for i, m in enumerate(b.community_secretaries)]
    branch_users = [account(f"branch{i + 1:02d}", br.secretary.name, "branch_secretary",
                            community=communities[br.community], branch=br, member=br.secretary)
                    for i, br in enumerate(b.branches)]
    member_users = [account(f"member{i + 1}", m.name, "member", community=communities[m.branch.community],
                            branch=m.branch, member=m) for i, m in enumerate(b.account_members)]
    db.session.add_all([admin, *community_users, *branch_users, *member_users])
    db.session.flush()
    for i, u in enumerate(community_users):
        b.community_user[i] = u.id
        b.community_secretaries[i].user_id = u.id
    for br, u in zip(b.branches, branch_users):
        br.user_id = u.id
        br.secretary.user_id = u.id
    for m, u in zip(b.account_members, member_users):
        m.user_id = u.id

    # Type history, branch spells, leaves.
    type_rows, spell_rows, leave_rows = [], [], []
    for m in b.members:
        cs = b.community_user[m.branch.community]
        for i, (since, t, reason, wish) in enumerate(m.types):
            if i == 0:
                at = initial if since < initial.date() else b.stamp(since)
            else:
                at = b.stamp(max(since - timedelta(days=b.rng.randint(3, 12)), b.start))
            type_rows.append({"member_id": m.id, "type_code": t, "effective_from": since, "reason": reason,
                              "own_wish": wish, "decided_by_id": cs, "recorded_at": at})
        spell_rows.append({"member_id": m.id, "branch_id": m.branch.id, "starts_on": m.on_roll_since,
                           "ends_on": m.left_roll_on, "recorded_by_id": cs,
                           "recorded_at": max(initial, b.stamp(m.on_roll_since))})
        for kind, s, e, reason in m.leaves:
            leave_rows.append({"member_id": m.id, "kind": kind, "starts_on": s, "ends_on": e, "reason": reason,
                               "recorded_by_id": b.recorder(m), "recorded_at": b.stamp(min(s, b.today))})
    db.session.execute(insert(MemberType.__table__), type_rows)
    db.session.execute(insert(BranchSpell.__table__), spell_rows)
    db.session.execute(insert(Leave.__table__), leave_rows)

    # Meetings.
    b.plan_meetings()
    meetings = [mt for br in b.branches for mt in sorted(br.meetings, key=lambda x: x.held_on)]
    for mt in meetings:
        mt.orm = Meeting(branch_id=mt.branch.id, held_on=mt.held_on, kind=mt.kind, indicator_code=mt.code,
                         topic=mt.topic, hours=mt.hours,
                         expected_count=sum(1 for m in mt.branch.members
                                            if m.on_roll(mt.held_on) and not m.leave_on(mt.held_on)),
                         recorded_by_id=mt.branch.user_id, recorded_at=b.stamp(b.later(mt.held_on, (0, 0, 1)), 17))
    db.session.add_all([mt.orm for mt in meetings])
    db.session.flush()

    # The ledger: planned, checked against the rules, then written in bulk; the few entries that
    # are corrected later are flushed as objects, for their ids.
    b.plan_entries()
    b.balance()
    b.flexible_conflict()
    b.plan_corrections()
    b.plan_self_records()

    rows = sorted((e for m in b.members for e in m.rows), key=lambda e: (e["recorded_at"], e["member_id"]))
    db.session.execute(insert(PointEntry.__table__), rows)  # one executemany
    originals = [PointEntry(**wrong) for wrong, _good in b.corrections]
    db.session.add_all(originals)
    db.session.flush()

    later: list[dict[str, Any]] = []
    for (wrong, good), original in zip(b.corrections, originals):
        when = min(wrong["recorded_at"] + timedelta(days=b.rng.randint(1, 12), hours=b.rng.randint(0, 3)),
                   b.stamp(b.today, 9))
        when = max(when, wrong["recorded_at"] + timedelta(minutes=5))
        later.append({**wrong, "points": -wrong["points"],
                      "quantity": -wrong["quantity"] if wrong["quantity"] is not None else None,
                      "note": CORRECTION_NOTE, "source": "correction", "meeting_id": None, "host_branch_id": None,
                      "recorded_at": when, "corrects_id": original.id})
        if good is not None:
            later.append({**good, "note": (good["note"] + "；" if good["note"] else "") + REENTRY_NOTE,
                          "recorded_at": when + timedelta(minutes=b.rng.randint(1, 5))})

    # Self-records; a confirmed one has its ledger entry, recorded by the secretary who confirmed it.
    records = [SelfRecord(**{k: v for k, v in rec.items() if k not in ("member", "value")}) for rec in b.self_records]
    db.session.add_all(records)
    db.session.flush()
    for rec, sr in zip(b.self_records, records):
        if rec["status"] == "confirmed":
            m = rec["member"]
            e = b.add(m, rec["indicator_code"], rec["earned_on"], rec["value"], note=rec["note"], source="self_record")
            m.rows.remove(e)
            e.update(self_record_id=sr.id, recorded_by_id=rec["decided_by_id"], recorded_at=rec["decided_at"])
            later.append(e)
    later.sort(key=lambda e: e["recorded_at"])
    db.session.execute(insert(PointEntry.__table__), later)
    _refresh_statistics()

    published = _publish_ended_quarters(b, street, branches)
    reviewed = _review_past_year(b, street, branches)

    audit.record("demo_loaded", street, user=admin, summary=(
        f"demo street {DEMO_STREET}: {len(b.branches)} branches, {len(b.members)} members, "
        f"{len(rows) + len(originals) + len(later)} entries, {published} published quarters, "
        f"{reviewed} confirmed reviews (seed {seed}, today {today.isoformat()})"))
    db.session.flush()
    return street


def _refresh_statistics() -> None:
    """PostgreSQL plans the scoring queries from its table statistics; after a bulk load those
    still describe the tables as they were (often empty), and a plan made for a handful of rows can
    take minutes over thousands. ANALYZE in this transaction counts the rows just written."""
    if db.session.get_bind().dialect.name == "postgresql":
        for table in (PointEntry.__table__, Member.__table__, MemberType.__table__, BranchSpell.__table__,
                      SelfRecord.__table__):
            db.session.execute(text(f'ANALYZE "{table.name}"'))


def _publish_ended_quarters(b: "_Builder", street: Street, branches: list[Branch]) -> int:
    """Every branch publishes every ended quarter at a meeting after the quarter, once its entries were in.

    Each member is marked reconciled; the publication happens after the last entry earned in the
    quarter was recorded, so nothing in the demo needs to be a prior-period adjustment.
    """
    from .publication import members_on_roll, publish, quarter_bounds

    count = 0
    for br, orm in zip(b.branches, branches):
        for year in (b.prev, b.year):
            for quarter in (1, 2, 3, 4):
                start, end = quarter_bounds(year, quarter)
                latest = db.session.scalar(select(func.max(PointEntry.recorded_at)).join(
                    Member, Member.id == PointEntry.member_id).where(
                    Member.branch_id == orm.id, PointEntry.earned_on >= start, PointEntry.earned_on <= end))
                day = end + timedelta(days=10)
                if latest is not None and latest.date() >= day:
                    day = latest.date() + timedelta(days=1)
                if day > b.today or (year == b.today.year and end >= b.today):
                    continue
                members = members_on_roll(orm.id, end)
                db.session.add_all([Reconciliation(branch_id=orm.id, year=year, quarter=quarter, member_id=m.id,
                                                   status="agrees", recorded_by_id=br.user_id,
                                                   recorded_at=b.stamp(day, 9)) for m in members])
                db.session.flush()
                present = max(1, len(members) - b.rng.randint(0, max(1, len(members) // 8)))
                publish(branch=orm, year=year, quarter=quarter, user=db.session.get(User, br.user_id), today=day,
                        meeting_on=day, present=present, total=len(members), chair=br.secretary.name,
                        street_id=street.id, published_at=b.stamp(day, 11))
                count += 1
    return count


# ---------------------------------------------------------------------------------------------
# The past year's review (issue 7): confirmed by every branch, with rectification cases under way
# ---------------------------------------------------------------------------------------------

# The problems of a case, in the words a branch would write them (the rectify reasons of scoring.py).
DEMO_PROBLEMS = {
    "veto": "受党纪处分，一票否决（{date}）",
    "score_below_qualified": "年度积分{score}分，低于合格线{min}分",
    "absence_streak": "连续{months}个月无故缺席组织生活（{start}至{end}）",
    "dues_arrears_streak": "连续{months}个月未按时交纳党费（{start}至{end}）",
}
DEMO_OVERRIDE = "该同志此期间因病住院治疗，会后补交了住院证明，经支部大会讨论同意评为合格"
DEMO_PLAN = ("1. 联系人每月至少谈心谈话一次，了解思想和生活情况；\n2. 带领参加主题党日和志愿服务，按时交纳党费；\n"
             "3. 每季度向支部书面汇报整改情况。")
DEMO_FOLLOW_UPS = ("上门谈心谈话，本人认识到问题，表示愿意整改", "电话联系，提醒按时参加主题党日并交纳党费",
                   "陪同参加社区志愿服务活动，表现积极", "与家属沟通，共同做好思想工作")
DEMO_STATEMENT = "本人长期在外地务工，与支部失去联系，未按时交纳党费，经多次联系后表示接受组织处理。"


def _review_past_year(b: "_Builder", street: Street, branches: list[Branch]) -> int:
    """Every branch holds its review of the past year a few days after publishing quarter 4.

    The meeting confirms the suggestions, with one override with its reason; each rectification
    case gets a mentor (a member account of the community where there is one), a plan, a deadline in
    the future and a follow-up or two; the case of the lost mobile member is proposed for expulsion
    and waits in the street's approval queue. The same transitions as the app's (review.workflow).
    """
    from .access import own_record
    from .publication import live_publication
    from .review.data import load_rows
    from .review.workflow import confirm_review, decide_many, ensure_review, record_meeting

    year, r = b.prev, b.rng
    scheme = b.schemes[year]
    users = {u.id: u for u in db.session.scalars(select(User).where(User.street_id == street.id))}
    communities = {c.id: c for c in db.session.scalars(select(Community).where(Community.street_id == street.id))}
    member_accounts = {m.id: users[m.user_id] for m in b.account_members}
    community_secretary = {u.community_id: u for u in users.values() if u.role == "community_secretary"}
    by_id = {m.id: m for m in b.members}
    meetings = []  # (branch, orm, day, rows) of every branch that has held its review by today
    for br, orm in zip(b.branches, branches):
        q4 = live_publication(orm.id, year, 4)
        if q4 is None:
            continue
        published_on = q4.published_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(b.tz).date()
        day = _weekday(published_on + timedelta(days=r.randint(4, 9)))
        if day <= b.today:
            meetings.append((br, orm, day, load_rows(orm.id, year, b.today, scheme, None)))
    # The one override: a member suggested for rectification by an absence streak alone (a stay in
    # hospital the branch learnt of late), else one rectified on streaks or score but no veto.
    rectify = [row for *_x, rows in meetings for row in rows if row.suggested == "rectify"]
    keys = lambda row: [x.key for x in row.reasons]  # noqa: E731
    override = next((row for row in rectify if keys(row) == ["absence_streak"]), None) or next(
        (row for row in rectify if "veto" not in keys(row)), None)
    for br, orm, day, rows in meetings:
        secretary = users[br.user_id]
        review = ensure_review(orm.id, year, secretary)
        present = len(rows) - r.randint(1, max(1, len(rows) // 10))
        record_meeting(review, meeting_on=day, present=present, total=len(rows), chair=br.secretary.name,
                       minutes=f"{year}年度党员民主评议暨积分等次评定，逐一宣读积分及建议等次，与会党员讨论表决。",
                       user=secretary, today=day)
        problems: dict[int, str] = {}
        decisions = []
        for row in rows:
            grade, reason = (("qualified", DEMO_OVERRIDE) if row is override else (row.suggested, ""))
            decisions.append((row.member, row.suggested, row.score.score, row.reasons_json, grade, reason))
            if grade == "rectify":
                problems[row.member.id] = "\n".join(
                    DEMO_PROBLEMS[x.key].format(**{k: v.removesuffix(".0") for k, v in x.params.items()})
                    for x in row.reasons if x.key in DEMO_PROBLEMS)
        decide_many(review, decisions, user=secretary, at=b.stamp(day, 15))
        # The secretary's own grade is recorded by the community secretary (four eyes).
        own = [d for d in decisions if own_record(d[0].id, secretary)]
        if own:
            decide_many(review, own, user=community_secretary[orm.community_id], at=b.stamp(day, 15))
        opened = confirm_review(review, current={row.member.id: (row.suggested, row.score.score, row.reasons_json)
                                                 for row in rows},
                                problems=problems, period_months=scheme.rectification_period_months, user=secretary,
                                today=day, at=b.stamp(day, 17))
        for case in opened:
            _demo_case(b, case, by_id[case.member_id], br, communities[orm.community_id], secretary, users,
                       member_accounts, day, len(rows))
    return len(meetings)


def _demo_case(b: "_Builder", case, m: "_Member", br: "_Branch", community: Community, secretary: User,
               users: dict[int, User], member_accounts: dict[int, User], opened: date, roll: int) -> None:
    """Mentor, plan, a follow-up or two; a proposal for the lost member; an extension if the deadline passed."""
    from .review.workflow import add_follow_up, add_months, assign_mentor, extend_case, propose, write_plan

    r = b.rng
    member = db.session.get(Member, m.id)
    # A member account of the community mentors where there is one (so the demo's members see "my cases").
    mentor = next((u for mid, u in member_accounts.items() if u.community_id == community.id and mid != m.id
                   and not any(c.mentor_id == u.id for c in db.session.scalars(select(RectificationCase)))), None)
    if mentor is None:
        mentor = secretary if secretary.member_id != m.id else users[b.community_user[br.community]]
    planned = min(opened + timedelta(days=r.randint(2, 6)), b.today)
    assign_mentor(case, mentor=mentor, member=member, community=community, user=secretary)
    write_plan(case, problems=case.problems, plan=DEMO_PLAN, deadline=add_months(opened, 6), user=secretary,
               today=planned)
    visits = [d for d in (planned + timedelta(days=r.randint(18, 30)), planned + timedelta(days=r.randint(50, 70)))
              if d < b.today]
    for d in visits:
        add_follow_up(case, on=d, text=r.choice(DEMO_FOLLOW_UPS), user=mentor, today=d, opened_on=opened,
                      at=b.stamp(d))
    if m.special == "lost" and visits:
        meeting = _weekday(visits[-1] + timedelta(days=r.randint(10, 20)))
        if meeting < b.today:
            present = roll - r.randint(1, 3)
            propose(case, member, kind="cancel_probation" if member.probationary else "expel", meeting_on=meeting,
                    present=present, total=roll, votes_for=present - 1, votes_against=0, votes_abstain=1,
                    statement=DEMO_STATEMENT, user=secretary, today=meeting, opened_on=opened,
                    at=b.stamp(meeting, 18))
            return
    if case.deadline <= b.today:  # the demo is loaded late in the year: the branch extended the case
        extend_case(case, deadline=b.today + timedelta(days=r.randint(60, 90)), reason="有一定转变，延长整改期继续观察",
                    user=secretary, today=b.today, at=b.stamp(b.today, 9))
