"""The demo street: `flask qscore demo` loads a realistic, deterministic street, and only into a
database without real data."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from qscore import create_app, figures
from qscore.db import db
from qscore.demo import (DEMO_PASSWORD, POSTS_FROM_HOME, SERVICE_RATIOS, TEAM_PLAN, _Builder, demo_accounts,
                         is_real_data_present, load_demo)
from qscore.models import (Branch, BranchSpell, CaseFollowUp, Community, Household, HouseholdVisit, Leave, Meeting,
                           Member, MemberPost, MemberType, PointEntry, PostKind, PostService, Proposal, Publication,
                           PublicationAdjustment, RectificationCase, ResidentQuery, SelfRecord, Street, TeamMembership,
                           User, VolunteerTeam)
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import live_entry_clause, round_half_up, score_members

from .conftest import FIXED_TODAY, load_demo_street, truncate_all


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(scope="module")
def _demo_app(test_config, _schema):
    """One load shared by the read-only tests of this module (loading takes a second or two)."""
    app = create_app(dict(test_config))
    with app.app_context():
        truncate_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _ensure_loaded(app) -> None:
    """The demo loaded by the CLI; reloaded if a test in between emptied the database or added a real street."""
    with app.app_context():
        loaded = db.session.scalar(select(Street.id).where(Street.demo.is_(True))) and not is_real_data_present()
        db.session.remove()
    if loaded:
        return
    if "_demo_output" in app.config:  # the command has been seen at work: the same street, copied
        load_demo_street(app)
        return
    with app.app_context():
        truncate_all()
        result = app.test_cli_runner().invoke(args=["qscore", "demo"])
    app.config["_demo_output"] = result.output
    assert result.exit_code == 0, result.output


@pytest.fixture
def demo(_demo_app):
    """The loaded demo, with an application context for reading the database."""
    _ensure_loaded(_demo_app)
    with _demo_app.app_context():
        yield _demo_app
        db.session.remove()


@pytest.fixture
def demo_server(_demo_app):
    """The loaded demo without an application context: each request of a test client gets its own (as on a
    server), so several clients signed in as different people do not share one ``g``."""
    _ensure_loaded(_demo_app)
    return _demo_app


def test_command_loads_the_street(demo):
    out = demo.config["_demo_output"]
    assert "qscore-demo" in out
    for username, role, _scope in demo_accounts():
        assert username in out and role in out
    # How long loading takes is the benchmark's business (a timed test fails on a busy machine, not on a slow demo).

    street = db.session.scalar(select(Street))
    assert street.name == "示范街道" and street.demo
    assert count(Community) == 3
    assert 9 <= count(Branch) <= 11
    kinds = Counter(db.session.scalars(select(Branch.kind)))
    assert kinds["reemployment"] == 1 and kinds["retirees"] == 1 and kinds["ordinary"] >= 6
    assert 280 <= count(Member) <= 320
    assert count(Member, Member.street_id != street.id) == 0
    assert 2 <= count(Member, Member.status != "active") <= 3
    assert count(Member, Member.status != "active", Member.left_roll_on.is_(None)) == 0
    assert count(Member, Member.probationary.is_(True)) >= 2
    assert count(BranchSpell) == count(Member)
    assert count(Leave, Leave.kind == "health_exemption") > 0 and count(Leave, Leave.kind == "working_away") > 0
    # Every member classified on arrival; about twenty changes since, on the first of a month, with reasons.
    assert count(MemberType) - count(Member) >= 15
    changes = db.session.execute(select(MemberType, Member).join(Member, Member.id == MemberType.member_id)
                                 .where(MemberType.effective_from > Member.on_roll_since)).all()
    assert all(t.effective_from.day == 1 and t.reason and t.own_wish for t, _m in changes)
    assert all(t.effective_from <= FIXED_TODAY for t, _m in changes)
    assert count(PointEntry) > 5000
    assert set(db.session.scalars(select(PointEntry.year).distinct())) == {FIXED_TODAY.year - 1, FIXED_TODAY.year}
    assert db.session.scalar(select(func.max(PointEntry.earned_on))) <= FIXED_TODAY
    assert count(PointEntry, PointEntry.year != func.extract("year", PointEntry.earned_on)) == 0
    assert count(SelfRecord, SelfRecord.status == "pending") >= 10
    assert count(SelfRecord, SelfRecord.status == "rejected", SelfRecord.reject_reason != "") == 2
    confirmed = count(SelfRecord, SelfRecord.status == "confirmed")
    assert confirmed > 0 and count(PointEntry, PointEntry.self_record_id.isnot(None)) == confirmed


def test_names_look_real(demo):
    names = db.session.execute(select(Member.name, Member.branch_id)).all()
    assert all(2 <= len(n) <= 4 for n, _b in names)
    assert sum(1 for n, _b in names if len(n) == 2) >= 2
    branches_by_name = defaultdict(set)
    for n, b in names:
        branches_by_name[n].add(b)
    clashes = [n for n, bs in branches_by_name.items() if len(bs) > 1]
    assert len(clashes) >= 3
    booklets = list(db.session.scalars(select(Member.booklet_no)))
    assert len(set(booklets)) == len(booklets)


def test_every_entry_is_allowed_by_the_scheme(demo):
    history = defaultdict(list)
    for member_id, since, code in db.session.execute(
            select(MemberType.member_id, MemberType.effective_from, MemberType.type_code)
            .order_by(MemberType.member_id, MemberType.effective_from, MemberType.id)):
        history[member_id].append((since, code))

    def type_on(member_id: int, day: date) -> str:
        current = history[member_id][0][1]
        for since, code in history[member_id]:
            if since <= day:
                current = code
        return current

    entries = db.session.scalars(select(PointEntry)).all()
    by_id = {e.id: e for e in entries}
    schemes = {y: scheme_for_year(y) for y in {e.year for e in entries}}
    members = {m.id: m for m in db.session.scalars(select(Member))}
    for e in entries:
        m = members[e.member_id]
        assert e.branch_id == m.branch_id
        assert m.on_roll_since <= e.earned_on <= FIXED_TODAY
        assert m.left_roll_on is None or e.earned_on < m.left_roll_on
        assert e.recorded_by_id is not None and e.recorded_at is not None
        if e.source == "correction":
            original = by_id[e.corrects_id]
            assert e.points == -original.points and e.member_id == original.member_id
            assert e.indicator_code == original.indicator_code and e.earned_on == original.earned_on
            assert e.note == "录入错误，更正"
            continue
        ind = schemes[e.year].indicators[e.indicator_code]
        t = type_on(e.member_id, e.earned_on)
        assert ind.applies(t) and e.category == ind.category
        if ind.is_hours:
            assert e.quantity is not None and e.quantity > 0
            assert e.points == round_half_up(Fraction(e.quantity) * Fraction(ind.points_for(t)))
        else:
            assert e.points in ind.allowed_points(t), (e.indicator_code, t, e.points)
            assert e.quantity is None
        if ind.category == "K":
            assert e.note
    # Nobody records their own points.
    own = db.session.execute(select(func.count()).select_from(PointEntry).join(
        User, User.id == PointEntry.recorded_by_id).where(User.member_id == PointEntry.member_id)).scalar()
    assert own == 0


def test_corrections_and_meetings(demo):
    corrections = db.session.scalars(select(PointEntry).where(PointEntry.corrects_id.isnot(None))).all()
    assert len(corrections) >= 5
    targets = [c.corrects_id for c in corrections]
    assert len(set(targets)) == len(targets)  # no entry corrected twice
    originals = {e.id: e for e in db.session.scalars(select(PointEntry).where(PointEntry.id.in_(targets)))}
    assert set(originals) == set(targets)
    assert all(o.corrects_id is None for o in originals.values())  # a correction is never corrected
    assert all(c.recorded_at > originals[c.corrects_id].recorded_at for c in corrections)

    # Meetings: monthly organisational life in every branch, entries pointing at them.
    assert count(Meeting, Meeting.kind == "org_life") >= 10 * 16
    for kind in ("study", "volunteer", "charity"):
        assert count(Meeting, Meeting.kind == kind) > 0
    assert count(Meeting, Meeting.held_on > FIXED_TODAY) == 0
    assert count(PointEntry, PointEntry.source == "meeting", PointEntry.meeting_id.is_(None)) == 0
    # Flexible attendance: re-employment branch members credited at another branch's meeting.
    flexible = db.session.scalars(select(PointEntry).where(PointEntry.host_branch_id.isnot(None))).all()
    assert flexible
    for e in flexible:
        meeting = db.session.get(Meeting, e.meeting_id)
        assert meeting.branch_id == e.host_branch_id != e.branch_id
        assert db.session.get(Branch, e.branch_id).kind == "reemployment"
    # Attendance at organisational life: 85-95 % of the members expected.
    expected = db.session.scalar(select(func.sum(Meeting.expected_count)).where(Meeting.kind == "org_life"))
    credited = db.session.scalar(select(func.count()).select_from(PointEntry).join(
        Meeting, Meeting.id == PointEntry.meeting_id).where(Meeting.kind == "org_life",
                                                             PointEntry.indicator_code == "J1"))
    assert 0.85 <= credited / expected <= 0.95


def test_grades_of_last_year_are_realistic(demo):
    year = FIXED_TODAY.year - 1
    members = db.session.scalars(select(Member)).all()
    scores = score_members(db.session, scheme_for_year(year), year, date(year, 12, 31), members)
    grades = Counter(s.grade.code for s in scores.values() if s.grade.graded)
    graded = sum(grades.values())
    assert grades["qualified"] / graded > 0.6
    assert 0.12 <= grades["advanced"] / graded <= 0.22
    assert 3 <= grades["rectify"] <= 10
    notes = {e.note: e for e in db.session.scalars(select(PointEntry).where(PointEntry.category == "K"))}
    gambler = notes["参与赌博，经查属实"]
    assert gambler.points == -5 and scores[gambler.member_id].grade.code == "qualified"
    assert scores[gambler.member_id].score >= 80
    veto = next(e for e in notes.values() if e.indicator_code == "V")
    assert "处分决定" in veto.note and scores[veto.member_id].grade.code == "rectify"


def test_accounts_log_in(demo):
    client = demo.test_client()
    for username in ("street", "community1", "branch01", "member1"):
        resp = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
        assert resp.status_code == 302, username
        client.post("/logout")
    users = {u.username: u for u in db.session.scalars(select(User))}
    assert {u for u, _r, _s in demo_accounts()} == set(users)
    for username, role, _scope in demo_accounts():
        u = users[username]
        assert u.role == role
        if role != "street_admin":
            member = db.session.get(Member, u.member_id)
            assert u.display_name == member.name
            if u.branch_id is not None:
                assert member.branch_id == u.branch_id


def test_second_run_refuses(demo):
    before = count(PointEntry)
    result = demo.test_cli_runner().invoke(args=["qscore", "demo"])
    assert result.exit_code != 0
    assert "already loaded" in result.output
    assert count(PointEntry) == before
    assert not is_real_data_present()


def test_deterministic(demo):
    """The same seed and day give the same street; another seed gives other people."""
    def snapshot() -> tuple[list, ...]:
        members = db.session.execute(select(Member.name, Member.booklet_no, Member.on_roll_since).order_by(Member.id))
        entries = db.session.execute(select(PointEntry.indicator_code, PointEntry.points, PointEntry.earned_on)
                                     .order_by(PointEntry.id))
        service = [db.session.execute(stmt).all() for stmt in (
            select(MemberPost.member_id, MemberPost.declared_on, MemberPost.status).order_by(MemberPost.id),
            select(Household.member_id, Household.label, Household.status).order_by(Household.id),
            select(PostService.member_post_id, PostService.month, PostService.entry_id).order_by(PostService.id),
            select(HouseholdVisit.household_id, HouseholdVisit.visited_on).order_by(HouseholdVisit.id),
            select(VolunteerTeam.name, VolunteerTeam.founded_on).order_by(VolunteerTeam.id),
            select(TeamMembership.member_id, TeamMembership.joined_on).order_by(TeamMembership.id),
            select(ResidentQuery.member_label, ResidentQuery.question).order_by(ResidentQuery.id),
            select(RectificationCase.member_id, RectificationCase.status, RectificationCase.deadline)
            .order_by(RectificationCase.id))]
        return [tuple(r) for r in members], [tuple(r) for r in entries], *[[tuple(r) for r in rows] for rows in service]

    first = snapshot()
    truncate_all()
    load_demo(FIXED_TODAY, seed=2026)
    db.session.commit()
    assert snapshot() == first
    truncate_all()  # the next test that needs the demo loads it again

    other = _Builder(FIXED_TODAY, seed=7)
    other.plan_people()
    names = [name for name, _booklet, _since in first[0]]
    assert [m.name for m in other.members] != names
    same = _Builder(FIXED_TODAY, seed=2026)
    same.plan_people()
    assert [m.name for m in same.members] == names


def test_real_street_refuses(app, runner):
    with app.app_context():
        db.session.add(Street(name="幸福街道"))
        db.session.commit()
        assert is_real_data_present()
    result = runner.invoke(args=["qscore", "demo"])
    assert result.exit_code != 0
    assert "real data" in result.output
    with app.app_context():
        assert count(Street) == 1 and count(Member) == 0


def test_demo_has_published_quarters_so_the_board_is_never_empty(demo):
    from qscore.models import Publication
    from qscore.publication import verify

    pubs = db.session.scalars(select(Publication)).all()
    branches = count(Branch)
    periods = {(p.year, p.quarter) for p in pubs}
    assert periods == {(2025, 1), (2025, 2), (2025, 3), (2025, 4), (2026, 1)}  # today is 2026-05-20
    assert len(pubs) == branches * len(periods)
    assert all(verify(p) for p in pubs)
    assert all(p.published_at.date() > date(p.year, p.quarter * 3, 28) for p in pubs)


def test_creating_the_real_street_ends_every_demo_session(app, runner):
    load_demo_street(app)
    street, branch = app.test_client(), app.test_client()
    for client, username in ((street, "street"), (branch, "branch01")):
        assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
        assert client.get("/").status_code in (200, 302) and client.get("/publish").status_code == 200
    result = runner.invoke(args=["qscore", "add-org", "--street", "幸福街道"])
    assert result.exit_code == 0, result.output
    for client in (street, branch):
        resp = client.get("/publish")
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]  # logged out, at once
    # And the demo's shared password opens nothing any more.
    resp = street.post("/login", data={"username": "street", "password": DEMO_PASSWORD})
    assert resp.status_code == 422


# ---------------------------------------------------------------------------------------------
# Every figure alive (issue 14, item 12): what a new user sees on the first run
# ---------------------------------------------------------------------------------------------

def figures_of(period: figures.Period, community: str | None = None) -> figures.Figures:
    """The figures page's numbers (figures.compute) for the street or one community."""
    communities = db.session.execute(select(Community.id, Community.name)).all()
    ids = [i for i, name in communities if community in (None, name)]
    branch_ids = list(db.session.scalars(select(Branch.id).where(Branch.community_id.in_(ids))))
    return figures.compute(db.session, scheme_for_year(period.year), branch_ids, ids, period, FIXED_TODAY)


