"""The red-flag branch index: the scheme's weights and definitions, on hand-built data."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from qscore.db import db
from qscore.models import Leave, Meeting, PointEntry, Publication, ResidentQuery
from qscore.scheme import Scheme, default_scheme_data
from qscore.scoring import (BRANCH_INDEX_COMPONENTS, BranchIndexInputs, MemberLedger, branch_index, branch_indices,
                            fetch_branch_index_inputs, rank_branch_indices, review_flags)

from .conftest import make_member

S = Scheme.from_dict(default_scheme_data())
W = S.branch_index_weights
Y = 2025
TODAY = date(2026, 5, 20)


def D(s: str) -> Decimal:
    return Decimal(s)


# ---------------------------------------------------------------------------------------------
# The pure function
# ---------------------------------------------------------------------------------------------

def test_the_default_weights_are_the_schemes():
    assert W == {"average_member_score_share": D("0.4"), "attendance_rate": D("0.2"), "dues_on_time_rate": D("0.15"),
                 "on_time_publication_share": D("0.15"), "queries_answered_share": D("0.1")}
    assert set(W) == set(BRANCH_INDEX_COMPONENTS)


def test_index_by_hand():
    inputs = BranchIndexInputs(
        member_scores=((D("90.0"), D("120.0")), (D("60.0"), D("100.0"))),   # shares 3/4 and 3/5: mean 27/40
        attended=45, expected=50,           # 9/10
        dues_paid=30, member_quarters=40,   # 3/4
        published_on_time=3, publications_due=4,  # 3/4
        queries_answered=1, queries_received=2,   # 1/2
    )
    bi = branch_index(W, inputs, branch_id=7)
    assert bi.components == {"average_member_score_share": Fraction(27, 40), "attendance_rate": Fraction(9, 10),
                             "dues_on_time_rate": Fraction(3, 4), "on_time_publication_share": Fraction(3, 4),
                             "queries_answered_share": Fraction(1, 2)}
    # 0.4 x 0.675 + 0.2 x 0.9 + 0.15 x 0.75 + 0.15 x 0.75 + 0.1 x 0.5 = 0.27 + 0.18 + 0.1125 + 0.1125 + 0.05
    assert bi.index == Fraction("0.725")
    assert bi.rounded() == D("0.725") and bi.rounded("average_member_score_share", 2) == D("0.68")
    assert bi.branch_id == 7 and bi.inputs is inputs


def test_nothing_to_measure():
    bi = branch_index(W, BranchIndexInputs())
    assert bi.components["average_member_score_share"] == 0   # no graded member
    assert bi.components["attendance_rate"] == 0               # no organisational life hosted
    assert bi.components["dues_on_time_rate"] == 0             # nobody on the roll
    assert bi.components["on_time_publication_share"] == 1     # nothing due yet
    assert bi.components["queries_answered_share"] == 1        # "1 when none were received"
    assert bi.index == Fraction("0.25")


def test_attendance_is_not_capped_and_unknown_weights_count_nothing():
    bi = branch_index({"attendance_rate": D("1")}, BranchIndexInputs(attended=12, expected=10))
    assert bi.index == Fraction(6, 5)  # guests credited at the host count there, as defined
    bi = branch_index({"attendance_rate": D("0.5"), "volunteer_hours": D("0.5")}, BranchIndexInputs(attended=1, expected=2))
    assert bi.index == Fraction(1, 4)


def test_a_perfect_branch_scores_one():
    inputs = BranchIndexInputs(member_scores=((D("120.0"), D("120.0")),), attended=10, expected=10, dues_paid=4,
                               member_quarters=4, published_on_time=4, publications_due=4)
    assert branch_index(W, inputs).index == 1


def test_ranking_tie_break_is_score_share_then_branch_id():
    a = branch_index({"attendance_rate": D("0.5"), "average_member_score_share": D("0.5")},
                     BranchIndexInputs(member_scores=((D("50"), D("100")),), attended=1, expected=2), branch_id=3)
    b = branch_index({"attendance_rate": D("0.5"), "average_member_score_share": D("0.5")},
                     BranchIndexInputs(member_scores=((D("100"), D("100")),), attended=0, expected=2), branch_id=4)
    c = branch_index({"attendance_rate": D("0.5"), "average_member_score_share": D("0.5")},
                     BranchIndexInputs(member_scores=((D("50"), D("100")),), attended=1, expected=2), branch_id=2)
    top = branch_index(W, BranchIndexInputs(member_scores=((D("1"), D("1")),), attended=1, expected=1), branch_id=9)
    assert a.index == b.index == c.index == Fraction(1, 2)
    assert [(r, x.branch_id) for r, x in rank_branch_indices([a, b, c, top])] == [(1, 9), (2, 4), (3, 2), (4, 3)]


def test_review_flags_by_role():
    ledger = MemberLedger()
    for m in (1, 2, 3, 5, 6):
        ledger.add("K1", "K", date(Y, m, 10), D("-2"))
    for m in range(3, 9):
        ledger.add("K2", "K", date(Y, m, 10), D("-2"))
    ledger.add("K4", "K", date(Y, 9, 3), D("-5"))
    ledger.add("K4", "K", date(Y, 4, 3), D("-5"))
    flags = review_flags(S, ledger)
    assert flags.absence_run == (3, 1, 3) and flags.arrears_run == (6, 3, 8)
    assert flags.heavier == (("K4", date(Y, 4, 3)),) and flags.vetoes == ()
    assert flags.run_label(flags.arrears_run, Y) == ("2025-03", "2025-08")
    assert review_flags(S, ledger, last_month=5).arrears_run == (3, 3, 5)


# ---------------------------------------------------------------------------------------------
# The SQL fetch
# ---------------------------------------------------------------------------------------------

def entry(member, code, day, points=None, branch_id=None, **kw) -> PointEntry:
    ind = S.indicators[code]
    e = PointEntry(member_id=member.id, branch_id=branch_id or member.branch_id, year=day.year, indicator_code=code,
                   category=ind.category, points=D(str(points if points is not None else ind.points)), earned_on=day,
                   note="x", **kw)
    db.session.add(e)
    db.session.flush()
    return e


def test_fetch_counts_exactly_what_the_scheme_defines(app, org):
    with app.app_context():
        b1, b2 = org.branch_id, org.other_branch_id
        # Branch 1: two type D members (max 105), one member who came in November (not graded).
        m1 = make_member(b1, "甲", "D")
        m2 = make_member(b1, "乙", "D")
        late = make_member(b1, "丙", "D", on_roll_since=date(Y, 11, 1))
        guest = make_member(b2, "丁", "C")  # from branch 2, attends branch 1's organisational life
        left = make_member(b1, "戊", "D", status="transferred_out", left_roll_on=date(Y, 8, 15))
        # m2: 20 basic points
        for month in (2, 5, 8, 11):
            for code in ("J3", "J5", "J6", "J7"):
                entry(m2, code, date(Y, month, 10))
        entry(m2, "J4", date(Y, 3, 10))
        entry(m2, "J4", date(Y, 9, 10))
        # Organisational life of branch 1: two meetings expecting 2 and 3.
        mt1 = Meeting(branch_id=b1, held_on=date(Y, 3, 5), kind="org_life", indicator_code="J1", expected_count=2)
        mt2 = Meeting(branch_id=b1, held_on=date(Y, 11, 5), kind="org_life", indicator_code="J1", expected_count=3)
        study = Meeting(branch_id=b1, held_on=date(Y, 4, 5), kind="study", indicator_code="J2", expected_count=3)
        next_year = Meeting(branch_id=b1, held_on=date(Y + 1, 1, 5), kind="org_life", indicator_code="J1", expected_count=3)
        db.session.add_all([mt1, mt2, study, next_year])
        db.session.flush()
        entry(m1, "J1", date(Y, 3, 5), meeting_id=mt1.id)
        entry(m2, "J1", date(Y, 3, 5), meeting_id=mt1.id)
        entry(guest, "J1", date(Y, 3, 5), meeting_id=mt1.id, host_branch_id=b1)  # flexible attendance: counts at b1
        wrong = entry(m1, "J1", date(Y, 11, 5), meeting_id=mt2.id)
        entry(m1, "J1", date(Y, 11, 5), 0, meeting_id=mt2.id, corrects_id=wrong.id)  # corrected: not live
        entry(m2, "J1", date(Y, 11, 5), meeting_id=mt2.id)
        entry(m2, "J2", date(Y, 4, 5), meeting_id=study.id)  # a study session is not organisational life
        entry(m2, "K1", date(Y, 11, 5), -2, meeting_id=mt2.id)  # absence is not attendance
        # Dues: member-quarters on branch 1's roll at each quarter end: m1, m2, left (Q1, Q2); m1, m2 (Q3);
        # m1, m2, late (Q4) = 11; paid: m2 every quarter (above), m1 Q1, left Q2, late Q4 = 7
        entry(m1, "J3", date(Y, 2, 10))
        entry(left, "J3", date(Y, 5, 10))
        entry(late, "J3", date(Y, 12, 1))
        # Publications of branch 1: Q1 on time, Q2 late, Q3 on day 30, Q4 retracted and republished late.
        tz = "Asia/Shanghai"
        pubs = [(1, datetime(Y, 4, 20, 2)), (2, datetime(Y, 8, 15, 2)), (3, datetime(Y, 10, 30, 15, 59)),
                (4, datetime(Y + 1, 1, 10, 2)), (4, datetime(Y + 1, 2, 10, 2))]
        for i, (q, at) in enumerate(pubs):
            db.session.add(Publication(branch_id=b1, year=Y, quarter=q, snapshot="[]", sha256="0" * 64,
                                       supervision_ends_on=at.date(), published_at=at,
                                       retracted_at=at if i == 3 else None))
        # Residents' queries of branch 1: two in the year (one answered), one of the year before.
        pub = Publication(branch_id=b1, year=Y - 1, quarter=4, snapshot="[]", sha256="0" * 64,
                          supervision_ends_on=date(Y, 1, 20), published_at=datetime(Y, 1, 10))
        db.session.add(pub)
        db.session.flush()
        for created, answered in ((datetime(Y, 5, 1), datetime(Y, 5, 3)), (datetime(Y, 6, 1), None),
                                  (datetime(Y - 1, 12, 31, 15, 0), None)):  # 2024-12-31 23:00 in Shanghai
            db.session.add(ResidentQuery(publication_id=pub.id, branch_id=b1, question="?", created_at=created,
                                         answered_at=answered))
        db.session.add(Leave(member_id=m1.id, kind="leave", starts_on=date(Y, 6, 1), ends_on=date(Y, 6, 30)))
        db.session.commit()

        inputs = fetch_branch_index_inputs(db.session, S, Y, TODAY, [b1, b2], tz)
        i1 = inputs[b1]
        # m1: 65 + J1 + J3 = 67; m2: 65 + 20 (capped) - 2 = 83
        assert sorted(i1.member_scores) == [(D("67.0"), D("105.0")), (D("83.0"), D("105.0"))]
        assert (i1.attended, i1.expected) == (4, 5)       # m1, m2, guest at mt1; m2 at mt2
        assert (i1.dues_paid, i1.member_quarters) == (7, 11)
        assert (i1.published_on_time, i1.publications_due) == (2, 4)  # Q1, and Q3 on its 30th day (local time)
        assert (i1.queries_answered, i1.queries_received) == (1, 2)
        i2 = inputs[b2]
        assert i2.member_scores == ((D("61.0"), D("110.0")),) and (i2.attended, i2.expected) == (0, 0)
        assert (i2.dues_paid, i2.member_quarters) == (0, 4) and i2.publications_due == 4
        assert (i2.queries_answered, i2.queries_received) == (0, 0)

        indices = branch_indices(db.session, S, Y, TODAY, [b1, b2], tz)
        F = Fraction
        expected = (F("0.4") * (F(67, 105) + F(83, 105)) / 2 + F("0.2") * F(4, 5) + F("0.15") * F(7, 11)
                    + F("0.15") * F(2, 4) + F("0.1") * F(1, 2))
        assert indices[b1].index == expected
        assert indices[b2].index == Fraction(D("0.4")) * Fraction(61, 110) + Fraction(D("0.1"))
        assert [bi.branch_id for _r, bi in rank_branch_indices(indices.values())] == [b1, b2]


def test_publications_not_yet_due_and_a_year_in_progress(app, org):
    with app.app_context():
        m = make_member(org.branch_id, "甲", "A")
        entry(m, "J3", date(2026, 2, 1))
        db.session.commit()
        # On 2026-04-30 Q1's 30 days have not passed (they end on that day); Q1 has ended for dues.
        i = fetch_branch_index_inputs(db.session, S, 2026, date(2026, 4, 30), [org.branch_id])[org.branch_id]
        assert i.publications_due == 0 and (i.dues_paid, i.member_quarters) == (1, 1)
        i = fetch_branch_index_inputs(db.session, S, 2026, date(2026, 5, 1), [org.branch_id])[org.branch_id]
        assert (i.published_on_time, i.publications_due) == (0, 1)
        assert branch_index(W, i).components["on_time_publication_share"] == 0
        assert fetch_branch_index_inputs(db.session, S, 2026, date(2026, 5, 1), []) == {}
