"""The demo's people: the branches and their members with names, dates, type changes, roles and leaves.

Names and members come from the seed's own streams (``rng_people``, ``rng_names``), so one seed gives
the same people whatever the day; what happens to them comes from ``rng`` (seed and day).
"""
from __future__ import annotations

import random
from datetime import date, timedelta
from typing import TYPE_CHECKING

from .days import each_month, last_day, months_later
from .plan import (AWAY_CITIES, BRANCHES, COMMUNITIES, COMPOUND_SURNAMES, GIVEN, MEMBER_ACCOUNTS, SINGLE_GIVEN,
                   SURNAMES, TYPE_CHANGE_PLAN, TYPE_CHANGES, TYPE_MIX)
from .records import BranchRecord, MemberRecord

if TYPE_CHECKING:
    from .builder import _Builder


def weighted_choice(rng: random.Random, pairs) -> str:
    items = [p[0] for p in pairs]
    weights = [p[1] for p in pairs]
    return rng.choices(items, weights)[0]


def name_for(b: _Builder, gender: str, birth_year: int) -> str:
    """A Chinese name as common as real ones for the gender and generation (its own random stream)."""
    r = b.rng_names
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
        c1, c2 = r.choice(first), r.choice(second)
        if c1 != c2:
            return surname + c1 + c2


def plan_people(b: _Builder) -> None:
    """The branches (BRANCHES) and their members: type, gender, birth year, name; secretaries first."""
    rp = b.rng_people
    for bi, (ci, name, kind, size) in enumerate(BRANCHES):
        br = BranchRecord(bi, ci, name, kind, size)
        b.branches.append(br)
        for i in range(size):
            t = weighted_choice(rp, TYPE_MIX[kind])
            gender = rp.choice("MF")
            if i == 0:  # the branch secretary: a community worker, or a retired cadre
                t = "B" if kind == "retirees" else "A"
                birth = rp.randint(1952, 1962) if t == "B" else rp.randint(1970, 1988)
            elif i == 1 and name == first_branch_name(ci):  # the community secretary
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
            m = MemberRecord(len(b.members), br, t, gender, birth)
            m.name = name_for(b, gender, birth)
            br.members.append(m)
            b.members.append(m)
        br.secretary = br.members[0]
        br.secretary.role = "secretary"
        if name == first_branch_name(ci):
            br.members[1].role = "community"
            b.community_secretaries.append(br.members[1])
    name_clashes(b)


def first_branch_name(ci: int) -> str:
    return next(row[1] for row in BRANCHES if row[0] == ci)


def era_of(m: MemberRecord) -> str:
    return "old" if m.birth_year < 1958 else "mid" if m.birth_year < 1980 else "young"


def name_clashes(b: _Builder) -> None:
    """Three same-name pairs in different branches, and one inside the retirees' branch."""
    rp = b.rng_people
    done: set[int] = set()
    pairs = 0
    for _ in range(400):
        if pairs == 3:
            break
        one, two = rp.sample(b.members, 2)
        if one.branch is two.branch or one.index in done or two.index in done or one.role or two.role:
            continue
        if one.gender != two.gender or era_of(one) != era_of(two):
            continue
        two.name = one.name
        done |= {one.index, two.index}
        pairs += 1
    retirees = next(br for br in b.branches if br.kind == "retirees")
    women = [m for m in retirees.members if not m.role and m.gender == "F" and era_of(m) == "old"
             and m.index not in done]
    if len(women) >= 2:
        women[-1].name = women[-2].name


def plan_dates(b: _Builder) -> None:
    """Joined the party, on the roll since (a few recent arrivals), booklet numbers, contact details, leavers."""
    r = b.rng
    prev = b.prev
    for m in b.members:
        jp_year = min(m.birth_year + r.randint(19, 38), prev - 1)
        jp_year = max(jp_year, m.birth_year + 18)
        m.joined_party_on = date(jp_year, r.randint(1, 12), r.randint(1, 28))
        lo = max(m.joined_party_on.year, 1998)
        roll_year = r.randint(lo, prev - 1) if lo < prev - 1 else prev - 1
        m.on_roll_since = max(date(roll_year, r.randint(1, 12), r.randint(1, 28)), m.joined_party_on)
    # Recent arrivals: three in a third quarter, one in a November, one this month (the latest
    # such dates not after today), some of them newly admitted (probationary).
    def latest(month: int, day: int) -> date:
        d = date(b.year, month, day)
        return d if d <= b.today else date(prev, month, day)

    young = [m for m in b.members if not m.role and m.type0 in ("A", "C") and m.birth_year >= 1985
             and m.branch.kind in ("ordinary", "mobile")]
    picks = b.rng.sample(young, 5)
    arrivals = [(latest(7, 1), True), (latest(8, 12), True), (latest(9, 3), False),
                (latest(11, 3), True), (date(b.today.year, b.today.month, 1), False)]
    for m, (d, new) in zip(picks, arrivals):
        m.special = "recent"
        m.on_roll_since = d
        if new:
            m.joined_party_on = d
            m.probationary = (b.today - d).days < 365
        else:
            m.joined_party_on = min(m.joined_party_on, d - timedelta(days=400))
    # Booklet numbers per community, in order of arrival.
    for ci, (_name, prefix, _estates) in enumerate(COMMUNITIES):
        ms = sorted((m for m in b.members if m.branch.community == ci), key=lambda m: (m.on_roll_since, m.index))
        for n, m in enumerate(ms, 1):
            m.booklet_no = f"{prefix}-{max(m.on_roll_since.year, prev - 1)}-{n:03d}"
    for m in b.members:
        estates = COMMUNITIES[m.branch.community][2]
        m.phone = "139" + "".join(str(r.randint(0, 9)) for _ in range(8))
        m.address = (f"{r.choice(estates)}{r.randint(1, 28)}幢{r.randint(1, 3)}单元"
                     f"{r.randint(1, 6)}0{r.randint(1, 4)}室")
        m.types = [(m.on_roll_since, m.type0, "入册分类", "")]
    # Members who left the roll last year: one transferred out, two died.
    left = [m for m in b.members if not m.role and not m.special and m.branch.kind != "mobile"]
    for m, (status, d) in zip(b.rng.sample(left, 3), (
            ("transferred_out", date(prev, 5, 31)), ("deceased", date(prev, 8, 17)),
            ("deceased", date(prev, 12, 3)))):
        m.status, m.left_roll_on, m.special = status, d, "left"


