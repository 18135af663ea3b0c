"""Forms of the entry area. Choices depend on the member's type and the scheme, set per request."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, HiddenField, SelectChoice, SelectField
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import TextInput

from ..fields import ArgsForm, Choices, Day, Id, IdChoice, Ids, Note, Points, Text, one_line, one_line_refusal
from ..idempotency import KEY_MAX
from ..ledger import NOTE_MAX
from ..meetings import STATUSES, meeting_indicators  # the meeting service's lines and credits, offered by the form
from ..scheme import Scheme
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


@dataclass
class MemberLine:
    """One member's line of the meeting form as sent: the attendance chosen and the line's one box, which
    the page names proof-<id> for a type 3 member (the proof, or a leave's reason) and leave-<id> otherwise."""

    status: str = ""
    leave: str | None = None
    proof: str | None = None
    error: str | None = None  # the line's first refusal, once validated


class MemberLines(Field):
    """Every member's line of the meeting form (status-12, leave-12, proof-12), read in one pass.

    Given the members (``MeetingForm(lines=members)``), ``data`` maps each member's id to a MemberLine. A
    status is one of STATUSES or none, as a select of them would take it; the boxes follow Text's rule
    (fields.one_line_refusal). One field for the lines: 3 WTForms fields per member were half a meeting's time.
    """

    def process(self, formdata, data=unset_value, extra_filters=None):
        self.process_errors = []
        self.object_data = members = [] if data is unset_value or data is None else list(data)
        self.raw_data = []

        def first(name: str) -> str | None:
            sent = formdata.getlist(name) if formdata is not None and name in formdata else ()
            return sent[0] if sent else None  # a name sent twice counts once, the first time (as in any field)

        self.data = {}
        for m in members:
            leave, proof = first(f"leave-{m.id}"), first(f"proof-{m.id}")
            self.data[m.id] = MemberLine(status=first(f"status-{m.id}") or "",
                                         leave=one_line(leave) if leave is not None else None,
                                         proof=one_line(proof) if proof is not None else None)

    def validate(self, form, extra_validators=()):
        for line in self.data.values():
            line.error = (str(_l("Not a valid choice.")) if line.status not in LINE_STATUSES else
                          one_line_refusal(line.leave, NOTE_MAX) or one_line_refusal(line.proof, PROOF_MAX))
        self.errors = [line.error for line in self.data.values() if line.error]
        return not self.errors


LINE_STATUSES = frozenset(("", *STATUSES))  # "" is a line left undecided: the service says what that means


class MeetingForm(FlaskForm):
    held_on = Day(_l("Date"), required=True)
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in MEETING_KINDS])
    indicator = SelectField(_l("Indicator"), validators=[InputRequired()], choices=[])
    topic = Text(_l("Topic or title"), required=True, column=Meeting.topic)
    hours = Points(_l("Hours (volunteer service)"), minimum=Decimal("0.1"), maximum=Decimal("999.9"), widget=TextInput(),
                   render_kw={"inputmode": "decimal", "autocomplete": "off"})
    # Labelled, though never shown: a field without a label has WTForms load its own catalogue from disk.
    idempotency_key = HiddenField("", validators=[Length(max=KEY_MAX)])
    guest_ids = Ids("")
    lines = MemberLines("")  # given the members: MeetingForm(lines=members)
    checkin = Id("")  # the sign-in the form started from (qscore/checkin.py), if any


def meeting_indicator_choices(scheme: Scheme) -> list[SelectChoice]:
    """What a meeting may credit, as a select offers it (the meeting form's and the sign-in's)."""
    return [SelectChoice(i.code) for i in meeting_indicators(scheme)]


class MeetingKind(ArgsForm):
    """A link may open the meeting form for one kind (?kind=study)."""

    kind = SelectField(choices=[SelectChoice(k) for k in MEETING_KINDS])
    checkin = Id()  # ?checkin=5: the form starts from that sign-in's meeting and who signed in


class GuestSearch(ArgsForm):
    q = Text(column=Member.name)


class LeaveForm(FlaskForm):
    member_id = IdChoice(_l("Member"), required=True, choices=[])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in LEAVE_KINDS])
    starts_on = Day(_l("From"), required=True)
    ends_on = Day(_l("To"), required=True)
    reason = Note(_l("Reason"), required=True, max_length=NOTE_MAX)

