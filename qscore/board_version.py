"""The board's version: one stamp per street that every screen's poll compares (board/__init__.py).

Whatever the public board shows — publications and their retraction, residents' queries and their
answers, the street's settings, the names and retirement of streets, communities and branches,
members' names, booklet numbers and status — moves the stamp in the same flush that changes it, by
the one listener below. No write has to remember to do it.
"""
from __future__ import annotations

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from .db import db
from .models import Branch, Community, Member, Publication, ResidentQuery, Setting, Street
from .models._common import utcnow

KEY = "board_version"

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


def bump(street_id: int) -> None:
    """Move the street's stamp (within the current transaction)."""
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