@pytest.mark.parametrize("year", [FIXED_TODAY.year - 1, FIXED_TODAY.year])
def test_every_figure_is_alive(demo, year):
    f = figures_of(figures.Period("year", year))
    assert 280 <= f.members <= 320
    assert 0.85 <= f.total("participation").rate.value <= 1  # the seed: participation rose to ~95 %
    assert 0.85 <= f.total("attendance").value <= 0.95
    assert 0.9 <= f.total("dues").value <= 1
    assert 0.75 <= f.total("charity").rate.value <= 0.95
    assert f.total("hours").total > (300 if year < FIXED_TODAY.year else 50)
    # Posts: about one a member, held by most members, never more than four.
    posts = f.total("posts")
    assert 0.9 <= posts.per_member.value <= 1.2 and posts.hits >= 0.6 * f.members
    assert 0.6 <= f.households_ratio.value <= 0.85
    assert f.total("team_members").hits >= 0.5 * f.members
    assert all(t.size >= 5 for t in f.teams)
    assert 70 <= f.scores.average() <= 95
    if year < FIXED_TODAY.year:  # last year: every branch confirmed its review, grades as the meeting decided
        assert f.grades.source(f.branch_ids) == "confirmed"
        grades = f.grades.total()
        assert 0.12 <= grades["advanced"] / f.members <= 0.22 and grades["rectify"] >= 3
    else:  # this year: declarations waiting for the branch, residents' queries answered and waiting
        assert f.pending["posts"] >= 3 and f.pending["households"] >= 1
        received, answered = f.queries_total
        assert received == 3 and answered == 2


