"""Recording a meeting or activity for the whole branch at once: the service under entry/meetings.py.

No request, form or session user: the caller passes what the form said (``MeetingInput``), who records
it and today's date, then commits when ``record_branch_meeting`` returns, or rolls back on a refusal.
Every line is checked before the meeting, its leaves or its entries are added to the session, so a
refused meeting has written none of them even before the caller rolls back.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, select

from . import audit
from .access import own_record
from .db import db
from .idempotency import entries_with_key_prefix
from .ledger import (NOTE_MAX, LedgerError, MemberFacts, NewEntry, check_entries, error_field_and_text,
                     members_on_leave, type_histories, write_entries)
from .models import MEETING_KINDS, Branch, Community, Leave, Meeting, Member, SelfRecord, User
from .refusals import Refusal
from .scheme import Indicator, Scheme
from .scheme_versions import scheme_for_year
from .scoring import N_, type_on
from .street_settings import get_setting

# What a member's line may say: attended, excused (a leave), attended where they live (type 3), absent (K1).
STATUSES = ("attended", "excused", "home", "absent")
GUESTS_MAX = 200  # members of other branches added to one meeting
TOPIC_MAX = Meeting.topic.type.length

MEETING_ERROR_TEXTS = {
    "kind_unknown": N_("Not a valid choice."),
    "topic_required": N_("Fill this in."),
    "too_long": N_("The text is too long (at most {max} characters)."),
    "indicator_required": N_("Choose an indicator."),
    "hours_required": N_("Enter the hours served."),
    "status_required": N_("Choose attended, excused, attended where they live, or absent."),
    "leave_reason_required": N_("No leave is registered for this date: give the reason to register one."),
    "home_type_3_with_proof": N_("Attended where they live: type 3 members only, with the proof noted."),
}


class MeetingError(Refusal):
    """One thing wrong with a field of the meeting or with one member's line."""

    TEXTS = MEETING_ERROR_TEXTS


class MeetingRefused(Refusal):
    """The meeting is not recorded: the refusal of each field and of each member's line, nothing written.

    ``member_errors`` holds MeetingError, or the ledger's EntryError/LedgerError for the entry the line
    asked for; each translates with ``.text(gettext)``.
    """

    def __init__(self, field_errors: Mapping[str, Refusal], member_errors: Mapping[int, Refusal]):
        self.field_errors = dict(field_errors)
        self.member_errors = dict(member_errors)
        super().__init__("meeting_refused", next(iter(self.field_errors), ""), status=422)

    def text(self, gettext=lambda s: s) -> str:
        first = next(iter([*self.field_errors.values(), *self.member_errors.values()]), None)
        return first.text(gettext) if first is not None else self.key


class AlreadyRecorded(Refusal):
    """The form's key was used: a second submit of the same meeting, which changes nothing."""

    def __init__(self, written: int):
        self.written = written  # the entries the first submit recorded
        super().__init__("already_recorded", status=409)


@dataclass(frozen=True)
class MeetingInput:
    """What the meeting form says, as plain values (lines keyed by member id)."""

    held_on: date
    kind: str
    indicator_code: str | None
    topic: str
    hours: Decimal | None = None
    statuses: Mapping[int, str] = field(default_factory=dict)
    leave_reasons: Mapping[int, str] = field(default_factory=dict)
    proofs: Mapping[int, str] = field(default_factory=dict)
    guest_ids: Sequence[int] = ()


@dataclass(frozen=True)
class MeetingRecorded:
    meeting: Meeting
    written: int  # ledger entries written now
    own_waiting: int  # the recorder's own lines, waiting for another person's confirmation


# A row per member (id, name, status, branch_id, on_roll_since: what the lines and the ledger's rules read;
# name_key: the pinyin the list is ordered by, whose first letter the sign-in tablet jumps to), not an ORM
# object: loading, then expiring at the commit, 60 Members was a tenth of recording a meeting.
_BRANCH_MEMBERS = (select(Member.id, Member.name, Member.status, Member.branch_id, Member.on_roll_since,
                          Member.name_key)
                   .where(Member.branch_id == bindparam("branch_id"), Member.status == "active")
                   .order_by(Member.name_key, Member.name, Member.id))


def branch_members(branch: Branch) -> list[MemberFacts]:
    """The branch's active members, in pinyin order: the lines of the meeting form."""
    return list(db.session.execute(_BRANCH_MEMBERS, {"branch_id": branch.id}))


def guest_query(branch: Branch) -> Select:
    """(Member, home branch name) of the street's flexible-attendance branches other than this one."""
    street_id = db.session.scalar(select(Community.street_id).where(Community.id == branch.community_id))
    kinds = list(get_setting(street_id, "flexible_branch_kinds"))
    return (select(Member, Branch.name).join(Branch, Branch.id == Member.branch_id)
            .where(Member.street_id == street_id, Member.status == "active", Member.branch_id != branch.id,
                   Branch.kind.in_(kinds)))


