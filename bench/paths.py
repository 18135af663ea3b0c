"""The measured paths: each one as the app serves it (Flask test client, logged in as the role
that uses it) beside its floor (floors.py), plus the paths that do not exist yet.

Every app call checks its status code: a path that fails is never timed as if it had worked.
Writes (inline adds, meetings) accumulate during the run, as in real use; __main__ removes
them afterwards, so the generated database stays the same from run to run.
"""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable
from urllib.parse import urlencode

from sqlalchemy import select

from qscore.db import db
from qscore.models import Member
from qscore.scheme_versions import scheme_for_year
from qscore.scoring import score_members

from . import board_floor, dbio, publish_floor, review_floor
from .appctx import Client
from .floors import Floors
from .scales import LAST_DAY

# Paths of the issue that this benchmark does not measure yet: (what, the app's endpoint).
NOT_MEASURED: dict[str, tuple[str, str]] = {}


def not_measured(app) -> dict[str, str]:
    """'not built yet' while the app has no such page; once it has, 'built, not measured yet'
    (a figure is never made up for a page the benchmark does not drive)."""
    return {name: ("built, not measured yet" if endpoint in app.view_functions else "not built yet") + f" ({what})"
            for name, (what, endpoint) in NOT_MEASURED.items()}


@dataclass
class Case:
    name: str
    label: str
    path: Callable[[], Any]
    floor: Callable[[], Any] | None
    repeat: int
    warmup: int
    detail: dict[str, Any] = field(default_factory=dict)
    verify: Callable[[], dict[str, Any]] | None = None
    page: bool = True  # counts toward "every page in-process <= 3x its floor"
    before: Callable[[], Any] | None = None   # untimed, before every timed call of the path and of the floor
    restore: Callable[[], Any] | None = None  # after the run: put back what ``before`` changed in place


def expect(resp, status: int):
    if resp.status_code != status:
        raise RuntimeError(f"{resp.request.method} {resp.request.path}: {resp.status_code} (expected {status})\n"
                           + resp.get_data(as_text=True)[:2000])
    return resp.data