def test_qianlong_proportions(demo):
    """前进社区 holds the seed's Qianlong proportions: 271 posts and 189 households for 250 members, teams 11 -> 13."""
    for year in (FIXED_TODAY.year - 1, FIXED_TODAY.year):
        f = figures_of(figures.Period("year", year), "前进社区")
        posts, households = f.total("posts"), f.total("households")
        assert abs(posts.per_member.value - SERVICE_RATIOS[0][0]) < 0.04, posts
        assert abs(f.households_ratio.value - SERVICE_RATIOS[0][1]) < 0.04, households
        assert len(f.teams) == TEAM_PLAN[0][0] + (year == FIXED_TODAY.year) * TEAM_PLAN[0][1]
    # The other communities hold their own, smaller proportions and teams.
    for name, (posts_ratio, households_ratio), (before, new) in zip(("和平社区", "光明社区"), SERVICE_RATIOS[1:],
                                                                      TEAM_PLAN[1:]):
        f = figures_of(figures.Period("year", FIXED_TODAY.year), name)
        assert abs(f.total("posts").per_member.value - posts_ratio) < 0.04
        assert abs(f.households_ratio.value - households_ratio) < 0.04
        assert len(f.teams) == before + new


def test_posts_and_households_behind_the_ledger(demo):
    """Each month on duty (Z1) and each visit (Z2) is the service pages' record behind a ledger entry."""
    first_of_month = date(FIXED_TODAY.year, FIXED_TODAY.month, 1)
    posts = {p.id: p for p in db.session.scalars(select(MemberPost))}
    kinds = dict(db.session.execute(select(PostKind.id, PostKind.name)).all())
    entries = {e.id: e for e in db.session.scalars(select(PointEntry).where(PointEntry.source == "post",
                                                                            live_entry_clause()))}
    assert {e.indicator_code for e in entries.values()} == {"Z1", "Z2"}
    # Months on duty: confirmed by a secretary for past months, one Z1 on the month's last day per member.
    services = db.session.scalars(select(PostService)).all()
    by_entry = defaultdict(list)
    for s in services:
        e, p = entries[s.entry_id], posts[s.member_post_id]
        by_entry[e.id].append(p)
        assert e.indicator_code == "Z1" and e.member_id == p.member_id and s.month == e.earned_on.replace(day=1)
        assert s.month < first_of_month and p.status in ("confirmed", "ended")
        assert p.declared_on <= e.earned_on and (p.ended_on is None or p.ended_on > s.month)
        assert s.confirmed_by_id == e.recorded_by_id and s.confirmed_at == e.recorded_at
    z1 = [e for e in entries.values() if e.indicator_code == "Z1"]
    assert len(z1) > 300 and set(by_entry) == {e.id for e in z1}
    for e in z1:
        assert e.earned_on == figures.month_last_day(e.earned_on.year, e.earned_on.month)
        assert e.note == "奉献岗：" + "、".join(sorted(kinds[p.post_kind_id] for p in by_entry[e.id]))
    # Nobody confirms their own duty.
    members_of = dict(db.session.execute(select(User.id, User.member_id)).all())
    assert all(members_of.get(s.confirmed_by_id) != posts[s.member_post_id].member_id for s in services)
    # Visits: one per Z2 entry, to a household the member kept contact with that day.
    households = {h.id: h for h in db.session.scalars(select(Household))}
    visits = db.session.scalars(select(HouseholdVisit)).all()
    assert {v.entry_id for v in visits} == {e.id for e in entries.values() if e.indicator_code == "Z2"}
    assert len(visits) > 100
    for v in visits:
        h, e = households[v.household_id], entries[v.entry_id]
        assert h.member_id == e.member_id and v.visited_on == e.earned_on and v.note == e.note
        assert h.status in ("confirmed", "ended") and h.declared_on <= v.visited_on
        assert h.ended_on is None or h.ended_on > v.visited_on
    # At most four posts a member (pending or held), each kind once, from the member's community's list.
    open_posts = Counter(p.member_id for p in posts.values() if p.status in ("pending", "confirmed"))
    assert max(open_posts.values()) <= 4 and Counter(open_posts.values())[4] >= 1
    held = Counter((p.member_id, p.post_kind_id) for p in posts.values() if p.status in ("pending", "confirmed"))
    assert max(held.values()) == 1
    home = dict(db.session.execute(select(Member.id, Branch.community_id).join(Branch, Branch.id == Member.branch_id))
                .all())
    kind_community = dict(db.session.execute(select(PostKind.id, PostKind.community_id)).all())
    assert all(kind_community[p.post_kind_id] == home[p.member_id] for p in posts.values())
    # Every state a declaration can be in, and the members who left hold nothing any more.
    assert {p.status for p in posts.values()} == {"pending", "confirmed", "ended"}
    assert {h.status for h in households.values()} == {"pending", "confirmed", "ended", "rejected"}
    gone = set(db.session.scalars(select(Member.id).where(Member.status != "active")))
    assert not [p for p in posts.values() if p.member_id in gone and p.status in ("pending", "confirmed")]


