"""The demo street (示范街道): a realistic street to try qscore with, the same for a given seed and day.

``load_demo(today)`` builds three communities, ten branches and 300 members with their type
history, branch spells, leaves, meetings, about two years of ledger (the past full year and the
current year up to ``today``), a few corrections, self-records in every state and the accounts
listed by ``demo_accounts()``, all with the password ``qscore-demo``.

Every figure of the statistics page is alive, and every stage of the cycle has an example: the
communities' volunteer posts (奉献岗) and contact households (联系户) in the seed's proportions
(SERVICE_RATIOS: 前进社区 is its Qianlong, 271 posts and 189 households for 250 members), each
month on duty a Z1 the branch confirmed with its PostService rows, each visit a Z2 with its
HouseholdVisit, declarations waiting for the branch; volunteer teams with members (11 -> 13 in
前进社区); published quarters, one of them adjusted later because a resident's query proved an
entry missing, another query answered and one waiting; the past year's review with rectification
cases under way, extended, closed as rectified (late in the year) and proposed for expulsion to
the street.

The grades of the past year come out as a street office would expect them: most members
qualified, about a sixth advanced, a handful to rectify (an unexcused-absence streak, a dues-arrears
streak, two low scores, a veto), one heavier deduction on an otherwise strong member. The plan is
checked against the scoring rules while it is built (``qscore.scoring``): a member meant to be
qualified whose contributions would make them advanced loses some, and the reverse.

The demo is a separate mode: ``is_real_data_present()`` (qscore/demo_mode.py, which the running app
imports instead of this builder) is what the CLI checks before loading it, and what the login checks
to refuse the demo's shared password once real data exists.

A meeting's ``expected_count`` is the branch's roll on the day less members on a registered leave
(the attendance definition of scheme.default.json's branch index and the figures page).
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, insert, select, text

from . import audit
from .db import db
# Re-exported: the load actions and the tests read them here too; the running app imports demo_mode only.
from .demo_mode import DEMO_PASSWORD, DEMO_STREET, DEMO_TOTP_SECRET, demo_loaded, is_real_data_present  # noqa: F401
from .models import (Branch, BranchSpell, Community, Household, HouseholdVisit, Leave, Meeting, Member, MemberPost,
                     MemberType, PointEntry, PostKind, PostService, Reconciliation, RectificationCase, ResidentQuery,
                     SelfRecord, Street, TeamMembership, User, VolunteerTeam)
from .scheme import Scheme
from .scheme_versions import ensure_year, scheme_for_year
from .scoring import Entry, MemberLedger, entry_points, suggest_grade, year_score, year_sums
from .second_step import enrol_fixed
from .security import hash_password

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
         "邻里调解岗", "关爱独居老人岗", "小区议事岗", "党员先锋岗")
POSTS_FROM_HOME = ("政策宣传岗", "邻里调解岗", "关爱独居老人岗")  # what a member with limited mobility can hold
# How many posts a member holds (奉献岗, at most 4) and how many households they keep contact with (联系户),
# by tier: the seed's Qianlong has 271 posts and 189 households for 250 members (1.08 and 0.76 a member).
POST_COUNTS = {"advanced": ((1, 48), (2, 34), (3, 13), (4, 5)),
               "qualified": ((0, 27), (1, 52), (2, 16), (3, 4), (4, 1))}
HOUSEHOLD_COUNTS = {"advanced": ((1, 50), (2, 38), (3, 12)), "qualified": ((0, 42), (1, 50), (2, 8))}
# Posts and households per member on the roll, by community: 前进社区 is the seed's Qianlong.
SERVICE_RATIOS = ((1.084, 0.756), (0.95, 0.68), (1.0, 0.72))
HOUSEHOLD_KINDS = ("独居老人", "空巢老人", "高龄老人", "困难家庭", "残疾人家庭", "低保户", "退役军人家庭")
# Volunteer teams (志愿服务队) per community: (in force at the end of last year, founded this year); 前进社区
# is the seed's Qianlong (11 -> 13). The last name of the list is a team that was dissolved last year.
TEAMS = ("党员先锋志愿服务队", "红色楼道长志愿服务队", "银发生辉志愿服务队", "平安巡逻志愿服务队", "环境卫生志愿服务队",
         "文明劝导志愿服务队", "垃圾分类督导志愿服务队", "邻里调解志愿服务队", "助老助残志愿服务队", "政策宣讲志愿服务队",
         "文艺宣传志愿服务队", "便民维修志愿服务队", "防汛应急志愿服务队", "关爱青少年志愿服务队", "疫情防控志愿服务队")
TEAM_PLAN = ((11, 2), (7, 1), (8, 1))
DISSOLVED_TEAM = "疫情防控志愿服务队"
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
class _Held:
    """A volunteer post (``what`` is its kind) or a contact household (``what`` is its private label)."""

    what: str
    declared_on: date
    status: str = "confirmed"   # pending, confirmed, rejected, ended (MemberPost and Household)
    ended_on: date | None = None
    id: int | None = None

    def in_force(self, first: date, last: date) -> bool:
        """Confirmed (or since ended) and held at some time in [first, last] (service.duty's rule)."""
        return (self.status in ("confirmed", "ended") and self.declared_on <= last
                and (self.ended_on is None or self.ended_on > first))


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
    posts: list[_Held] = field(default_factory=list)
    households: list[_Held] = field(default_factory=list)
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

    def serving(self, first: date, last: date) -> list[_Held]:
        """The posts in force in a month, in the order the duty screen lists them (by kind)."""
        return sorted((p for p in self.posts if p.in_force(first, last)), key=lambda p: p.what)

    def open_posts(self) -> list[_Held]:
        return [p for p in self.posts if p.status in ("pending", "confirmed")]


def duty_note(posts: list[_Held]) -> str:
    """The note service.duty writes on a month's Z1 (its Chinese text: "Volunteer post: %(posts)s")."""
    return "奉献岗：" + "、".join(p.what for p in posts)


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
            if special == "k2_streak":  # in branch01's branch, so its secretary sees a rectification case
                pool = [m for m in pool if m.branch.index == 0] or pool
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

    # -- volunteer posts, contact households, volunteer teams -----------------------------------
    def plan_service(self) -> None:
        """Posts and households each member took up (recorded by the branch, so confirmed), ended when the
        member left the roll or a type change took them away; a few recent declarations still pending."""
        r = self.rng
        for m in self.members:
            taken = self._taken_up(m)
            if taken is None or m.special == "lost":
                continue
            tier = "advanced" if m.tier == "advanced" else "qualified"
            at_home = m.type_on(taken) == "D"
            posts = r.choices(*zip(*POST_COUNTS[tier]))[0]
            homes = r.choices(*zip(*HOUSEHOLD_COUNTS[tier]))[0]
            if at_home:
                posts, homes = int(r.random() < 0.35), int(r.random() < 0.25)
            if m.special == "low":
                posts, homes = min(posts, 1), 0
            for kind in r.sample(POSTS_FROM_HOME if at_home else POSTS, posts):
                m.posts.append(_Held(kind, min(taken + timedelta(days=r.randint(0, 20)), self.today)))
            for _ in range(homes):
                m.households.append(_Held(self._household_label(m), min(taken + timedelta(days=r.randint(0, 40)),
                                                                         self.today)))
            self._end_held(m)
        self._match_proportions()
        self._pending_declarations()

    def _match_proportions(self) -> None:
        """Add or take away a few posts and households so that each community holds its SERVICE_RATIOS of
        them per member on today's roll (the draws above land near them, this makes them exact)."""
        r = self.rng
        for ci, ratios in enumerate(SERVICE_RATIOS):
            roll = [m for m in self.members if m.branch.community == ci and m.on_roll(self.today)]
            for attr, ratio, most in (("posts", ratios[0], 4), ("households", ratios[1], 3)):
                def held(m: _Member) -> list[_Held]:
                    return [h for h in getattr(m, attr) if h.in_force(self.today, self.today)]

                have, target = sum(len(held(m)) for m in roll), round(ratio * len(roll))
                for _ in range(400):
                    if have == target:
                        break
                    m = r.choice(roll)
                    taken = self._taken_up(m)
                    if have < target and taken is not None and m.special != "lost" and len(held(m)) < most:
                        if attr == "households":
                            m.households.append(_Held(self._household_label(m), taken))
                        else:
                            kinds = [k for k in (POSTS_FROM_HOME if m.type_on(self.today) == "D" else POSTS)
                                     if k not in {p.what for p in m.open_posts()}]
                            if not kinds:
                                continue
                            m.posts.append(_Held(r.choice(kinds), taken))
                        have += 1
                    elif have > target and m.tier != "advanced":
                        gone = [h for h in held(m) if h.ended_on is None]
                        if gone:
                            getattr(m, attr).remove(gone[-1])
                            have -= 1

    def _taken_up(self, m: _Member) -> date | None:
        """When the member took up posts: the spring campaign (亮身份、认岗位) of a recent year, or a few
        weeks after arriving; None for a member who arrived too recently."""
        r = self.rng
        if m.on_roll_since < date(self.prev, 1, 1):
            return max(date(self.prev - r.choice((0, 1, 1, 2)), r.randint(2, 4), r.randint(1, 28)), m.on_roll_since)
        d = m.on_roll_since + timedelta(days=r.randint(20, 75))
        return d if d < self.today else None

    def _household_label(self, m: _Member) -> str:
        """A contact household as the branch writes it down (private: shown on the service pages only)."""
        r = self.rng
        estate = r.choice(COMMUNITIES[m.branch.community][2])
        return (f"{estate}{r.randint(1, 28)}幢{r.randint(1, 3)}单元{r.randint(1, 6)}0{r.randint(1, 4)}室"
                f"（{r.choice(HOUSEHOLD_KINDS)}）")

    def _end_held(self, m: _Member) -> None:
        """Posts end when the member leaves the roll, becomes type D (but for what can be done from home) or
        leaves a community job to work away (type A -> C, households too); a few households move away."""
        r = self.rng
        ends: list[tuple[date, tuple[str, ...], bool]] = []  # (from, posts kept, households end too)
        for i, (since, t, _reason, _wish) in enumerate(m.types[1:], 1):
            if t == "D":
                ends.append((since, POSTS_FROM_HOME, False))
            elif t == "C" and m.types[i - 1][1] == "A":
                ends.append((since, (), True))
        if m.left_roll_on is not None:
            ends.append((m.left_roll_on, (), True))
        for since, kept, homes in sorted(ends, key=lambda e: e[0]):
            for h in [p for p in m.posts if p.what not in kept] + (m.households if homes else []):
                if h.status == "confirmed" and h.ended_on is None:
                    h.status, h.ended_on = "ended", since
        m.posts = [p for p in m.posts if p.ended_on is None or p.ended_on > p.declared_on]
        m.households = [h for h in m.households if h.ended_on is None or h.ended_on > h.declared_on]
        for h in m.households:
            if h.status == "confirmed" and r.random() < 0.05:
                d = h.declared_on + timedelta(days=r.randint(120, 600))
                if d < self.today - timedelta(days=30):
                    h.status, h.ended_on = "ended", d

    def _pending_declarations(self) -> None:
        """Member accounts declared a post or a household from their booklet in the last days (waiting for
        the branch); two secretaries declared a post of their own (waiting for another secretary); one
        household was turned down (another member already keeps contact with it)."""
        r = self.rng
        declarants = self.account_members[:4] + [self.branches[1].secretary, self.branches[4].secretary]
        for i, m in enumerate(declarants):
            d = max(self.today - timedelta(days=r.randint(1, 12)), m.on_roll_since)
            held = {p.what for p in m.open_posts()}
            free = [k for k in (POSTS_FROM_HOME if m.type_on(d) == "D" else POSTS) if k not in held]
            if (i % 2 == 0 or m.role == "secretary") and free and len(held) < 4:
                m.posts.append(_Held(r.choice(free), d, "pending"))
            else:
                m.households.append(_Held(self._household_label(m), d, "pending"))
        m = self.account_members[3]
        m.households.append(_Held(self._household_label(m), max(self.today - timedelta(days=r.randint(25, 40)),
                                                                 m.on_roll_since), "rejected"))

    def fit_households(self) -> None:
        """Every documented visit (Z2) is to a household the member kept contact with that day: a visit
        planned before the household's declaration moves the declaration earlier."""
        for m in self.members:
            for e in sorted((e for e in m.rows if e["indicator_code"] == "Z2" and e["source"] == "post"),
                            key=lambda e: e["earned_on"]):
                d = e["earned_on"]
                if any(h.in_force(d, d) for h in m.households):
                    continue
                later = [h for h in m.households if h.status in ("confirmed", "ended") and h.declared_on > d]
                if later:
                    min(later, key=lambda h: h.declared_on).declared_on = d
                else:
                    m.households.append(_Held(self._household_label(m), d))

    def plan_teams(self) -> list[dict[str, Any]]:
        """The communities' volunteer teams with their members (TEAM_PLAN); 前进社区 dissolved one last year."""
        r = self.rng
        teams: list[dict[str, Any]] = []
        for ci, (before, new) in enumerate(TEAM_PLAN):
            plan = [(name, date(r.randint(2015, self.prev - 1), r.randint(1, 12), r.randint(1, 28)), None)
                    for name in TEAMS[:before]]
            # This year's teams were founded at even intervals between New Year and today.
            plan += [(name, date(self.year, 1, 1) + (self.today - date(self.year, 1, 1)) * (j + 1) // (new + 1), None)
                     for j, name in enumerate(TEAMS[before:before + new])]
            if ci == 0:
                plan.append((DISSOLVED_TEAM, date(2020, 2, 3), date(self.prev, r.randint(3, 6), r.randint(1, 28))))
            people = [m for m in self.members if m.branch.community == ci and m.special != "lost"]
            for name, founded, dissolved in plan:
                size = r.randint(6, 12) if founded.year == self.year else r.randint(9, 22)
                # A weighted draw without replacement: members who hold posts or are advanced join more often.
                weight = {m.index: (4 if m.tier == "advanced" else 2 if m.posts else 1)
                          * (0.3 if m.types[-1][1] == "D" or m.special == "low" else 1) for m in people}
                chosen = sorted(people, key=lambda m: -r.random() ** (1 / weight[m.index]))[:size]
                rows = []
                for m in sorted(chosen, key=lambda m: m.index):
                    joined = max(founded, m.on_roll_since)
                    joined += timedelta(days=r.randint(0, max(0, min(60 if founded.year == self.year else 500,
                                                                     (self.today - joined).days))))
                    left = m.left_roll_on
                    if dissolved is not None:
                        left = min(left or dissolved, dissolved)
                    elif left is None and r.random() < 0.04:
                        left = joined + timedelta(days=r.randint(90, 400))
                        left = left if left <= self.today else None
                    if joined > self.today or (left is not None and left <= joined):
                        continue
                    rows.append((m, joined, left))
                teams.append({"community": ci, "name": name, "founded_on": founded, "dissolved_on": dissolved,
                              "members": rows})
        return teams

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
        # Monthly: the branch confirms a past month's duty at the member's posts early the next month (one Z1
        # on the month's last day, as service.duty writes it); documented visits to contact households (Z2).
        for y, mo in _months(start, end):
            first, last = date(y, mo, 1), _last_day(y, mo)
            t = m.type_on(first)
            serving = m.serving(first, last)
            if serving and last < end and m.special not in ("low", "lost") and not m.leave_on(first + timedelta(14)):
                if r.random() < (0.6 if m.tier == "advanced" else 0.3) * (0.5 if t == "D" else 1):
                    self.add(m, "Z1", last, note=duty_note(serving), source="post", delays=(1, 2, 3, 4, 6, 8))
            if m.households and m.special not in ("low", "lost"):
                p = 0.25 if m.tier == "advanced" else 0.1
                d = date(y, mo, r.randint(1, 28))
                if start <= d <= end and r.random() < p and any(h.in_force(d, d) for h in m.households):
                    self.add(m, "Z2", d, note=r.choice(CONTACT_NOTES), source="post")
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
        """Qualified members stay below advanced (the past year, and this year's projection as of today);
        advanced members reach it (the past year)."""
        for y in (self.prev, self.year):
            self._balance(y)

    def _balance(self, y: int) -> None:
        order = ("Z1", "Z2", "Z5", "Z6", "Z7", "Z4", "Z3")
        for m in self.members:
            if m.special in ("left", "recent", "k4", "low", "lost", "veto", "k1_streak", "k2_streak"):
                continue
            if y == self.year and m.tier != "qualified":
                continue
            score, code = self.grade(m, y)
            if m.tier == "qualified":
                guard = 0
                while (code == "advanced" or score >= 90) and guard < 60:
                    guard += 1
                    rows = [e for e in m.rows if e["year"] == y and e["category"] == "Z" and e["note"] != "慈善一日捐"]
                    if not rows:
                        break
                    # The earliest of the first kind goes: the latest months keep their duty and visits.
                    m.rows.remove(min(rows, key=lambda e: (order.index(e["indicator_code"]), e["earned_on"])))
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
                self.add(m, "Z2", d, note=r.choice(CONTACT_NOTES), source="post")
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
    b.plan_service()
    teams = b.plan_teams()

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
    enrol_fixed(admin, DEMO_TOTP_SECRET)  # the other demo accounts log in with the password alone
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
    b.fit_households()

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
    year_sums.refresh(db.session, {(e["member_id"], e["earned_on"].year) for e in rows + later})
    _write_service(b, communities, teams)
    _refresh_statistics()

    published = _publish_ended_quarters(b, street, branches)
    reviewed = _review_past_year(b, street, branches)

    audit.record("demo_loaded", street, user=admin, summary=(
        f"demo street {DEMO_STREET}: {len(b.branches)} branches, {len(b.members)} members, "
        f"{len(rows) + len(originals) + len(later)} entries, {published} published quarters, "
        f"{reviewed} confirmed reviews (seed {seed}, today {today.isoformat()})"))
    db.session.flush()
    return street


def _write_service(b: "_Builder", communities: list[Community], teams: list[dict[str, Any]]) -> None:
    """The communities' post lists, members' posts and households, the months on duty behind each Z1 and
    the visit behind each Z2 (both written above with source "post"), and the volunteer teams."""
    kinds = [PostKind(community_id=c.id, name=name) for c in communities for name in POSTS]
    db.session.add_all(kinds)
    db.session.flush()
    kind_id = {(k.community_id, k.name): k.id for k in kinds}

    def created(m: "_Member", h: _Held) -> tuple[int, datetime]:
        """Declared from the booklet by a member with an account, else recorded by the secretary for them."""
        by = m.user_id if m.user_id is not None and (h.status != "confirmed" or m.role == "account") else b.recorder(m)
        return by, b.stamp(h.declared_on)

    posts, households = [], []
    for m in b.members:
        community_id = communities[m.branch.community].id
        for p in m.posts:
            by, at = created(m, p)
            decided = p.status != "pending"  # a declaration from the booklet is decided a day or two later
            posts.append(MemberPost(member_id=m.id, post_kind_id=kind_id[(community_id, p.what)],
                                    declared_on=p.declared_on, status=p.status, ended_on=p.ended_on,
                                    created_by_id=by, created_at=at, decided_by_id=b.recorder(m) if decided else None,
                                    decided_at=None if not decided else at if by == b.recorder(m)
                                    else at + timedelta(days=b.rng.randint(1, 3))))
        for h in m.households:
            by, at = created(m, h)
            households.append(Household(member_id=m.id, label=h.what, declared_on=h.declared_on, status=h.status,
                                        ended_on=h.ended_on, created_by_id=by, created_at=at))
    db.session.add_all(posts + households)
    db.session.flush()
    for held, orm in zip([h for m in b.members for h in m.posts] + [h for m in b.members for h in m.households],
                         posts + households):
        held.id = orm.id

    by_id = {m.id: m for m in b.members}
    services, visits = [], []
    visited: dict[int, int] = defaultdict(int)  # visits so far per member
    for entry_id, member_id, code, earned_on, note, by, at in db.session.execute(
            select(PointEntry.id, PointEntry.member_id, PointEntry.indicator_code, PointEntry.earned_on,
                   PointEntry.note, PointEntry.recorded_by_id, PointEntry.recorded_at)
            .where(PointEntry.source == "post").order_by(PointEntry.member_id, PointEntry.earned_on, PointEntry.id)):
        m = by_id[member_id]
        if code == "Z1":
            first = earned_on.replace(day=1)
            services += [{"member_post_id": p.id, "month": first, "entry_id": entry_id, "confirmed_by_id": by,
                          "confirmed_at": at} for p in m.serving(first, earned_on)]
        else:  # each visit to one of the households in force that day, in turn
            homes = [h for h in m.households if h.in_force(earned_on, earned_on)]
            visits.append({"household_id": homes[visited[member_id] % len(homes)].id, "visited_on": earned_on,
                           "note": note, "entry_id": entry_id, "recorded_by_id": by, "recorded_at": at})
            visited[member_id] += 1
    db.session.execute(insert(PostService.__table__), services)
    db.session.execute(insert(HouseholdVisit.__table__), visits)

    team_rows = [VolunteerTeam(community_id=communities[t["community"]].id, name=t["name"], founded_on=t["founded_on"],
                               dissolved_on=t["dissolved_on"]) for t in teams]
    db.session.add_all(team_rows)
    db.session.flush()
    db.session.execute(insert(TeamMembership.__table__), [
        {"team_id": orm.id, "member_id": m.id, "joined_on": joined, "left_on": left}
        for t, orm in zip(teams, team_rows) for m, joined, left in t["members"]])


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
    quarter was recorded. Residents then ask about three publications (QUERY_BRANCHES): one query
    proved an entry missing, which the branch recorded as a prior-period adjustment and the next
    publication lists (when there is one by today); one is about the list as a whole and answered;
    one came in the last days and waits for an answer.
    """
    from .publication import members_on_roll, publish, quarter_bounds

    count = 0
    for br, orm in zip(b.branches, branches):
        schedule = _publication_days(b, orm)
        this_year = [(y, q) for y, q, _day in schedule if y == b.year]
        # The query that finds a missing entry: about this year's second-last publication (so the last one
        # lists the adjustment), else the only one of this year; early in the year, about a quarter of last
        # year before the fourth (whose adjustments the review soon closes), listed by the next publication.
        target = this_year[-2] if len(this_year) > 1 else this_year[-1] if this_year else next(
            ((y, q) for y, q, _day in reversed(schedule[:-1]) if q != 4), None)
        secretary = db.session.get(User, br.user_id)
        published = []
        for year, quarter, day in schedule:
            if br.index == QUERY_BRANCHES[0] and published and published[-1][0] == target:
                _query_with_adjustment(b, br, orm, published[-1][1], published[-1][2], day, secretary)
            _start, end = quarter_bounds(year, quarter)
            members = members_on_roll(orm.id, end)
            db.session.add_all([Reconciliation(branch_id=orm.id, year=year, quarter=quarter, member_id=m.id,
                                               status="agrees", recorded_by_id=br.user_id,
                                               recorded_at=b.stamp(day, 9)) for m in members])
            db.session.flush()
            present = max(1, len(members) - b.rng.randint(0, max(1, len(members) // 8)))
            pub = publish(branch=orm, year=year, quarter=quarter, user=secretary, today=day, meeting_on=day,
                          present=present, total=len(members), chair=br.secretary.name, street_id=street.id,
                          published_at=b.stamp(day, 11))
            published.append(((year, quarter), pub, day))
            count += 1
        if not published:
            continue
        if br.index == QUERY_BRANCHES[0] and published[-1][0] == target:
            _query_with_adjustment(b, br, orm, published[-1][1], published[-1][2], b.today, secretary)
        elif br.index == QUERY_BRANCHES[1]:
            _general_query(b, br, orm, published, secretary)
        elif br.index == QUERY_BRANCHES[2]:
            _waiting_query(b, br, orm, published[-1][1], published[-1][2])
    return count


def _publication_days(b: "_Builder", orm: Branch) -> list[tuple[int, int, date]]:
    """(year, quarter, day) of the quarters the branch has published by today: ten days after the quarter,
    or the day after its last entry was recorded."""
    from .publication import quarter_bounds

    out = []
    for year in (b.prev, b.year):
        for quarter in (1, 2, 3, 4):
            start, end = quarter_bounds(year, quarter)
            if end >= b.today:
                continue
            latest = db.session.scalar(select(func.max(PointEntry.recorded_at)).join(
                Member, Member.id == PointEntry.member_id).where(
                Member.branch_id == orm.id, PointEntry.earned_on >= start, PointEntry.earned_on <= end))
            day = end + timedelta(days=10)
            if latest is not None and latest.date() >= day:
                day = latest.date() + timedelta(days=1)
            if day <= b.today:
                out.append((year, quarter, day))
    return out


# Residents' queries (群众质询): about 前进社区第一党支部 (an entry found missing), 光明社区第一党支部 (the
# list as a whole, answered) and 和平社区第一党支部 (waiting for an answer); indexes into BRANCHES.
QUERY_BRANCHES = (0, 7, 4)
QUERY_ASKERS = (("李女士", "13957112368"), ("王先生", ""), ("", "和平里小区 陈阿姨，电话 13868027715"))
GENERAL_QUESTION = "请问第三类、第四类党员的基础分为什么比第一类党员高？这样公平吗？"
GENERAL_ANSWER = ("您好！按照街道党员分类量化管理办法，四类党员的基础分和加分上限各不相同：第一类（社区工作者党员）"
                  "基础分50分，发挥作用类最多可加35分；第三类（失业、再就业及流动党员）基础分60分、第四类（老弱病残"
                  "行动不便党员）基础分65分，但加分上限较低。这是“有统有分”，既统一要求，又照顾困难党员的实际情况。"
                  "感谢您的关心和监督！")


def _query_with_adjustment(b: "_Builder", br: "_Branch", orm: Branch, pub, published_on: date, before: date,
                           secretary: User) -> None:
    """A resident says a volunteer service of the published quarter is missing; the branch checks it, records
    it with the date it was earned (through the ledger: a prior-period adjustment, with its reason) and
    answers, linking the entry. Asked a few days after the publication, answered before ``before``."""
    from .public_snapshot import labels_for, plain_points
    from .ledger import NewEntry, check_entries, write_entries
    from .publication import quarter_bounds

    r = b.rng
    asked = published_on + timedelta(days=r.randint(3, 6))
    answered = asked + timedelta(days=r.randint(2, 4))
    if answered >= before or answered > b.today:
        return
    labels = labels_for(pub)
    start, end = quarter_bounds(pub.year, pub.quarter)
    day = _weekday(date(end.year, end.month, 14))
    found = [m for m in br.members if m.id in labels and m.status == "active" and not m.role and not m.special
             and m.type_on(day) != "D" and m.on_roll(day)
             and not any(e["indicator_code"] == "Z3" and start <= e["earned_on"] <= end for e in m.rows)]
    if not found:
        return
    m = r.choice(found)
    she = "她" if m.gender == "F" else "他"
    when = f"{day.month}月{day.day}日"
    # Every rule of the ledger (record_entries), written on the day the branch recorded it.
    [checked] = check_entries([NewEntry(
        member=db.session.get(Member, m.id), indicator_code="Z3", value=Decimal("2"), earned_on=day,
        note=f"群众质询反映{when}小区垃圾分类督导志愿服务2小时漏记，经核实补录", source="query")], today=answered)
    if isinstance(checked, Exception):
        raise checked
    [entry_id] = write_entries([checked], user=secretary, at=b.stamp(answered, 10))
    name, contact = QUERY_ASKERS[0]
    db.session.add(ResidentQuery(
        publication_id=pub.id, branch_id=orm.id, member_label=labels[m.id],
        question=f"公示栏上{labels[m.id]}这个季度的发挥作用类积分好像少算了：{she}{when}和我们一起参加了小区垃圾分类督导"
                 f"志愿服务，请支部核实一下。",
        asker_name=name, asker_contact=contact, created_at=b.stamp(asked, 19),
        answer=f"您好！经核实，该同志{when}参加垃圾分类督导志愿服务2小时，支部当时漏录。已按实际日期补记"
               f"{plain_points(checked.row['points'])}分，作为对{pub.year}年第{pub.quarter}季度公示的调整，列入支部下次公示。感谢您的监督！",
        answered_by_id=secretary.id, answered_at=b.stamp(answered, 16), correction_entry_id=entry_id))


def _general_query(b: "_Builder", br: "_Branch", orm: Branch, published: list, secretary: User) -> None:
    """A question about the list as a whole on the latest publication that has been up a week, answered."""
    r = b.rng
    up = [(pub, day) for _period, pub, day in published if day + timedelta(days=7) <= b.today]
    if not up:
        return
    pub, day = up[-1]
    asked = day + timedelta(days=r.randint(1, 3))
    name, contact = QUERY_ASKERS[1]
    db.session.add(ResidentQuery(
        publication_id=pub.id, branch_id=orm.id, member_label="", question=GENERAL_QUESTION, asker_name=name,
        asker_contact=contact, created_at=b.stamp(asked, 10), answer=GENERAL_ANSWER, answered_by_id=secretary.id,
        answered_at=b.stamp(asked + timedelta(days=r.randint(1, 3)), 15)))


def _waiting_query(b: "_Builder", br: "_Branch", orm: Branch, pub, published_on: date) -> None:
    """A query about a member's deduction on the latest publication, received in the last days."""
    from .public_snapshot import labels_for, plain_points
    from .publication import snapshot

    r = b.rng
    asked = max(published_on + timedelta(days=1), b.today - timedelta(days=r.randint(1, 3)))
    if asked > b.today:
        return
    labels = labels_for(pub)
    deducted = [row for row in snapshot(pub) if Decimal(row["K"]) < 0]
    if deducted:
        row = r.choice(deducted)
        label = labels[row["member_id"]]
        question = f"公示栏上{label}这个季度综合扣分类扣了{plain_points(-Decimal(row['K']))}分，请问是因为什么扣的分？"
    else:
        label, question = "", "支部每季度什么时候召开党员大会核对积分？我们群众能不能列席旁听？"
    name, contact = QUERY_ASKERS[2]
    db.session.add(ResidentQuery(publication_id=pub.id, branch_id=orm.id, member_label=label, question=question,
                                 asker_name=name, asker_contact=contact, created_at=b.stamp(asked, 9)))


# ---------------------------------------------------------------------------------------------
# The past year's review (issue 7): confirmed by every branch, with rectification cases under way
# ---------------------------------------------------------------------------------------------

# The problems of a case, in the words a branch would write them (the rectify reasons of qscore/scoring).
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
                   "陪同参加社区志愿服务活动，表现积极", "与家属沟通，共同做好思想工作",
                   "一起学习党章和党员义务，本人写了书面认识", "本月按时参加主题党日，党费已补交，继续跟踪")
DEMO_STATEMENT = "本人长期在外地务工，与支部失去联系，未按时交纳党费，经多次联系后表示接受组织处理。"
DEMO_EXTENSION = "有一定转变，但按时交纳党费、参加组织生活尚不稳定，延长整改期继续观察"
DEMO_RECTIFIED = "经帮扶教育，该同志按时参加组织生活、交纳党费，积极参加志愿服务，整改到位，经支委会研究同意结束整改"
# What becomes of the cases opened at the review, in turn (the lost member's is proposed for expulsion).
CASE_STAGES = ("extended", "rectified", "under_way")
DEMO_EARLY_REASON = "本人已明确表示不再参加组织生活、不交纳党费，帮扶人多次上门和电话联系均无转变，支部大会决定提前提出。"


def _review_past_year(b: "_Builder", street: Street, branches: list[Branch]) -> int:
    """Every branch holds its review of the past year a few days after publishing quarter 4.

    The meeting confirms the suggestions, with one override with its reason; each rectification
    case gets a mentor (a member of the branch, one with an account where there is one), a plan, a
    deadline and the mentor's follow-ups, and then goes its own way (CASE_STAGES); the case of the
    lost mobile member is proposed for expulsion and waits in the street's approval queue. The same
    transitions as the app's (review.grading, review.rectification).
    """
    from .access import own_record
    from .publication import live_publication
    from .review.data import load_rows
    from .review.grading import confirm_review, decide_many, ensure_review, record_meeting

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
    staged = 0  # cases opened so far (but the lost member's), for their stages
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
            m = by_id[case.member_id]
            stage = "lost" if m.special == "lost" else CASE_STAGES[staged % len(CASE_STAGES)]
            staged += m.special != "lost"
            _demo_case(b, case, m, br, communities[orm.community_id], secretary, users, member_accounts, day,
                       len(rows), stage)
    return len(meetings)


def _demo_case(b: "_Builder", case, m: "_Member", br: "_Branch", community: Community, secretary: User,
               users: dict[int, User], member_accounts: dict[int, User], opened: date, roll: int, stage: str) -> None:
    """Mentor, plan and the mentor's monthly talks; then by ``stage``: the lost member proposed for expulsion,
    a case extended when its first deadline passed, one closed as rectified once it has been followed for four
    months, the others under way (extended too if today is past their deadline)."""
    from .review.rectification import add_follow_up, assign_mentor, close_rectified, extend_case, propose, write_plan
    from .review.rules import add_months

    r = b.rng
    member = db.session.get(Member, m.id)
    # A member of the branch mentors: one with an account where there is one (so the demo's members see "my
    # cases"), else the secretary, else another member on the branch's roll.
    mentoring = set(db.session.scalars(select(RectificationCase.mentor_member_id)))
    mentor_id = next((mid for mid, u in member_accounts.items() if u.branch_id == member.branch_id and mid != m.id
                      and mid not in mentoring), None)
    if mentor_id is None:
        mentor_id = secretary.member_id if secretary.member_id not in (None, m.id) else db.session.scalar(
            select(Member.id).where(Member.branch_id == member.branch_id, Member.status == "active", Member.id != m.id)
            .order_by(Member.id))
    mentor = db.session.get(Member, mentor_id)
    mentor_user = member_accounts.get(mentor_id, secretary)  # who writes the mentor's follow-ups
    planned = min(opened + timedelta(days=r.randint(2, 6)), b.today)
    assign_mentor(case, mentor=mentor, member=member, branch=db.session.get(Branch, member.branch_id), user=secretary)
    # The case to extend gets a first stage of three months when six would not have passed by today.
    months = 3 if stage == "extended" and add_months(opened, 6) > b.today else 6
    write_plan(case, problems=case.problems, plan=DEMO_PLAN, deadline=add_months(opened, months), user=secretary,
               today=planned)
    # The mentor's talks, about monthly (the plan's "at least once a month"), up to today.
    talks, d = [], planned + timedelta(days=r.randint(18, 30))
    while d < b.today:
        talks.append(d)
        d += timedelta(days=r.randint(25, 35))
    texts = r.sample(DEMO_FOLLOW_UPS, len(DEMO_FOLLOW_UPS))
    if m.special == "lost":
        talks = talks[:2]
    closing = add_months(opened, 4) + timedelta(days=r.randint(1, 10)) if stage == "rectified" else None
    if closing is not None and (closing > b.today or len([t for t in talks if t < closing]) < 3):
        closing = None  # too early in the year to close it: the case is still under way
    extension = None
    if m.special != "lost" and closing is None and case.deadline <= b.today:
        # The branch extends a case whose deadline passed, by three months or six, to a day after today.
        later = [d for d in (add_months(case.deadline, 3), add_months(case.deadline, 6)) if d > b.today]
        extension = ((min(case.deadline + timedelta(days=r.randint(1, 7)), b.today), later[0]) if later
                     else (b.today, b.today + timedelta(days=r.randint(60, 90))))
    for i, d in enumerate(t for t in talks if closing is None or t < closing):
        if extension is not None and extension[0] <= d:
            extend_case(case, deadline=extension[1], reason=DEMO_EXTENSION, user=secretary, today=extension[0],
                        at=b.stamp(extension[0], 9))
            extension = None
        add_follow_up(case, on=d, text=texts[i % len(texts)], user=mentor_user, today=d, opened_on=opened,
                      at=b.stamp(d))
    if extension is not None:
        extend_case(case, deadline=extension[1], reason=DEMO_EXTENSION, user=secretary, today=extension[0],
                    at=b.stamp(extension[0], 9))
    if closing is not None:
        close_rectified(case, note=DEMO_RECTIFIED, user=secretary)
    if m.special == "lost" and talks:
        meeting = _weekday(talks[-1] + timedelta(days=r.randint(10, 20)))
        if meeting < b.today:
            present = roll - r.randint(1, 3)
            propose(case, member, kind="cancel_probation" if member.probationary else "expel", meeting_on=meeting,
                    present=present, total=roll, votes_for=present - 1, votes_against=0, votes_abstain=1,
                    statement=DEMO_STATEMENT, user=secretary, today=meeting, opened_on=opened,
                    early_reason=DEMO_EARLY_REASON if meeting <= case.deadline else "", at=b.stamp(meeting, 18))
