"""The demo street: `flask qscore demo` loads a realistic, deterministic street, and only into a
database without real data."""
from __future__ import annotations

import time
from collections import Counter, defaultdict
from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from qscore import create_app
from qscore.db import db
from qscore.demo import DEMO_PASSWORD, _Builder, demo_accounts, is_real_data_present, load_demo
from qscore.models import (Branch, BranchSpell, Community, Leave, Meeting, Member, MemberType, PointEntry,
                           SelfRecord, Street, User)
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import round_half_up, score_members

from .conftest import FIXED_TODAY, truncate_all


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


@pytest.fixture
def demo(_demo_app):
    """The demo loaded by the CLI; reloaded if a test in between emptied the database."""
    with _demo_app.app_context():
        loaded = db.session.scalar(select(Street.id).where(Street.demo.is_(True)))
        db.session.remove()
        if loaded is None:
            truncate_all()
            started = time.perf_counter()
            result = _demo_app.test_cli_runner().invoke(args=["qscore", "demo"])
            _demo_app.config["_demo_load_seconds"] = time.perf_counter() - started
            _demo_app.config["_demo_output"] = result.output
            assert result.exit_code == 0, result.output
    with _demo_app.app_context():
        yield _demo_app
        db.session.remove()


def test_command_loads_the_street(demo):
    out = demo.config["_demo_output"]
    assert "qscore-demo" in out
    for username, role, _scope in demo_accounts():
        assert username in out and role in out
    assert demo.config["_demo_load_seconds"] < 10

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
    def snapshot() -> tuple[list, list]:
        members = db.session.execute(select(Member.name, Member.booklet_no, Member.on_roll_since).order_by(Member.id))
        entries = db.session.execute(select(PointEntry.indicator_code, PointEntry.points, PointEntry.earned_on)
                                     .order_by(PointEntry.id))
        return [tuple(r) for r in members], [tuple(r) for r in entries]

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
    assert runner.invoke(args=["qscore", "demo"]).exit_code == 0
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
