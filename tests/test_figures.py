"""The figures (qscore/figures.py) on small hand-made data, the figures page's scope rules, and the workbook."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from markupsafe import escape
from openpyxl import load_workbook

from qscore import figures as F
from qscore.db import db
from qscore.models import (BranchSpell, Household, Meeting, Member, MemberPost, MemberType, PointEntry, PostKind,
                           Publication, ResidentQuery, ReviewGrade, TeamMembership, VolunteerTeam, YearReview)
from qscore.scheme_versions import scheme_for_year

from .conftest import FIXED_TODAY, make_member

Q1 = F.Period("quarter", 2026, 1)
Q2 = F.Period("quarter", 2026, 2)
Y2026 = F.Period("year", 2026)


def add(member: Member, code: str, on: date, points="1", *, category: str | None = None, meeting: Meeting | None = None,
        host: int | None = None, quantity=None, corrects: PointEntry | None = None, branch_id: int | None = None):
    """A ledger row written directly (hand-built data: the figures only read the ledger)."""
    cat = category or code[0]
    e = PointEntry(member_id=member.id, branch_id=branch_id or member.branch_id, year=on.year, indicator_code=code,
                   category=cat, points=Decimal(points), quantity=Decimal(quantity) if quantity is not None else None,
                   earned_on=on, source="inline", meeting_id=meeting.id if meeting else None, host_branch_id=host,
                   corrects_id=corrects.id if corrects else None)
    db.session.add(e)
    db.session.flush()
    return e


def correct(e: PointEntry) -> PointEntry:
    return add(db.session.get(Member, e.member_id), e.indicator_code, e.earned_on, str(-e.points),
               category=e.category, corrects=e, quantity=-e.quantity if e.quantity is not None else None)


def meeting(branch_id: int, on: date, kind: str = "org_life", expected: int = 0, code: str = "J1") -> Meeting:
    m = Meeting(branch_id=branch_id, held_on=on, kind=kind, indicator_code=code, topic="t", expected_count=expected)
    db.session.add(m)
    db.session.flush()
    return m


def transfer(member: Member, to_branch: int, on: date) -> None:
    spell = db.session.scalars(db.select(BranchSpell).where(BranchSpell.member_id == member.id,
                                                          BranchSpell.ends_on.is_(None))).one()
    spell.ends_on = on
    db.session.add(BranchSpell(member_id=member.id, branch_id=to_branch, starts_on=on))
    member.branch_id = to_branch
    db.session.flush()


def scheme():
    return scheme_for_year(2026)


def compute(ids, period=Q1, community_ids=(), branch_level=False):
    return F.compute(db.session, scheme(), ids, community_ids, period, FIXED_TODAY, branch_level=branch_level)


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, kind, start, last", [
    ("2026", "year", date(2026, 1, 1), date(2026, 12, 31)),
    ("2026-Q2", "quarter", date(2026, 4, 1), date(2026, 6, 30)),
    ("2026-q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
    ("2026-02", "month", date(2026, 2, 1), date(2026, 2, 28)),
])
def test_period_parse(text, kind, start, last):
    p = F.Period.parse(text)
    assert (p.kind, p.start, p.last) == (kind, start, last)
    assert F.Period.parse(p.key) == p


@pytest.mark.parametrize("text", ["", "26", "2026-Q5", "2026-13", "2026-00", "abcd", "2026-1"])
def test_period_parse_refuses(text):
    assert F.Period.parse(text) is None


def test_period_as_of():
    assert Q1.as_of(FIXED_TODAY) == date(2026, 3, 31)
    assert Q2.as_of(FIXED_TODAY) == FIXED_TODAY
    assert F.Period("quarter", 2026, 3).as_of(FIXED_TODAY) is None


def test_ratio_percent_rounds_half_up():
    assert F.Ratio(189, 250).percent() == Decimal("75.6")
    assert F.Ratio(1, 8).percent() == Decimal("12.5")
    assert F.Ratio(1, 16).percent() == Decimal("6.3")
    assert F.Ratio(0, 0).percent() is None


# ---------------------------------------------------------------------------------------------
# Each figure's definition
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def data(org, ctx):
    """Three members of the first branch and one of its re-employment sibling."""
    d = type("D", (), {})()
    d.org = org
    d.a = make_member(org.branch_id, "张伟", "A")
    d.b = make_member(org.branch_id, "李娜", "B")
    d.c = make_member(org.branch_id, "王秀英", "D")
    d.s = make_member(org.sibling_branch_id, "赵强", "C")
    db.session.commit()
    return d


def test_members_by_type_uses_the_type_in_force_at_the_period_end(data):
    db.session.add(MemberType(member_id=data.a.id, type_code="C", effective_from=date(2026, 4, 1), reason="lost job"))
    db.session.flush()
    ids = [data.org.branch_id]
    assert compute(ids, Q1).type_counts() == {"A": 1, "B": 1, "C": 0, "D": 1}
    assert compute(ids, Q2).type_counts() == {"A": 0, "B": 1, "C": 1, "D": 1}
    lines = F.member_lines(db.session, "types", scheme(), ids, Q2, FIXED_TODAY)
    assert {line.name: line.value for line in lines} == {"张伟": "C", "李娜": "B", "王秀英": "D"}


def test_type_before_the_first_record_is_the_type_at_joining(data):
    late = make_member(data.org.branch_id, "孙丽", "B", on_roll_since=date(2026, 2, 1))
    db.session.query(MemberType).filter_by(member_id=late.id).update({"effective_from": date(2026, 3, 1)})
    db.session.flush()
    assert compute([data.org.branch_id], Q1).type_counts()["B"] == 2


def test_participation_counts_live_z_entries_in_the_period(data):
    add(data.a, "Z4", date(2026, 2, 3), "3")
    wrong = add(data.b, "Z5", date(2026, 3, 1), "2")
    correct(wrong)                                   # corrected: no longer counts
    add(data.c, "J1", date(2026, 3, 2))              # basic requirement, not playing a role
    add(data.c, "Z2", date(2026, 4, 2))              # next quarter
    fig = compute([data.org.branch_id], Q1)
    t = fig.total("participation")
    assert (t.hits, t.members) == (1, 3)
    assert t.rate.percent() == Decimal("33.3")
    lines = F.member_lines(db.session, "participation", scheme(), [data.org.branch_id], Q1, FIXED_TODAY)
    assert [line.name for line in lines if line.counted] == ["张伟"]
    assert compute([data.org.branch_id], Q2).total("participation").hits == 1


def test_transfer_mid_period_counts_in_the_branch_at_the_period_end(data):
    add(data.a, "Z4", date(2026, 1, 10), "3")        # earned in the first branch
    transfer(data.a, data.org.sibling_branch_id, date(2026, 2, 15))
    fig = compute([data.org.branch_id, data.org.sibling_branch_id], Q1)
    assert (fig.participation[data.org.branch_id].hits, fig.participation[data.org.branch_id].members) == (0, 2)
    assert (fig.participation[data.org.sibling_branch_id].hits,
            fig.participation[data.org.sibling_branch_id].members) == (1, 2)
    # Before the transfer (January) the member counts in the first branch.
    jan = compute([data.org.branch_id, data.org.sibling_branch_id], F.Period("month", 2026, 1))
    assert jan.participation[data.org.branch_id].hits == 1
    assert jan.type_counts(data.org.branch_id)["A"] == 1
    assert jan.type_counts(data.org.sibling_branch_id)["A"] == 0


def test_members_who_left_the_roll_are_not_counted(data):
    data.b.status, data.b.left_roll_on = "deceased", date(2026, 3, 10)
    newcomer = make_member(data.org.branch_id, "周杰", "A", on_roll_since=date(2026, 4, 1))
    add(newcomer, "Z4", date(2026, 4, 5), "3")
    db.session.flush()
    assert compute([data.org.branch_id], Q1).members == 2
    assert compute([data.org.branch_id], F.Period("month", 2026, 3)).members == 2
    assert compute([data.org.branch_id], F.Period("month", 2026, 2)).members == 3
    q2 = compute([data.org.branch_id], Q2)
    assert (q2.members, q2.total("participation").hits) == (3, 1)


def test_attendance_counts_flexible_attendance_at_the_host(data):
    host = meeting(data.org.branch_id, date(2026, 3, 5), expected=3)   # a, b present, c absent
    add(data.a, "J1", host.held_on, meeting=host, host=data.org.branch_id)
    add(data.b, "J1", host.held_on, meeting=host, host=data.org.branch_id)
    add(data.s, "J1", host.held_on, meeting=host, host=data.org.branch_id)   # a guest from the sibling
    add(data.c, "K1", host.held_on, "-2", meeting=host)                       # absent: not an attendee
    study = meeting(data.org.branch_id, date(2026, 3, 12), kind="study", expected=3, code="J2")
    add(data.a, "J2", study.held_on, meeting=study)                           # not organisational life
    home = meeting(data.org.sibling_branch_id, date(2026, 3, 20), expected=2)
    wrong = add(data.s, "J1", home.held_on, meeting=home, host=data.org.sibling_branch_id)
    correct(wrong)                                                            # undone: not an attendee
    ids = [data.org.branch_id, data.org.sibling_branch_id]
    fig = compute(ids, Q1)
    assert fig.attendance[data.org.branch_id] == F.Ratio(3, 3)
    assert fig.attendance[data.org.sibling_branch_id] == F.Ratio(0, 2)
    assert fig.total("attendance") == F.Ratio(3, 5)
    assert fig.total("attendance").percent() == Decimal("60.0")
    lines = F.member_lines(db.session, "attendance", scheme(), [data.org.branch_id], Q1, FIXED_TODAY)
    assert sorted(line.name for line in lines) == sorted(["张伟", "李娜", "赵强"])
    # The guest is counted where they attended, not at home.
    only_home = compute([data.org.sibling_branch_id], Q1)
    assert only_home.total("attendance") == F.Ratio(0, 2)
    by_month = F.attendance_by_month(db.session, F.Window(tuple(ids), date(2026, 1, 1), date(2026, 5, 20)), scheme())
    assert by_month == {(2026, 3): F.Ratio(3, 5)}


def test_dues_are_member_quarters_on_the_roll_at_each_quarter_end(data):
    add(data.a, "J3", date(2026, 2, 1))
    add(data.b, "J3", date(2026, 3, 31))
    late = add(data.c, "J3", date(2026, 4, 2))          # paid in Q2: Q1 is unpaid
    newcomer = make_member(data.org.branch_id, "周杰", "A", on_roll_since=date(2026, 4, 1))
    add(newcomer, "J3", date(2026, 4, 3))
    fig = compute([data.org.branch_id], Q1)
    assert fig.dues_quarters == [(2026, 1)]
    assert fig.total("dues") == F.Ratio(2, 3)
    year = compute([data.org.branch_id], Y2026)            # Q2 has not ended on 2026-05-20
    assert year.dues_quarters == [(2026, 1)] and year.total("dues") == F.Ratio(2, 3)
    assert compute([data.org.branch_id], Q2).total("dues") == F.Ratio()
    march = compute([data.org.branch_id], F.Period("month", 2026, 2))   # a month reads its quarter
    assert march.total("dues") == F.Ratio(2, 3)
    lines = F.member_lines(db.session, "dues", scheme(), [data.org.branch_id], Q1, FIXED_TODAY)
    assert {line.name: line.counted for line in lines} == {"张伟": True, "李娜": True, "王秀英": False}
    assert late.id


def test_attendance_and_dues_agree_with_the_branch_index(data):
    """scheme.default.json: the branch index's attendance and dues rates are the figures page's."""
    from qscore import scoring
    host = meeting(data.org.branch_id, date(2026, 3, 5), expected=3)
    add(data.a, "J1", host.held_on, meeting=host, host=data.org.branch_id)
    add(data.s, "J1", host.held_on, meeting=host, host=data.org.branch_id)
    later = meeting(data.org.branch_id, date(2026, 5, 6), expected=3)
    add(data.b, "J1", later.held_on, meeting=later, host=data.org.branch_id)
    add(data.a, "J3", date(2026, 2, 1))
    ids = [data.org.branch_id, data.org.sibling_branch_id]
    inputs = scoring.fetch_branch_index_inputs(db.session, scheme(), 2026, FIXED_TODAY, ids)
    fig = compute(ids, Y2026)
    for b in ids:
        att = fig.attendance.get(b, F.Ratio())
        assert (att.num, att.den) == (inputs[b].attended, inputs[b].expected)
        d = fig.dues.get(b, F.Ratio())
        assert (d.num, d.den) == (inputs[b].dues_paid, inputs[b].member_quarters)


def _post_kind(org, name="楼栋长") -> PostKind:
    k = PostKind(community_id=org.community_id, name=name)
    db.session.add(k)
    db.session.flush()
    return k


def test_posts_and_households_count_confirmed_declarations_in_force(data):
    kinds = [_post_kind(data.org, n) for n in ("楼栋长", "环境监督", "治安巡逻", "政策宣传", "关爱热线")]
    on = date(2026, 1, 5)
    for k in kinds[:3]:
        db.session.add(MemberPost(member_id=data.a.id, post_kind_id=k.id, declared_on=on, status="confirmed"))
    db.session.add(MemberPost(member_id=data.a.id, post_kind_id=kinds[3].id, declared_on=on, status="pending"))
    db.session.add(MemberPost(member_id=data.b.id, post_kind_id=kinds[3].id, declared_on=on, status="rejected"))
    db.session.add(MemberPost(member_id=data.b.id, post_kind_id=kinds[4].id, declared_on=on, status="ended",
                              ended_on=date(2026, 3, 1)))
    db.session.add(MemberPost(member_id=data.c.id, post_kind_id=kinds[4].id, declared_on=date(2026, 4, 10),
                              status="confirmed"))
    for label, member in (("3-201", data.a), ("3-202", data.a), ("5-101", data.b)):
        db.session.add(Household(member_id=member.id, label=label, declared_on=on, status="confirmed"))
    db.session.add(Household(member_id=data.c.id, label="7-301", declared_on=on, status="pending"))
    db.session.flush()
    fig = compute([data.org.branch_id], Q1)
    posts = fig.total("posts")
    assert (int(posts.total), posts.hits) == (3, 1)              # b's post ended on Mar 1, c's came in April
    assert fig.pending == {"posts": 1, "households": 1}
    assert fig.households_ratio == F.Ratio(3, 3)
    feb = compute([data.org.branch_id], F.Period("month", 2026, 2))
    assert int(feb.total("posts").total) == 4
    q2 = compute([data.org.branch_id], Q2)
    assert (int(q2.total("posts").total), q2.total("posts").hits) == (4, 2)


def test_households_relative_to_members_reads_the_seeds_76_percent():
    assert F.Ratio(189, 250).percent() == Decimal("75.6")


def test_teams_in_force_and_their_sizes(data):
    def team(name, founded, dissolved=None, community=None):
        t = VolunteerTeam(community_id=community or data.org.community_id, name=name, founded_on=founded,
                          dissolved_on=dissolved)
        db.session.add(t)
        db.session.flush()
        return t
    patrol = team("平安巡逻队", date(2025, 3, 1))
    green = team("环境志愿队", date(2025, 5, 1), dissolved=date(2026, 3, 1))
    team("助老服务队", date(2026, 4, 15))
    team("和平志愿队", date(2025, 1, 1), community=data.org.other_community_id)
    for m in (data.a, data.s):
        db.session.add(TeamMembership(team_id=patrol.id, member_id=m.id, joined_on=date(2025, 3, 1)))
    db.session.add(TeamMembership(team_id=patrol.id, member_id=data.b.id, joined_on=date(2025, 3, 1),
                                  left_on=date(2026, 2, 1)))
    db.session.add(TeamMembership(team_id=green.id, member_id=data.b.id, joined_on=date(2025, 5, 1)))
    db.session.flush()
    community = compute([data.org.branch_id, data.org.sibling_branch_id], Q1, [data.org.community_id])
    assert [(t.name, t.size) for t in community.teams] == [("平安巡逻队", 2)]
    jan = compute([data.org.branch_id, data.org.sibling_branch_id], F.Period("month", 2026, 1),
                  [data.org.community_id])
    assert sorted((t.name, t.size) for t in jan.teams) == [("平安巡逻队", 3), ("环境志愿队", 1)]
    assert len(compute([data.org.branch_id], Q2, [data.org.community_id]).teams) == 2
    # A branch sees the community's teams its members belong to, and the members in a team.
    sibling = compute([data.org.sibling_branch_id], Q1, [data.org.community_id], branch_level=True)
    assert [(t.name, t.in_scope) for t in sibling.teams] == [("平安巡逻队", 1)]
    assert sibling.total("team_members").hits == 1


def test_charity_rate_and_volunteer_hours(data):
    day = meeting(data.org.branch_id, date(2026, 3, 10), kind="charity", code="Z7")
    add(data.a, "Z7", day.held_on, meeting=day)
    add(data.s, "Z7", day.held_on, meeting=day)                   # a member of another branch
    add(data.b, "Z7", date(2026, 3, 11))                          # a commendation, not the charity day
    add(data.a, "Z3", date(2026, 2, 1), "1", quantity="2")
    add(data.b, "Z3", date(2026, 3, 1), "0.8", quantity="1.5")
    wrong = add(data.c, "Z3", date(2026, 3, 2), "2", quantity="4")
    correct(wrong)
    add(data.c, "Z3", date(2026, 4, 2), "1", quantity="2")        # next quarter
    fig = compute([data.org.branch_id], Q1)
    assert fig.total("charity").rate == F.Ratio(1, 3)
    assert fig.total("hours").total == Decimal("3.5")
    assert fig.total("hours").hits == 2
    both = compute([data.org.branch_id, data.org.sibling_branch_id], Q1)
    assert both.total("charity").rate == F.Ratio(2, 4)


def test_average_score_and_bands_by_type(data):
    add(data.a, "Z4", date(2026, 2, 3), "5")        # A: base 50 + 5
    add(data.b, "J1", date(2026, 2, 3), "1")        # B: 55 + 1
    other_b = make_member(data.org.branch_id, "刘洋", "B")
    add(other_b, "K3", date(2026, 2, 4), "-3")      # B: 55 - 3
    fig = compute([data.org.branch_id], Q1)
    assert fig.scores.average("A") == Decimal("55.0")
    assert fig.scores.average("B") == Decimal("54.0")
    assert fig.scores.average("D") == Decimal("65.0")
    assert fig.scores.average() == Decimal("57.0")   # (55 + 56 + 52 + 65) / 4
    assert fig.scores.bands["A"] == [1, 0, 0, 0, 0] and fig.scores.bands["D"] == [0, 1, 0, 0, 0]


def test_grades_confirmed_where_the_review_is_confirmed_else_suggested(data):
    review = YearReview(branch_id=data.org.branch_id, year=2025, status="confirmed")
    db.session.add(review)
    db.session.flush()
    for m, g in ((data.a, "advanced"), (data.b, "qualified"), (data.c, "rectify")):
        db.session.add(ReviewGrade(review_id=review.id, member_id=m.id, grade=g, suggested="qualified"))
    db.session.add(YearReview(branch_id=data.org.sibling_branch_id, year=2025, status="draft"))
    db.session.flush()
    ids = [data.org.branch_id, data.org.sibling_branch_id]
    fig = compute(ids, F.Period("year", 2025))
    assert fig.grades.counts[data.org.branch_id] == {"advanced": 1, "qualified": 1, "rectify": 1}
    assert sum(fig.grades.counts[data.org.sibling_branch_id].values()) == 1     # suggested for the sibling
    assert fig.grades.source(ids) == "mixed"
    assert fig.grades.source([data.org.branch_id]) == "confirmed"
    assert compute(ids, Y2026).grades.source(ids) == "suggested"
    lines = F.member_lines(db.session, "grades", scheme(), [data.org.branch_id], F.Period("year", 2025), FIXED_TODAY)
    assert {line.name: line.value for line in lines} == {"张伟": "advanced", "李娜": "qualified", "王秀英": "rectify"}


def _publication(branch_id: int) -> Publication:
    p = Publication(branch_id=branch_id, year=2026, quarter=1, supervision_ends_on=date(2026, 4, 20), snapshot="[]",
                    sha256="0" * 64, published_at=datetime(2026, 4, 10, 2, 0))
    db.session.add(p)
    db.session.flush()
    return p


def test_queries_received_and_answered_in_street_time(data):
    pub = _publication(data.org.branch_id)
    # 2026-03-31 17:00 UTC is 2026-04-01 01:00 in Shanghai: received in Q2.
    for at, answered in ((datetime(2026, 3, 31, 17, 0), None), (datetime(2026, 3, 31, 15, 0), datetime(2026, 4, 2)),
                         (datetime(2026, 4, 12, 3, 0), datetime(2026, 4, 13))):
        db.session.add(ResidentQuery(publication_id=pub.id, branch_id=data.org.branch_id, question="?", created_at=at,
                                     answered_at=answered))
    db.session.flush()
    assert compute([data.org.branch_id], Q1).queries_total == (1, 1)
    assert compute([data.org.branch_id], Q2).queries_total == (2, 1)


def test_trend_month_by_month(data):
    add(data.a, "Z4", date(2026, 1, 3), "3")
    add(data.a, "Z4", date(2026, 2, 3), "3")
    add(data.b, "Z5", date(2026, 2, 9), "2")
    m = meeting(data.org.branch_id, date(2026, 2, 5), expected=3)
    for who in (data.a, data.b):
        add(who, "J1", m.held_on, meeting=m, host=data.org.branch_id)
    points = F.trend(db.session, scheme(), [data.org.branch_id], F.months_ending(Y2026), FIXED_TODAY)
    assert [(p.month, p.participation.num, p.participation.den) for p in points] == [
        (1, 1, 3), (2, 2, 3), (3, 0, 3), (4, 0, 3), (5, 0, 3)]
    assert points[1].attendance == F.Ratio(2, 3) and points[0].attendance == F.Ratio()
    assert F.months_ending(F.Period("month", 2026, 2), 3) == [(2025, 12), (2026, 1), (2026, 2)]


# ---------------------------------------------------------------------------------------------
# The figures page: scope rules, members behind a figure, the workbook, the report
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def street(org, app):
    """A few members and entries in three branches of two communities; a member account."""
    with app.app_context():
        a = make_member(org.branch_id, "张伟", "A")
        b = make_member(org.branch_id, "李娜", "B")
        s = make_member(org.sibling_branch_id, "赵强", "C")
        o = make_member(org.other_branch_id, "陈静", "D")
        add(a, "Z4", date(2026, 2, 3), "3")
        add(s, "Z5", date(2026, 3, 3), "2")
        add(o, "Z4", date(2026, 1, 9), "3")
        host = meeting(org.branch_id, date(2026, 3, 5), expected=2)
        add(a, "J1", host.held_on, meeting=host, host=org.branch_id)
        add(s, "J1", host.held_on, meeting=host, host=org.branch_id)
        add(a, "J3", date(2026, 2, 1))
        org.user("member", "member", member_id=b.id)
        db.session.commit()
    return org


def test_members_may_not_read_figures(client, auth, street):
    auth.login("member")
    assert client.get("/stats").status_code == 403
    assert client.get("/stats/export.xlsx").status_code == 403


@pytest.mark.parametrize("user, scope, status", [
    ("bs", "", 200), ("bs", "branch-{branch_id}", 200), ("bs", "branch-{sibling_branch_id}", 404),
    ("bs", "community-{community_id}", 404), ("bs", "street", 404),
    ("cs", "", 200), ("cs", "community-{community_id}", 200), ("cs", "branch-{sibling_branch_id}", 200),
    ("cs", "community-{other_community_id}", 404), ("cs", "branch-{other_branch_id}", 404), ("cs", "street", 404),
    ("admin", "street", 200), ("admin", "community-{other_community_id}", 200), ("admin", "branch-{other_branch_id}", 200),
    ("admin", "branch-999", 404), ("admin", "nonsense", 404),
])
def test_scope_rules(client, auth, street, user, scope, status):
    auth.login(user)
    key = scope.format(**{k: getattr(street, k) for k in ("branch_id", "sibling_branch_id", "community_id",
                                                           "other_community_id", "other_branch_id")})
    assert client.get(f"/stats?scope={key}").status_code == status
    assert client.get(f"/stats/members?scope={key}&figure=participation").status_code == status
    assert client.get(f"/stats/export.xlsx?scope={key}").status_code == status


@pytest.mark.parametrize("period, status", [
    ("2026", 200), ("2026-Q1", 200), ("2026-05", 200), ("2025+2026", 200), ("2026-Q3", 404), ("2026-07", 404),
    ("2024+2026", 404), ("2026-Q1+2026", 404), ("junk", 404),
])
def test_periods(client, auth, street, period, status):
    auth.login("admin")
    assert client.get("/stats", query_string={"period": period}).status_code == status


def test_default_scope_is_the_viewers_and_figures_follow_it(client, auth, street):
    auth.login("bs")
    client.set_cookie("qscore_lang", "en")
    page = client.get("/stats?period=2026-Q1").get_data(as_text=True)
    assert "第一党支部" in page
    assert "1 of 2 members with a playing-a-role entry" in page                  # 张伟 of 张伟, 李娜
    assert "2 attendances of 2 expected" in page                               # the guest counts at the host
    auth.logout()
    auth.login("admin")
    page = client.get("/stats?period=2026-Q1").get_data(as_text=True)
    assert "3 of 4 members with a playing-a-role entry" in page
    assert "Branches compared" in page
    # Every figure shows its definition on hover.
    for name in ("participation", "attendance", "dues", "households", "charity", "hours"):
        assert f'title="{escape(F.DEFINITIONS[name])}"' in page, name


def test_the_page_and_its_fragment(client, auth, street):
    auth.login("admin")
    r = client.get("/stats?period=2026", headers={"HX-Request": "true"})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in body and 'id="figures"' in body
    assert "HX-Request" in r.headers["Vary"]
    assert '<svg class="chart-svg"' in body and 'role="img"' in body and "<title id=" in body
    full = client.get("/stats?period=2026").get_data(as_text=True)
    assert "<html" in full and 'name="scope"' in full


def test_members_behind_a_figure_stay_in_scope(client, auth, street):
    auth.login("bs")
    r = client.get("/stats/members?figure=participation&period=2026-Q1")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "张伟" in page and "李娜" not in page and "赵强" not in page
    page = client.get("/stats/members?figure=participation&period=2026-Q1&show=not").get_data(as_text=True)
    assert "李娜" in page and "张伟" not in page
    page = client.get("/stats/members?figure=attendance&period=2026-Q1").get_data(as_text=True)
    assert "张伟" in page and "赵强" in page          # the guest is behind the host's attendance
    assert client.get("/stats/members?figure=bogus").status_code == 404
    assert client.get("/stats/members?figure=participation&show=bogus").status_code == 404
    r = client.get("/stats/members?figure=participation&period=2026-Q1&format=xlsx")
    ws = load_workbook(io.BytesIO(r.data)).active
    assert [row[2] for row in ws.iter_rows(min_row=3, values_only=True)] == ["张伟"]


def test_export_workbook_cells(client, auth, street):
    auth.login("admin")
    client.set_cookie("qscore_lang", "en")
    r = client.get("/stats/export.xlsx?scope=street&period=2026-Q1")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["Summary", "Branches", "Types", "Grades", "Trend", "Teams"]
    summary = {row[0]: row for row in wb["Summary"].iter_rows(min_row=4, values_only=True)}
    assert summary["Members on the roll"][1] == 4
    assert summary["Participation rate (%)"][1:4] == (75.0, 3, 4)
    assert summary["Attendance at organisational life (%)"][1:4] == (100.0, 2, 2)
    assert summary["Dues paid on time (%)"][1:4] == (25.0, 1, 4)
    assert summary["Participation rate (%)"][4] == F.DEFINITIONS["participation"]
    branches = {row[1]: row for row in wb["Branches"].iter_rows(min_row=2, values_only=True)}
    assert branches["第一党支部"][2:7] == (2, 50.0, 100.0, 2, 2)
    assert branches["再就业党支部"][3] == 100.0 and branches["再就业党支部"][4] is None
    types = {row[0]: row for row in wb["Types"].iter_rows(min_row=2, values_only=True)}
    assert (types["Type 1"][1], types["Type 1"][2]) == (1, 55)       # base 50 + Z4 3 + J1 1 + J3 1
    assert types["All"][1] == 4
    trend = list(wb["Trend"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in trend][-1] == "2026-03" and trend[-1][1:4] == (25.0, 1, 4)


def test_export_two_years_side_by_side(client, auth, street):
    auth.login("admin")
    client.set_cookie("qscore_lang", "en")
    wb = load_workbook(io.BytesIO(client.get("/stats/export.xlsx?period=2025%2B2026").data))
    assert wb["Summary"]["B3"].value == "2025" and wb["Summary"]["C3"].value == "2026"
    assert "Branches 2025" in wb.sheetnames and "Branches 2026" in wb.sheetnames


def test_quarterly_report(client, auth, street):
    auth.login("admin")
    client.set_cookie("qscore_lang", "en")
    r = client.get("/stats/report")                                     # the last ended quarter
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "2026 Q1" in page and "75.0%" in page
    assert client.get("/stats/report?period=2026").status_code == 404
    assert client.get("/stats/report?period=2026-Q3").status_code == 404
