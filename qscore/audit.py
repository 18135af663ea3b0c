"""Recording every write in the audit log, and refusing rewrites of append-only tables."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from .db import db
from .models import AuditLog, PointEntry, Publication
from .models._common import utcnow
from .security import client_ip

# Rows of these tables are written once; the ORM refuses to update or delete them.
APPEND_ONLY = (AuditLog, PointEntry)
# A publication may only gain a retraction; its snapshot and hash never change.
FROZEN_PUBLICATION_FIELDS = ("snapshot", "sha256", "adjustments", "branch_id", "year", "quarter", "published_at")


class AppendOnlyError(RuntimeError):
    pass


def record(action: str, obj: Any = None, *, summary: str = "", before: Any = None, after: Any = None,
           member_id: int | None = None, user: Any = None) -> AuditLog:
    """Add an audit row to the current transaction: it commits or rolls back with the write it records."""
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    row = AuditLog(
        user_id=getattr(user, "id", None), username=getattr(user, "username", "") or "",
        action=action, object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=getattr(obj, "id", None), member_id=member_id, summary=summary[:2000],
        before=before, after=after, ip=client_ip() if has_request_context() else "",
    )
    db.session.add(row)
    return row


_INSERT = insert(AuditLog.__table__)


def record_many(action: str, object_type: str, rows: list[dict[str, Any]], *, user: Any = None,
                at: datetime | None = None) -> None:
    """Insert many audit rows of one action in one bulk statement, in the current transaction.

    Each row gives object_id, member_id, summary, before and after; the rest is as ``record`` fills it.
    """
    if not rows:
        return
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    common = dict(at=at or utcnow(), user_id=getattr(user, "id", None), username=getattr(user, "username", "") or "",
                  action=action, object_type=object_type, ip=client_ip() if has_request_context() else "")
    db.session.connection().execute(_INSERT, [
        {**common, "object_id": r.get("object_id"), "member_id": r.get("member_id"),
         "summary": (r.get("summary") or "")[:2000], "before": r.get("before"), "after": r.get("after")}
        for r in rows])


@event.listens_for(Session, "before_flush")
def _refuse_rewrites(session: Session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, (*APPEND_ONLY, Publication)):
            raise AppendOnlyError(f"{type(obj).__name__} rows are never deleted")
    for obj in session.dirty:
        if isinstance(obj, APPEND_ONLY) and session.is_modified(obj):
            raise AppendOnlyError(f"{type(obj).__name__} rows are never updated")
        if isinstance(obj, Publication):
            state = db.inspect(obj)
            for name in FROZEN_PUBLICATION_FIELDS:
                if state.attrs[name].history.has_changes():
                    raise AppendOnlyError("a publication's snapshot never changes")
