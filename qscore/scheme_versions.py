"""The scheme of each year, stored as versions (DOMAIN.md "Scheme versions").

A year's scheme starts as a copy of the previous year's latest version, or of the shipped default
when there is none. Until the year's first publication the admin edits the latest version in
place; afterwards each change is a new version with a reason. Scores use the latest version.
"""
from __future__ import annotations

import json
import re
from typing import Any

from flask import g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import Text, bindparam, cast, event, exists, insert, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from . import audit
from .db import db
from .models import AuditLog, Publication, SchemeVersion
from .models._common import utcnow
from .scheme import Scheme, default_scheme_data
from .scheme_schema import check_scheme

# Parsed schemes by version id, with the stored JSON text they were parsed from: a version is edited in
# place until the year's first publication (save_scheme), so the text, not the id, says whether the
# parse is still current. One entry per version row: an edit replaces it.
_cache: dict[int, tuple[str, Scheme]] = {}


def latest_version(year: int) -> SchemeVersion | None:
    return db.session.scalar(
        select(SchemeVersion).where(SchemeVersion.year == year).order_by(SchemeVersion.version.desc()).limit(1))


def planned_version(year: int) -> SchemeVersion:
    """What a year's first version will hold, not stored: a copy of the latest earlier year's scheme,
    or of the shipped default. Pages show it before anything needs the year (a GET never writes)."""
    previous = db.session.scalar(
        select(SchemeVersion).where(SchemeVersion.year < year)
        .order_by(SchemeVersion.year.desc(), SchemeVersion.version.desc()).limit(1))
    data = previous.data if previous is not None else default_scheme_data()
    return SchemeVersion(year=year, version=1, data=data,
                         reason=f"copied from {previous.year}" if previous else "shipped default")


def ensure_year(year: int, user: Any = None) -> SchemeVersion:
    """The year's latest version, created from the previous year's (or the default) the first time:
    only by a write that needs it (a ledger entry, a saved or imported scheme, "start the year")."""
    version = latest_version(year)
    if version is not None:
        return version
    planned = planned_version(year)
    data, reason = planned.data, planned.reason
    Scheme.from_dict(data)  # a stored scheme is always valid
    if db.session.get_bind().dialect.name == "postgresql":
        _create_apart(year, data, reason, user)
        return latest_version(year)
    # SQLite: this transaction may hold the write lock (qscore/db.py), so the row is written in it;
    # writers are serialised there, so two requests cannot both create it.
    version = SchemeVersion(year=year, version=1, data=data, created_by_id=getattr(user, "id", None), reason=reason)
    db.session.add(version)
    db.session.flush()
    audit.record("scheme_created", version, summary=version.reason, user=user)
    return version


# The reasons ensure_year stores (in English, as every stored record); shown in the user's language.
_COPIED = re.compile(r"copied from (\d{4})")


def reason_text(reason: str) -> str:
    """A version's reason as the user reads it: the two the app writes translated, the admin's as typed."""
    if reason == "shipped default":
        return _("a copy of the shipped default")
    if m := _COPIED.fullmatch(reason or ""):
        return _("a copy of %(year)s's scheme", year=m.group(1))
    return reason


def _create_apart(year: int, data: dict[str, Any], reason: str, user: Any) -> None:
    """A year's first version, committed at once on a connection of its own (PostgreSQL).

    Two requests meeting a new year at once would otherwise both insert version 1 inside their own
    transactions, which also hold branch locks (qscore/branch_lock.py): one fails, or they deadlock.
    Apart, the second waits a moment for the first and inserts nothing. The row names no user id (the
    account may not be committed yet, and this connection must never wait for the request's own).
    """
    table = SchemeVersion.__table__
    with db.engine.connect() as conn:
        created = conn.execute(
            pg_insert(table).values(year=year, version=1, data=data, reason=reason, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["year", "version"]).returning(table.c.id)).scalar()
        if created is not None:
            conn.execute(insert(AuditLog.__table__).values(
                at=utcnow(), username=getattr(user, "username", "") or "", action="scheme_created",
                object_type="schemeversion", object_id=created, summary=reason, ip=""))
        conn.commit()


