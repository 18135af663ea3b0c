"""The batched ledger write (ledger.check_entries / write_entries, used by meetings) keeps every rule
of the one-entry path: the same refusals, the same rows, the same audit trail."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from qscore import ledger
from qscore.db import db
from qscore.scheme_versions import ensure_year, scheme_for_year
from qscore.models import AuditLog, Leave, Meeting, Member, PointEntry, Publication, User, YearReview

from .conftest import make_member
from .test_entry import entries, meeting

TODAY = date(2026, 5, 20)


@pytest.fixture
def people(ctx, org):
    """Members of the branch, one who moved in from the sibling branch, a leave and a published Q1."""
    from qscore.scheme_versions import ensure_year

    for year in (2025, 2026):  # stored before the batches: the first write of a year would store it
        ensure_year(year)
    ids = {
        "a": make_member(org.branch_id, "张伟", "A").id,
        "c": make_member(org.branch_id, "李娜", "C").id,
        "late": make_member(org.branch_id, "新来", "A", on_roll_since=date(2026, 5, 1)).id,
        "gone": make_member(org.branch_id, "离开", "B", status="left").id,
        "moved": make_member(org.sibling_branch_id, "调入", "B").id,
    }
    from qscore.models import BranchSpell
    spell = db.session.scalar(select(BranchSpell).where(BranchSpell.member_id == ids["moved"]))
    spell.ends_on = date(2026, 2, 1)
    db.session.add(BranchSpell(member_id=ids["moved"], branch_id=org.branch_id, starts_on=date(2026, 2, 1)))
    db.session.get(Member, ids["moved"]).branch_id = org.branch_id
    db.session.add(Leave(member_id=ids["c"], kind="leave", starts_on=date(2026, 5, 10), ends_on=date(2026, 5, 12),
                         reason="病假"))
    db.session.add(Publication(branch_id=org.branch_id, year=2026, quarter=1, supervision_ends_on=date(2026, 4, 20),
                               snapshot="{}", sha256="0" * 64, published_at=datetime(2026, 4, 5)))
    db.session.add(Publication(branch_id=org.sibling_branch_id, year=2025, quarter=4,
                               supervision_ends_on=date(2026, 1, 20), snapshot="{}", sha256="1" * 64,
                               published_at=datetime(2026, 1, 5)))
    db.session.add(YearReview(branch_id=org.sibling_branch_id, year=2025, status="confirmed"))
    scheme_for_year(2025), scheme_for_year(2026)  # both years' schemes exist before the tests write
    db.session.add(PointEntry(member_id=ids["a"], branch_id=org.branch_id, year=2026, indicator_code="J1",
                              category="J", points=1, earned_on=date(2026, 5, 2), idempotency_key="used"))
    db.session.commit()
    return ids


def _items(people) -> list[ledger.NewEntry]:
    m = {k: db.session.get(Member, v) for k, v in people.items()}

    def new(who, code, day, note="", value=None, key=None, **kw):
        return ledger.NewEntry(member=m[who], indicator_code=code, value=value, earned_on=day, note=note,
                               idempotency_key=key, **kw)

    return [
        new("a", "J1", date(2026, 5, 15), key="k-1", source="meeting"),
        new("a", "J1", date(2026, 5, 15), key="k-1"),                       # the same key again in the batch
        new("a", "J1", date(2026, 5, 15), key="used"),                      # a key already in the ledger
        new("c", "Z3", date(2026, 5, 16), note="巡逻", value="2.5"),          # hours: 2.5 x type C points
        new("c", "Z3", date(2026, 5, 16), note="巡逻"),                      # hours required
        new("c", "K1", date(2026, 5, 11), note="缺席"),                       # absence on a registered leave
        new("c", "K1", date(2026, 5, 14), note="缺席"),
        new("a", "K1", date(2026, 5, 14)),                                  # a deduction needs a note
        new("a", "J1", date(2026, 2, 10)),                                  # published Q1 without a reason
        new("a", "J1", date(2026, 2, 10), note="补记"),                       # a prior-period adjustment
        new("moved", "J1", date(2026, 1, 10), note="补记"),                   # Q1 published by the new branch
        new("moved", "J1", date(2025, 12, 10), note="补记"),                  # 2025 closed (reviewed) by the old branch
        new("a", "J1", date(2025, 12, 10), note="补记"),                      # 2025 open for this branch
        new("late", "J1", date(2026, 4, 30)),                               # before the roll
        new("gone", "J1", date(2026, 5, 15)),                               # not on the roll any more
        new("a", "J1", date(2026, 5, 21)),                                  # in the future
        new("a", "NOPE", date(2026, 5, 15)),                                # unknown indicator
        new("a", "J1", date(2026, 5, 15), note="x" * 501),                  # note too long
        new("a", "J2", date(2026, 5, 18), meeting_id=None, host_branch_id=None, key="k-2"),
    ]


def _outcome(result) -> tuple:
    if isinstance(result, Exception):
        return ("refused", type(result).__name__, result.key, tuple(sorted(getattr(result, "params", {}).items())))
    return ("ok",)


def _written(since_entry: int, since_audit: int) -> tuple[list[tuple], list[tuple]]:
    rows = db.session.scalars(select(PointEntry).where(PointEntry.id > since_entry).order_by(PointEntry.id)).all()
    position = {e.id: i for i, e in enumerate(rows)}
    entry_rows = [(e.member_id, e.branch_id, e.year, e.indicator_code, e.category, str(e.points),
                   str(e.quantity) if e.quantity is not None else None, e.earned_on, e.note, e.source, e.meeting_id,
                   e.host_branch_id, e.scheme_version_id, e.recorded_by_id, e.corrects_id, e.self_record_id,
                   e.adjusts_publication_id, e.idempotency_key) for e in rows]
    audits = db.session.scalars(select(AuditLog).where(AuditLog.id > since_audit, AuditLog.action == "entry_added")
                                .order_by(AuditLog.id)).all()
    assert not db.session.scalar(select(func.count()).where(AuditLog.id > since_audit,
                                                            AuditLog.action != "entry_added"))
    audit_rows = [(a.user_id, a.username, a.action, a.object_type, position[a.object_id], a.member_id, a.summary,
                   a.before, {**a.after, "id": position[a.after["id"]]}, a.ip) for a in audits]
    return entry_rows, audit_rows


def _last_ids() -> tuple[int, int]:
    return (db.session.scalar(select(func.max(PointEntry.id))) or 0,
            db.session.scalar(select(func.max(AuditLog.id))) or 0)


def test_batch_refuses_and_writes_exactly_as_one_entry_at_a_time(ctx, org, people):
    user = db.session.get(User, org.branch_secretary_id)
    items = _items(people)
    start = _last_ids()
    one_by_one = []
    for n in items:
        try:
            ledger.record_entry(member=n.member, indicator_code=n.indicator_code, value=n.value,
                                earned_on=n.earned_on, note=n.note, user=user, today=TODAY, source=n.source,
                                meeting_id=n.meeting_id, host_branch_id=n.host_branch_id,
                                idempotency_key=n.idempotency_key, self_record_id=n.self_record_id)
            one_by_one.append(("ok",))
        except (ledger.LedgerError, ledger.EntryError) as err:
            one_by_one.append(_outcome(err))
    expected = _written(*start)
    db.session.rollback()

    items = _items(people)
    checked = ledger.check_entries(items, today=TODAY)
    assert [_outcome(c) for c in checked] == one_by_one
    ids = ledger.write_entries([c for c in checked if isinstance(c, ledger.Checked)], user=user)
    assert _written(*start) == expected
    assert len(ids) == sum(o == ("ok",) for o in one_by_one) == len(expected[0]) == len(expected[1])
    # the ids come back in the order of the entries
    got = db.session.scalars(select(PointEntry.idempotency_key).where(PointEntry.id.in_(ids))
                             .order_by(PointEntry.id)).all()
    assert got == [c.new.idempotency_key for c in checked if isinstance(c, ledger.Checked)]
    db.session.rollback()


def test_expected_outcomes(ctx, org, people):
    checked = ledger.check_entries(_items(people), today=TODAY)
    keys = [c.key if isinstance(c, Exception) else c.adjusts.quarter if c.adjusts else "ok" for c in checked]
    assert keys == ["ok", "duplicate_submit", "duplicate_submit", "ok", "hours_required", "excused_by_leave", "ok",
                    "note_required", "adjustment_needs_reason", 1, 1, "date_too_early", "ok", "before_roll",
                    "member_inactive", "date_in_future", "unknown_indicator", "note_too_long", "ok"]
    assert str(checked[3].row["quantity"]) == "2.5" and checked[9].row["adjusts_publication_id"] is not None


def test_record_entries_is_all_or_nothing(ctx, org, people):
    user = db.session.get(User, org.branch_secretary_id)
    items = _items(people)
    before = _last_ids()
    with pytest.raises(ledger.LedgerError) as err:
        ledger.record_entries(items[:2], user=user, today=TODAY)
    assert err.value.key == "duplicate_submit" and _last_ids() == before
    ids = ledger.record_entries([items[0], items[3]], user=user, today=TODAY)
    assert len(ids) == 2 and db.session.get(PointEntry, ids[1]).quantity is not None
    db.session.rollback()


# --- through the meeting screen ------------------------------------------------------------------

@pytest.fixture
def branch(app, org):
    with app.app_context():
        ids = [make_member(org.branch_id, f"党员{i:02d}", "ABCD"[i % 4]).id for i in range(12)]
        db.session.commit()
    return ids


def test_double_submitted_meeting_records_once(app, client, auth, org, branch):
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    statuses = {mid: "attended" for mid in branch}
    assert meeting(client, org, statuses).status_code == 302
    resp = meeting(client, org, statuses)
    # The repeat lands where the first did, and says nothing was added again.
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/branches/{org.branch_id}/roster")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "already recorded (12 entries)" in page
    assert len(entries(app)) == 12
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 1


def test_meeting_audit_says_who_when_what_for(app, client, auth, org, branch):
    auth.login("bs")
    assert meeting(client, org, {mid: "attended" for mid in branch}).status_code == 302
    with app.app_context():
        rows = {e.id: e for e in db.session.scalars(select(PointEntry))}
        audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "entry_added")
                                    .order_by(AuditLog.id)).all()
        assert sorted(a.object_id for a in audits) == sorted(rows)
        for a in audits:
            e = rows[a.object_id]
            member = db.session.get(Member, e.member_id)
            assert (a.user_id, a.username, a.object_type, a.member_id) == (
                org.branch_secretary_id, "bs", "pointentry", e.member_id)
            assert a.summary == f"{member.name} J1 {e.points} on 2026-05-15"
            assert a.after == {"id": e.id, "member_id": e.member_id, "indicator": "J1", "points": str(e.points),
                               "quantity": None, "earned_on": "2026-05-15", "note": "五月主题党日",
                               "source": "meeting", "corrects_id": None, "adjusts_publication_id": None}
            assert a.before is None and a.at is not None and e.recorded_by_id == org.branch_secretary_id
        m = db.session.scalar(select(Meeting))
        done = db.session.scalar(select(AuditLog).where(AuditLog.action == "meeting_recorded"))
        assert done.summary == "第一党支部 2026-05-15 org_life 五月主题党日: 12 entries" and m.expected_count == 12


def test_meeting_in_a_published_quarter_is_flagged_as_adjustment(app, client, auth, org, branch):
    with app.app_context():
        db.session.add(Publication(branch_id=org.branch_id, year=2026, quarter=1,
                                   supervision_ends_on=date(2026, 4, 20), snapshot="{}", sha256="0" * 64))
        db.session.commit()
        pub_id = db.session.scalar(select(Publication.id))
    auth.login("bs")
    assert meeting(client, org, {mid: "attended" for mid in branch}, held_on="2026-03-20").status_code == 302
    rows = entries(app)
    assert len(rows) == 12 and {e.adjusts_publication_id for e in rows} == {pub_id}
    with app.app_context():
        summaries = db.session.scalars(select(AuditLog.summary).where(AuditLog.action == "entry_added")).all()
        assert all(s.endswith(" on 2026-03-20 (adjusts 2026-Q1)") for s in summaries)


def test_meeting_refusals_come_member_by_member(app, client, auth, org, branch):
    with app.app_context():
        late = make_member(org.branch_id, "晚到", "A", on_roll_since=date(2026, 5, 16)).id
        db.session.add(Leave(member_id=branch[0], kind="leave", starts_on=date(2026, 5, 1),
                             ends_on=date(2026, 5, 31), reason="外出"))
        db.session.commit()
    client.set_cookie("qscore_lang", "en")
    auth.login("bs")
    statuses = {mid: "attended" for mid in branch}
    statuses[branch[0]] = "absent"   # on a registered leave: no deduction
    statuses[late] = "excused"       # no leave registered and no reason given
    resp = meeting(client, org, statuses)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "has a registered leave or exemption on 2026-05-15" in body
    assert "No leave is registered for this date" in body
    assert entries(app) == []
    # the member who came onto the roll after the date stops the whole meeting at the date field
    statuses[late] = "attended"
    statuses[branch[0]] = "excused"
    resp = meeting(client, org, statuses)
    assert resp.status_code == 422 and "came onto the roll on 2026-05-16" in resp.get_data(as_text=True)
    assert entries(app) == []


def sql_of(app, request) -> tuple[list[str], object]:
    """What a request runs: each statement's first word ("BEGIN IMMEDIATE" whole) and "COMMIT" where it commits."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def statement(conn, cursor, text, *args):
        seen.append("BEGIN IMMEDIATE" if "IMMEDIATE" in text else text.strip().split()[0].upper())

    def commit(conn):
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        resp = request()
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    return seen, resp


