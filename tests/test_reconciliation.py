"""The reconciliation service called directly, with no request: marks, 'all agree', booklet items, and the
refusals once the quarter is published (nothing written by a refusal)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, Branch, Reconciliation, SelfRecord, User
from qscore.publication import PublishError, publish
from qscore.reconciliation import (BookletItemRefused, ReconciliationError, add_booklet_item, booklet_item_choices,
                                   ensure_unpublished, quarter_data, quarter_member, reconcile, reconcile_all)
from qscore.scheme_versions import ensure_year

from .conftest import FIXED_TODAY, make_member

Y, Q = 2026, 1


@pytest.fixture
def svc(app, org):
    """An application context and no request: a branch of three on the roll at Q1's end, one who came after."""
    with app.app_context():
        ns = SimpleNamespace(
            zhang=make_member(org.branch_id, "张伟", "A"),
            li=make_member(org.branch_id, "李娜", "B", on_roll_since=date(2026, 2, 1)),
            wang=make_member(org.branch_id, "王秀英", "D"),
            late=make_member(org.branch_id, "新来的", "A", on_roll_since=date(2026, 4, 1)),
        )
        ensure_year(Y)
        db.session.commit()
        ns.branch = db.session.get(Branch, org.branch_id)
        ns.by = db.session.get(User, org.branch_secretary_id)
        ns.street_id = org.street_id
        yield ns


def written() -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Reconciliation, SelfRecord, AuditLog))


def marks(svc) -> dict[int, str]:
    return dict(db.session.execute(select(Reconciliation.member_id, Reconciliation.status).where(
        Reconciliation.branch_id == svc.branch.id, Reconciliation.year == Y, Reconciliation.quarter == Q)).all())


def pending_item(member, earned_on: date) -> None:
    db.session.add(SelfRecord(member_id=member.id, indicator_code="J2", earned_on=earned_on, note="学习"))
    db.session.flush()


def published(svc):
    """Q1 reconciled and published, as the branch meeting would."""
    reconcile_all(svc.branch, Y, Q, by=svc.by)
    return publish(branch=svc.branch, year=Y, quarter=Q, user=svc.by, today=FIXED_TODAY, meeting_on=date(2026, 4, 10),
                   present=3, total=3, chair="张书记", street_id=svc.street_id)


def test_the_quarter_is_the_roll_at_its_end_with_its_marks_and_pending_items(svc):
    pending_item(svc.zhang, date(2026, 3, 2))
    pending_item(svc.zhang, date(2026, 4, 2))  # after the quarter: not the quarter's to settle
    reconcile(svc.branch, Y, Q, svc.wang, "deferred", by=svc.by)
    data = quarter_data(svc.branch, Y, Q)
    assert [m.name for m in data.members] == ["李娜", "王秀英", "张伟"]  # pinyin order; 新来的 came after
    assert data.pending == {svc.zhang.id: 1}
    assert {mid: r.status for mid, r in data.recon.items()} == {svc.wang.id: "deferred"}
    assert set(data.scores) == {svc.zhang.id, svc.li.id, svc.wang.id}
    assert quarter_member(svc.branch, Y, Q, svc.late.id) is None
    assert quarter_member(svc.branch, Y, 2, svc.late.id) is svc.late


def test_a_mark_is_set_changed_and_taken_back_each_with_its_audit_row(svc):
    reconcile(svc.branch, Y, Q, svc.zhang, "agrees", by=svc.by)
    assert marks(svc) == {svc.zhang.id: "agrees"}
    reconcile(svc.branch, Y, Q, svc.zhang, "deferred", by=svc.by)
    row = db.session.scalar(select(Reconciliation))
    assert (row.status, row.recorded_by_id) == ("deferred", svc.by.id)
    reconcile(svc.branch, Y, Q, svc.zhang, "clear", by=svc.by)
    assert marks(svc) == {}
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "reconciled").order_by(AuditLog.id)).all()
    assert [(a.before, a.after, a.user_id, a.member_id) for a in audit] == [
        (None, "agrees", svc.by.id, svc.zhang.id), ("agrees", "deferred", svc.by.id, svc.zhang.id),
        ("deferred", "clear", svc.by.id, svc.zhang.id)]


@pytest.mark.parametrize("status", [None, "", "maybe", "AGREES"])
def test_a_status_not_on_the_buttons_is_refused_as_a_bad_request(svc, status):
    before = written()
    with pytest.raises(ReconciliationError) as refused:
        reconcile(svc.branch, Y, Q, svc.zhang, status, by=svc.by)
    assert (refused.value.key, refused.value.status) == ("status_unknown", 400)
    assert written() == before


def test_all_agree_marks_only_the_members_left_and_says_how_many(svc):
    reconcile(svc.branch, Y, Q, svc.wang, "deferred", by=svc.by)  # absent: reconciled later
    pending_item(svc.li, date(2026, 3, 2))  # something to settle first
    assert reconcile_all(svc.branch, Y, Q, by=svc.by) == 1
    assert marks(svc) == {svc.wang.id: "deferred", svc.zhang.id: "agrees"}
    [row] = db.session.scalars(select(AuditLog).where(AuditLog.action == "reconciled_all")).all()
    assert (row.after, row.user_id) == ({"agrees": [svc.zhang.id]}, svc.by.id)
    before = written()
    assert reconcile_all(svc.branch, Y, Q, by=svc.by) == 0  # the same click again changes nothing
    assert written() == before


