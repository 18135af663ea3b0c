"""Template globals and filters (none of them query the database)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, url_for
from flask_login import current_user
from sqlalchemy import select
from flask_babel import get_locale, gettext, lazy_gettext as _l

from .clock import today
from .db import db
from .i18n import translate
from .models import Street
from .navigation import items_for
from .scheme import N_
from .scoring import round_half_up

HTMX_FILE = "vendor/htmx-2.0.11.min.js"
UTC = ZoneInfo("UTC")

# Labels of stored codes: msgids here, shown through i18n.translate (a page writes a type on every row);
# the *_LABELS beside them are the same labels as lazy strings, for Python code that formats them.
TYPE_NAMES = {"A": N_("Type 1"), "B": N_("Type 2"), "C": N_("Type 3"), "D": N_("Type 4")}
ROLE_NAMES = {
    "street_admin": N_("Street administrator"),
    "community_secretary": N_("Community secretary"),
    "branch_secretary": N_("Branch secretary"),
    "member": N_("Party member"),
}
BRANCH_KIND_NAMES = {
    "ordinary": N_("Ordinary branch"),
    "reemployment": N_("Re-employment branch"),
    "retirees": N_("Retirees' branch"),
    "mobile": N_("Mobile members' branch"),
    "other": N_("Other branch"),
}


def _lazy(names: dict[str, str]) -> dict:
    return {key: _l(msgid) for key, msgid in names.items()}


def _label(names: dict[str, str], key, fallback):
    """The label of a code in the request's language; ``fallback`` for a code without one."""
    msgid = names.get(key)
    return translate(msgid) if msgid is not None else fallback


TYPE_LABELS = _lazy(TYPE_NAMES)
ROLE_LABELS = _lazy(ROLE_NAMES)
BRANCH_KIND_LABELS = _lazy(BRANCH_KIND_NAMES)


def rounded(value) -> Decimal:
    """The figure a person sees: the exact value rounded half up (ties away from zero) to one decimal.

    Every formatter of a score or points figure (here, stats/format.py, public_snapshot.py, the
    publication's snapshot text) rounds through this, so 60.05 reads 60.1 on every page. An average
    is rounded once, from the exact mean. Text and floats are taken as the decimal they read as.
    """
    if isinstance(value, float):
        value = Decimal(repr(value))  # 0.15, not its binary 0.1499…
    elif isinstance(value, str):
        value = Decimal(value)
    return round_half_up(value)


def points(value) -> str:
    """Points with one decimal where needed: 3, 2.5, -2."""
    if value is None:
        return ""
    return f"{rounded(value):f}".removesuffix(".0")


def signed(value) -> str:
    text = points(value)
    return text if text.startswith("-") or text in ("", "0") else f"+{text}"


def local_time(value: datetime | None, tz: ZoneInfo | None = None) -> str:
    """UTC timestamps shown in the street's time zone (``tz``: the street's, when already looked up)."""
    if value is None:
        return ""
    tz = tz or ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return value.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M")


MEETING_KIND_NAMES = {
    "org_life": N_("Organisational life (theme party day, branch meeting)"),
    "study": N_("Party lecture or group study"),
    "volunteer": N_("Volunteer activity"),
    "charity": N_("Charity-day donation"),
    "other": N_("Other activity"),
}
CHECKIN_WAY_NAMES = {
    "account": N_("on their phone, logged in"),
    "code": N_("on their phone, with the code"),
    "tablet": N_("on the tablet"),
}
LEAVE_KIND_NAMES = {
    "leave": N_("Leave"),
    "health_exemption": N_("Health exemption"),
    "working_away": N_("Working away"),
    "other": N_("Other"),
}
GRADE_NAMES = {
    "advanced": N_("Advanced"),
    "qualified": N_("Qualified"),
    "rectify": N_("Rectification"),
    "none": N_("Not graded"),
}
MEETING_KIND_LABELS = _lazy(MEETING_KIND_NAMES)
LEAVE_KIND_LABELS = _lazy(LEAVE_KIND_NAMES)
CHECKIN_WAY_LABELS = _lazy(CHECKIN_WAY_NAMES)
GRADE_LABELS = _lazy(GRADE_NAMES)


def is_chinese() -> bool:
    return get_locale().language == "zh"


def localized(obj) -> str:
    """The Chinese or English name of a scheme object (type, category, indicator)."""
    return (obj.zh if is_chinese() else obj.en) or obj.zh or obj.en


def short_label(ind) -> str:
    """An indicator's quick-button label in the user's language ("出席", "Attended"); else its name."""
    return (ind.short_zh if is_chinese() else ind.short_en) or localized(ind)