def test_a_meeting_of_twelve_takes_the_same_statements_as_one_of_two_and_none_after_its_commit(
        app, client, auth, org, branch):
    """The lines are checked and written set-based, whatever the branch's size; and once the meeting is committed
    nothing is read again (on SQLite that would take the write lock a second time while another secretary waits)."""
    auth.login("bs")
    study = {"kind": "study", "indicator": "J2"}  # a study session lists only those who came
    assert meeting(client, org, {branch[0]: "attended"}, idempotency_key="m-warm-up", **study).status_code == 302
    few, resp = sql_of(app, lambda: meeting(client, org, {m: "attended" for m in branch[:2]},
                                            idempotency_key="m-few-001", held_on="2026-05-16", **study))
    assert resp.status_code == 302
    many, resp = sql_of(app, lambda: meeting(client, org, {m: "attended" for m in branch},
                                             idempotency_key="m-many-001", held_on="2026-05-17", **study))
    assert resp.status_code == 302 and len(entries(app)) == 1 + 2 + 12
    assert many == few
    assert many.count("COMMIT") == 1 and many[-1] == "COMMIT"
    if many[0] == "BEGIN IMMEDIATE":  # SQLite
        assert many.count("BEGIN IMMEDIATE") == 1


def test_a_refused_meeting_of_twelve_is_shown_again_with_the_statements_of_one_of_two(app, client, auth, org, branch):
    """The page that says what to correct reads the branch set-based too (it once read each member again, one
    statement per line, after the refusal's rollback), and without holding SQLite's write lock."""
    client.set_cookie("qscore_lang", "en")

    def refused(branch_id, members):
        data = {"held_on": "2026-05-15", "kind": "org_life", "indicator": "J1", "topic": "五月主题党日",
                "idempotency_key": f"m-refused-{len(members)}", **{f"status-{m}": "attended" for m in members}}
        data[f"status-{members[0]}"] = "excused"  # no leave registered and no reason given
        resp = client.post(f"/branches/{branch_id}/meetings/new", data=data)
        assert resp.status_code == 422 and "No leave is registered for this date" in resp.get_data(as_text=True)
        return resp

    with app.app_context():
        two = [make_member(org.other_branch_id, name, "A").id for name in ("两人之一", "两人之二")]
        ensure_year(2026)  # stored: a refused meeting would store it and roll it back each time
        db.session.commit()
    auth.login("bs")
    refused(org.branch_id, branch)
    many, _resp = sql_of(app, lambda: refused(org.branch_id, branch))
    auth.logout()
    auth.login("bs2")  # the other branch's secretary: a branch of two members
    refused(org.other_branch_id, two)
    few, _resp = sql_of(app, lambda: refused(org.other_branch_id, two))
    assert many == few and "INSERT" not in many
    if many[0] == "BEGIN IMMEDIATE":  # SQLite: the write lock is let go with the refusal, not after the page
        assert many.count("BEGIN IMMEDIATE") == 1
    assert entries(app) == []
