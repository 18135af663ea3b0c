"""The scheme of each year, stored as versions (DOMAIN.md "Scheme versions").

A year's scheme starts as a copy of the previous year's latest version, or of the shipped default
when there is none. Until the year's first publication the admin edits the latest version in
place; afterwards each change is a new version with a reason. Scores use the latest version.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import exists, select

from . import audit
from .db import db
from .models import Publication, SchemeVersion
from .scheme import Scheme, default_scheme_data

_cache: dict[tuple[int, str], Scheme] = {}


def latest_version(year: int) -> SchemeVersion | None:
    return db.session.scalar(
        select(SchemeVersion).where(SchemeVersion.year == year).order_by(SchemeVersion.version.desc()).limit(1))


def ensure_year(year: int, user: Any = None) -> SchemeVersion:
    """The year's latest version, created from the previous year's (or the default) the first time."""
    version = latest_version(year)
    if version is not None:
        return version
    previous = db.session.scalar(
        select(SchemeVersion).where(SchemeVersion.year < year)
        .order_by(SchemeVersion.year.desc(), SchemeVersion.version.desc()).limit(1))
    data = previous.data if previous is not None else default_scheme_data()
    Scheme.from_dict(data)  # a stored scheme is always valid
    version = SchemeVersion(year=year, version=1, data=data, created_by_id=getattr(user, "id", None),
                            reason=f"copied from {previous.year}" if previous else "shipped default")
    db.session.add(version)
    db.session.flush()
    audit.record("scheme_created", version, summary=version.reason, user=user)
    return version


def scheme_for_year(year: int) -> Scheme:
    """The parsed latest scheme of the year (parsed once per stored version and process)."""
    version = ensure_year(year)
    # Edited in place until the first publication, so the key includes the content.
    key = (version.id, hashlib.sha256(json.dumps(version.data, sort_keys=True).encode()).hexdigest())
    if key not in _cache:
        _cache[key] = Scheme.from_dict(version.data)
    return _cache[key]


def year_has_publication(year: int) -> bool:
    return bool(db.session.scalar(select(exists().where(Publication.year == year))))


def save_scheme(year: int, data: dict[str, Any], reason: str, user: Any) -> SchemeVersion:
    """Validate and store: in place before the year's first publication, else as a new version."""
    Scheme.from_dict(data)  # raises SchemeError with every problem
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