def plan_type_changes(b: _Builder) -> None:
    """About twenty type changes since last February (TYPE_CHANGE_PLAN), each with its reason and own wish."""
    r = b.rng
    first = date(b.prev, 2, 1)
    months = [date(y, mo, 1) for y, mo in each_month(first, b.today)]
    taken: set[int] = set()
    for frm, to, count in TYPE_CHANGE_PLAN:
        pool = [m for m in b.members if m.type0 == frm and not m.role and not m.special
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


def plan_roles(b: _Builder) -> None:
    """Specials (the rectification cases, K4, flexible attendance), tiers, posts, leaves."""
    r = b.rng
    free = lambda m: not m.role and not m.special and len(m.types) == 1  # noqa: E731
    by_branch = lambda kinds: [m for m in b.members if free(m) and m.branch.kind in kinds]  # noqa: E731

    # Member accounts first, so that they show what they are meant to (MEMBER_ACCOUNTS).
    for bi, t, what in MEMBER_ACCOUNTS:
        m = next(m for m in b.branches[bi].members if free(m) and m.type0 == t)
        m.role = "account"
        if what == "advanced":
            m.tier = "advanced"
        b.account_members.append(m)

    specials = (("k1_streak", ("ordinary",), "B"), ("k2_streak", ("ordinary",), "A"),
                ("low", ("ordinary",), "A"), ("lost", ("mobile",), "C"), ("veto", ("ordinary",), "B"),
                ("k4", ("ordinary", "retirees"), "B"))
    for special, kinds, t in specials:
        pool = [m for m in by_branch(kinds) if m.type0 == t and m.on_roll_since.year < b.prev]
        if special == "k2_streak":  # in branch01's branch, so its secretary sees a rectification case
            pool = [m for m in pool if m.branch.index == 0] or pool
        m = r.choice(pool)
        m.special = special
        if special == "k4":
            m.tier = "advanced"

    # Flexible attendance: re-employment branch members who attend elsewhere some months.
    reemp = next(br for br in b.branches if br.kind == "reemployment")
    hosts = [br for br in b.branches if br.kind == "ordinary"]
    flex = [m for m in reemp.members if m.type0 == "C" and not m.special and len(m.types) == 1
            and m.role in ("", "account")]
    account3 = b.account_members[2]
    chosen = [account3] + r.sample([m for m in flex if m is not account3], 4)
    for m in chosen:
        m.flexible_host = r.choice(hosts)

    # Tiers: about a sixth advanced, secretaries more often.
    weight = {"A": 0.2, "B": 0.17, "C": 0.09, "D": 0.08}
    for m in b.members:
        if m.special or m.tier == "advanced" or m.role == "account":
            continue
        p = 0.75 if m.role in ("secretary", "community") else weight[m.type0]
        if r.random() < p:
            m.tier = "advanced"
    for m in b.members:
        m.diligence = r.uniform(0.85, 1.0) if m.tier == "advanced" else r.uniform(0.3, 1.0)
        m.pairing = m.tier == "advanced" and r.random() < 0.25

    # Leaves: health exemptions for type D, working away for type C, a few visits to family.
    end = date(b.year, 12, 31)
    for m in b.members:
        if m.special in ("lost", "k1_streak", "low"):
            continue
        for i, (since, t, _reason, _wish) in enumerate(m.types):
            until = m.types[i + 1][0] - timedelta(days=1) if i + 1 < len(m.types) else end
            if m.left_roll_on is not None:
                until = min(until, m.left_roll_on - timedelta(days=1))
            start = max(since, b.start)
            if start > until:
                continue
            if t == "D" and (r.random() < 0.35 or i > 0):
                m.leaves.append(("health_exemption", start, until,
                                 "行动不便，经支委会同意免于参加集中组织生活，送学上门"))
            elif t == "C" and (r.random() < 0.15 or (i > 0 and m.types[i - 1][1] == "A"))\
                    and m.flexible_host is None:
                s = max(start, date(b.prev, r.randint(2, 6), 1))
                e = min(until, last_day(*months_later(s, r.randint(5, 10))))
                if s <= e:
                    m.leaves.append(("working_away", s, e,
                                     f"在{r.choice(AWAY_CITIES)}务工，已与务工地党组织联系"))
    away = b.account_members[4]
    s = date(b.year, 1, 1) if b.today.month > 1 else date(b.prev, 12, 1)
    away.leaves = [leave for leave in away.leaves if leave[2] < s]
    away.leaves.append(("working_away", s, date(b.year, 10, 31), "在杭州务工，已与务工地党组织联系"))
    visitors = [m for m in b.members if free(m) and m.type0 == "B" and not m.leaves]
    for m in r.sample(visitors, 6):
        s = date(b.prev, r.randint(2, 11), r.randint(1, 10))
        m.leaves.append(("leave", s, s + timedelta(days=r.randint(20, 45)), "赴外地子女家探亲"))