class Picks:
    """Which branch, members and accounts each path uses (from the generator's marker and the data)."""

    def __init__(self, floors: Floors, meta: dict[str, Any]):
        self.f = floors
        picks = meta["picks"]
        self.median_branch = picks["median_branch"]
        self.branch_60 = picks["branch_60"]
        self.community_60 = floors.rows("SELECT community_id FROM branch WHERE id = ?", (self.branch_60,))[0][0]

    def active(self, branch_id: int) -> list[int]:
        return [r[0] for r in self.f.rows("SELECT id FROM member WHERE branch_id = ? AND status = 'active' ORDER BY id",
                                          (branch_id,))]

    def own_member(self, username: str) -> int | None:
        return self.f.rows('SELECT member_id FROM "user" WHERE username = ?', (username,))[0][0]

    def typical_member(self, branch_id: int, exclude: int | None) -> int:
        """The member of the branch with the median number of entries this year."""
        rows = self.f.rows("SELECT m.id, COUNT(p.id) FROM member m LEFT JOIN point_entry p ON p.member_id = m.id "
                           "AND p.year = ? WHERE m.branch_id = ? AND m.status = 'active' GROUP BY m.id ORDER BY 2, 1",
                           (LAST_DAY.year, branch_id))
        rows = [r for r in rows if r[0] != exclude]
        return rows[len(rows) // 2][0]


def _cells(html: str) -> dict[str, list[str]]:
    """The figures a roster shows, for comparing the app's page with the floor's."""
    return {
        "rows": re.findall(r'id="member-(\d+)-row"', html),
        "scores": re.findall(r'score-cell"[^>]*>([^<]*)<', html),
        "average": re.findall(r'id="branch-average">([^<]*)<', html),
        "month_total": re.findall(r'id="branch-month-total">([^<]*)<', html),
        # The warnings' figures (the floor words them in English): the register's arrears runs among them.
        "warnings": [re.findall(r"\d+(?:-\d+)?", w) for w in re.findall(r'class="warn-text small">([^<]*)<', html)],
    }


class AddPlan:
    """Which member, item and day each inline add of the benchmark is for: J1 and Z3 in turn to every member, one
    day earlier each round, never on a day the member had an entry before the run nor twice the same item on a
    day. The app would ask the secretary first about the same item twice in a day (or an attendance beside an
    absence) instead of adding: a different and cheaper answer, and the benchmark times adds. Several ``sides``
    (the path and its floor) each get days of their own (every n-th day), so neither meets the other's entries.
    Going back past the quarter's first day, the days start again from ``day`` (a long stress run may then get
    the secretary's question instead of an add)."""

    def __init__(self, floors: Floors, branch_id: int, targets: list[int], day: date, sides=("path",)):
        self.targets, self.day, self.sides = targets, day, sides
        self.first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        self.counts = dict.fromkeys(sides, 0)
        marks = ", ".join("?" * len(targets))  # by member: entries recorded in another branch count too
        self.busy = {(m, floors._date(d)) for m, d in floors.rows(
            f"SELECT member_id, earned_on FROM point_entry WHERE member_id IN ({marks}) AND earned_on >= ?",
            (*targets, floors.c.d(self.first)))}
        self.used: set[tuple[int, date, str]] = set()

    def next(self, side: str = "path") -> tuple[int, str, str, str, date]:
        i = self.counts[side] = self.counts[side] + 1
        n, step = len(self.targets), len(self.sides)
        member = self.targets[i % n]
        code, value, note = ("J1", "", "") if (i // n) % 2 == 0 else ("Z3", "1.5", "bench: volunteer hours")
        on = self.day - timedelta(days=step * (i // (2 * n)) + self.sides.index(side))
        tries = 0
        while ((member, on) in self.busy or (member, on, code) in self.used) and tries < 100:
            on -= timedelta(days=step)
            if on < self.first:
                on = self.day - timedelta(days=self.sides.index(side))
            tries += 1
        self.used.add((member, on, code))
        return member, code, value, note, on


def build_cases(app, floors: Floors, meta: dict[str, Any], repeat: int | None, quick: bool) -> list[Case]:
    p = Picks(floors, meta)
    day = LAST_DAY
    n = (lambda full, fast: repeat or (fast if quick else full))
    cases: list[Case] = []

    # -- the secretary's roster -------------------------------------------------------------------
    def roster_case(name: str, branch_id: int) -> Case:
        client = Client(app, f"bs-{branch_id}")
        token = client.session_token()
        url = f"/branches/{branch_id}/roster"

        def verify() -> dict[str, Any]:
            a = _cells(expect(client.get(url), 200).decode())
            b = _cells(floors.roster(token, branch_id))
            return {"same_figures": a == b, **({} if a == b else {"app": a, "floor": b})}

        return Case(name, f"roster, branch {branch_id} ({len(p.active(branch_id))} members)",
                    lambda: expect(client.get(url), 200), lambda: floors.roster(token, branch_id),
                    n(40, 12), 3, {"branch_id": branch_id, "members": len(p.active(branch_id)), "url": url}, verify)

    cases.append(roster_case("roster", p.median_branch))
    cases.append(roster_case("roster_60", p.branch_60))

    # -- an inline add ------------------------------------------------------------------------------
    user = f"bs-{p.median_branch}"
    client = Client(app, user)
    token = client.session_token()
    own = p.own_member(user)
    targets = [m for m in p.active(p.median_branch) if m != own]
    plan = AddPlan(floors, p.median_branch, targets, day, sides=("path", "floor"))

    def add_path():
        member, code, value, note, on = plan.next("path")
        body = expect(client.post(f"/branches/{p.median_branch}/members/{member}/entries", {
            "indicator": code, "value": value, "earned_on": on.isoformat(), "note": note,
            "idempotency_key": f"bench-{uuid.uuid4().hex}"}, htmx=True), 200)
        if b'class="row-msg"' not in body:
            raise RuntimeError(f"inline add of {code} for member {member} on {on} was not recorded:\n"
                               + " | ".join(re.findall(r"(?:error|doubt|alert)[^<]*<[^<]*<[^<]*", body.decode()))[:1500])
        return body

    def add_floor():
        member, code, value, note, on = plan.next("floor")
        return floors.inline_add(token, p.median_branch, member, code, value or None, note,
                                 f"bench-{uuid.uuid4().hex}", earned_on=on)

    cases.append(Case("inline_add", f"inline add J1/Z3, branch {p.median_branch}", add_path, add_floor, n(60, 20), 3,
                      {"branch_id": p.median_branch, "members": len(targets) + 1,
                       "note": "J1 and Z3 (1.5 h) in turn, dated today, HX-Request, a fresh idempotency key each"}))

    # -- a meeting for the 60-member branch ------------------------------------------------------------
    cs = f"cs-{p.community_60}"
    mclient = Client(app, cs)
    mtoken = mclient.session_token()
    members60 = p.active(p.branch_60)
    q4 = date(day.year, 10, 1)
    mstate = {"i": 0}

    def held_on() -> date:
        i = mstate["i"] = mstate["i"] + 1
        return day - timedelta(days=i % ((day - q4).days + 1))  # distinct dates, all in the open quarter

    def meeting_path():
        d = held_on()
        form = {"held_on": d.isoformat(), "kind": "org_life", "indicator": "J1", "topic": f"bench 主题党日 {d}",
                "hours": "", "idempotency_key": f"bench-{uuid.uuid4().hex}"}
        form.update({f"status-{m}": "attended" for m in members60})
        return expect(mclient.post(f"/branches/{p.branch_60}/meetings/new", form), 302)

    def meeting_floor():
        d = held_on()
        return floors.meeting(mtoken, p.branch_60, d, f"bench 主题党日 {d}", f"bench-{uuid.uuid4().hex}")

    def written_by(topic: str) -> tuple[list, list]:
        """A meeting's entries (per member) and their audit rows, as the audit page reads them."""
        mid = floors.rows("SELECT MAX(id) FROM meeting WHERE branch_id = ? AND topic = ?", (p.branch_60, topic))[0][0]
        entries = floors.rows("SELECT id, member_id, indicator_code, points, note, source, host_branch_id "
                              "FROM point_entry WHERE meeting_id = ? ORDER BY member_id", (mid,))
        by_id = {e[0]: e[1] for e in entries}
        audit = []
        for action, object_id, member_id, summary, after in floors.rows(
                f"SELECT action, object_id, member_id, summary, after FROM audit_log WHERE object_type = 'pointentry' "
                f"AND object_id IN ({', '.join('?' * len(by_id))}) ORDER BY member_id", tuple(by_id)):
            shown = json.loads(after) if isinstance(after, str) else after
            if isinstance(shown, dict):  # the entry's own id and date differ between the two meetings
                shown = {k: v for k, v in shown.items() if k not in ("id", "earned_on")}
            audit.append((action, by_id[object_id] == member_id, summary.rsplit(" on ", 1)[0], shown))
        return [e[1:] for e in entries], audit

    def verify_meeting() -> dict[str, Any]:
        topic = f"bench verify {uuid.uuid4().hex[:8]}"
        d = held_on()
        form = {"held_on": d.isoformat(), "kind": "org_life", "indicator": "J1", "topic": topic, "hours": "",
                "idempotency_key": f"bench-{uuid.uuid4().hex}", **{f"status-{m}": "attended" for m in members60}}
        expect(mclient.post(f"/branches/{p.branch_60}/meetings/new", form), 302)
        a = written_by(topic)
        floors.meeting(mtoken, p.branch_60, held_on(), topic, f"bench-{uuid.uuid4().hex}")
        b = written_by(topic)
        ok = a[0] == b[0] and a[1] == b[1]
        return {"same_entries": a[0] == b[0], "same_audit_rows": a[1] == b[1], "entries": len(a[0]),
                **({} if ok else {"app": (a[0][:1], a[1][:1]), "floor": (b[0][:1], b[1][:1])})}

    cases.append(Case("meeting", f"meeting, branch {p.branch_60} ({len(members60)} attended)", meeting_path,
                      meeting_floor, n(12, 5), 1,
                      {"branch_id": p.branch_60, "members": len(members60), "account": cs,
                       "note": "org_life, every member attended, distinct dates in Q4; entries accumulate, removed after the run"},
                      verify_meeting))

    # -- a member's booklet -------------------------------------------------------------------------------
    if "booklet.show" in app.view_functions:
        member = p.typical_member(p.median_branch, own)
        burl = f"/members/{member}"

        def verify_booklet() -> dict[str, Any]:
            pat = re.compile(r'class="stat-value">([^<]*)<')
            a = pat.findall(expect(client.get(burl), 200).decode())
            b = pat.findall(floors.booklet(token, member))
            ea = sorted(re.findall(r'id="entry-(\d+)"', expect(client.get(burl), 200).decode()))
            eb = sorted(re.findall(r'id="entry-(\d+)"', floors.booklet(token, member)))
            ok = a == b and ea == eb
            return {"same_figures": ok, **({} if ok else {"app": a, "floor": b, "entries": (len(ea), len(eb))})}

        cases.append(Case("booklet", f"booklet, member {member}", lambda: expect(client.get(burl), 200),
                          lambda: floors.booklet(token, member), n(40, 12), 3,
                          {"member_id": member, "url": burl, "account": user}, verify_booklet))
    # -- what any signed-in page costs before its own data: the layout alone (a signed-in 404) ---------------
    cases.append(Case("layout", "signed-in 404: session, CSRF, menu, notices",
                      lambda: expect(client.get("/no-such-page"), 404), None, n(40, 12), 3,
                      {"note": "no floor: the fixed cost of a signed-in page, for the argued page goals"},
                      page=False))

    # -- the suggested grades of every active member ------------------------------------------------------
    split: dict[str, float] = {}

    def grading_path():
        import time
        with app.app_context():
            t0 = time.perf_counter()
            members = db.session.scalars(select(Member).where(Member.status == "active")).all()
            t1 = time.perf_counter()
            scores = score_members(db.session, scheme_for_year(day.year), day.year, day, members)
            split["members_load_ms"] = round((t1 - t0) * 1000, 1)
            split["score_members_ms"] = round((time.perf_counter() - t1) * 1000, 1)
            return {mid: s.grade.code for mid, s in scores.items()}

    def verify_grading() -> dict[str, Any]:
        a, b = grading_path(), floors.grading(day.year, day)
        return {"same_grades": a == b, "members": len(a),
                "grades": {g: sum(1 for v in a.values() if v == g) for g in ("advanced", "qualified", "rectify", None)}}

    def grading_floor():
        out = floors.grading(day.year, day)
        floor_split.update(floors.grading_split)
        return out

    floor_split: dict[str, float] = {}
    cases.append(Case("grading", "suggested grades, every active member", grading_path, grading_floor, n(5, 3), 1,
                      {"app_split_last_run": split, "floor_split_last_run": floor_split,
                       "note": "ORM load of the active members + qscore.scoring.score_members"},
                      verify_grading, page=False))
    # -- the year-end review page of a branch (a draft while Q4 is not published) ---------------------
    for branch_id, bclient, btoken in ((p.median_branch, client, token), (p.branch_60, None, None)):
        if bclient is None:
            bclient = Client(app, f"bs-{branch_id}")
            btoken = bclient.session_token()
        cases.append(review_case(floors, branch_id, bclient, btoken, len(p.active(branch_id)), n,
                                 "review_page" if branch_id == p.median_branch else "review_60"))
    cases += public_cases(app, floors, p, n)
    cases += publish_cases(app, floors, p, n, client, token)
    cases += dues_cases(app, floors, p, n)
    return cases


def review_case(floors: Floors, branch_id: int, client: Client, token: str, members: int, n, name: str) -> Case:
    url = f"/branches/{branch_id}/review/{LAST_DAY.year}"

    def verify() -> dict[str, Any]:
        a = review_floor.review_cells(expect(client.get(url), 200).decode())
        b = review_floor.review_cells(review_floor.review_page(floors, token, branch_id, LAST_DAY.year))
        return {"same_figures": a == b, **({} if a == b else {"app": str(a)[:600], "floor": str(b)[:600]})}

    return Case(name, f"review page, branch {branch_id} ({members} members)", lambda: expect(client.get(url), 200),
                lambda: review_floor.review_page(floors, token, branch_id, LAST_DAY.year), n(30, 10), 2,
                {"branch_id": branch_id, "members": members, "url": url,
                 "note": "the branch secretary; the year's draft (Q4 not published yet)"}, verify)


def public_cases(app, floors: Floors, p: Picks, n) -> list[Case]:
    """The community's board page and a poll with nothing new: no login, as the office screen."""
    from qscore.board import BUILD

    community = p.community_60
    street = floors.rows("SELECT street_id FROM community WHERE id = ?", (community,))[0][0]
    branches = floors.rows("SELECT COUNT(*) FROM branch WHERE community_id = ? AND NOT retired", (community,))[0][0]
    screen = app.test_client()
    url = f"/board/{community}"

    def verify_board() -> dict[str, Any]:
        a = board_floor.board_cells(expect(screen.get(url), 200).decode())
        b = board_floor.board_cells(board_floor.board(floors, community))
        return {"same_figures": a == b, "slides": len(a["slides"]), "rows": len(a["rows"]),
                **({} if a == b else {"app": {k: v[:5] for k, v in a.items()}, "floor": {k: v[:5] for k, v in b.items()}})}

    day = floors.today.isoformat()
    state: dict[str, str] = {}

    def poll_url() -> str:
        state.setdefault("v", board_floor.board_version(floors, street))
        return "/board/poll?" + urlencode({"street": street, "community": community, "v": state["v"], "d": day,
                                           "build": BUILD})

    def poll_path():
        return expect(screen.get(poll_url()), 204)

    def poll_floor():
        status = board_floor.poll(floors, street, state["v"], day)
        if status != 204:
            raise RuntimeError(f"poll floor: {status}")
        return status

    return [
        Case("board", f"board page, community {community} ({branches} branches)", lambda: expect(screen.get(url), 200),
             lambda: board_floor.board(floors, community), n(40, 12), 3,
             {"community_id": community, "branches": branches, "url": url,
              "note": "no login (the office screen); each branch's latest live publication"}, verify_board),
        Case("board_poll", "board poll, nothing new (204)", poll_path, poll_floor, n(400, 100), 20,
             {"url": poll_url(), "note": "the app: Flask test client round trip; the floor: one indexed read"},
             page=False),
    ]


def publish_cases(app, floors: Floors, p: Picks, n, client: Client, token: str) -> list[Case]:
    """Publishing Q3 of the median branch: before each timed call the last publication is retracted
    (raw SQL, untimed), so every call publishes for real; the branch's members are reconciled once."""
    branch = p.median_branch
    year, quarter = LAST_DAY.year, 3
    end = date(year, 9, 30)
    members, _rows = publish_floor.snapshot_rows(floors, branch, year, quarter)
    c = floors.c
    ids = [m[0] for m in members]
    pending = floors.rows(f"SELECT COUNT(*) FROM self_record WHERE member_id IN ({', '.join('?' * len(ids))}) "
                          "AND status = 'pending' AND earned_on <= ?", (*ids, c.d(end)))[0][0]
    if pending:
        raise RuntimeError(f"branch {branch} has {pending} pending self-records in {year}-Q{quarter}")
    done = {r[0] for r in floors.rows("SELECT member_id FROM reconciliation WHERE branch_id = ? AND year = ? "
                                      "AND quarter = ?", (branch, year, quarter))}
    cur = floors.raw.cursor()
    stamp = floors._ts(datetime(year, 10, 12, 2))
    for mid in ids:
        if mid not in done:  # new rows: removed with the run's other writes
            cur.execute(dbio.q(floors.dialect, "INSERT INTO reconciliation (branch_id, year, quarter, member_id, "
                                               "status, recorded_at) VALUES (?, ?, ?, ?, 'agrees', ?)"),
                        (branch, year, quarter, mid, stamp))
    original = floors.rows("SELECT id FROM publication WHERE branch_id = ? AND year = ? AND quarter = ? "
                           "AND retracted_at IS NULL", (branch, year, quarter))
    version = floors.rows("SELECT id, value FROM setting WHERE key = 'board_version'")
    floors.raw.commit()

    def retract_last():
        cur = floors.raw.cursor()
        cur.execute(dbio.q(floors.dialect, "UPDATE publication SET retracted_at = ?, retract_reason = 'bench' "
                                           "WHERE branch_id = ? AND year = ? AND quarter = ? AND retracted_at IS NULL"),
                    (floors._ts(datetime.utcnow()), branch, year, quarter))
        floors.raw.commit()

    def restore():
        retract_last()  # the run's last publication (removed afterwards with its other writes): one live per quarter
        cur = floors.raw.cursor()
        cur.execute(dbio.q(floors.dialect, "UPDATE publication SET retracted_at = NULL, retracted_by_id = NULL, "
                                           "retract_reason = '' WHERE id = ?"), (original[0][0],))
        for sid, value in version:
            cur.execute(dbio.q(floors.dialect, "UPDATE setting SET value = ? WHERE id = ?"),
                        (value if floors.sqlite else json.dumps(value), sid))
        floors.raw.commit()

    form = {"meeting_on": date(year, 10, 12).isoformat(), "present": str(max(len(ids) - 1, 0)), "total": str(len(ids)),
            "chair": "bench 书记"}
    url = f"/branches/{branch}/quarters/{year}/{quarter}/publish"

    def app_publish():
        return expect(client.post(url, form), 302)

    def floor_publish():
        return publish_floor.publish(floors, token, branch, year, quarter, date(year, 10, 12), len(ids) - 1, len(ids),
                                     "bench 书记")

    def verify_publish() -> dict[str, Any]:
        live = ("SELECT sha256 FROM publication WHERE branch_id = ? AND year = ? AND quarter = ? "
                "AND retracted_at IS NULL")
        retract_last()
        app_publish()
        a = floors.rows(live, (branch, year, quarter))[0][0]
        retract_last()
        b = floor_publish().split()[-1]
        orig = floors.rows("SELECT sha256 FROM publication WHERE id = ?", (original[0][0],))[0][0]
        return {"same_sha256": a == b, "same_as_generated": a == orig, "members": len(ids)}

    return [Case("publish", f"publish {year}-Q{quarter}, branch {branch} ({len(ids)} members)", app_publish,
                 floor_publish, n(20, 8), 1,
                 {"branch_id": branch, "members": len(ids), "url": url,
                  "note": "before each call (untimed) the live publication is retracted in raw SQL; restored after"},
                 verify_publish, before=retract_last, restore=restore)]


# -- the dues register, closing a month, a sign-in at the door ------------------------------------------------
def _dues_cells(html: str) -> dict[str, list[str]]:
    """The figures the dues grid shows: rows, rates, each cell's mark and amount, streak warnings, the rates row."""
    return {"rows": re.findall(r'/dues/members/(\d+)\?year=\d+">', html),
            "cells": re.findall(r'<span class="dues-mark (dues-[a-z_]+)" title="([^"]*)"', html),
            "rates": re.findall(r'<td class="num">([0-9.]+)</td>', html),
            "warnings": re.findall(r'class="dues-warn[^"]*">([^<]*)<', html),
            "collection": re.findall(r'class="dues-rate[^"]*">([^<]*)<', html),
            "closed": re.findall(r'<option value="(\d{4}-\d\d)" [a-z]*>[^<]*· 已结算', html)}


def dues_cases(app, floors: Floors, p: Picks, n) -> list[Case]:
    from .dues_floor import DuesFloors

    df = DuesFloors(floors, app.config)
    out: list[Case] = []
    # 1. the 60-member branch's grid, as its community's secretary
    cs = f"cs-{p.community_60}"
    client = Client(app, cs)
    token = client.session_token()
    url = f"/branches/{p.branch_60}/dues"

    def verify_grid() -> dict[str, Any]:
        page = expect(client.get(url), 200).decode()
        mine = df.grid(token, p.branch_60)
        a, b = _dues_cells(page), _dues_cells(mine)
        return {"same_figures": a == b, "cells": len(a["cells"]), "bytes": (len(page.encode()), len(mine.encode())),
                **({} if a == b else {"app": {k: v[:4] for k, v in a.items()}, "floor": {k: v[:4] for k, v in b.items()}})}

    out.append(Case("dues_grid", f"dues grid, branch {p.branch_60} ({len(p.active(p.branch_60))} members)",
                    lambda: expect(client.get(url), 200), lambda: df.grid(token, p.branch_60), n(40, 12), 3,
                    {"branch_id": p.branch_60, "url": url, "account": cs,
                     "note": "the year's register (rates, lines, closes; last year's lines for a streak reaching January)"},
                    verify_grid))

    # 2. closing September for every branch: each branch's POST, one after another; undone (untimed) before each
    year, month = LAST_DAY.year, 9
    branches = [r[0] for r in floors.rows("SELECT b.id FROM branch b WHERE NOT b.retired ORDER BY b.id")]
    community_of = dict(floors.rows("SELECT id, community_id FROM branch"))
    clients: dict[int, tuple[Client, str]] = {}
    for cid in sorted(set(community_of[b] for b in branches)):
        c = Client(app, f"cs-{cid}")
        clients[cid] = (c, c.session_token())
    keep: dict[int, tuple] = {}  # the stored year sums while no September close exists (taken at the first undo)

    def undo_close() -> None:
        """Take the September closes back out (raw SQL, untimed): their entries, points, audit rows, the stored
        sums of the members they touched."""
        rows = floors.rows("SELECT id FROM dues_close WHERE year = ? AND month = ?", (year, month))
        if not rows:  # the sums as they are now (earlier cases' writes included), to put back after each close
            keep.update({mid: (text, last) for mid, text, last in floors.rows(
                "SELECT member_id, sums, last_earned_on FROM ledger_year_sums WHERE year = ?", (year,))})
            return
        cids = [r[0] for r in rows]
        m1 = ", ".join("?" * len(cids))
        pts = floors.rows(f"SELECT entry_id, member_id FROM dues_point WHERE close_id IN ({m1})", tuple(cids))
        cur = floors.raw.cursor()
        q = lambda sql: dbio.q(floors.dialect, sql)  # noqa: E731
        if pts:
            eids = [e for e, _m in pts]
            for i in range(0, len(eids), 500):
                chunk = eids[i:i + 500]
                m2 = ", ".join("?" * len(chunk))
                cur.execute(q(f"DELETE FROM audit_log WHERE object_type = 'pointentry' AND object_id IN ({m2})"), chunk)
                cur.execute(q(f"DELETE FROM dues_point WHERE entry_id IN ({m2})"), chunk)
                cur.execute(q(f"DELETE FROM point_entry WHERE id IN ({m2})"), chunk)
            touched = sorted({m for _e, m in pts})
            cur.executemany(q("UPDATE ledger_year_sums SET sums = ?, last_earned_on = ? WHERE member_id = ? AND year = ?"),
                            [(*keep[m], m, year) for m in touched])
        cur.execute(q(f"DELETE FROM audit_log WHERE object_type = 'duesclose' AND object_id IN ({m1})"), cids)
        cur.execute(q(f"DELETE FROM dues_close WHERE id IN ({m1})"), cids)
        floors.raw.commit()

    form = {"month": f"{year}-{month:02d}"}
    split: dict[str, Any] = {}

    def close_path():
        import time
        times = []
        for b in branches:
            c, _t = clients[community_of[b]]
            t0 = time.perf_counter()
            expect(c.post(f"/branches/{b}/dues/close", form), 303)
            times.append(time.perf_counter() - t0)
        split["app_branch_median_ms"] = round(sorted(times)[len(times) // 2] * 1000, 2)

    def close_floor():
        for b in branches:
            df.close(clients[community_of[b]][1], b, year, month)

    def written() -> tuple:
        return (floors.rows("SELECT p.member_id, p.indicator_code, p.points, p.earned_on, p.note, p.source, "
                            "p.adjusts_publication_id, d.year, d.period, d.lines FROM dues_point d JOIN point_entry p "
                            "ON p.id = d.entry_id JOIN dues_close c ON c.id = d.close_id WHERE c.year = ? AND c.month = ? "
                            "ORDER BY p.member_id, p.indicator_code", (year, month)),
                floors.rows("SELECT COUNT(*) FROM audit_log a JOIN dues_point d ON d.entry_id = a.object_id AND "
                            "a.object_type = 'pointentry' JOIN dues_close c ON c.id = d.close_id WHERE c.year = ? AND "
                            "c.month = ?", (year, month))[0][0],
                floors.rows("SELECT summary FROM audit_log a JOIN dues_close c ON c.id = a.object_id AND a.object_type = "
                            "'duesclose' WHERE c.year = ? AND c.month = ? ORDER BY c.branch_id", (year, month)),
                floors.rows("SELECT s.member_id, s.sums FROM ledger_year_sums s WHERE s.year = ? AND s.member_id IN "
                            "(SELECT d.member_id FROM dues_point d JOIN dues_close c ON c.id = d.close_id WHERE c.year = ? "
                            "AND c.month = ?) ORDER BY 1", (year, year, month)))

    def verify_close() -> dict[str, Any]:
        undo_close()
        close_path()
        a = written()
        undo_close()
        close_floor()
        b = written()
        undo_close()
        same = [x == y for x, y in zip(a, b)]
        return {"same_entries": same[0], "same_audit_rows": same[1] and same[2], "same_year_sums": same[3],
                "entries": len(a[0]), "J3": sum(r[1] == "J3" for r in a[0]), "K2": sum(r[1] == "K2" for r in a[0]),
                **({} if all(same) else {"app": [str(x)[:300] for x in a], "floor": [str(x)[:300] for x in b]})}

    out.append(Case("dues_close", f"close {year}-{month:02d}, all {len(branches)} branches", close_path, close_floor,
                    n(5, 3), 1, {"branches": len(branches), "app_split_last_run": split,
                                 "note": "every branch's POST /dues/close month=Sep as its community secretary, one "
                                         "after another (the figure is the whole scale's total); before each timed "
                                         "call the September closes are taken back out in raw SQL (untimed)"},
                    verify_close, before=undo_close, restore=undo_close))

    # 3. a member's sign-in at the door, with the screen's code and their name, on an anonymous phone
    from qscore import checkin as ck
    from qscore.models import Branch, User

    names = floors.rows("SELECT id, name FROM member WHERE branch_id = ? AND status = 'active' AND name IN (SELECT name "
                        "FROM member WHERE branch_id = ? AND status = 'active' GROUP BY name HAVING COUNT(*) = 1) ORDER BY id",
                        (p.branch_60, p.branch_60))
    names = [(i, x) for i, x in names if "".join(x.split()) == x and x.isprintable()]  # typed as on the roll
    state: dict[str, Any] = {"queue": []}
    phone = app.test_client()

    def open_one() -> None:
        with app.app_context():
            from qscore.clock import now as clock_now
            user = db.session.scalar(select(User).where(User.username == cs))
            cm = ck.open_meeting(db.session.get(Branch, p.branch_60), held_on=LAST_DAY, kind="org_life",
                                 indicator_code="J1", topic=f"bench 签到 {uuid.uuid4().hex[:6]}",
                                 opens=datetime.min.time(), closes=datetime.max.time().replace(second=0, microsecond=0),
                                 by=user, now=clock_now())
            db.session.commit()
            state["token"] = cm.token
            state["code"] = lambda cm_id=cm.id: _code_of(app, cm_id)
        page = phone.get(f"/checkin/{state['token']}").get_data(as_text=True)
        state["csrf"] = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        state["queue"] = list(names)

    def next_member() -> None:
        if not state["queue"]:
            open_one()
        state["now"] = state["queue"].pop(0)
        state["c"] = state["code"]()  # the screen's code of the moment, read before the timed call

    def sign_path():
        mid, name = state["now"]
        body = expect(phone.post(f"/checkin/{state['token']}", data={"code": state["c"], "name": name,
                                                                     "csrf_token": state["csrf"]}), 200)
        if b"checkin-ok-text" not in body:
            raise RuntimeError(f"sign-in of {name} was not recorded")
        return body

    def sign_floor():
        mid, name = state["now"]
        return df.sign_in(state["token"], state["c"], name)

    def signed_rows(mid: int, name: str) -> tuple:
        """What a sign-in wrote: its row, its audit row (the name taken out), the last login attempt."""
        c = floors.rows("SELECT checkin_meeting_id, way, by_id, ip FROM checkin WHERE member_id = ? ORDER BY id DESC "
                        "LIMIT 1", (mid,))
        a = floors.rows("SELECT a.user_id, a.username, a.action, a.object_type, a.member_id = c.member_id, a.summary, a.ip, "
                        "a.before, a.after FROM audit_log a JOIN checkin c ON c.id = a.object_id AND a.object_type = "
                        "'checkin' WHERE c.member_id = ? ORDER BY a.id DESC LIMIT 1", (mid,))
        t = floors.rows("SELECT kind, account_hash, account_known, ip, success FROM login_attempt ORDER BY id DESC LIMIT 1")
        return (c, [(*r[:5], r[5].replace(name, "{name}", 1), *r[6:]) for r in a], t)

    def shown(page: str, name: str) -> str:
        """The page as seen: CSRF tokens, the member's name and the minute of the sign-in taken out, white space
        between tags ignored."""
        page = re.sub(r'(name="csrf_token" value=|"X-CSRFToken": )"[^"]*"', r'\1"…"', page).replace(name, "{name}")
        page = re.sub(r"签到时间 \d\d:\d\d", "签到时间 …", page)
        return re.sub(r">\s+<", "><", re.sub(r"\n\s*", "\n", page)).strip()

    def verify_sign() -> dict[str, Any]:
        next_member()
        (ma, na), a = state["now"], sign_path().decode()
        ra = signed_rows(ma, na)
        next_member()
        (mb, nb), b = state["now"], sign_floor()
        rb = signed_rows(mb, nb)
        same_rows, same_page = bool(ra[0] and ra[1]) and ra == rb, shown(a, na) == shown(b, nb)
        return {"same_rows": same_rows, "same_page": same_page, "bytes": (len(a.encode()), len(b.encode())),
                **({} if same_rows else {"app": ra, "floor": rb}),
                **({} if same_page else {"app_page": shown(a, na)[-900:], "floor_page": shown(b, nb)[-900:]})}

    out.append(Case("checkin", f"sign-in with code and name, branch {p.branch_60}", sign_path, sign_floor, n(40, 15), 2,
                    {"branch_id": p.branch_60, "members_with_own_name": len(names),
                     "note": "POST /checkin/<token> from an anonymous phone (CSRF token from its GET), each call a member "
                             "not signed in yet; a new meeting is opened (untimed) when the branch runs out"},
                    verify_sign, before=next_member))
    return out


def _code_of(app, cm_id: int) -> str:
    from qscore import checkin as ck
    from qscore.models import CheckinMeeting
    with app.app_context():
        return ck.code_now(db.session.get(CheckinMeeting, cm_id))[0]