def indicator_notes(ind) -> str:
    """An indicator's notes for the secretaries in the user's language, else whichever the scheme has."""
    return (ind.notes_zh if is_chinese() else ind.notes) or ind.notes or ind.notes_zh


# The scheme's unit keys ("hour" also makes an entry record hours); an admin's own unit is shown as typed.
UNIT_LABELS = {
    "attendance": _l("per attendance"),
    "absence": _l("per absence"),
    "hour": _l("per hour"),
    "quarter": _l("per quarter"),
    "month on duty": _l("per month on duty"),
    "month overdue": _l("per month overdue"),
    "documented contact": _l("per documented contact"),
    "task": _l("per task"),
    "item": _l("per item"),
    "decision": _l("per decision"),
}


def unit_label(unit: str) -> str:
    label = UNIT_LABELS.get(unit)
    return str(label) if label is not None else gettext("per %(unit)s", unit=unit)


def reason_text(reason) -> str:
    return reason.text(translate)


class RowUrl:
    """The URL of an endpoint for each row of a table, with url_for called once per page, not once per row
    (~13 µs a call; a 60-member roster made ~360): the row's id is put where a mark stood. ``more`` values
    that differ between a row's buttons (an indicator code) get a pattern each."""

    MARK = "7391046285193"

    def __init__(self, endpoint: str, key: str = "member_id", **values):
        self.endpoint, self.key, self.values = endpoint, key, values
        self.patterns: dict[tuple, tuple[str, str] | None] = {}

    def __call__(self, row_id: int, **more) -> str:
        which = tuple(sorted(more.items()))
        if which not in self.patterns:
            parts = url_for(self.endpoint, **{self.key: int(self.MARK)}, **self.values, **more).split(self.MARK)
            self.patterns[which] = (parts[0], parts[1]) if len(parts) == 2 else None
        pattern = self.patterns[which]
        if pattern is None:  # the mark appears elsewhere in the URL too: build it whole
            return url_for(self.endpoint, **{self.key: row_id}, **self.values, **more)
        return f"{pattern[0]}{int(row_id)}{pattern[1]}"


class _WhenAsked:
    """A value of the layout worked out the first time a template reads it: the context processor runs for
    every template rendered, and the fragments htmx swaps (a roster row, the totals) never read the menu."""

    __slots__ = ("_make", "_value")
    _UNSET = object()

    def __init__(self, make):
        self._make, self._value = make, self._UNSET

    def get(self):
        if self._value is self._UNSET:
            self._value = self._make()
        return self._value

    def __bool__(self) -> bool:
        return bool(self.get())

    def __iter__(self):
        return iter(self.get())

    def __len__(self) -> int:
        return len(self.get())


def _demo_mode() -> bool:
    street = g.get("street")
    if street is not None:
        return bool(street.demo)
    return bool(db.session.scalar(select(Street.id).where(Street.demo.is_(True)).limit(1)))


def _chrome() -> dict:
    """What the layout needs on every page: the user's street and whether demo data is loaded."""
    nav = _WhenAsked(lambda: items_for(current_user) if current_user.is_authenticated else [])
    return {"street": g.get("street"), "demo_mode": _WhenAsked(_demo_mode), "nav_items": nav}


def init_app(app: Flask) -> None:
    app.context_processor(_chrome)
    app.jinja_env.filters["points"] = points
    app.jinja_env.filters["signed"] = signed
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["HTMX_FILE"] = HTMX_FILE
    app.jinja_env.globals["url_rules"] = app.view_functions
    app.jinja_env.globals["row_url"] = RowUrl
    app.jinja_env.globals["type_label"] = lambda code: _label(TYPE_NAMES, code, code)
    app.jinja_env.globals["role_label"] = lambda role: _label(ROLE_NAMES, role, role)
    app.jinja_env.globals["branch_kind_label"] = lambda kind: _label(BRANCH_KIND_NAMES, kind, kind)
    app.jinja_env.globals["current_locale"] = lambda: "zh_CN" if is_chinese() else "en"
    app.jinja_env.globals["meeting_kind_label"] = lambda k: _label(MEETING_KIND_NAMES, k, k)
    app.jinja_env.globals["checkin_way_label"] = lambda k: _label(CHECKIN_WAY_NAMES, k, k)
    app.jinja_env.globals["leave_kind_label"] = lambda k: _label(LEAVE_KIND_NAMES, k, k)
    app.jinja_env.globals["grade_label"] = lambda code: _label(GRADE_NAMES, code or "none", code)
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["reason"] = reason_text
    app.jinja_env.filters["short_label"] = short_label
    app.jinja_env.filters["notes"] = indicator_notes
    app.jinja_env.globals["unit_label"] = unit_label
    app.jinja_env.globals["today_iso"] = lambda: today().isoformat()
