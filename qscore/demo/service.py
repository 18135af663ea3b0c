"""The demo's volunteer service: the posts (奉献岗) and contact households (联系户) each member holds, with
their declarations, ends and the community's proportions (SERVICE_RATIOS); the volunteer teams (志愿服务队);
and, once the ledger is written, the months on duty and the visits behind its Z1 and Z2 entries."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from ..db import db
from ..models import (Community, Household, HouseholdVisit, MemberPost, PointEntry, PostKind, PostService,
                      TeamMembership, VolunteerTeam)
from .plan import (COMMUNITIES, DISSOLVED_TEAM, HOUSEHOLD_COUNTS, HOUSEHOLD_KINDS, POST_COUNTS, POSTS, POSTS_FROM_HOME,
                   SERVICE_RATIOS, TEAM_PLAN, TEAMS)
from .records import Held, MemberRecord

if TYPE_CHECKING:
    from .builder import _Builder


def plan_service(b: _Builder) -> None:
    """Posts and households each member took up (recorded by the branch, so confirmed), ended when the
    member left the roll or a type change took them away; a few recent declarations still pending."""
    r = b.rng
    for m in b.members:
        taken = taken_up(b, m)
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
            m.posts.append(Held(kind, min(taken + timedelta(days=r.randint(0, 20)), b.today)))
        for _ in range(homes):
            m.households.append(Held(household_label(b, m), min(taken + timedelta(days=r.randint(0, 40)), b.today)))
        end_held(b, m)
    match_proportions(b)
    pending_declarations(b)


def match_proportions(b: _Builder) -> None:
    """Add or take away a few posts and households so that each community holds its SERVICE_RATIOS of
    them per member on today's roll (the draws above land near them, this makes them exact)."""
    r = b.rng
    for ci, ratios in enumerate(SERVICE_RATIOS):
        roll = [m for m in b.members if m.branch.community == ci and m.on_roll(b.today)]
        for attr, ratio, most in (("posts", ratios[0], 4), ("households", ratios[1], 3)):
            def held(m: MemberRecord) -> list[Held]:
                return [h for h in getattr(m, attr) if h.in_force(b.today, b.today)]

            have, target = sum(len(held(m)) for m in roll), round(ratio * len(roll))
            for _ in range(400):
                if have == target:
                    break
                m = r.choice(roll)
                taken = taken_up(b, m)
                if have < target and taken is not None and m.special != "lost" and len(held(m)) < most:
                    if attr == "households":
                        m.households.append(Held(household_label(b, m), taken))
                    else:
                        kinds = [k for k in (POSTS_FROM_HOME if m.type_on(b.today) == "D" else POSTS)
                                 if k not in {p.what for p in m.open_posts()}]
                        if not kinds:
                            continue
                        m.posts.append(Held(r.choice(kinds), taken))
                    have += 1
                elif have > target and m.tier != "advanced":
                    gone = [h for h in held(m) if h.ended_on is None]
                    if gone:
                        getattr(m, attr).remove(gone[-1])
                        have -= 1


def taken_up(b: _Builder, m: MemberRecord) -> date | None:
    """When the member took up posts: the spring campaign (亮身份、认岗位) of a recent year, or a few
    weeks after arriving; None for a member who arrived too recently."""
    r = b.rng
    if m.on_roll_since < date(b.prev, 1, 1):
        return max(date(b.prev - r.choice((0, 1, 1, 2)), r.randint(2, 4), r.randint(1, 28)), m.on_roll_since)
    d = m.on_roll_since + timedelta(days=r.randint(20, 75))
    return d if d < b.today else None


def household_label(b: _Builder, m: MemberRecord) -> str:
    """A contact household as the branch writes it down (private: shown on the service pages only)."""
    r = b.rng
    estate = r.choice(COMMUNITIES[m.branch.community][2])
    return (f"{estate}{r.randint(1, 28)}幢{r.randint(1, 3)}单元{r.randint(1, 6)}0{r.randint(1, 4)}室"
            f"（{r.choice(HOUSEHOLD_KINDS)}）")


def end_held(b: _Builder, m: MemberRecord) -> None:
    """Posts end when the member leaves the roll, becomes type D (but for what can be done from home) or
    leaves a community job to work away (type A -> C, households too); a few households move away."""
    r = b.rng
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
            if d < b.today - timedelta(days=30):
                h.status, h.ended_on = "ended", d


