"""The scoring SQL layer: live entries, date ranges, type histories, and a constant number of queries."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, select

from qscore.db import db
from qscore.models import Member, MemberType, PointEntry, Publication
from qscore.scheme import Scheme, default_scheme_data
from qscore.scoring import (
    MissingTypeHistory, fetch_ledgers, fetch_type_histories, fetch_warning_months, member_warnings,
    score_and_warn, score_members, type_on,
)

S = Scheme.from_dict(default_scheme_data())
Y = 2026
DEC31 = date(Y, 12, 31)


def add_member(org, name: str, types=((date(2025, 1, 1), "A"),), on_roll_since=date(2025, 1, 1),
               status="active", left_roll_on=None) -> Member:
    m = Member(street_id=org.street_id, branch_id=org.branch_id, name=name, on_roll_since=on_roll_since,
               status=status, left_roll_on=left_roll_on)
    db.session.add(m)
    db.session.flush()
    for effective_from, code in types:
        db.session.add(MemberType(member_id=m.id, type_code=code, effective_from=effective_from))
    db.session.flush()
    return m


def add_entry(org, member: Member, code: str, earned_on: date, points=None, *, corrects: PointEntry | None = None,
              **kw) -> PointEntry:
    ind = S.indicators.get(code)
    e = PointEntry(member_id=member.id, branch_id=org.branch_id, year=earned_on.year, indicator_code=code,
                   category=kw.pop("category", ind.category if ind else "J"),
                   points=Decimal(str(points)) if points is not None else ind.points, earned_on=earned_on,
                   corrects_id=corrects.id if corrects else None,
                   source="correction" if corrects else "inline", **kw)
    db.session.add(e)
    db.session.flush()
    return e


@contextmanager
def count_queries():
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):  # transaction control (qscore/db.py), not a query
            statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def test_corrected_entry_and_its_correction_both_drop_out(app, org):
    with app.app_context():
        m = add_member(org, "张三")
        add_entry(org, m, "Z4", date(Y, 3, 1), 5)
        wrong = add_entry(org, m, "Z4", date(Y, 3, 2), 5)
        # a marker correction with 0 points: if either row counted, Z4 would be 10 or 15
        add_entry(org, m, "Z4", date(Y, 3, 2), 0, corrects=wrong)
        add_entry(org, m, "Z4", date(Y, 3, 2), 3)
        db.session.commit()
        ledger = fetch_ledgers(db.session, [m.id], Y, DEC31)[m.id]
        assert ledger.tenths == {("Z4", "Z", 3): 80}   # 8.0 points
        assert ledger.counts == {("Z4", "Z", 3): 2}
        score = score_members(db.session, S, Y, DEC31, [m])[m.id]
        assert score.z == Decimal("8.0")          # 5 + 3, below Z4's year cap 15
        assert not score.cap_reached("Z4")


def test_corrections_count_for_caps_vetoes_and_bars(app, org):
    with app.app_context():
        m = add_member(org, "李四")
        # J1 month cap 2: three entries in March, one corrected (by a negating correction) -> 2, cap reached
        # only by the live two
        for d in (3, 10):
            add_entry(org, m, "J1", date(Y, 3, d))
        extra = add_entry(org, m, "J1", date(Y, 3, 17))
        add_entry(org, m, "J1", date(Y, 3, 17), -1, corrects=extra)
        veto = add_entry(org, m, "V", date(Y, 4, 1), note="decision 12")
        add_entry(org, m, "V", date(Y, 4, 1), 0, corrects=veto)
        k4 = add_entry(org, m, "K4", date(Y, 5, 1), note="wrong member")
        add_entry(org, m, "K4", date(Y, 5, 1), 5, corrects=k4)
        db.session.commit()
        ledger = fetch_ledgers(db.session, [m.id], Y, DEC31)[m.id]
        assert ledger.counts == {("J1", "J", 3): 2}   # no V or K4 row left to veto or bar 'advanced'
        before = score_members(db.session, S, Y, DEC31, [m])[m.id]
        assert not before.veto
        assert before.score == Decimal("52.0")       # 50 + J1 2, no K4
        assert before.k == Decimal("0.0")
        assert not before.cap_reached("J1")   # as of Dec 31, March's month cap is not current
        assert ("month", "J1", 3) in [(h.scope, h.code, h.period) for h in before.caps_reached]
        # a live veto does zero it
        add_entry(org, m, "V", date(Y, 6, 1), note="decision 13")
        db.session.commit()
        after = score_members(db.session, S, Y, DEC31, [m])[m.id]
        assert after.veto and after.score == Decimal("0.0") and after.grade.code == "rectify"


def test_a_real_correction_restores_the_previous_score(app, org):
    with app.app_context():
        m = add_member(org, "王五", types=((date(2025, 1, 1), "B"),))
        for month in (1, 4, 7):
            add_entry(org, m, "Z2", date(Y, month, 5))
        db.session.commit()
        before = score_members(db.session, S, Y, DEC31, [m])[m.id]
        wrong = add_entry(org, m, "Z1", date(Y, 8, 1))
        db.session.commit()
        assert score_members(db.session, S, Y, DEC31, [m])[m.id].score == before.score + 2
        add_entry(org, m, "Z1", date(Y, 8, 1), -2, corrects=wrong)
        db.session.commit()
        assert score_members(db.session, S, Y, DEC31, [m])[m.id] == before


def test_late_entry_after_publication_counts_by_date_earned(app, org):
    with app.app_context():
        m = add_member(org, "赵六")
        add_entry(org, m, "J1", date(Y, 2, 5))
        pub = Publication(branch_id=org.branch_id, year=Y, quarter=1, published_at=datetime(Y, 4, 8, 2),
                          supervision_ends_on=date(Y, 4, 13), snapshot="[]", sha256="0" * 64)
        db.session.add(pub)
        db.session.flush()
        add_entry(org, m, "Z5", date(Y, 3, 20), recorded_at=datetime(Y, 5, 2, 1), adjusts_publication_id=pub.id,
                  note="suggestion adopted, found at the Q2 reconciliation")
        db.session.commit()
        q1_end = score_members(db.session, S, Y, date(Y, 3, 31), [m])[m.id]
        assert q1_end.quarter.as_strings() == {"J": "1.0", "Z": "2.0", "K": "0.0", "total": "3.0"}
        assert q1_end.score == Decimal("53.0")
        now = score_members(db.session, S, Y, date(Y, 5, 20), [m])[m.id]
        assert now.detail.quarters[0].z == Decimal("2.0")
        assert now.quarter.total == Decimal("0.0")   # Q2 has nothing


def test_date_range_is_half_open(app, org):
    with app.app_context():
        m = add_member(org, "钱七")
        add_entry(org, m, "Z7", date(Y - 1, 12, 31), 8)
        add_entry(org, m, "J2", date(Y, 1, 1))
        add_entry(org, m, "Z2", date(Y, 5, 20))
        add_entry(org, m, "Z5", date(Y, 5, 21))
        add_entry(org, m, "Z4", date(Y, 12, 31), 5)
        add_entry(org, m, "Z7", date(Y + 1, 1, 1), 3)
        db.session.commit()

        def codes(as_of):
            return sorted(k[0] for k in fetch_ledgers(db.session, [m.id], Y, as_of)[m.id].tenths)

        assert codes(date(Y, 5, 20)) == ["J2", "Z2"]
        assert codes(date(Y, 5, 21)) == ["J2", "Z2", "Z5"]
        assert codes(DEC31) == ["J2", "Z2", "Z4", "Z5"]
        assert codes(date(Y + 1, 6, 1)) == ["J2", "Z2", "Z4", "Z5"]
        assert codes(date(Y - 1, 12, 31)) == []
        first = fetch_ledgers(db.session, [m.id], Y, DEC31)[m.id].first_dates
        assert first[("Z4", "Z", 12)] == date(Y, 12, 31)


def test_type_history_ordering(app, org):
    with app.app_context():
        # rows inserted out of date order; two on Jun 1: the later row (B) wins
        m = add_member(org, "孙八", types=((date(Y, 6, 1), "C"), (date(2025, 1, 1), "A"), (date(Y, 6, 1), "B")))
        db.session.commit()
        history = fetch_type_histories(db.session, [m.id])[m.id]
        assert history == [(date(2025, 1, 1), "A"), (date(Y, 6, 1), "C"), (date(Y, 6, 1), "B")]
        assert type_on(history, date(Y, 7, 1)) == "B"
        score = score_members(db.session, S, Y, DEC31, [m])[m.id]
        assert score.base == Decimal("52.9")         # (5*50 + 7*55)/12 = 52.916...
        assert score.type_code == "B"


def test_member_without_type_record_is_an_error(app, org):
    with app.app_context():
        m = add_member(org, "周九", types=())
        db.session.commit()
        try:
            score_members(db.session, S, Y, DEC31, [m])
        except MissingTypeHistory:
            pass
        else:
            raise AssertionError("expected MissingTypeHistory")


def _populate(org, start: int, n: int) -> None:
    for i in range(start, start + n):
        m = add_member(org, f"成员{i}", types=((date(2025, 1, 1), "ABCD"[i % 4]), (date(Y, 7, 1), "ABCD"[(i + 1) % 4])))
        add_entry(org, m, "J1", date(Y, 1 + i % 5, 3))
        add_entry(org, m, "Z2", date(Y, 2, 3))
        add_entry(org, m, "K1", date(Y, 3, 3), -2)
    db.session.commit()


def test_whole_branch_scoring_uses_a_constant_number_of_queries(app, org):
    with app.app_context():
        _populate(org, 0, 3)
        members = db.session.scalars(select(Member)).all()
        with count_queries() as small:
            scores = score_members(db.session, S, Y, date(Y, 5, 20), members)
        assert len(scores) == 3

        _populate(org, 3, 40)
        members = db.session.scalars(select(Member)).all()
        with count_queries() as large:
            scores = score_members(db.session, S, Y, date(Y, 5, 20), members)
        assert len(scores) == 43
        assert len(large) == len(small) == 2
        # each member scored from their own rows: J1 1 + Z2 1 - 2 on top of the base
        for m in members:
            s = scores[m.id]
            assert s.j == Decimal("1.0") and s.z == Decimal("1.0") and s.k == Decimal("-2.0")

        with count_queries() as warnings_queries:
            warnings = member_warnings(db.session, S, date(Y, 5, 20), members)
        # one read of the stored year sums per year the 12-month window touches, whatever the number of members
        assert len(warnings_queries) == 2 and len(warnings) == 43


def test_score_and_warn_reads_the_year_once_and_answers_as_the_two_reads_do(app, org):
    with app.app_context():
        _populate(org, 0, 5)
        m = db.session.scalars(select(Member)).first()
        for d in (date(Y, 4, 6), date(Y, 5, 4)):  # with _populate's K1 in March: a three-month streak
            add_entry(org, m, "K1", d, -3, note="absent")
        db.session.commit()
        members = db.session.scalars(select(Member)).all()
        day = date(Y, 5, 20)  # after every entry: the stored rows answer
        with count_queries() as apart:
            scores = score_members(db.session, S, Y, day, members)
            warnings = member_warnings(db.session, S, day, members)
        with count_queries() as together:
            both = score_and_warn(db.session, S, Y, day, members)
        assert both == (scores, warnings)
        assert warnings[m.id] and [w.key for w in warnings[m.id]] == ["warning_absence_streak"]
        assert len(apart) == 4  # this year's rows twice, last year's, the type histories
        assert len(together) == 3
        assert score_and_warn(db.session, S, Y, day, []) == ({}, {})
        # An answer to a write: every member scored (for the totals), one member's warnings worked out.
        for one in (m, members[-1]):
            some_scores, some_warnings = score_and_warn(db.session, S, Y, day, members, warn=[one.id])
            assert some_scores == scores and some_warnings == {one.id: warnings[one.id]}
        assert score_and_warn(db.session, S, Y, day, members, warn=[]) == (scores, {})


def test_fetch_ledgers_accepts_a_select_of_member_ids(app, org):
    with app.app_context():
        _populate(org, 0, 4)
        other = add_member(org, "别支部")
        other.branch_id = org.other_branch_id
        add_entry(org, other, "Z5", date(Y, 1, 9))
        db.session.commit()
        ids = select(Member.id).where(Member.branch_id == org.branch_id)
        with count_queries() as queries:
            ledgers = fetch_ledgers(db.session, ids, Y, DEC31)
        assert len(queries) == 1
        assert len(ledgers) == 4 and other.id not in ledgers
        assert fetch_type_histories(db.session, ids).keys() == ledgers.keys()


def test_warning_months_span_a_year_end(app, org):
    with app.app_context():
        m = add_member(org, "吴十")
        for d in (date(Y - 1, 11, 4), date(Y - 1, 12, 2), date(Y, 1, 6)):
            add_entry(org, m, "K1", d, -3, note="absent")
        wrong = add_entry(org, m, "K2", date(Y, 1, 6), note="paid after all")
        add_entry(org, m, "K2", date(Y, 1, 6), 2, corrects=wrong)
        db.session.commit()
        months = fetch_warning_months(db.session, S, [m.id], date(Y, 1, 20))[m.id]
        assert months.absence == {(Y - 1, 11), (Y - 1, 12), (Y, 1)}
        assert months.arrears == set()
        warnings = member_warnings(db.session, S, date(Y, 1, 20), [m])[m.id]
        assert [(w.key, w.params["start"]) for w in warnings] == [("warning_absence_streak", f"{Y - 1}-11")]
