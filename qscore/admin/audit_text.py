"""The audit log in the user's language. A row is stored as written: its summary in English, before and
after as data. It is shown with the action's label, the summary translated by matching it against the
formats the app writes (audit.SUMMARY_FORMATS; old rows read right too), and before/after as labelled
values with codes turned into words and ids into names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import select

from ..audit import ACTION_LABELS, SUMMARY_FORMATS
from ..booklet import SOURCE_LABELS
from ..db import db
from ..models import AuditLog, Branch, Community, Member, User
from ..scheme_versions import reason_text
from ..templating import (BRANCH_KIND_LABELS, CHECKIN_WAY_LABELS, GRADE_LABELS, LEAVE_KIND_LABELS, MEETING_KIND_LABELS, ROLE_LABELS,
                          TYPE_LABELS, is_chinese, unit_label)
from .forms import SettingsForm
from .labels import GENDER_LABELS, MEMBER_STATUS_LABELS, THRESHOLD_LABELS, WEIGHT_LABELS
from .scope import street_id
from ..dues_pages.forms import METHOD_LABELS as DUES_METHOD_LABELS

PRIVATE_VIEW_LABELS = {"member page": _l("the member page"), "edit form": _l("the edit form"),
                       "roster export": _l("the roster export")}
RECONCILIATION_LABELS = {"agrees": _l("Booklet agrees"), "deferred": _l("Absent: reconcile later"),
                         "clear": _l("mark cleared")}
PROPOSAL_KIND_LABELS = {"persuade_withdraw": _l("Persuade to withdraw"), "expel": _l("Expel"),
                        "cancel_probation": _l("Cancel the probation")}
STATUS_LABELS = {"pending": _l("pending"), "confirmed": _l("confirmed"), "rejected": _l("rejected"),
                 "ended": _l("ended"), "approved": _l("approved"), "draft": _l("in progress"),
                 "open": _l("under rectification"), "rectified": _l("rectified"), "proposed": _l("proposed"),
                 "closed": _l("closed"), **MEMBER_STATUS_LABELS}
OBJECT_LABELS = {
    "user": _l("Account"), "member": _l("Member"), "street": _l("Street"), "community": _l("Community"),
    "branch": _l("Branch"), "pointentry": _l("Entry"), "membertype": _l("Type"), "leave": _l("Leave"),
    "meeting": _l("Meeting or activity"), "selfrecord": _l("Self-recorded item"), "publication": _l("Publication"),
    "query": _l("Resident's query"), "yearreview": _l("Year-end review"), "reviewgrade": _l("Grade"),
    "rectificationcase": _l("Rectification case"), "casefollowup": _l("Follow-up"), "proposal": _l("Proposal"),
    "schemeversion": _l("Scheme version"), "setting": _l("Setting"), "memberpost": _l("Volunteer post"),
    "household": _l("Contact household"), "householdvisit": _l("Household visit"), "postkind": _l("Volunteer post"),
    "volunteerteam": _l("Volunteer team"), "teammember": _l("Team member"),
    "checkinmeeting": _l("Meeting opened for sign-in"), "checkin": _l("Sign-in at a meeting"),
}
# The fields before/after hold, as the admin reads them.
FIELD_LABELS = {
    "name": _l("Name"), "gender": _l("Gender"), "birth_year": _l("Year of birth"),
    "joined_party_on": _l("Joined the Party"), "on_roll_since": _l("On the roll since"),
    "probationary": _l("Probationary member"), "booklet_no": _l("Booklet number"), "phone": _l("Phone"),
    "address": _l("Address"), "branch_id": _l("Branch"), "community_id": _l("Community"), "member_id": _l("Member"),
    "status": _l("Status"), "left_roll_on": _l("Left the roll on"), "type": _l("Type"), "note": _l("Note"),
    "on": _l("Date"), "username": _l("Username"), "display_name": _l("Name shown"), "role": _l("Role"),
    "active": _l("Active"), "must_change_password": _l("Must change the password"),
    "effective_from": _l("Effective from"), "reason": _l("Reason"), "own_wish": _l("The member's own wish"),
    "kind": _l("Kind"), "retired": _l("Retired"), "imported": _l("Imported"), "skipped": _l("Skipped"),
    "rows": _l("Rows"), "answer": _l("Answer"), "correction_entry_id": _l("Correction entry"), "id": _l("Number"),
    "indicator": _l("Indicator"), "points": _l("Points"), "quantity": _l("Quantity"), "earned_on": _l("Date"),
    "source": _l("Recorded through"), "corrects_id": _l("Corrects entry"),
    "adjusts_publication_id": _l("Adjusts publication"), "agrees": _l("Booklets that agree"),
    "meeting_on": _l("Meeting date"), "present": _l("Present"), "total": _l("Members in total"),
    "chair": _l("Chair"), "minutes": _l("Minutes"), "grade": _l("Grade"), "suggested": _l("Suggested grade"),
    "score": _l("Year score"), "deadline": _l("Deadline"), "mentor_member_id": _l("Mentor"),
    "mentor_id": _l("Mentor"), "problems": _l("Problems"), "plan": _l("Plan"), "for": _l("For"),
    "against": _l("Against"), "abstain": _l("Abstaining"), "early": _l("Early proposal"),
    "early_reason": _l("Why early"), "chosen": _l("Chosen branches"), "computed": _l("Branch index ranking"),
    "year": _l("Year"), "recorded_by_id": _l("Recorded by"), "recorded_by": _l("Recorded by"),
    "recorded_at": _l("Recorded at"),
    # The scheme's document
    "types": _l("Types"), "categories": _l("Categories"), "indicators": _l("Indicators"),
    "grade_thresholds": _l("Grade thresholds"), "branch_index": _l("Branch index"), "weights": _l("Weights"),
    "rectification": _l("Rectification"), "period_months": _l("Period (months)"), "zh": _l("Name (Chinese)"),
    "en": _l("Name (English)"), "short_zh": _l("Button label (Chinese)"), "short_en": _l("Button label (English)"),
    "notes": _l("Notes (English)"), "notes_zh": _l("Notes (Chinese)"), "unit": _l("Counted per"), "base": _l("Base score"),
    "basic_cap": _l("Basic cap (J)"), "contribution_cap": _l("Contribution cap (Z)"), "category": _l("Category"),
    "points_by_type": _l("Points for the type"), "points_options": _l("Allowed values"),
    "month_cap": _l("Month cap"), "quarter_cap": _l("Quarter cap"), "year_cap": _l("Year cap"),
    "year_cap_by_type": _l("Year cap for the type"), "applies_to": _l("Applies"), "heavier": _l("Heavier deduction"),
    "veto": _l("Veto"), "code": _l("Code"), "sign": _l("Sign"), "value": _l("Value"),
}
# A summary's parts that are not free text, so that a format matches only what it was written from.
DATE, NUMBER, WORD = r"\d{4}-\d{2}-\d{2}", r"-?\d+", r"[a-z_]+"
PARAM_PATTERNS = {
    "on": DATE, "until": DATE, "deadline": DATE, "today": DATE, "period": r"\d{4}-Q[1-4]", "month": r"\d{4}-\d{2}",
    "through": r"\d{4}-\d{2}",
    "year": r"\d{4}", "sha256": r"[0-9a-f]{64}", "code": r"[A-Z][A-Z0-9]*", "points": r"-?[\d.]+",
    "username": r"\S+", "topic": r".*?", "branch_ids": r"\[[\d, ]*\]", "grade_counts": r".*",
    **{k: NUMBER for k in ("n", "members", "entries", "branches", "published", "reviews", "seed", "skipped", "rows",
                           "present", "total", "for", "against", "abstain", "posts", "entry", "meeting",
                           "household", "branch_id", "version", "from_branch", "to_branch", "line", "j", "k")},
    "amount": r"[\d.]+", "paid_code": r"[A-Z][A-Z0-9]*", "arrears_code": r"[A-Z][A-Z0-9]*",
    "type_from": r"\w+", "type_to": r"\w+", "from_time": r"\d{2}:\d{2}", "to_time": r"\d{2}:\d{2}", "ip": r"\S+",
    **{k: WORD for k in ("role", "member_status", "meeting_kind", "leave_kind",
                         "reconciliation", "grade", "suggested", "proposal_kind", "post_status", "dues_method",
                         "checkin_way")},
}


def _compile(fmt: str) -> re.Pattern:
    parts = re.split(r"%\((\w+)\)s", fmt)
    return re.compile("".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{PARAM_PATTERNS.get(p, '.+?')})"
                              for i, p in enumerate(parts)), re.S)


_FORMATS = {action: [(fmt, _compile(fmt)) for fmt in formats] for action, formats in SUMMARY_FORMATS.items()}


@dataclass
class Names:
    """Names for the ids a page of rows mentions, read once per page."""
    members: dict[int, str] = field(default_factory=dict)
    branches: dict[int, str] = field(default_factory=dict)
    communities: dict[int, str] = field(default_factory=dict)
    users: dict[int, str] = field(default_factory=dict)

    @classmethod
    def read(cls, rows, *, every_member: bool = False) -> Names:
        """The names a page of rows needs; an export reads all of the street's at once instead."""
        sid = street_id()
        members, users = select(Member.id, Member.name), select(User.id, User.display_name)
        if not every_member:
            member_ids, user_ids = set(), set()
            for r in rows:
                member_ids.add(r.member_id)
                for data in (r.before, r.after):
                    if isinstance(data, dict):
                        member_ids.update(_ints([data.get("member_id"), data.get("mentor_member_id"),
                                                 *(data.get("agrees") or ()), *data]))
                        user_ids.update(_ints([data.get("mentor_id"), data.get("recorded_by_id")]))
            members, users = members.where(Member.id.in_(member_ids)), users.where(User.id.in_(user_ids))
        return cls(
            dict(db.session.execute(members.where(Member.street_id == sid)).all()),
            dict(db.session.execute(select(Branch.id, Branch.name).join(Community, Community.id == Branch.community_id)
                                    .where(Community.street_id == sid)).all()),
            dict(db.session.execute(select(Community.id, Community.name).where(Community.street_id == sid)).all()),
            dict(db.session.execute(users.where(User.street_id == sid)).all()))