def test_a_published_quarter_refuses_every_change_with_409(svc):
    pub = published(svc)
    with pytest.raises(PublishError) as refused:
        ensure_unpublished(svc.branch, Y, Q)
    assert (refused.value.key, refused.value.status, refused.value.publication) == ("already_published", 409, pub)
    assert "2026-Q1" in refused.value.text()
    before = written()
    with pytest.raises(PublishError):
        reconcile(svc.branch, Y, Q, svc.zhang, "clear", by=svc.by)
    with pytest.raises(PublishError):
        reconcile_all(svc.branch, Y, Q, by=svc.by)
    with pytest.raises(PublishError):
        add_booklet_item(svc.branch, Y, Q, svc.zhang, indicator_code="J2", earned_on=date(2026, 3, 2), hours=None,
                         note="手册记有学习", by=svc.by, today=FIXED_TODAY)
    assert written() == before
    ensure_unpublished(svc.branch, Y, 2)  # the next quarter is open


def test_a_booklet_item_becomes_a_pending_self_record(svc):
    sr = add_booklet_item(svc.branch, Y, Q, svc.zhang, indicator_code="Z3", earned_on=date(2026, 3, 2),
                          hours=Decimal("3"), note=" 手册记有志愿服务 3 小时 ", by=svc.by, today=FIXED_TODAY)
    assert (sr.member_id, sr.indicator_code, sr.quantity, sr.note, sr.status, sr.origin, sr.created_by_id) == (
        svc.zhang.id, "Z3", Decimal("3.0"), "手册记有志愿服务 3 小时", "pending", "reconciliation", svc.by.id)
    row = db.session.scalar(select(AuditLog).where(AuditLog.action == "booklet_item_added"))
    assert (row.object_id, row.member_id, row.user_id) == (sr.id, svc.zhang.id, svc.by.id)
    # It waits to be settled: the quarter shows it pending, and "all agree" leaves the member alone.
    assert quarter_data(svc.branch, Y, Q).pending == {svc.zhang.id: 1}


def test_a_booklet_item_is_one_of_the_quarters_indicators_for_the_type(svc):
    codes = [i.code for i in booklet_item_choices(svc.zhang, Y, Q)]
    assert "J1" in codes and "Z3" in codes and not {"K1", "K4", "V"} & set(codes)


ITEM = dict(indicator_code="J2", earned_on=date(2026, 3, 2), hours=None, note="手册记有学习")


@pytest.mark.parametrize(("member", "changes", "expected"), [
    ("zhang", {"indicator_code": None}, {"indicator": "indicator_required"}),
    ("zhang", {"indicator_code": "NOPE"}, {"indicator": "indicator_required"}),
    ("zhang", {"indicator_code": "K1"}, {"indicator": "indicator_required"}),  # a deduction is never the booklet's
    ("zhang", {"indicator_code": "V"}, {"indicator": "indicator_required"}),
    ("zhang", {"earned_on": date(2026, 4, 1)}, {"earned_on": "date_outside_quarter"}),
    ("zhang", {"earned_on": date(2025, 12, 31)}, {"earned_on": "date_outside_quarter"}),
    ("li", {"earned_on": date(2026, 1, 20)}, {"earned_on": "before_roll"}),
    ("zhang", {"earned_on": None}, {"earned_on": "date_required"}),
    ("zhang", {"note": "  "}, {"note": "note_required"}),
    ("zhang", {"note": "长" * 501}, {"note": "note_required"}),
    ("zhang", {"indicator_code": "Z3"}, {"hours": "hours_required"}),  # the scheme's rule for hour indicators
    ("zhang", {"indicator_code": "K1", "earned_on": date(2026, 5, 2), "note": ""},
     {"indicator": "indicator_required", "earned_on": "date_outside_quarter", "note": "note_required"}),
])
def test_a_wrong_booklet_item_names_each_wrong_field_and_writes_nothing(svc, member, changes, expected):
    before = written()
    with pytest.raises(BookletItemRefused) as refused:
        add_booklet_item(svc.branch, Y, Q, getattr(svc, member), **{**ITEM, **changes}, by=svc.by,
                         today=FIXED_TODAY)
    assert {f: e.key for f, e in refused.value.errors.items()} == expected
    assert refused.value.status == 422
    assert written() == before and not db.session.new


def test_the_messages_read_in_the_users_language(svc):
    with pytest.raises(BookletItemRefused) as refused:
        add_booklet_item(svc.branch, Y, Q, svc.li, **{**ITEM, "earned_on": date(2026, 1, 20)}, by=svc.by,
                         today=FIXED_TODAY)
    assert refused.value.texts(lambda s: s) == {"earned_on": "The member came onto the roll on 2026-02-01."}
    with pytest.raises(BookletItemRefused) as refused:
        add_booklet_item(svc.branch, Y, Q, svc.zhang, **{**ITEM, "earned_on": date(2026, 4, 1)}, by=svc.by,
                         today=FIXED_TODAY)
    assert refused.value.text() == "The date must fall in 2026-Q1."
