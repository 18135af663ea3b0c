"""The self-record service (qscore/self_records.py) without a request: a member writes an item, a secretary
confirms it into the ledger or rejects it. Every refusal names its field or status and writes nothing."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from qscore import self_records
from qscore.db import db
from qscore.models import AuditLog, Member, PointEntry, Publication, SelfRecord, User, YearReview
from qscore.scheme_versions import ensure_year
from qscore.self_records import SelfRecordError, SelfRecordRefused

from .conftest import FIXED_TODAY, make_member

TODAY = FIXED_TODAY  # 2026-05-20


@pytest.fixture
def s(app, org):
    """In an app context and no request: 张三 (type B) with their own account, the branch secretary, and 赵书记,
    a secretary whose account is linked to their own member record."""
    with app.app_context():
        m = make_member(org.branch_id, "张三", "B", on_roll_since=date(2021, 3, 1))
        own = make_member(org.branch_id, "赵书记", "A")
        account = User(username="m1", display_name="张三", password_hash="x", role="member", street_id=org.street_id,
                       branch_id=org.branch_id, member_id=m.id)
        db.session.add(account)
        secretary = db.session.get(User, org.branch_secretary_id)
        secretary.member_id = own.id
        ensure_year(2026)  # the year's scheme, which the first ledger entry of a year would create
        db.session.commit()
        yield SimpleNamespace(member=m, account=account, secretary=secretary, own=own,
                              other=db.session.get(User, org.other_secretary_id),
                              community=db.session.get(User, org.community_secretary_id), org=org)


def written() -> tuple:
    """What the database holds now, in this session (flushed rows count): records, entries, audit rows."""
    return (db.session.scalar(select(func.count()).select_from(SelfRecord)),
            db.session.scalar(select(func.count()).select_from(PointEntry)),
            db.session.scalar(select(func.count()).select_from(AuditLog)),
            tuple(db.session.execute(select(SelfRecord.id, SelfRecord.status).order_by(SelfRecord.id)).all()))


def item(member: Member, code: str = "J5", earned_on: date = date(2026, 5, 8), quantity=None,
         note: str = "整理了学习笔记") -> SelfRecord:
    sr = SelfRecord(member_id=member.id, indicator_code=code, earned_on=earned_on, note=note,
                    quantity=Decimal(quantity) if quantity is not None else None, created_by_id=None)
    db.session.add(sr)
    db.session.commit()
    return sr


GOOD = dict(indicator_code="J5", earned_on=date(2026, 5, 8), hours=None, note="整理了学习笔记")


# ---------------------------------------------------------------------------------------------
# The member writes an item
# ---------------------------------------------------------------------------------------------

def test_the_member_adds_a_pending_item_flushed_not_committed(s):
    before = written()
    sr = self_records.add(s.member, **{**GOOD, "note": "  整理了学习笔记 "}, by=s.account, today=TODAY)
    assert sr.id is not None
    assert (sr.status, sr.origin, sr.note, sr.created_by_id, sr.quantity) == ("pending", "member", "整理了学习笔记",
                                                                            s.account.id, None)
    audit = db.session.scalar(select(AuditLog).where(AuditLog.action == "self_record_added"))
    assert audit.user_id == s.account.id and audit.member_id == s.member.id
    db.session.rollback()  # the caller commits: nothing is committed here
    assert written() == before


def test_hours_are_kept_with_the_item(s):
    sr = self_records.add(s.member, **{**GOOD, "indicator_code": "Z3", "hours": Decimal("2.5")}, by=s.account,
                          today=TODAY)
    assert sr.quantity == Decimal("2.5")


@pytest.mark.parametrize(("changes", "field", "key"), [
    ({"indicator_code": "X9"}, "indicator", "indicator_unknown"),
    ({"indicator_code": None}, "indicator", "indicator_unknown"),
    ({"indicator_code": "K1"}, "indicator", "deduction"),
    ({"indicator_code": "V"}, "indicator", "deduction"),
    ({"hours": Decimal("2")}, "hours", "not_in_hours"),
    ({"indicator_code": "Z3"}, "hours", "hours_required"),
    ({"earned_on": date(2026, 5, 21)}, "earned_on", "date_in_future"),
    ({"earned_on": date(2024, 12, 31)}, "earned_on", "date_too_early"),
    ({"earned_on": None}, "earned_on", "date_required"),
    ({"note": "   "}, "note", "note_required"),
    ({"note": "长" * 501}, "note", "note_too_long"),
])
def test_each_rule_of_an_item_is_refused_on_its_field_and_writes_nothing(s, changes, field, key):
    before = written()
    with pytest.raises(SelfRecordRefused) as refused:
        self_records.add(s.member, **{**GOOD, **changes}, by=s.account, today=TODAY)
    assert (refused.value.status, list(refused.value.errors)) == (422, [field])
    assert refused.value.errors[field].key == key
    assert written() == before


def test_a_date_before_the_roll_is_refused(app, org):
    with app.app_context():
        m = make_member(org.branch_id, "新党员", "B", on_roll_since=date(2026, 4, 1))
        account = User(username="new", display_name="新党员", password_hash="x", role="member",
                       street_id=org.street_id, branch_id=org.branch_id, member_id=m.id)
        db.session.add(account)
        db.session.commit()
        with pytest.raises(SelfRecordRefused) as refused:
            self_records.add(m, **{**GOOD, "earned_on": date(2026, 3, 31)}, by=account, today=TODAY)
        assert refused.value.errors["earned_on"].key == "before_roll"
        assert refused.value.texts(lambda t: t) == {
            "earned_on": "The member came onto the roll on 2026-04-01; the date earned cannot be earlier."}


def test_last_year_is_open_until_its_review_is_confirmed(s):
    last_year = {**GOOD, "earned_on": date(2025, 12, 20)}
    assert self_records.add(s.member, **last_year, by=s.account, today=TODAY).id
    db.session.add(YearReview(branch_id=s.org.branch_id, year=2025, status="confirmed"))
    db.session.flush()
    before = written()
    with pytest.raises(SelfRecordRefused) as refused:
        self_records.add(s.member, **last_year, by=s.account, today=TODAY)
    assert refused.value.errors["earned_on"].key == "date_too_early" and written() == before


def test_every_refused_field_is_named_at_once(s):
    with pytest.raises(SelfRecordRefused) as refused:
        self_records.add(s.member, indicator_code="K1", earned_on=None, hours=None, note="", by=s.account,
                         today=TODAY)
    assert set(refused.value.errors) == {"indicator", "earned_on", "note"}


@pytest.mark.parametrize("who", ["secretary", "community", "other"])
def test_only_the_member_writes_in_their_booklet(s, who):
    before = written()
    with pytest.raises(SelfRecordError) as refused:
        self_records.add(s.member, **GOOD, by=getattr(s, who), today=TODAY)
    assert (refused.value.key, refused.value.status) == ("not_own", 403) and written() == before


def test_a_member_off_the_roll_writes_nothing(s):
    s.member.status = "transferred_out"
    db.session.flush()
    before = written()
    with pytest.raises(SelfRecordError) as refused:
        self_records.add(s.member, **GOOD, by=s.account, today=TODAY)
    assert (refused.value.key, refused.value.status) == ("not_on_roll", 409) and written() == before


def test_problems_names_what_the_rules_say_of_the_values_a_form_accepted(s):
    history = self_records.check_may_add(s.member, s.account)
    found = self_records.problems(s.member, history, indicator_code="K1", earned_on=date(2026, 6, 1), hours=None,
                                  today=TODAY)
    assert {k: e.key for k, e in found.items()} == {"indicator": "deduction", "earned_on": "date_in_future"}
    assert self_records.problems(s.member, history, indicator_code="J5", earned_on=None, hours=None,
                                 today=TODAY) == {}  # a date the form refused is the form's to say


# ---------------------------------------------------------------------------------------------
# A secretary confirms it
# ---------------------------------------------------------------------------------------------

def test_a_secretary_confirms_an_item_into_the_ledger(s):
    sr = item(s.member, "Z3", quantity="3", note="清扫楼道")
    entry = self_records.confirm(sr, s.member, reason="", points=None, by=s.community, today=TODAY)
    assert (entry.member_id, entry.indicator_code, entry.points, entry.quantity, entry.source, entry.self_record_id,
            entry.recorded_by_id, entry.note) == (s.member.id, "Z3", Decimal("1.5"), Decimal("3"), "self_record",
                                                  sr.id, s.community.id, "清扫楼道")
    db.session.refresh(sr)
    assert (sr.status, sr.decided_by_id) == ("confirmed", s.community.id) and sr.decided_at is not None
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"entry_added", "self_record_confirmed"} <= actions


def test_the_branch_values_an_item_with_options(s):
    sr = item(s.member, "Z7", note="获街道级好人好事表彰")
    assert self_records.confirm(sr, s.member, reason=None, points=Decimal("3"), by=s.community,
                                today=TODAY).points == Decimal("3")


def test_a_confirmation_in_a_published_quarter_carries_its_reason(s):
    db.session.add(Publication(branch_id=s.org.branch_id, year=2026, quarter=1, supervision_ends_on=date(2026, 4, 10),
                               snapshot="[]", sha256="0" * 64))
    db.session.commit()
    sr = item(s.member, earned_on=date(2026, 3, 20))
    entry = self_records.confirm(sr, s.member, reason=" 季度核对时本人外出，补记 ", points=None, by=s.community,
                                 today=TODAY)
    assert entry.note == "整理了学习笔记 · 季度核对时本人外出，补记" and entry.adjusts_publication_id is not None


@pytest.mark.parametrize(("setup", "reason", "points", "field", "key"), [
    ("published", "", None, "reason", "adjustment_needs_reason"),
    ("plain", "长" * 495, None, "reason", "reason_too_long"),
    ("z7", "", Decimal("2"), "points", "points_not_allowed"),
    ("future", "", None, "general", "date_in_future"),
])
def test_each_rule_of_a_confirmation_is_refused_on_its_field_and_writes_nothing(s, setup, reason, points, field,
                                                                                 key):
    if setup == "published":
        db.session.add(Publication(branch_id=s.org.branch_id, year=2026, quarter=1,
                                   supervision_ends_on=date(2026, 4, 10), snapshot="[]", sha256="0" * 64))
        db.session.commit()
    sr = item(s.member, "Z7" if setup == "z7" else "J5",
              earned_on={"published": date(2026, 3, 20), "future": date(2026, 5, 30)}.get(setup, date(2026, 5, 8)))
    before = written()
    with pytest.raises(SelfRecordRefused) as refused:
        self_records.confirm(sr, s.member, reason=reason, points=points, by=s.community, today=TODAY)
    assert list(refused.value.errors) == [field] and refused.value.errors[field].key == key
    assert written() == before


def test_a_ledger_refusal_after_the_checks_writes_nothing(s):
    sr = item(s.member)
    s.member.status = "transferred_out"  # the ledger takes no entry for a member off the roll
    db.session.flush()
    before = written()
    with pytest.raises(SelfRecordRefused) as refused:
        self_records.confirm(sr, s.member, reason="", points=None, by=s.community, today=TODAY)
    assert refused.value.errors["general"].key == "member_inactive" and written() == before


@pytest.mark.parametrize(("who", "key", "status"), [
    ("account", "not_secretary", 403),   # the member themselves
    ("own", "own_record", 403),          # a secretary on their own record
])
def test_who_may_not_decide_an_item(s, who, key, status):
    if who == "own":
        sr, member, by = item(s.own), s.own, s.secretary
    else:
        sr, member, by = item(s.member), s.member, s.account
    before = written()
    for decide in (lambda: self_records.confirm(sr, member, reason="", points=None, by=by, today=TODAY),
                   lambda: self_records.reject(sr, member, reason="不符", by=by)):
        with pytest.raises(SelfRecordError) as refused:
            decide()
        assert (refused.value.key, refused.value.status) == (key, status)
    assert written() == before


@pytest.mark.parametrize("first", ["confirm", "reject"])
def test_a_decided_item_is_not_decided_again(s, first):
    sr = item(s.member)
    if first == "confirm":
        self_records.confirm(sr, s.member, reason="", points=None, by=s.community, today=TODAY)
    else:
        self_records.reject(sr, s.member, reason="不符", by=s.community)
    db.session.commit()
    before = written()
    for decide in (lambda: self_records.confirm(sr, s.member, reason="", points=None, by=s.community, today=TODAY),
                   lambda: self_records.reject(sr, s.member, reason="不符", by=s.community)):
        with pytest.raises(SelfRecordError) as refused:
            decide()
        assert (refused.value.key, refused.value.status) == ("already_decided", 409)
    assert written() == before


def test_a_claim_lost_to_another_secretary_is_refused(s):
    """The record read as pending, decided meanwhile by someone else: the claim finds it taken (409)."""
    sr = item(s.member)
    db.session.execute(SelfRecord.__table__.update().where(SelfRecord.id == sr.id).values(status="rejected"))
    before = written()
    with pytest.raises(SelfRecordError) as refused:
        self_records.confirm(sr, s.member, reason="", points=None, by=s.community, today=TODAY)
    assert refused.value.status == 409 and written() == before


# ---------------------------------------------------------------------------------------------
# ... or rejects it
# ---------------------------------------------------------------------------------------------

def test_a_secretary_rejects_an_item_with_a_reason(s):
    sr = item(s.member)
    self_records.reject(sr, s.member, reason=" 本季度学习笔记未交支部查看 ", by=s.secretary)
    db.session.refresh(sr)
    assert (sr.status, sr.reject_reason, sr.decided_by_id) == ("rejected", "本季度学习笔记未交支部查看", s.secretary.id)
    assert db.session.scalar(select(AuditLog.summary).where(AuditLog.action == "self_record_rejected")).endswith(
        "本季度学习笔记未交支部查看")
    assert written()[1] == 0  # no ledger entry


@pytest.mark.parametrize(("reason", "key"), [("", "reject_reason_required"), ("  ", "reject_reason_required"),
                                             (None, "reject_reason_required"), ("长" * 501, "note_too_long")])
def test_a_rejection_needs_a_reason_of_at_most_500_characters(s, reason, key):
    sr = item(s.member)
    before = written()
    with pytest.raises(SelfRecordRefused) as refused:
        self_records.reject(sr, s.member, reason=reason, by=s.secretary)
    assert list(refused.value.errors) == ["reject_reason"] and refused.value.errors["reject_reason"].key == key
    assert written() == before
