"""Loading the demo street: the builder's steps in their order (each random draw in its place, so a seed and a
day always give the same street), and the writing of the street, its communities, branches and members."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import insert, text

from .. import audit
from ..db import db
from ..demo_mode import DEMO_STREET
from ..models import Branch, BranchSpell, Community, Leave, Member, MemberType, PointEntry, SelfRecord, Street
from ..scheme_versions import ensure_year, scheme_for_year
from .accounts import write_accounts
from .builder import _Builder
from .corrections import plan_corrections, plan_self_records
from .dues import write_dues, write_open_meeting
from .ledger import balance, flexible_conflict, plan_entries, write_ledger
from .meetings import plan_meetings, write_meetings
from .people import plan_dates, plan_people, plan_roles, plan_type_changes
from .plan import COMMUNITIES, DEFAULT_SEED
from .publishing import publish_ended_quarters
from .review import review_past_year
from .service import fit_households, plan_service, plan_teams, write_service


def load_demo(today: date, seed: int = DEFAULT_SEED) -> Street:
    """Build the demo street in the current session (added and flushed; the caller commits)."""
    b = _Builder(today, seed)
    plan_people(b)
    plan_dates(b)
    plan_type_changes(b)
    plan_roles(b)
    plan_service(b)
    teams = plan_teams(b)

    street, communities, branches = write_street(b)
    admin = write_accounts(b, street, communities)
    write_histories(b)

    plan_meetings(b)
    write_meetings(b)

    # The ledger: planned, checked against the rules, then written in bulk; the few entries that
    # are corrected later are flushed as objects, for their ids.
    plan_entries(b)
    balance(b)
    flexible_conflict(b)
    plan_corrections(b)
    plan_self_records(b)
    fit_households(b)
    entries = write_ledger(b)
    write_dues(b)
    write_open_meeting(b)
    write_service(b, communities, teams)
    refresh_statistics()

    published = publish_ended_quarters(b, street, branches)
    reviewed = review_past_year(b, street, branches)

    audit.record("demo_loaded", street, user=admin, summary=(
        f"demo street {DEMO_STREET}: {len(b.branches)} branches, {len(b.members)} members, "
        f"{entries} entries, {published} published quarters, "
        f"{reviewed} confirmed reviews (seed {seed}, today {today.isoformat()})"))
    db.session.flush()
    return street


def classified_at(b: _Builder) -> datetime:
    """When the street classified its members (UTC): the first type and branch spell of earlier arrivals."""
    return datetime(b.prev - 1, 12, 20, 2, 0)


def write_street(b: _Builder) -> tuple[Street, list[Community], list[Branch]]:
    """The street, the scheme of each year, the communities, branches and members (which learn their ids)."""
    street = Street(name=DEMO_STREET, demo=True)
    db.session.add(street)
    db.session.flush()
    for y in (b.prev, b.year):
        b.scheme_version[y] = ensure_year(y).id
        b.schemes[y] = scheme_for_year(y)
    communities = [Community(street_id=street.id, name=c[0]) for c in COMMUNITIES]
    db.session.add_all(communities)
    db.session.flush()
    branches = [Branch(community_id=communities[br.community].id, name=br.name, kind=br.kind,
                       quick_indicators="J1,Z2" if br.kind == "retirees" else "J1,Z3")
                for br in b.branches]
    db.session.add_all(branches)
    db.session.flush()
    for br, orm in zip(b.branches, branches):
        br.id = orm.id

    initial = classified_at(b)
    members = [Member(
        street_id=street.id, branch_id=m.branch.id, name=m.name, gender=m.gender, birth_year=m.birth_year,
        joined_party_on=m.joined_party_on, on_roll_since=m.on_roll_since, probationary=m.probationary,
        booklet_no=m.booklet_no, phone=m.phone, address=m.address, status=m.status, left_roll_on=m.left_roll_on,
        created_at=max(initial, b.stamp(m.on_roll_since)),
    ) for m in b.members]
    db.session.add_all(members)
    db.session.flush()
    for m, orm in zip(b.members, members):
        m.id = orm.id
    return street, communities, branches


def write_histories(b: _Builder) -> None:
    """Each member's type history, branch spell and leaves, decided by the community's secretary."""
    initial = classified_at(b)
    type_rows, spell_rows, leave_rows = [], [], []
    for m in b.members:
        cs = b.community_user[m.branch.community]
        for i, (since, t, reason, wish) in enumerate(m.types):
            if i == 0:
                at = initial if since < initial.date() else b.stamp(since)
            else:
                at = b.stamp(max(since - timedelta(days=b.rng.randint(3, 12)), b.start))
            type_rows.append({"member_id": m.id, "type_code": t, "effective_from": since, "reason": reason,
                              "own_wish": wish, "decided_by_id": cs, "recorded_at": at})
        spell_rows.append({"member_id": m.id, "branch_id": m.branch.id, "starts_on": m.on_roll_since,
                           "ends_on": m.left_roll_on, "recorded_by_id": cs,
                           "recorded_at": max(initial, b.stamp(m.on_roll_since))})
        for kind, s, e, reason in m.leaves:
            leave_rows.append({"member_id": m.id, "kind": kind, "starts_on": s, "ends_on": e, "reason": reason,
                               "recorded_by_id": b.recorder(m), "recorded_at": b.stamp(min(s, b.today))})
    db.session.execute(insert(MemberType.__table__), type_rows)
    db.session.execute(insert(BranchSpell.__table__), spell_rows)
    db.session.execute(insert(Leave.__table__), leave_rows)


def refresh_statistics() -> None:
    """PostgreSQL plans the scoring queries from its table statistics; after a bulk load those
    still describe the tables as they were (often empty), and a plan made for a handful of rows can
    take minutes over thousands. ANALYZE in this transaction counts the rows just written."""
    if db.session.get_bind().dialect.name == "postgresql":
        for table in (PointEntry.__table__, Member.__table__, MemberType.__table__, BranchSpell.__table__,
                      SelfRecord.__table__):
            db.session.execute(text(f'ANALYZE "{table.name}"'))
