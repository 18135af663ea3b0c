"""Floor of publishing a branch's quarter: the checks, the snapshot, its hash, and the writes.

What publishing must do, at least: authenticate and authorise; read the members on the branch's
roll at the quarter's end (branch spells), the pending self-records, the reconciliations and any
live publication of the quarter (the conditions); score those members at the quarter's end with
``qscore.scoring``'s pure functions on one grouped read of the year's sums; build the canonical
JSON and its SHA-256; read the adjustments since the branch's previous publication and the
supervision setting; insert the publication, bump the board version, insert the audit row, commit.
The answer is a redirect, as the app's.
"""
from __future__ import annotations

import calendar
import hashlib
import json
from datetime import date, datetime, timedelta

from qscore.scoring import score_member

from . import dbio
from .floors import LIVE_BULK, Floors


def _quarter_end(year: int, quarter: int) -> date:
    m = quarter * 3
    return date(year, m, calendar.monthrange(year, m)[1])


def _one(value) -> str:
    return f"{value:.1f}"


def snapshot_rows(f: Floors, branch_id: int, year: int, quarter: int) -> tuple[list[tuple], list[dict]]:
    """(members on the roll at the quarter's end, the snapshot rows)."""
    end = f.c.d(_quarter_end(year, quarter))
    on_roll = ("SELECT member_id FROM branch_spell WHERE branch_id = ? AND starts_on <= ? "
               "AND (ends_on IS NULL OR ends_on > ?)")
    members = f.rows(f"SELECT id, name, on_roll_since, left_roll_on, status FROM member WHERE id IN ({on_roll}) "
                     "AND on_roll_since <= ? AND (left_roll_on IS NULL OR left_roll_on > ?) ORDER BY id",
                     (branch_id, end, end, end, end))
    _vid, scheme = f.scheme(year)
    histories = f.histories(f"SELECT member_id, effective_from, type_code FROM member_type WHERE member_id IN "
                            f"({on_roll}) ORDER BY member_id, effective_from, id", (branch_id, end, end))
    ledgers = f.ledgers(
        f"SELECT p.member_id, p.indicator_code, p.category, {f.month}, SUM(p.points), COUNT(*), MIN(p.earned_on) "
        f"FROM point_entry p WHERE p.member_id IN ({on_roll}) AND p.year = ? AND p.earned_on <= ? "
        f"AND {LIVE_BULK} GROUP BY 1, 2, 3, 4", (branch_id, end, end, year, end))
    as_of = _quarter_end(year, quarter)
    rows = []
    for mid, name, since, left, status in members:
        s = score_member(scheme, year, as_of, histories[mid], ledgers[mid], on_roll_since=f._date(since),
                         left_roll_on=f._date(left) if left else None, status=status, member_id=mid)
        q = s.quarter
        rows.append({"member_id": mid, "name": name, "type": s.type_code, "J": _one(q.j), "Z": _one(q.z),
                     "K": _one(q.k), "quarter_total": _one(q.total), "year_to_date": _one(s.score)})
    return members, rows


def publish(f: Floors, token: str, branch_id: int, year: int, quarter: int, meeting_on: date, present: int,
            total: int, chair: str) -> str:
    user = f.session(token)
    b = f.branch(branch_id, user)
    end_day = _quarter_end(year, quarter)
    end = f.c.d(end_day)
    if not f.today > end_day:
        raise ValueError("not ended")
    if f.rows("SELECT id FROM publication WHERE branch_id = ? AND year = ? AND quarter = ? AND retracted_at IS NULL",
              (branch_id, year, quarter)):
        raise ValueError("already published")
    members, rows = snapshot_rows(f, branch_id, year, quarter)
    ids = [m[0] for m in members]
    marks = ", ".join("?" * len(ids))
    if ids and f.rows(f"SELECT COUNT(*) FROM self_record WHERE member_id IN ({marks}) AND status = 'pending' "
                      "AND earned_on <= ?", (*ids, end))[0][0]:
        raise ValueError("pending")
    done = {r[0] for r in f.rows("SELECT member_id FROM reconciliation WHERE branch_id = ? AND year = ? AND quarter = ?",
                                 (branch_id, year, quarter))}
    if any(i not in done for i in ids):
        raise ValueError("unreconciled")
    if not (end_day < meeting_on <= f.today) or not (0 <= present <= total) or total <= 0:
        raise ValueError("meeting")
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    previous = f.rows("SELECT MAX(published_at) FROM publication WHERE branch_id = ? AND retracted_at IS NULL",
                      (branch_id,))[0][0]
    adjustments = []
    for eid, mid, name, y, q, code, points, earned_on, corrects in f.rows(
            "SELECT p.id, p.member_id, m.name, a.year, a.quarter, p.indicator_code, p.points, p.earned_on, "
            "p.corrects_id FROM point_entry p JOIN member m ON m.id = p.member_id "
            "JOIN publication a ON a.id = p.adjusts_publication_id WHERE p.branch_id = ? "
            + ("AND p.recorded_at > ? " if previous is not None else "") + "ORDER BY p.recorded_at, p.id",
            (branch_id, previous) if previous is not None else (branch_id,)):
        adjustments.append({"entry_id": eid, "member_id": mid, "name": name, "period": f"{y}-Q{q}",
                            "indicator": code, "points": _one(f._dec(points)),
                            "earned_on": f._date(earned_on).isoformat(), "correction": corrects is not None})
    setting = f.rows("SELECT value FROM setting WHERE street_id = ? AND key = 'supervision_days'", (b[6],))
    days = int(json.loads(setting[0][0]) if setting and f.sqlite else setting[0][0] if setting else 5)
    now = datetime.utcnow()
    ts = f._ts(now)
    cur = f.raw.cursor()
    cur.execute(dbio.q(f.dialect,
                "INSERT INTO publication (branch_id, year, quarter, published_at, published_by_id, meeting_on, "
                "members_present, members_total, chair, supervision_ends_on, snapshot, adjustments, sha256, "
                "retract_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '') RETURNING id"),
                (branch_id, year, quarter, ts, user[0], f.c.d(meeting_on), present, total, chair.strip()[:100],
                 f.c.d(f.today + timedelta(days=days)), text,
                 json.dumps(adjustments, sort_keys=True, separators=(",", ":"), ensure_ascii=False), digest))
    pub_id = cur.fetchone()[0]
    value = json.dumps(now.isoformat(timespec="microseconds"))
    cur.execute(dbio.q(f.dialect, "UPDATE setting SET value = ? WHERE street_id = ? AND key = 'board_version'"),
                (value, b[6]))
    if not cur.rowcount:
        cur.execute(dbio.q(f.dialect, "INSERT INTO setting (street_id, key, value) VALUES (?, 'board_version', ?)"),
                    (b[6], value))
    cur.execute(dbio.q(f.dialect, "INSERT INTO audit_log (at, user_id, username, action, object_type, object_id, "
                                  "summary, ip) VALUES (?, ?, ?, 'quarter_published', 'publication', ?, ?, '127.0.0.1')"),
                (ts, user[0], user[1], pub_id, f"{b[1]} {year}-Q{quarter}: {len(rows)} members, sha256 {digest}"))
    f.raw.commit()
    return f"302 /branches/{branch_id}/quarters/{year}/{quarter} {digest}"