def _ints(values) -> set[int]:
    return {int(v) for v in values if isinstance(v, int) or (isinstance(v, str) and v.isdigit())}


def label_for(mapping: dict, value: str) -> str:
    return str(mapping.get(value, value))


def _param(key: str, value: str, names: Names) -> str:
    """A summary's part in the user's language: codes become words, ids become names."""
    if key == "role":
        return label_for(ROLE_LABELS, value)
    if key == "how":
        return label_for(PRIVATE_VIEW_LABELS, value)
    if key == "fields":
        return "、".join(label_for(FIELD_LABELS, f) for f in value.split(", "))
    if key == "settings":
        return "、".join(_setting_label(k) for k in value.split(", "))
    if key == "member_status":
        return label_for(MEMBER_STATUS_LABELS, value)
    if key in ("type_from", "type_to"):
        return label_for(TYPE_LABELS, value)
    if key == "meeting_kind":
        return label_for(MEETING_KIND_LABELS, value)
    if key == "leave_kind":
        return label_for(LEAVE_KIND_LABELS, value)
    if key == "checkin_way":
        return label_for(CHECKIN_WAY_LABELS, value)
    if key == "reconciliation":
        return label_for(RECONCILIATION_LABELS, value)
    if key in ("grade", "suggested"):
        return label_for(GRADE_LABELS, value)
    if key == "grade_counts":
        pairs = [p.rsplit(" ", 1) for p in value.split(", ") if " " in p]
        return "，".join(f"{label_for(GRADE_LABELS, g)} {n}" for g, n in pairs)
    if key == "proposal_kind":
        return label_for(PROPOSAL_KIND_LABELS, value)
    if key == "post_status":
        return label_for(STATUS_LABELS, value)
    if key == "dues_method":
        return label_for(DUES_METHOD_LABELS, value)
    if key in ("branch_id", "from_branch", "to_branch"):
        return names.branches.get(int(value), f"#{value}")
    if key == "branch_ids":
        return "、".join(names.branches.get(i, f"#{i}") for i in sorted(_ints(re.findall(r"\d+", value))))
    if key == "period":
        year, quarter = value.split("-Q")
        return _("%(year)d Q%(q)d", year=int(year), q=int(quarter))
    if key == "scheme_reason":
        return reason_text(value)
    return value