def guests(branch: Branch, ids: Sequence[int]) -> list[Member]:
    """The members these ids name who may attend this branch's meeting as guests (others are left out)."""
    wanted = list(ids)[:GUESTS_MAX]
    if not wanted:
        return []
    return [m for m, _n in db.session.execute(guest_query(branch).where(Member.id.in_(wanted)))]


def meeting_indicators(scheme: Scheme) -> list[Indicator]:
    """What a meeting may credit: basic or role points in use (a deduction or the veto is never a meeting's)."""
    return [i for i in scheme.indicators.values() if i.category in ("J", "Z") and not i.retired]


# What each kind of meeting records by default: an indicator role or flag, resolved in the scheme.
DEFAULT_INDICATOR = {"org_life": "attendance", "study": "J2", "volunteer": "hours", "charity": "Z7", "other": "J2"}


def default_indicator(scheme: Scheme, kind: str) -> str | None:
    """The indicator a new meeting of this kind offers first (the meeting form's, the sign-in's)."""
    want = DEFAULT_INDICATOR.get(kind, "")
    for ind in scheme.indicators.values():
        if ind.retired or ind.category == "K":
            continue
        if (want == "attendance" and ind.role == "attendance") or (want == "hours" and ind.is_hours) or ind.code == want:
            return ind.code
    return None


def _meeting_indicator(scheme: Scheme, data: MeetingInput) -> Indicator:
    """The indicator the meeting records, or MeetingRefused naming every field that is wrong."""
    errors: dict[str, Refusal] = {}
    if data.kind not in MEETING_KINDS:
        errors["kind"] = MeetingError("kind_unknown", "kind")
    topic = (data.topic or "").strip()
    if not topic:
        errors["topic"] = MeetingError("topic_required", "topic")
    elif len(topic) > TOPIC_MAX:
        errors["topic"] = MeetingError("too_long", "topic", max=TOPIC_MAX)
    indicator = next((i for i in meeting_indicators(scheme) if i.code == data.indicator_code), None)
    if indicator is None:
        errors["indicator"] = MeetingError("indicator_required", "indicator")
    elif indicator.is_hours and data.hours is None:
        errors["hours"] = MeetingError("hours_required", "hours")
    if errors:
        raise MeetingRefused(errors, {})
    return indicator