def test_limited_mobility_members_hold_posts_done_from_home(demo):
    history = defaultdict(list)
    for member_id, since, code in db.session.execute(
            select(MemberType.member_id, MemberType.effective_from, MemberType.type_code).order_by(MemberType.id)):
        history[member_id].append((since, code))
    names = dict(db.session.execute(select(PostKind.id, PostKind.name)).all())
    at_home = 0
    for p in db.session.scalars(select(MemberPost).where(MemberPost.status.in_(("pending", "confirmed")))):
        current = [code for since, code in history[p.member_id] if since <= FIXED_TODAY][-1]
        assert current != "D" or names[p.post_kind_id] in POSTS_FROM_HOME
        at_home += current == "D"
    assert at_home >= 3  # they hold some, all of them posts done from home or by phone


def test_teams_have_members_on_the_roll(demo):
    teams = {t.id: t for t in db.session.scalars(select(VolunteerTeam))}
    assert len(teams) == sum(before + new for before, new in TEAM_PLAN) + 1
    assert len([t for t in teams.values() if t.dissolved_on is not None]) == 1
    members = {m.id: m for m in db.session.scalars(select(Member))}
    branch_community = dict(db.session.execute(select(Branch.id, Branch.community_id)).all())
    sizes = Counter()
    for tm in db.session.scalars(select(TeamMembership)):
        t, m = teams[tm.team_id], members[tm.member_id]
        assert branch_community[m.branch_id] == t.community_id
        assert t.founded_on <= tm.joined_on <= FIXED_TODAY and m.on_roll_since <= tm.joined_on
        assert tm.left_on is None or tm.joined_on < tm.left_on <= FIXED_TODAY
        if t.dissolved_on is not None or m.left_roll_on is not None:
            assert tm.left_on is not None
        sizes[t.id] += tm.left_on is None
    assert min(sizes[i] for i, t in teams.items() if t.dissolved_on is None) >= 5


