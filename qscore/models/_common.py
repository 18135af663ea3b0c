"""Column helpers shared by the model modules."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Timestamps are stored in UTC; dates a user chooses are local dates."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
