"""The board's version: one stamp per street that every screen's poll compares (board/__init__.py).

Whatever the public board shows — publications and their retraction, residents' queries and their
answers, the street's settings, the names and retirement of streets, communities and branches,
members' names, booklet numbers and status — moves the stamp in the same flush that changes it, by
the one listener below. No write has to remember to do it.

Every screen's poll reads the stamp, so a process keeps what it read for up to ``READ_TTL_SECONDS``: fifty
screens of a street polling then cost the database one read a second, not fifty (on PostgreSQL a read is a
pool check-out, a ping and a transaction). A commit of this process that moved a stamp forgets them all at
once, so its own publications show at the next poll; another process's show within the TTL.
"""
from __future__ import annotations

import threading
import time

from flask import has_app_context
from sqlalchemy import bindparam, event, func, inspect, select
from sqlalchemy.orm import Session

from .db import db
from .models import Branch, Community, Member, Publication, ResidentQuery, Setting, Street
from .models._common import utcnow
from .public_snapshot import CACHE_MAX, process_cache

KEY = "board_version"
READ_TTL_SECONDS = 1.0
_GENERATION = "generation"  # beside the stamps: moved by every forget, so a read overtaken by one is not kept
_stamps_lock = threading.Lock()

# Per model, the fields whose change the board shows (None: any change, and every new row).
WATCHED: dict[type, tuple[str, ...] | None] = {
    Street: ("name", "demo"),
    Community: ("name", "retired"),
    Branch: ("name", "retired"),
    Member: ("name", "booklet_no", "status"),
    Publication: ("retracted_at",),
    ResidentQuery: ("answered_at", "answer"),
    Setting: None,
}
# New rows that reach the board (a new member or branch shows only once it is published).
NEW_ROWS = (Publication, ResidentQuery, Setting)


# Built once: a poll is the board's hottest path, and building the statement cost more than running it.
_OF_STREET = select(Setting.value).where(Setting.key == KEY, Setting.street_id == bindparam("street_id"))
_OF_FIRST_STREET = select(Setting.value).where(
    Setting.key == KEY, Setting.street_id == select(func.min(Street.id)).scalar_subquery())


def current(street_id: int | None) -> str:
    """The street's stamp ("0" before the first; the first street's when none is named), as committed.

    Read on a connection of its own in autocommit (no transaction to begin and roll back), outside the ORM
    session, and kept for ``READ_TTL_SECONDS``. A commit that moves a stamp while the read runs makes the
    read's answer not kept: what this process wrote is never hidden by what it read just before.
    """
    known = process_cache("board_versions")
    hit = known.get(street_id)
    now = time.monotonic()
    if hit is not None and now - hit[0] < READ_TTL_SECONDS:
        return hit[1]
    generation = known.get(_GENERATION, 0)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if street_id is None:
            value = conn.execute(_OF_FIRST_STREET).scalar()
        else:
            value = conn.execute(_OF_STREET, {"street_id": street_id}).scalar()
    stamp = "0" if value is None else str(value)
    with _stamps_lock:
        if known.get(_GENERATION, 0) == generation:
            if len(known) > CACHE_MAX:  # ids come from the public board's address: at most CACHE_MAX kept
                known.clear()
                known[_GENERATION] = generation
            known[street_id] = (now, stamp)
    return stamp


def forget_read_stamps() -> None:
    """Forget every stamp this process read (a commit of it moved one)."""
    known = process_cache("board_versions")
    with _stamps_lock:
        generation = known.get(_GENERATION, 0) + 1
        known.clear()
        known[_GENERATION] = generation


def bump(street_id: int) -> None:
    """Move the street's stamp (within the current transaction; its commit forgets the stamps read)."""
    db.session.info["qscore_bumped"] = True
    row = db.session.scalar(select(Setting).where(Setting.street_id == street_id, Setting.key == KEY))
    stamp = utcnow().isoformat(timespec="microseconds")
    if row is None:
        db.session.add(Setting(street_id=street_id, key=KEY, value=stamp))
    else:
        row.value = stamp


def _street_of(session: Session, obj) -> int | None:
    if isinstance(obj, Street):
        return obj.id
    if isinstance(obj, (Community, Member, Setting)):
        return obj.street_id
    # session.get: the branch and community a view has loaded are in the identity map (no query at all).
    branch_id = getattr(obj, "branch_id", None)
    branch = obj if isinstance(obj, Branch) else session.get(Branch, branch_id) if branch_id is not None else None
    community = session.get(Community, branch.community_id) if branch is not None else None
    return community.street_id if community is not None else None


def _changes_board(obj) -> bool:
    if isinstance(obj, Setting) and obj.key == KEY:
        return False  # the stamp itself
    fields = WATCHED.get(type(obj), ())
    if fields is None:
        return True
    state = inspect(obj)
    return any(state.attrs[f].history.has_changes() for f in fields)


@event.listens_for(Session, "before_flush")
def _bump_on_board_inputs(session: Session, flush_context, instances) -> None:
    changed = [o for o in session.new if isinstance(o, NEW_ROWS) and not (isinstance(o, Setting) and o.key == KEY)]
    changed += [o for o in session.dirty if type(o) in WATCHED and _changes_board(o)]
    streets = {_street_of(session, o) for o in changed}
    with session.no_autoflush:
        for street_id in sorted(s for s in streets if s is not None):
            bump(street_id)


# Both fire for a savepoint too: only the outermost transaction's end says whether the stamp moved.
@event.listens_for(Session, "after_commit")
def _forget_after_a_bump(session: Session) -> None:
    if not session.in_nested_transaction() and session.info.pop("qscore_bumped", False) and has_app_context():
        forget_read_stamps()


@event.listens_for(Session, "after_rollback")
def _nothing_moved(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop("qscore_bumped", None)