def test_rectification_cases_in_every_stage(demo):
    cases = db.session.scalars(select(RectificationCase)).all()
    assert len(cases) >= 4
    for c in cases:
        assert c.mentor_member_id is not None and c.mentor_member_id != c.member_id and c.plan and c.problems
        assert db.session.scalar(select(func.count()).select_from(CaseFollowUp).where(CaseFollowUp.case_id == c.id))
        assert c.deadline > FIXED_TODAY or c.status != "open"  # no case left overdue
    stages = Counter((c.status, c.outcome) for c in cases)
    assert stages[("open", "extended")] >= 1 and stages[("open", "")] >= 1 and stages[("proposed", "")] == 1
    proposal = db.session.scalar(select(Proposal))
    assert proposal.status == "pending" and proposal.kind in ("expel", "cancel_probation")
    # branch01's secretary has a case of their own branch to follow, mentored by the member1 account.
    branch01 = db.session.scalar(select(User).where(User.username == "branch01"))
    member1 = db.session.scalar(select(User).where(User.username == "member1"))
    mine = [c for c in cases if db.session.get(Member, c.member_id).branch_id == branch01.branch_id]
    assert mine and mine[0].mentor_member_id == member1.member_id


def test_residents_queries_and_an_adjustment(demo):
    queries = db.session.scalars(select(ResidentQuery).order_by(ResidentQuery.id)).all()
    assert len(queries) == 3 and sum(q.answered_at is None for q in queries) == 1
    for q in queries:
        pub = db.session.get(Publication, q.publication_id)
        assert pub.branch_id == q.branch_id and pub.retracted_at is None
        assert pub.published_at < q.created_at and q.created_at.date() <= FIXED_TODAY
        assert q.answered_at is None or q.created_at < q.answered_at
    # One query proved an entry missing: recorded with the date it was earned, as an adjustment to the
    # publication asked about, with its reason, and linked from the answer.
    [q] = [q for q in queries if q.correction_entry_id is not None]
    entry = db.session.get(PointEntry, q.correction_entry_id)
    pub = db.session.get(Publication, q.publication_id)
    assert entry.adjusts_publication_id == pub.id and entry.source == "query" and "漏记" in entry.note
    assert entry.branch_id == pub.branch_id and q.created_at < entry.recorded_at <= q.answered_at
    assert figures.Period("quarter", pub.year, pub.quarter).start <= entry.earned_on
    assert entry.earned_on <= figures.quarter_last_day(pub.year, pub.quarter)
    assert q.member_label.count("*") == 1  # the masked name the board shows, never the full name
    # Today (May) the quarter's next publication is yet to come: it will list the adjustment.
    from qscore.publication import unlisted_adjustments
    assert [a["entry_id"] for a in unlisted_adjustments(db.session.get(Branch, pub.branch_id))] == [entry.id]