def record_branch_meeting(branch: Branch, data: MeetingInput, *, by: User, today: date, key: str,
                          gettext: Callable[..., str], members: Sequence[MemberFacts] | None = None,
                          scheme: Scheme | None = None) -> MeetingRecorded:
    """Record the meeting and every line of it in the current transaction (flushed, not committed).

    The entries are checked together (ledger.check_entries: a few set-based queries for the whole
    branch) and written in bulk; refusals are reported member by member, in roster order, as if each
    entry had been recorded in turn. The recorder's own line is checked like the others but waits for
    another person's confirmation (four eyes). ``gettext`` translates the notes written into the
    ledger (the recorder's language). ``members`` (branch_members) and ``scheme`` (of the meeting's
    year): what the caller has already read this request. Raises MeetingRefused, or AlreadyRecorded
    when ``key`` was used.
    """
    scheme = scheme if scheme is not None else scheme_for_year(data.held_on.year)
    indicator = _meeting_indicator(scheme, data)
    held_on, topic, org_life = data.held_on, data.topic.strip(), data.kind == "org_life"
    absence = next(iter(scheme.indicators_with(role="absence")), None)
    value = data.hours if indicator.is_hours else None
    members = list(members) if members is not None else branch_members(branch)
    visitors = guests(branch, data.guest_ids)

    def status_of(m: MemberFacts) -> str:
        status = data.statuses.get(m.id, "") or ""
        # Only organisational life takes attendance: at other activities a member attended or is not listed.
        return status if org_life or status in ("attended", "") else ""

    statuses = {m.id: status_of(m) for m in members}

    # First what each line asks for, nothing written yet: (member, "error" | "leave" | "entry", detail).
    plan: list[tuple[MemberFacts, str, Any]] = []
    items: list[NewEntry] = []
    own: set[int] = set()  # items that are the recorder's own lines

    def add(m: MemberFacts, code: str, note: str, host: int | None) -> int:
        if own_record(m.id, by):
            own.add(len(items))
        # The meeting's id is set once every line has passed (the meeting row is written only then).
        items.append(NewEntry(member=m, indicator_code=code, value=value if code == indicator.code else None,
                              earned_on=held_on, note=note, source="meeting", host_branch_id=host,
                              idempotency_key=f"{key}:{m.id}"))
        return len(items) - 1

    excused = [mid for mid, status in statuses.items() if status == "excused"]
    registered = members_on_leave(excused, held_on) if excused else set()
    histories = type_histories([mid for mid, status in statuses.items() if status == "home"])
    for m in members:
        status = statuses[m.id]
        if org_life and status not in STATUSES:
            plan.append((m, "error", MeetingError("status_required")))
        elif status == "excused" and m.id not in registered:
            reason = (data.leave_reasons.get(m.id) or "").strip()
            if not reason:
                plan.append((m, "error", MeetingError("leave_reason_required")))
            elif len(reason) > NOTE_MAX:
                plan.append((m, "error", MeetingError("too_long", max=NOTE_MAX)))
            else:
                plan.append((m, "leave", reason))
        elif status == "attended":
            plan.append((m, "entry", add(m, indicator.code, topic, branch.id)))
        elif status == "home":
            proof = (data.proofs.get(m.id) or "").strip()
            if type_on(histories[m.id], held_on) != "C" or not proof:
                plan.append((m, "error", MeetingError("home_type_3_with_proof")))
            else:
                note = gettext("Attended where they live now: %(proof)s", proof=proof)
                plan.append((m, "entry", add(m, indicator.code, note, None)))
        elif status == "absent" and absence is not None:
            note = gettext("Unexcused absence: %(topic)s", topic=topic)
            plan.append((m, "entry", add(m, absence.code, note, None)))
    guest_from = len(items)
    for g in visitors:
        add(g, indicator.code, topic, branch.id)
    checked = check_entries(items, today=today, schemes={held_on.year: scheme})

    # ... then the refusals in roster order, stopping where recording one by one would have stopped.
    member_errors: dict[int, Refusal] = {}
    leaves: list[tuple[MemberFacts, str]] = []
    for m, what, detail in plan:
        if what == "error":
            member_errors[m.id] = detail
        elif what == "leave":
            leaves.append((m, detail))
        elif isinstance(checked[detail], Refusal):
            err = checked[detail]
            if isinstance(err, LedgerError) and err.key == "duplicate_submit":
                raise AlreadyRecorded(entries_with_key_prefix(key))
            if error_field_and_text(err, str)[0] == "earned_on":  # the meeting's date, not the member's line
                raise MeetingRefused({"held_on": err}, member_errors)
            member_errors[m.id] = err
    for g, result in zip(visitors, checked[guest_from:]):
        if isinstance(result, Refusal):
            member_errors[g.id] = result
    if member_errors:
        raise MeetingRefused({}, member_errors)

    meeting = Meeting(branch_id=branch.id, held_on=held_on, kind=data.kind, indicator_code=indicator.code,
                      topic=topic, hours=data.hours, recorded_by_id=by.id,
                      # Members expected: attended, absent or attended where they live.
                      expected_count=sum(status in ("attended", "absent", "home") for status in statuses.values()))
    db.session.add(meeting)
    db.session.flush()
    for m, reason in leaves:
        db.session.add(Leave(member_id=m.id, kind="leave", starts_on=held_on, ends_on=held_on, reason=reason,
                             recorded_by_id=by.id))
    audit.record_many("leave_added", "member", [
        dict(object_id=m.id, member_id=m.id, summary=f"{held_on}: {reason[:200]}") for m, reason in leaves], user=by)
    written = len(write_entries([c for i, c in enumerate(checked) if i not in own], user=by, meeting_id=meeting.id))
    for i in sorted(own):
        _own_line_for_confirmation(replace(items[i], meeting_id=meeting.id), meeting, by)
    db.session.flush()  # the own lines' rows first, as the log has always listed them
    # A statement beside the entries' rows, rather than one more object for the session's unit of work.
    audit.record_many("meeting_recorded", "meeting", [dict(
        object_id=meeting.id, summary=f"{branch.name} {held_on} {meeting.kind} {topic}: {written} entries"
                                      + (", own line waits for confirmation" if own else ""))], user=by)
    return MeetingRecorded(meeting, written, len(own))


def _own_line_for_confirmation(new: NewEntry, meeting: Meeting, by: User) -> SelfRecord:
    """The recording secretary's own line: a pending item that another person confirms into the ledger
    (the community secretary, or another committee member), in the queue of pending self-records."""
    quantity = Decimal(str(new.value)) if new.value not in (None, "") else None
    sr = SelfRecord(member_id=new.member.id, indicator_code=new.indicator_code, earned_on=new.earned_on,
                    quantity=quantity, note=new.note, origin="meeting", meeting_id=meeting.id,
                    host_branch_id=new.host_branch_id, created_by_id=by.id)
    db.session.add(sr)
    db.session.flush()
    audit.record("self_record_added", sr, member_id=new.member.id, user=by,
                 summary=f"{new.member.name} {new.indicator_code} {new.earned_on}: own line of meeting {meeting.id}")
    return sr