def pending_declarations(b: _Builder) -> None:
    """Member accounts declared a post or a household from their booklet in the last days (waiting for
    the branch); two secretaries declared a post of their own (waiting for another secretary); one
    household was turned down (another member already keeps contact with it)."""
    r = b.rng
    declarants = b.account_members[:4] + [b.branches[1].secretary, b.branches[4].secretary]
    for i, m in enumerate(declarants):
        d = max(b.today - timedelta(days=r.randint(1, 12)), m.on_roll_since)
        held = {p.what for p in m.open_posts()}
        free = [k for k in (POSTS_FROM_HOME if m.type_on(d) == "D" else POSTS) if k not in held]
        if (i % 2 == 0 or m.role == "secretary") and free and len(held) < 4:
            m.posts.append(Held(r.choice(free), d, "pending"))
        else:
            m.households.append(Held(household_label(b, m), d, "pending"))
    m = b.account_members[3]
    m.households.append(Held(household_label(b, m), max(b.today - timedelta(days=r.randint(25, 40)), m.on_roll_since),
                             "rejected"))


def fit_households(b: _Builder) -> None:
    """Every documented visit (Z2) is to a household the member kept contact with that day: a visit
    planned before the household's declaration moves the declaration earlier."""
    for m in b.members:
        for e in sorted((e for e in m.rows if e["indicator_code"] == "Z2" and e["source"] == "post"),
                        key=lambda e: e["earned_on"]):
            d = e["earned_on"]
            if any(h.in_force(d, d) for h in m.households):
                continue
            later = [h for h in m.households if h.status in ("confirmed", "ended") and h.declared_on > d]
            if later:
                min(later, key=lambda h: h.declared_on).declared_on = d
            else:
                m.households.append(Held(household_label(b, m), d))


def plan_teams(b: _Builder) -> list[dict[str, Any]]:
    """The communities' volunteer teams with their members (TEAM_PLAN); 前进社区 dissolved one last year."""
    r = b.rng
    teams: list[dict[str, Any]] = []
    for ci, (before, new) in enumerate(TEAM_PLAN):
        plan = [(name, date(r.randint(2015, b.prev - 1), r.randint(1, 12), r.randint(1, 28)), None)
                for name in TEAMS[:before]]
        # This year's teams were founded at even intervals between New Year and today.
        plan += [(name, date(b.year, 1, 1) + (b.today - date(b.year, 1, 1)) * (j + 1) // (new + 1), None)
                 for j, name in enumerate(TEAMS[before:before + new])]
        if ci == 0:
            plan.append((DISSOLVED_TEAM, date(2020, 2, 3), date(b.prev, r.randint(3, 6), r.randint(1, 28))))
        people = [m for m in b.members if m.branch.community == ci and m.special != "lost"]
        for name, founded, dissolved in plan:
            size = r.randint(6, 12) if founded.year == b.year else r.randint(9, 22)
            # A weighted draw without replacement: members who hold posts or are advanced join more often.
            weight = {m.index: (4 if m.tier == "advanced" else 2 if m.posts else 1)
                      * (0.3 if m.types[-1][1] == "D" or m.special == "low" else 1) for m in people}
            chosen = sorted(people, key=lambda m: -r.random() ** (1 / weight[m.index]))[:size]
            rows = []
            for m in sorted(chosen, key=lambda m: m.index):
                joined = max(founded, m.on_roll_since)
                joined += timedelta(days=r.randint(0, max(0, min(60 if founded.year == b.year else 500,
                                                                 (b.today - joined).days))))
                left = m.left_roll_on
                if dissolved is not None:
                    left = min(left or dissolved, dissolved)
                elif left is None and r.random() < 0.04:
                    left = joined + timedelta(days=r.randint(90, 400))
                    left = left if left <= b.today else None
                if joined > b.today or (left is not None and left <= joined):
                    continue
                rows.append((m, joined, left))
            teams.append({"community": ci, "name": name, "founded_on": founded, "dissolved_on": dissolved,
                          "members": rows})
    return teams


def write_service(b: _Builder, communities: list[Community], teams: list[dict[str, Any]]) -> None:
    """The communities' post lists, members' posts and households, the months on duty behind each Z1 and
    the visit behind each Z2 (both in the ledger already, with source "post"), and the volunteer teams."""
    kinds = [PostKind(community_id=c.id, name=name) for c in communities for name in POSTS]
    db.session.add_all(kinds)
    db.session.flush()
    kind_id = {(k.community_id, k.name): k.id for k in kinds}

    def created(m: MemberRecord, h: Held) -> tuple[int, datetime]:
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