PAGES = (
    ("street", ("/stats", "/stats?period=2025", "/service/", "/review", "/cases", "/approvals", "/queries",
                "/assessment", "/publish")),
    ("community1", ("/stats", "/service/", "/cases", "/queries", "/assessment")),
    ("branch01", ("/stats", "/service/", "/cases", "/queries", "/assessment", "/review", "/publish")),
    ("member1", ("/cases", "/")),
)


def signed_in(app, username: str):
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    return client


def test_the_pages_a_new_user_opens(demo_server):
    """Each page of the cycle answers, and shows the demo's records."""
    demo = demo_server
    with demo.app_context():  # what the pages should show
        branch_id = db.session.scalar(select(User.branch_id).where(User.username == "branch01"))
        pending = db.session.scalar(select(MemberPost.id).join(Member, Member.id == MemberPost.member_id).where(
            Member.branch_id == branch_id, MemberPost.status == "pending"))
        last_month = date(FIXED_TODAY.year, FIXED_TODAY.month - 1, 1)
        of_branch = (Member.branch_id == branch_id, Member.status == "active")
        posts = count(MemberPost, MemberPost.member_id.in_(select(Member.id).where(*of_branch)),
                      MemberPost.status.in_(("confirmed", "ended")),
                      MemberPost.declared_on < FIXED_TODAY.replace(day=1),
                      MemberPost.ended_on.is_(None) | (MemberPost.ended_on > last_month))
        served = db.session.scalars(select(Member.name).join(MemberPost, MemberPost.member_id == Member.id)
                                    .join(PostService, PostService.member_post_id == MemberPost.id)
                                    .where(*of_branch, PostService.month == last_month)).all()
        case_id = db.session.scalar(select(RectificationCase.id).join(Member, Member.id == RectificationCase.member_id)
                                    .where(Member.branch_id == branch_id))
        team_id = db.session.scalar(select(VolunteerTeam.id).where(VolunteerTeam.dissolved_on.is_(None))
                                    .order_by(VolunteerTeam.id))
        team = db.session.scalars(select(Member.name).join(TeamMembership, TeamMembership.member_id == Member.id)
                                  .where(TeamMembership.team_id == team_id, TeamMembership.left_on.is_(None))).all()
        proposed = db.session.scalar(select(Member.name).join(RectificationCase,
                                                              RectificationCase.member_id == Member.id)
                                     .join(Proposal, Proposal.case_id == RectificationCase.id))
        db.session.remove()

    for username, paths in PAGES:
        client = signed_in(demo, username)
        for path in paths:
            resp = client.get(path, follow_redirects=True)
            assert resp.status_code == 200 and resp.request.path != "/login", (username, path)
    # branch01: the branch's posts and households with member1's pending declaration, last month's duty
    # (most of it confirmed, some still to tick), the branch's case, the queries of its scope.
    client = signed_in(demo, "branch01")
    assert pending is not None
    assert f"/service/posts/{pending}/confirm" in client.get(f"/service/branches/{branch_id}").get_data(as_text=True)
    assert 0.2 * posts <= len(served) < posts
    page = client.get(f"/service/branches/{branch_id}/duty?month={last_month:%Y-%m}").get_data(as_text=True)
    assert all(name in page for name in served)
    assert case_id is not None and client.get(f"/cases/{case_id}").status_code == 200
    assert "垃圾分类督导" in client.get("/queries").get_data(as_text=True)
    # community1: a team with its members. street: the branch meeting's proposal waits for approval.
    page = signed_in(demo, "community1").get(f"/service/teams/{team_id}").get_data(as_text=True)
    assert team and all(name in page for name in team)
    assert proposed in signed_in(demo, "street").get("/approvals").get_data(as_text=True)
    assert demo.test_client().get("/board").status_code == 200


