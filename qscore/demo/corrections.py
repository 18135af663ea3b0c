"""The demo's mistakes and self-records: ten entries corrected later (recorded twice, hours typed wrong, the
wrong member), and members' self-records in every state. Planned with the ledger, written just after it."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..db import db
from ..models import PointEntry, SelfRecord
from ..scoring import entry_points
from .plan import CORRECTION_NOTE, REENTRY_NOTE
from .records import MemberRecord

if TYPE_CHECKING:
    from .builder import _Builder


def plan_corrections(b: _Builder) -> None:
    """Ten corrected entries: four recorded twice, three with the hours typed wrong and two
    for the wrong member (one for a namesake in the same branch), the last five re-entered."""
    r = b.rng
    ok = [m for m in b.members if not m.special and m.status == "active"]
    used: set[int] = set()

    def pick(codes: tuple[str, ...], among: list[MemberRecord]) -> tuple[MemberRecord, dict[str, Any]] | None:
        pool = [(m, e) for m in among if m.index not in used for e in m.rows
                if e["year"] == b.prev and e["indicator_code"] in codes and e["source"] != "correction"]
        if not pool:
            return None
        m, e = r.choice(pool)
        used.add(m.index)
        return m, e

    for _ in range(4):  # recorded twice: the second is corrected
        found = pick(("J1", "J3", "J6"), ok)
        if found:
            m, good = found
            wrong = {**good, "recorded_at": good["recorded_at"] + timedelta(minutes=r.randint(2, 50))}
            b.corrections.append((wrong, None))
    for _ in range(3):  # hours typed wrong: corrected and re-entered
        found = pick(("Z3",), ok)
        if found:
            m, good = found
            m.rows.remove(good)
            hours = good["quantity"] * 2
            points = entry_points(b.schemes[good["year"]], "Z3", m.type_on(good["earned_on"]), hours).points
            b.corrections.append(({**good, "quantity": hours, "points": points}, good))
    # Recorded for the wrong member: first the namesake in the retirees' branch.
    namesakes = [m for br in b.branches for m in br.members if m in ok and any(
        o is not m and o.name == m.name for o in br.members)]
    for among in (namesakes[:1] or ok, ok):
        found = pick(("J1", "J3", "J5", "J6"), among)
        if not found:
            continue
        m, good = found
        day = good["earned_on"]
        same = [o for o in m.branch.members if o is not m and o.name == m.name and o.on_roll(day)]
        other = r.choice(same or [o for o in m.branch.members if o is not m and o.on_roll(day)
                                  and o.branch.secretary is not o])
        m.rows.remove(good)
        points = entry_points(b.schemes[good["year"]], good["indicator_code"], other.type_on(day)).points
        b.corrections.append(({**good, "member_id": other.id, "points": points}, good))


def plan_self_records(b: _Builder) -> None:
    """Self-records (自记) of this quarter: the member accounts' and ten others' pending, two rejected with the
    reason, four confirmed; declared in the booklet by a member with an account, else at reconciliation."""
    r = b.rng
    q_start = date(b.year, (b.today.month - 1) // 3 * 3 + 1, 1)
    span = (b.today - q_start).days
    items = (("Z2", None, "走访联系户，帮助独居老人联系维修"), ("Z3", Decimal("2"), "参加社区垃圾分类宣传志愿服务"),
             ("Z5", None, "调解邻里漏水纠纷"), ("Z7", 1, "收到居民感谢信"), ("J6", None, "在小区门口党员先锋岗亮身份"),
             ("Z3", Decimal("1.5"), "协助社区开展防诈骗宣传"))
    others = [m for m in b.members if m.status == "active" and not m.role and not m.special
              and m.on_roll_since <= q_start]
    picked = r.sample(others, 16)
    groups = (("pending", b.account_members + picked[:10]), ("rejected", picked[10:12]),
              ("confirmed", picked[12:16]))
    for status, group in groups:
        for m in group:
            code, value, note = r.choice(items)
            d = q_start + timedelta(days=r.randint(0, span))
            created = b.later(d, (0, 1, 2))
            own = m.user_id is not None
            rec = {
                "member": m, "value": value, "member_id": m.id, "indicator_code": code, "earned_on": d,
                "quantity": value if code == "Z3" else None, "note": note,
                "origin": "member" if own else "reconciliation", "status": status,
                "created_by_id": m.user_id if own else b.recorder(m),
                "created_at": b.stamp(created, r.randint(8, 12)),
                "reject_reason": "", "decided_by_id": None, "decided_at": None,
            }
            if status != "pending":
                rec["decided_by_id"] = b.recorder(m)
                rec["decided_at"] = b.stamp(b.later(created, (0, 1, 2, 3)), r.randint(14, 20))
            if status == "rejected":
                rec["reject_reason"] = r.choice(("该活动已由支部统一录入，请勿重复登记",
                                                 "未提供服务记录，请补充联系户签字后再登记"))
            b.self_records.append(rec)


def write_corrections(b: _Builder) -> tuple[int, list[dict[str, Any]]]:
    """The entries that were wrong, flushed as objects (the corrections name their ids); returns how many, and
    the corrections and re-entries, recorded a few days later, to write with the other later entries."""
    originals = [PointEntry(**wrong) for wrong, _good in b.corrections]
    db.session.add_all(originals)
    db.session.flush()

    later: list[dict[str, Any]] = []
    for (wrong, good), original in zip(b.corrections, originals):
        when = min(wrong["recorded_at"] + timedelta(days=b.rng.randint(1, 12), hours=b.rng.randint(0, 3)),
                   b.stamp(b.today, 9))
        when = max(when, wrong["recorded_at"] + timedelta(minutes=5))
        later.append({**wrong, "points": -wrong["points"],
                      "quantity": -wrong["quantity"] if wrong["quantity"] is not None else None,
                      "note": CORRECTION_NOTE, "source": "correction", "meeting_id": None, "host_branch_id": None,
                      "recorded_at": when, "corrects_id": original.id})
        if good is not None:
            later.append({**good, "note": (good["note"] + "；" if good["note"] else "") + REENTRY_NOTE,
                          "recorded_at": when + timedelta(minutes=b.rng.randint(1, 5))})
    return len(originals), later


def write_self_records(b: _Builder) -> list[dict[str, Any]]:
    """The self-records; returns the ledger entries of the confirmed ones, recorded by the secretary who
    confirmed them when they did."""
    records = [SelfRecord(**{k: v for k, v in rec.items() if k not in ("member", "value")}) for rec in b.self_records]
    db.session.add_all(records)
    db.session.flush()
    entries = []
    for rec, sr in zip(b.self_records, records):
        if rec["status"] == "confirmed":
            m = rec["member"]
            e = b.add(m, rec["indicator_code"], rec["earned_on"], rec["value"], note=rec["note"], source="self_record")
            m.rows.remove(e)
            e.update(self_record_id=sr.id, recorded_by_id=rec["decided_by_id"], recorded_at=rec["decided_at"])
            entries.append(e)
    return entries
