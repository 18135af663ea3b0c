"""Several people at once, over real HTTP: every acknowledged point is accounted for, exactly once.

A threaded server on the suite's database (SQLite, or PostgreSQL with DATABASE_URL) and clients in
threads, each with its own login, fire at one branch-quarter together: publishers racing each other,
secretaries recording deductions dated in the quarter, the same form sent twice at once. After each
round the database is checked: one live publication; every acknowledged entry either in the
snapshot (committed before it) or flagged as its adjustment (committed after), never both, never
neither; no 500.
"""
from __future__ import annotations

import http.cookiejar
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from qscore.db import db
from qscore.idempotency import new_key
from qscore.models import PointEntry, Publication, Reconciliation
from qscore.publication import later_adjustments, snapshot
from qscore.scoring import year_sums

from .conftest import TEST_PASSWORD, make_member

ROUNDS = 3
PUBLISHERS = 4
WRITERS = 8
MEMBERS = 4


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """One person's browser: its own cookies (its own login), no redirects followed."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect)

    def post(self, path: str, data: dict, htmx: bool = False) -> tuple[int, str]:
        req = urllib.request.Request(self.base + path, data=urllib.parse.urlencode(data).encode(), method="POST",
                                     headers={"HX-Request": "true"} if htmx else {})
        try:
            with self.opener.open(req, timeout=60) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read().decode()

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=60) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read().decode()

    def login(self, username: str) -> None:
        status, _body = self.post("/login", {"username": username, "password": TEST_PASSWORD})
        assert status == 302, f"login of {username} answered {status}"


@pytest.fixture
def server(make_app, org):
    """A threaded HTTP server on the suite's database, as waitress or gunicorn would run the app."""
    live = make_app(TESTING=False)
    srv = make_server("127.0.0.1", 0, live, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield live, f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(10)


def _branch_with_members(app, org, n: int) -> tuple[int, list[int]]:
    """A new branch of the test community with n members, all reconciled for 2026-Q1."""
    from qscore.models import Branch

    with app.app_context(), app.test_request_context():
        branch = Branch(community_id=org.community_id, name=f"并发支部{new_key()[:6]}")
        db.session.add(branch)
        db.session.flush()
        ids = [make_member(branch.id, f"成员{i}号", "AB"[i % 2]).id for i in range(n)]
        db.session.add_all([Reconciliation(branch_id=branch.id, year=2026, quarter=1, member_id=m, status="agrees")
                            for m in ids])
        db.session.commit()
        return branch.id, ids


def _fire(jobs) -> list:
    """Run every job at the same moment (a barrier), each in its own thread; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i, job):
        barrier.wait()
        try:
            results[i] = job()
        except Exception as err:  # a failure is a result the test reports, never a hang
            results[i] = err

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def _publish_race(base: str, branch_id: int, members: list[int], publishers: list[Browser],
                  writers: list[Browser]) -> tuple[list, dict[str, int]]:
    """Publishers and secretaries at once; returns the publish answers and the acknowledged entries' keys."""
    url = f"/branches/{branch_id}/quarters/2026/1"
    form = {"meeting_on": "2026-04-10", "present": str(len(members)), "total": str(len(members)), "chair": "张书记"}
    keys = [new_key() for _w in writers]

    def publish(b):
        return lambda: b.post(url + "/publish", form)

    def deduct(b, key, member_id):
        return lambda: b.post(f"/branches/{branch_id}/members/{member_id}/entries",
                              {"indicator": "K2", "earned_on": "2026-03-10", "value": "", "note": "催缴后仍欠缴",
                               "idempotency_key": key, "confirmed": "y"}, htmx=True)  # "yes" to "again that day?"

    jobs = [publish(b) for b in publishers]
    jobs += [deduct(b, k, members[i % len(members)]) for i, (b, k) in enumerate(zip(writers, keys))]
    results = _fire(jobs)
    for r in results:
        assert not isinstance(r, Exception), r
    assert all(status != 500 for status, _b in results), [s for s, _b in results]
    entry_answers = results[len(publishers):]
    # Acknowledged: the row came back saying the entry is recorded.
    acknowledged = {k: status for k, (status, body) in zip(keys, entry_answers) if status == 200 and "已记录" in body}
    return results[:len(publishers)], acknowledged


def _check_round(app, branch_id: int, members: list[int], acknowledged: dict[str, int]) -> dict[str, int]:
    """The properties of one round, read from the database; returns what was counted."""
    with app.app_context():
        live = db.session.scalars(select(Publication).where(
            Publication.branch_id == branch_id, Publication.year == 2026, Publication.quarter == 1,
            Publication.retracted_at.is_(None))).all()
        assert len(live) == 1, f"{len(live)} live publications of one branch-quarter"
        pub = live[0]
        entries = db.session.scalars(select(PointEntry).where(
            PointEntry.member_id.in_(members), PointEntry.earned_on >= date(2026, 1, 1),
            PointEntry.earned_on <= date(2026, 3, 31))).all()
        by_key = {e.idempotency_key: e for e in entries}
        missing = [k for k in acknowledged if k not in by_key]
        assert not missing, f"{len(missing)} acknowledged entries are not in the ledger"
        # Committed after the publication: flagged as its adjustment and shown with it.
        after = {e.id for e in entries if e.adjusts_publication_id == pub.id}
        shown = {e.id for e, _name, _by in later_adjustments(pub)}
        assert after == shown
        # Committed before: in the snapshot. K is never capped, so each member's published K is exactly
        # the sum of their deductions of the quarter that are not flagged as coming after it.
        rows = {r["member_id"]: r for r in snapshot(pub)}
        for m in members:
            before = sum((e.points for e in entries if e.member_id == m and e.category == "K" and e.id not in after),
                         Decimal(0))
            assert Decimal(rows[m]["K"]) == before, f"member {m}: published K {rows[m]['K']}, ledger before {before}"
        # The sums scoring reads were recomputed by each writer in turn: none lost to a concurrent one.
        assert year_sums.check(db.session) == []
        return {"entries": len(entries), "acknowledged": len(acknowledged), "in_snapshot": len(entries) - len(after),
                "adjustments": len(after)}


def test_concurrent_publishes_and_entries_account_for_every_point(server, org):
    app, base = server
    counts: Counter = Counter()
    for _round in range(ROUNDS):
        branch_id, members = _branch_with_members(app, org, MEMBERS)
        publishers = [Browser(base) for _i in range(PUBLISHERS)]
        for b, who in zip(publishers, ("cs", "admin", "cs", "admin")):
            b.login(who)
        writers = [Browser(base) for _i in range(WRITERS)]
        for b in writers:
            b.login("cs")
        answers, acknowledged = _publish_race(base, branch_id, members, publishers, writers)
        # One publisher wins (a redirect to the publication); the others are told who did, in Chinese.
        statuses = sorted(s for s, _b in answers)
        assert statuses == [302] + [409] * (PUBLISHERS - 1), statuses
        losers = [body for s, body in answers if s == 409]
        assert all("已由" in body and "公示" in body for body in losers)
        counts.update(_check_round(app, branch_id, members, acknowledged))
        assert counts["acknowledged"] > 0

        # Withdrawn and made again, with entries racing the new publication: the same rule holds.
        with app.app_context():
            pub_id = db.session.scalar(select(Publication.id).where(
                Publication.branch_id == branch_id, Publication.retracted_at.is_(None)))
        admin = Browser(base)
        admin.login("admin")
        assert admin.post(f"/publications/{pub_id}/retract", {"reason": "会议记录有误，重新公示"})[0] == 302
        answers, acknowledged2 = _publish_race(base, branch_id, members, publishers, writers)
        assert sorted(s for s, _b in answers) == [302] + [409] * (PUBLISHERS - 1)
        counts.update(_check_round(app, branch_id, members, {**acknowledged, **acknowledged2}))
    assert counts["entries"] >= counts["acknowledged"] > 0


def test_the_same_form_sent_twice_at_once_records_once_and_answers_both(server, org):
    app, base = server
    branch_id, members = _branch_with_members(app, org, MEMBERS)
    people = [Browser(base) for _i in range(2)]
    for b in people:
        b.login("cs")
    sent = 0
    for _round in range(4):
        keys = [new_key() for _m in members]
        jobs = []
        for key, member_id in zip(keys, members):
            form = {"indicator": "J1", "earned_on": "2026-05-18", "value": "", "note": "", "idempotency_key": key,
                    "confirmed": "y"}
            path = f"/branches/{branch_id}/members/{member_id}/entries"
            jobs += [lambda b=b, p=path, f=form: b.post(p, f, htmx=True) for b in people]
        results = _fire(jobs)
        sent += len(jobs)
        assert all(not isinstance(r, Exception) for r in results), results
        assert [s for s, _b in results] == [200] * len(jobs)  # both answers are the row, never a 500
        assert all(f'id="member-{m}-row"' in body for (_s, body), m in zip(results, [m for m in members for _p in people]))
        with app.app_context():
            found = Counter(db.session.scalars(select(PointEntry.idempotency_key).where(
                PointEntry.idempotency_key.in_(keys))))
        assert found == Counter({k: 1 for k in keys})
    assert sent == 4 * len(members) * 2


def test_sign_ins_at_the_door_at_once_count_each_member_once_and_the_meeting_is_recorded_once(server, org):
    """Phones and tablets signing the same members in together, then two secretaries ending it together."""
    from qscore import checkin
    from qscore.models import Checkin, CheckinMeeting, Meeting

    app, base = server
    branch_id, members = _branch_with_members(app, org, MEMBERS)
    secretaries = [Browser(base) for _i in range(2)]
    for b in secretaries:
        b.login("cs")
    status, _body = secretaries[0].post(f"/branches/{branch_id}/checkin", {
        "held_on": "2026-05-20", "kind": "org_life", "indicator": "J1", "topic": "并发签到", "opens": "00:00",
        "closes": "23:59"})
    assert status == 303
    with app.app_context():
        cm = db.session.scalars(select(CheckinMeeting).where(CheckinMeeting.branch_id == branch_id)).one()
        cm_id, token, tablet, code = cm.id, cm.token, cm.tablet_token, checkin.code_now(cm)[0]
    names = [f"成员{i}号" for i in range(MEMBERS)]
    phones = [Browser(base) for _i in range(2 * MEMBERS)]
    jobs = [lambda b=b, n=n: b.post(f"/checkin/{token}", {"code": code, "name": n})
            for b, n in zip(phones, names * 2)]
    jobs += [lambda b=b, m=members[0]: b.post(f"/checkin/tablet/{tablet}/{m}", {}, htmx=True)
             for b in (Browser(base), Browser(base))]  # two taps on two tablets
    results = _fire(jobs)
    assert all(not isinstance(r, Exception) for r in results), results
    assert [s for s, _b in results] == [200] * len(jobs)
    with app.app_context():
        signed = Counter(db.session.scalars(select(Checkin.member_id).where(Checkin.checkin_meeting_id == cm_id)))
    assert signed == Counter({m: 1 for m in members})

    # Both secretaries end it and record the meeting at the same moment, each with their own form.
    for b in secretaries:
        status, _body = b.post(f"/branches/{branch_id}/checkin/{cm_id}/close", {})
        assert status == 303
    forms = [{"held_on": "2026-05-20", "kind": "org_life", "indicator": "J1", "topic": "并发签到",
              "idempotency_key": new_key(), "checkin": str(cm_id),
              **{f"status-{m}": "attended" for m in members}} for _b in secretaries]
    results = _fire([lambda b=b, f=f: b.post(f"/branches/{branch_id}/meetings/new", f)
                     for b, f in zip(secretaries, forms)])
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(s for s, _b in results) == [302, 303]  # one recorded it; the other is told so
    with app.app_context():
        meeting_id = db.session.get(CheckinMeeting, cm_id).meeting_id
        assert db.session.scalar(select(func.count()).select_from(Meeting).where(Meeting.branch_id == branch_id)) == 1
        entries = db.session.scalars(select(PointEntry.member_id).where(PointEntry.meeting_id == meeting_id)).all()
    assert sorted(entries) == sorted(members)