@pytest.mark.parametrize("day", [date(2026, 1, 3), date(2026, 12, 7)])
def test_other_days(make_app, day):
    """Loaded before last year's review (early January) or late in the year, the demo still holds every
    stage it can by that day: late in the year a case closed as rectified and the adjustment listed."""
    app = make_app(FIXED_TODAY=day)
    with app.app_context():
        truncate_all()
        load_demo(day)
        db.session.commit()
        try:
            period = figures.Period("year", day.year - 1)
            communities = list(db.session.scalars(select(Community.id)))
            f = figures.compute(db.session, scheme_for_year(period.year), list(db.session.scalars(select(Branch.id))),
                                communities, period, day)
            assert 0.9 <= f.total("posts").per_member.value <= 1.2 and 0.6 <= f.households_ratio.value <= 0.85
            assert len(f.teams) == sum(before for before, _new in TEAM_PLAN)
            assert count(PostService) > 300 and count(HouseholdVisit) > 100
            assert count(ResidentQuery) >= 2 and count(ResidentQuery, ResidentQuery.answered_at.is_(None)) == 1
            stages = Counter(db.session.execute(select(RectificationCase.status, RectificationCase.outcome)).all())
            if day.month == 1:  # before the review of last year: no case yet, no adjustment to this year
                assert not stages
            else:
                assert stages[("rectified", "rectified")] == 1 and stages[("proposed", "")] == 1
                assert stages[("open", "extended")] >= 1
                adjustment = db.session.scalar(select(PointEntry).where(PointEntry.adjusts_publication_id.isnot(None)))
                listing = db.session.scalar(select(Publication).join(
                    PublicationAdjustment, PublicationAdjustment.publication_id == Publication.id)
                    .where(PublicationAdjustment.entry_id == adjustment.id))
                assert listing.published_at > adjustment.recorded_at
                # This year's projected grades stay as a street expects them late in the year.
                f = figures.compute(db.session, scheme_for_year(day.year), list(db.session.scalars(select(Branch.id))),
                                    communities, figures.Period("year", day.year), day)
                assert 0.1 <= f.grades.total()["advanced"] / f.members <= 0.22
        finally:
            truncate_all()  # the module's demo fixture loads its own day again
