"""Today's date in the street's time zone; tests pin it with the FIXED_TODAY setting."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def today() -> date:
    fixed = current_app.config.get("FIXED_TODAY")
    if fixed:
        return fixed if isinstance(fixed, date) else date.fromisoformat(str(fixed))
    return datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def now() -> datetime:
    """The street's wall-clock time, without a zone (what a meeting's hours are typed in). Tests pin it with
    FIXED_NOW; with only FIXED_TODAY pinned, it is that day at the real time of day."""
    fixed = current_app.config.get("FIXED_NOW")
    if fixed:
        return fixed if isinstance(fixed, datetime) else datetime.fromisoformat(str(fixed))
    real = datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).replace(tzinfo=None)
    return datetime.combine(today(), real.time()) if current_app.config.get("FIXED_TODAY") else real