def _setting_label(key: str) -> str:
    unbound = getattr(SettingsForm, key, None)
    return str(unbound.args[0]) if unbound is not None and unbound.args else key


def describe(row: AuditLog, names: Names) -> str:
    """The row's summary in the user's language (stored in English, so shown as stored in English)."""
    summary = row.summary or ""
    if not is_chinese():
        return summary
    for fmt, pattern in _FORMATS.get(row.action, ()):
        m = pattern.fullmatch(summary)
        if m:
            return _(fmt, **{k: _param(k, v, names) for k, v in m.groupdict().items()})
    return summary


def action_label(action: str) -> str:
    return label_for(ACTION_LABELS, action)


# ---------------------------------------------------------------------------------------------
# Before and after, as labelled values
# ---------------------------------------------------------------------------------------------

def _flatten(data: Any, path: tuple = ()) -> dict[tuple, Any]:
    """Nested dicts as paths to values; lists of coded items (the scheme's) by their code."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            out.update(_flatten(v, (*path, str(k))))
        return out or {path: {}}
    if isinstance(data, list) and data and all(isinstance(x, dict) and "code" in x for x in data):
        out = {}
        for x in data:
            out.update(_flatten({k: v for k, v in x.items() if k != "code"}, (*path, str(x["code"]))))
        return out
    return {path: data}


def _field_label(path: tuple, action: str, names: Names) -> str:
    parts = []
    for key in path:
        if key.isdigit() and action == "grades_confirmed":
            parts.append(names.members.get(int(key), f"#{key}"))
        elif key in FIELD_LABELS:
            parts.append(str(FIELD_LABELS[key]))
        elif path[0] == "types" and key in TYPE_LABELS:
            parts.append(str(TYPE_LABELS[key]))
        elif key in GRADE_LABELS:
            parts.append(str(GRADE_LABELS[key]))
        elif key in THRESHOLD_LABELS:
            parts.append(str(THRESHOLD_LABELS[key]))
        elif key in WEIGHT_LABELS:
            parts.append(str(WEIGHT_LABELS[key]))
        elif action == "settings_changed":
            parts.append(_setting_label(key))
        else:
            parts.append(key)
    return " · ".join(parts) if parts else str(FIELD_LABELS["value"])


def _value(key: str, value: Any, action: str, names: Names) -> str:
    """One stored value as the admin reads it."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        if all(isinstance(x, dict) for x in value):
            return _("%(n)d items", n=len(value))
        return "、".join(_value(key, x, action, names) for x in value)
    if isinstance(value, dict):
        return "；".join(f"{k}：{_value(k, v, action, names)}" for k, v in value.items())
    text = str(value)
    if key in ("member_id", "mentor_member_id", "agrees"):
        return names.members.get(int(value), f"#{value}") if text.isdigit() else text
    if key in ("branch_id", "chosen"):
        return names.branches.get(int(value), f"#{value}") if text.isdigit() else text
    if key == "community_id":
        return names.communities.get(int(value), f"#{value}") if text.isdigit() else text
    if key in ("mentor_id", "recorded_by_id"):
        return names.users.get(int(value), f"#{value}") if text.isdigit() else text
    if key in ("type", "type_code", "applies_to") and text in TYPE_LABELS:
        return str(TYPE_LABELS[text])
    if key == "role":
        return label_for(ROLE_LABELS, text)
    if key == "gender":
        return label_for(GENDER_LABELS, text)
    if key in ("grade", "suggested") or key.isdigit():
        return label_for(GRADE_LABELS, text)
    if key == "source":
        return label_for(SOURCE_LABELS, text)
    if key == "unit":
        return unit_label(text)
    if key == "flexible_branch_kinds" or (key == "kind" and action.startswith("branch_")):
        return label_for(BRANCH_KIND_LABELS, text)
    if key == "kind" and action.startswith("proposal_"):
        return label_for(PROPOSAL_KIND_LABELS, text)
    if key == "kind" and action.startswith("leave_"):
        return label_for(LEAVE_KIND_LABELS, text)
    if key == "status" or (key == "value" and action == "reconciled"):
        return label_for({**STATUS_LABELS, **RECONCILIATION_LABELS}, text)
    return text


def changes(row: AuditLog, names: Names) -> list[tuple[str, str, str]]:
    """(what, before, after) for each value the row records; only what changed when it has both."""
    if row.before is None and row.after is None:
        return []
    before, after = _flatten(row.before), _flatten(row.after)
    if row.before is None:
        before = {}
    if row.after is None:
        after = {}
    paths = list(dict.fromkeys([*before, *after]))
    if row.before is not None and row.after is not None:
        paths = [p for p in paths if before.get(p) != after.get(p)] or paths
    out = []
    for path in paths:
        key = path[-1] if path else "value"
        out.append((_field_label(path, row.action, names),
                    _value(key, before[path], row.action, names) if path in before else "—",
                    _value(key, after[path], row.action, names) if path in after else "—"))
    return out
