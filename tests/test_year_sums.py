"""The stored year sums scoring reads (qscore/scoring/year_sums.py) stay equal to the ledger through every
way an entry is written, answer an "as of" before a member's last entry from the ledger, and a row changed
behind the ledger's back is found by `flask qscore check-sums` and repaired by `rebuild-sums`."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, update

from qscore import ledger
from qscore.db import db
from qscore.models import LedgerYearSums, Member, PointEntry, User
from qscore.scheme_versions import ensure_year
from qscore.scoring import fetch_ledgers, ledgers_from_entries, score_members, year_sums

from .conftest import make_member

TODAY = date(2026, 6, 20)


@pytest.fixture
def members(ctx, org):
    ensure_year(2026)
    ids = [make_member(org.branch_id, name, t).id for name, t in (("张伟", "A"), ("李娜", "C"), ("王芳", "B"))]
    db.session.commit()
    return ids


def _secretary() -> User:
    return db.session.scalar(select(User).where(User.username == "bs"))


def _stored(member_id: int, year: int = 2026):
    text = db.session.scalar(select(LedgerYearSums.sums).where(LedgerYearSums.member_id == member_id,
                                                               LedgerYearSums.year == year))
    return year_sums.decode(text) if text else None


def _write_through_every_door(ids: list[int]) -> None:
    a, c, b = (db.session.get(Member, i) for i in ids)
    user = _secretary()
    # one at a time (inline), in a batch (a meeting), a correction, and a row added as an object
    first = ledger.record_entry(member=a, indicator_code="J1", value=None, earned_on=date(2026, 3, 5), note="",
                                user=user, today=TODAY).entry
    ledger.record_entry(member=a, indicator_code="K1", value=None, earned_on=date(2026, 5, 14), note="缺席",
                        user=user, today=TODAY)
    ledger.record_entries([ledger.NewEntry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 6, 2),
                                           note="", source="meeting") for m in (a, c, b)], user=user, today=TODAY)
    ledger.correct_entry(entry=first, reason="录入错误", user=user, today=TODAY)
    db.session.add(PointEntry(member_id=b.id, branch_id=b.branch_id, year=2026, indicator_code="Z3", category="Z",
                              points=2, quantity=2, earned_on=date(2026, 4, 9), note="巡逻"))
    db.session.commit()


def test_every_way_of_writing_keeps_the_stored_sums_equal_to_the_ledger(members):
    _write_through_every_door(members)
    a, c, b = members
    assert year_sums.check(db.session) == []
    end = date(2027, 1, 1)
    assert {m: _stored(m) for m in members} == ledgers_from_entries(db.session, members, 2026, end)
    # the corrected March point left the sums; the meeting's June point and the May deduction are in
    assert _stored(a).tenths == {("K1", "K", 5): -30, ("J1", "J", 6): 10}
    assert _stored(b).tenths == {("J1", "J", 6): 10, ("Z3", "Z", 4): 20}


def test_an_as_of_before_the_last_entry_is_answered_from_the_ledger(members):
    _write_through_every_door(members)
    a, c, b = members
    at_may = fetch_ledgers(db.session, members, 2026, date(2026, 5, 31))
    assert at_may[a].tenths == {("K1", "K", 5): -30}
    assert at_may[b].tenths == {("Z3", "Z", 4): 20}
    assert at_may[c].tenths == {}
    today = fetch_ledgers(db.session, members, 2026, TODAY)
    assert today[c].tenths == {("J1", "J", 6): 10}
    # a year with no entries, and a member with none: empty, not missing
    assert fetch_ledgers(db.session, members, 2025, date(2025, 12, 31)) == {m: year_sums.MemberLedger() for m in members}
    # the scores a secretary sees on 20 June count the June meeting
    scheme_scores = score_members(db.session, _scheme(), 2026, TODAY, [db.session.get(Member, c)])
    assert scheme_scores[c].j > 0


def _scheme():
    from qscore.scheme_versions import scheme_for_year
    return scheme_for_year(2026)


def test_a_row_changed_behind_the_ledgers_back_is_found_and_rebuilt(members, app):
    _write_through_every_door(members)
    a = members[0]
    db.session.execute(update(LedgerYearSums).where(LedgerYearSums.member_id == a).values(
        sums=year_sums.encode(year_sums.MemberLedger({("J1", "J", 6): 990}, {("J1", "J", 6): 1},
                                                     {("J1", "J", 6): date(2026, 6, 2)}))))
    db.session.commit()
    runner = app.test_cli_runner()
    found = runner.invoke(args=["qscore", "check-sums"])
    assert found.exit_code == 1 and f"member {a} 2026" in found.output and "rebuild-sums" in found.output
    rebuilt = runner.invoke(args=["qscore", "rebuild-sums"])
    assert rebuilt.exit_code == 0 and "3 member-years" in rebuilt.output
    assert runner.invoke(args=["qscore", "check-sums"]).exit_code == 0
    assert _stored(a).tenths == {("K1", "K", 5): -30, ("J1", "J", 6): 10}
    assert db.session.scalar(select(func.count()).select_from(LedgerYearSums)) == 3


def test_the_demo_streets_stored_sums_agree_with_its_ledger(ctx):
    from qscore.demo import load_demo

    load_demo(date(2026, 11, 20))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(LedgerYearSums)) > 300
    assert year_sums.check(db.session) == []
