"""Forms of the entry area. Choices depend on the member's type and the scheme, set per request."""
from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import TextInput

from ..fields import ArgsForm, Choices, Day, IdChoice, Ids, Note, Points, Text
from ..idempotency import KEY_MAX
from ..ledger import NOTE_MAX
from ..meetings import STATUSES  # the meeting service's lines, offered by the form
from ..models import LEAVE_KINDS, MEETING_KINDS, Meeting, Member, PointEntry

PROOF_MAX = 200  # the proof goes into the entry's note with a sentence around it (NOTE_MAX in all)


class EntryForm(FlaskForm):
    indicator = SelectField(_l("Indicator"), validators=[InputRequired()], choices=[])
    # Points of an indicator with options, or hours: checked against the scheme by the ledger.
    value = Points(_l("Points"))
    earned_on = Day(_l("Date earned"), required=True)
    note = Text(_l("Note"), max_length=NOTE_MAX)
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])
    # Set by the "yes, record it" button after a likely mistake was asked about (ledger.likely_mistakes).
    confirmed = BooleanField()


class EntryDraft(ArgsForm):
    """The entry form's query: the indicator to show, and (keep) what was typed before it changed."""

    indicator = Text(column=PointEntry.indicator_code)
    keep = BooleanField()
    value = Points()
    earned_on = Day()
    note = Text(max_length=NOTE_MAX)


class QuickForm(FlaskForm):
    """A quick button's one click: its key, and the answer to a likely-mistake question."""

    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])
    confirmed = BooleanField()


class QuickSettingsForm(FlaskForm):
    """The roster's one-click indicators (codes of this year's scheme, set per request)."""

    codes = Choices(choices=[])


class VetoForm(FlaskForm):
    """The veto (一票否决) is its own action: what it does to the year is said and confirmed."""

    earned_on = Day(_l("Date of the decision"), required=True)
    note = Text(_l("The decision it rests on"), max_length=NOTE_MAX, required=_l(
        "Name the decision (for example the disciplinary decision and its number)."))
    confirm = BooleanField(_l("I confirm the consequences above"), validators=[
        DataRequired(message=_l("Tick the box to confirm: the veto sets the year's score to 0."))])
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])


class CorrectionForm(FlaskForm):
    reason = Text(_l("Reason for the correction"), required=True, max_length=NOTE_MAX)
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])


class CorrectionPlace(ArgsForm):
    """Where the undo form stands: the roster's row, or (on=booklet) the entry's row of the booklet."""

    on = Text(max_length=16)


class MeetingForm(FlaskForm):
    held_on = Day(_l("Date"), required=True)
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in MEETING_KINDS])
    indicator = SelectField(_l("Indicator"), validators=[InputRequired()], choices=[])
    topic = Text(_l("Topic or title"), required=True, column=Meeting.topic)
    hours = Points(_l("Hours (volunteer service)"), minimum=Decimal("0.1"), maximum=Decimal("999.9"), widget=TextInput(),
                   render_kw={"inputmode": "decimal", "autocomplete": "off"})
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])
    guest_ids = Ids()


class MeetingKind(ArgsForm):
    """A link may open the meeting form for one kind (?kind=study)."""

    kind = SelectField(choices=[SelectChoice(k) for k in MEETING_KINDS])


def branch_meeting_form(members: list[Member]) -> type[MeetingForm]:
    """The meeting form with each member's line: the attendance chosen, and a leave's reason or the proof
    of attending where they live (fields named as the page names its inputs: status-12, leave-12, proof-12)."""
    fields = {}
    for m in members:
        fields[f"status-{m.id}"] = SelectField(choices=[SelectChoice(s) for s in ("", *STATUSES)], default="")
        fields[f"leave-{m.id}"] = Text(max_length=NOTE_MAX)
        fields[f"proof-{m.id}"] = Text(max_length=PROOF_MAX)
    return type("BranchMeetingForm", (MeetingForm,), fields)


def member_line_errors(form: MeetingForm, members: list[Member]) -> dict[int, str]:
    """The first refusal in each member's line of the meeting form."""
    errors = {}
    for m in members:
        found = [e for name in (f"status-{m.id}", f"leave-{m.id}", f"proof-{m.id}") for e in form[name].errors]
        if found:
            errors[m.id] = str(found[0])
    return errors


class GuestSearch(ArgsForm):
    q = Text(column=Member.name)


class LeaveForm(FlaskForm):
    member_id = IdChoice(_l("Member"), required=True, choices=[])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in LEAVE_KINDS])
    starts_on = Day(_l("From"), required=True)
    ends_on = Day(_l("To"), required=True)
    reason = Note(_l("Reason"), required=True, max_length=NOTE_MAX)

