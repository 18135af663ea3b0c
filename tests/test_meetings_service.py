"""The meeting service called directly, with no request: every rule, and a refused meeting writes nothing."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.meetings import AlreadyRecorded, MeetingInput, MeetingRefused, record_branch_meeting
from qscore.models import AuditLog, Branch, Leave, Meeting, PointEntry, SelfRecord, User
from qscore.scheme_versions import ensure_year

from .conftest import FIXED_TODAY, make_member

HELD_ON = date(2026, 5, 15)


def english(text: str, **params) -> str:
    """The notes in the source language (what a recorder using English writes into the ledger)."""
    return text % params if params else text


@pytest.fixture
def svc(app, org):
    """An application context and no request: the branch, its secretary and three members, and two outsiders."""
    with app.app_context():
        ns = SimpleNamespace(
            a=make_member(org.branch_id, "张伟", "A").id,
            c=make_member(org.branch_id, "李娜", "C").id,
            d=make_member(org.branch_id, "王秀英", "D").id,
            guest=make_member(org.sibling_branch_id, "赵强", "C").id,  # a re-employment branch: may attend
            far=make_member(org.other_branch_id, "陈静", "B").id,  # an ordinary branch: may not
        )
        ensure_year(2026)  # the year's scheme is stored (the first write of a year stores it, meeting or not)
        db.session.commit()
        ns.branch = db.session.get(Branch, org.branch_id)
        ns.by = db.session.get(User, org.branch_secretary_id)
        yield ns


def record(svc, statuses: dict, *, key: str = "m-100001", **fields):
    data = {"held_on": HELD_ON, "kind": "org_life", "indicator_code": "J1", "topic": "五月主题党日", "hours": None,
            "statuses": statuses, **fields}
    return record_branch_meeting(svc.branch, MeetingInput(**data), by=svc.by, today=FIXED_TODAY, key=key,
                                 gettext=english)


def written() -> tuple[int, ...]:
    """Rows of everything a meeting may write, as this transaction sees them (flushed rows count)."""
    return tuple(db.session.scalar(select(func.count()).select_from(m))
                 for m in (PointEntry, Meeting, Leave, SelfRecord, AuditLog))


def everyone(svc, status: str) -> dict[int, str]:
    return {m: status for m in (svc.a, svc.c, svc.d)}


def test_a_meeting_writes_every_line_in_one_go(svc):
    done = record(svc, {svc.a: "absent", svc.c: "attended", svc.d: "excused"}, leave_reasons={svc.d: " 住院 "},
                  guest_ids=[svc.guest, svc.far])
    assert (done.written, done.own_waiting) == (3, 0)
    entries = {e.member_id: e for e in db.session.scalars(select(PointEntry))}
    assert set(entries) == {svc.a, svc.c, svc.guest}  # the excused member has no entry; the outsider is left out
    assert (entries[svc.a].indicator_code, entries[svc.a].points) == ("K1", Decimal("-3.0"))
    assert entries[svc.a].note == "Unexcused absence: 五月主题党日"
    assert entries[svc.c].indicator_code == "J1" and entries[svc.c].host_branch_id == svc.branch.id
    assert entries[svc.guest].branch_id != svc.branch.id and entries[svc.guest].host_branch_id == svc.branch.id
    assert {e.meeting_id for e in entries.values()} == {done.meeting.id}
    assert {e.recorded_by_id for e in entries.values()} == {svc.by.id}
    assert (done.meeting.topic, done.meeting.expected_count, done.meeting.recorded_by_id) == ("五月主题党日", 2, svc.by.id)
    [leave] = db.session.scalars(select(Leave)).all()
    assert (leave.member_id, leave.starts_on, leave.ends_on, leave.reason) == (svc.d, HELD_ON, HELD_ON, "住院")
    actions = {(a.action, a.user_id) for a in db.session.scalars(select(AuditLog))}
    assert {("meeting_recorded", svc.by.id), ("leave_added", svc.by.id), ("entry_added", svc.by.id)} <= actions


@pytest.mark.parametrize(("fields", "field", "key"), [
    ({"kind": "party"}, "kind", "kind_unknown"),
    ({"topic": "   "}, "topic", "topic_required"),
    ({"topic": "长" * 201}, "topic", "too_long"),
    ({"indicator_code": None}, "indicator", "indicator_required"),
    ({"indicator_code": "NOPE"}, "indicator", "indicator_required"),
    ({"indicator_code": "K1"}, "indicator", "indicator_required"),  # a deduction is no meeting's to credit
    ({"indicator_code": "V"}, "indicator", "indicator_required"),
    ({"indicator_code": "Z3", "hours": None}, "hours", "hours_required"),
])
def test_a_wrong_field_refuses_the_meeting_and_writes_nothing(svc, fields, field, key):
    before = written()
    with pytest.raises(MeetingRefused) as refused:
        record(svc, everyone(svc, "attended"), **fields)
    assert {f: e.key for f, e in refused.value.field_errors.items()} == {field: key}
    assert refused.value.status == 422 and refused.value.member_errors == {}
    assert written() == before and not db.session.new


@pytest.mark.parametrize(("line", "extra", "key"), [
    ("", {}, "status_required"),  # organisational life takes everyone's attendance
    ("maybe", {}, "status_required"),
    ("excused", {}, "leave_reason_required"),  # no leave registered for the day, and no reason given
    ("excused", {"leave_reasons": "  "}, "leave_reason_required"),
    ("excused", {"leave_reasons": "长" * 501}, "too_long"),
    ("home", {"proofs": "居住地社区证明"}, "home_type_3_with_proof"),  # 张伟 is type 1
])
def test_a_wrong_line_refuses_the_meeting_and_writes_nothing(svc, line, extra, key):
    before = written()
    statuses = {**everyone(svc, "attended"), svc.a: line}
    with pytest.raises(MeetingRefused) as refused:
        record(svc, statuses, **{name: {svc.a: value} for name, value in extra.items()})
    assert {m: e.key for m, e in refused.value.member_errors.items()} == {svc.a: key}
    assert refused.value.field_errors == {}
    assert written() == before and not db.session.new


def test_attended_where_they_live_needs_the_proof(svc):
    statuses = {**everyone(svc, "attended"), svc.c: "home"}
    before = written()
    with pytest.raises(MeetingRefused) as refused:
        record(svc, statuses, proofs={svc.c: " "})
    assert {m: e.key for m, e in refused.value.member_errors.items()} == {svc.c: "home_type_3_with_proof"}
    assert written() == before
    record(svc, statuses, proofs={svc.c: "居住地社区开具证明"})
    [entry] = db.session.scalars(select(PointEntry).where(PointEntry.member_id == svc.c)).all()
    assert (entry.indicator_code, entry.note) == ("J1", "Attended where they live now: 居住地社区开具证明")
    assert entry.host_branch_id is None  # credited at home, not as a guest of this branch


def test_every_wrong_line_is_named_at_once(svc):
    with pytest.raises(MeetingRefused) as refused:
        record(svc, {svc.a: "excused", svc.c: "home", svc.d: ""})
    assert {m: e.key for m, e in refused.value.member_errors.items()} == {
        svc.a: "leave_reason_required", svc.c: "home_type_3_with_proof", svc.d: "status_required"}


def test_a_refusal_of_the_ledger_is_the_members_line(svc):
    """Absent on a registered leave: no deduction (the ledger refuses the K1); the line says so."""
    db.session.add(Leave(member_id=svc.d, kind="health_exemption", starts_on=date(2026, 1, 1),
                         ends_on=date(2026, 12, 31), reason="卧床"))
    db.session.flush()
    before = written()
    with pytest.raises(MeetingRefused) as refused:
        record(svc, {**everyone(svc, "attended"), svc.d: "absent"})
    [(member_id, err)] = refused.value.member_errors.items()
    assert (member_id, err.key) == (svc.d, "excused_by_leave")
    assert "王秀英" in err.text() and written() == before
    # Excused on that leave needs no reason, and registers no second leave.
    done = record(svc, {**everyone(svc, "attended"), svc.d: "excused"})
    assert done.written == 2 and written()[2] == before[2]


def test_a_date_the_ledger_refuses_is_the_meetings_date(svc):
    before = written()
    with pytest.raises(MeetingRefused) as refused:
        record(svc, everyone(svc, "attended"), held_on=date(2026, 5, 21))  # the day after today
    assert {f: e.key for f, e in refused.value.field_errors.items()} == {"held_on": "date_in_future"}
    assert written() == before


def test_other_activities_credit_those_who_attended_and_list_no_one_else(svc):
    done = record(svc, {svc.a: "attended", svc.c: "absent", svc.d: "excused"}, kind="study", indicator_code="J2")
    assert done.written == 1 and done.meeting.expected_count == 1
    assert [(e.member_id, e.indicator_code) for e in db.session.scalars(select(PointEntry))] == [(svc.a, "J2")]
    assert db.session.scalar(select(func.count()).select_from(Leave)) == 0


def test_volunteer_service_records_the_hours(svc):
    done = record(svc, {svc.a: "attended"}, kind="volunteer", indicator_code="Z3", hours=Decimal("2.5"))
    [entry] = db.session.scalars(select(PointEntry)).all()
    assert (entry.indicator_code, entry.quantity, entry.points) == ("Z3", Decimal("2.5"), Decimal("1.3"))
    assert done.meeting.hours == Decimal("2.5")


def test_the_same_form_again_is_already_recorded_and_writes_nothing(svc):
    done = record(svc, everyone(svc, "attended"), guest_ids=[svc.guest])
    db.session.commit()
    before = written()
    with pytest.raises(AlreadyRecorded) as again:
        record(svc, everyone(svc, "attended"), guest_ids=[svc.guest])
    assert again.value.written == done.written == 4
    assert written() == before and not db.session.new
    # Another form (another key) is another meeting.
    assert record(svc, everyone(svc, "attended"), key="m-100002").written == 3


def test_the_secretary_present_waits_for_another_persons_confirmation(svc):
    svc.by.member_id = svc.a
    db.session.flush()
    done = record(svc, everyone(svc, "attended"))
    assert (done.written, done.own_waiting, done.meeting.expected_count) == (2, 1, 3)
    assert {e.member_id for e in db.session.scalars(select(PointEntry))} == {svc.c, svc.d}
    [own] = db.session.scalars(select(SelfRecord)).all()
    assert (own.member_id, own.indicator_code, own.earned_on, own.status, own.origin, own.meeting_id,
            own.host_branch_id, own.created_by_id) == (svc.a, "J1", HELD_ON, "pending", "meeting", done.meeting.id,
                                                       svc.branch.id, svc.by.id)
    assert db.session.scalar(select(AuditLog.summary).where(AuditLog.action == "meeting_recorded")).endswith(
        "2 entries, own line waits for confirmation")


def test_a_secretary_attending_as_a_guest_waits_too(svc):
    """Four eyes for the recorder's own line whichever branch it comes from."""
    svc.by.member_id = svc.guest
    db.session.flush()
    done = record(svc, everyone(svc, "attended"), guest_ids=[svc.guest])
    assert (done.written, done.own_waiting) == (3, 1)
    assert db.session.scalar(select(SelfRecord.member_id)) == svc.guest
    assert svc.guest not in set(db.session.scalars(select(PointEntry.member_id)))