# Read by every page that shows points: built once.
_LATEST_TEXT = (select(SchemeVersion.id, cast(SchemeVersion.data, Text)).where(SchemeVersion.year == bindparam("year"))
                .order_by(SchemeVersion.version.desc()).limit(1))


def scheme_for_year(year: int) -> Scheme:
    """The parsed latest scheme of the year (parsed once per stored content and process).

    Reads the latest version's id and stored JSON text only (no JSON decoding, no ORM row): the
    text is the memo's check, so an in-place edit, here or in another process, is seen at once.
    Within one request it is read once (an inline add asked five times, ~0.3 ms each): what this
    request writes to a scheme version, or rolls back, forgets that (the listeners below).
    """
    known = g.setdefault("qscore_schemes", {}) if has_request_context() else {}
    hit = known.get(year)
    if hit is not None:
        return hit[1]
    scheme, version_id = _read_scheme(year)
    if version_id is not None:  # the planned scheme of a year without a version is not kept: it may come any moment
        known[year] = (version_id, scheme)
    return scheme


def version_read(year: int) -> int | None:
    """The id of the version this request's ``scheme_for_year(year)`` answered from, if it asked: an entry the
    request writes names the version its points came from, even if a newer one was committed meanwhile."""
    hit = g.get("qscore_schemes", {}).get(year) if has_request_context() else None
    return hit[0] if hit is not None else None


def _forget_read_schemes() -> None:
    if has_request_context():
        g.pop("qscore_schemes", None)


@event.listens_for(SchemeVersion.data, "set")
def _forget_on_edit(target, value, oldvalue, initiator) -> None:
    state = inspect(target)
    if state.persistent or state.pending:  # not the planned version a year without one is read from
        _forget_read_schemes()


@event.listens_for(Session, "before_flush")
def _forget_on_new_version(session: Session, flush_context, instances) -> None:
    if any(isinstance(o, SchemeVersion) for o in session.new):
        _forget_read_schemes()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    _forget_read_schemes()  # what was read may have been this transaction's own edit


def _read_scheme(year: int) -> tuple[Scheme, int | None]:
    """(the scheme, the id of its stored version; None for the planned scheme of a year without one)."""
    row = db.session.execute(_LATEST_TEXT, {"year": year}).first()
    if row is None:  # no version yet: the scheme it will be (created by the first write that needs it)
        return Scheme.from_dict(planned_version(year).data), None
    version_id, text = row
    hit = _cache.get(version_id)
    if hit is not None and hit[0] == text:
        return hit[1], version_id
    scheme = Scheme.from_dict(json.loads(text))
    _cache[version_id] = (text, scheme)
    return scheme, version_id


def year_has_publication(year: int) -> bool:
    return bool(db.session.scalar(select(exists().where(Publication.year == year))))


def save_scheme(year: int, data: dict[str, Any], reason: str, user: Any) -> SchemeVersion:
    """Validate and store: in place before the year's first publication, else as a new version."""
    check_scheme(data)  # the one door (schema, then rules): raises SchemeError with every problem
    current = ensure_year(year, user)
    before = current.data
    if not year_has_publication(year):
        current.data = data
        current.reason = reason or current.reason
        target = current
    else:
        if not reason.strip():
            raise ValueError("a new scheme version needs a reason")
        target = SchemeVersion(year=year, version=current.version + 1, data=data, reason=reason,
                               created_by_id=getattr(user, "id", None))
        db.session.add(target)
        db.session.flush()
    audit.record("scheme_saved", target, summary=f"{year} v{target.version}: {reason}", before=before, after=data,
                 user=user)
    return target
