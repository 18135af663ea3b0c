"""Forms of the entry area. Choices depend on the member's type and the scheme, set per request."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..idempotency import KEY_MAX
from ..models import LEAVE_KINDS, MEETING_KINDS


class EntryForm(FlaskForm):
    indicator = SelectField(_l("Indicator"), validators=[InputRequired()], choices=[])
    value = StringField(_l("Points"), validators=[Optional(), Length(max=12)])
    earned_on = DateField(_l("Date earned"), validators=[InputRequired(message=_l("Enter a date."))])
    note = StringField(_l("Note"), validators=[Length(max=500)])
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])
    # Set by the "yes, record it" button after a likely mistake was asked about (ledger.likely_mistakes).
    confirmed = BooleanField()


class QuickForm(FlaskForm):
    """A quick button's one click: its key, and the answer to a likely-mistake question."""

    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])
    confirmed = BooleanField()


class VetoForm(FlaskForm):
    """The veto (一票否决) is its own action: what it does to the year is said and confirmed."""

    earned_on = DateField(_l("Date of the decision"), validators=[InputRequired(message=_l("Enter a date."))])
    note = StringField(_l("The decision it rests on"), validators=[
        DataRequired(message=_l("Name the decision (for example the disciplinary decision and its number).")),
        Length(max=500)])
    confirm = BooleanField(_l("I confirm the consequences above"), validators=[
        DataRequired(message=_l("Tick the box to confirm: the veto sets the year's score to 0."))])
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])


class CorrectionForm(FlaskForm):
    reason = StringField(_l("Reason for the correction"), validators=[DataRequired(), Length(max=500)])
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])


class MeetingForm(FlaskForm):
    held_on = DateField(_l("Date"), validators=[InputRequired(message=_l("Enter a date."))])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in MEETING_KINDS])
    indicator = SelectField(_l("Indicator"), validators=[InputRequired()], choices=[])
    topic = StringField(_l("Topic or title"), validators=[DataRequired(), Length(max=200)])
    hours = StringField(_l("Hours (volunteer service)"), validators=[Optional(), Length(max=8)])
    idempotency_key = HiddenField(validators=[Length(max=KEY_MAX)])


class LeaveForm(FlaskForm):
    member_id = SelectField(_l("Member"), coerce=int, choices=[])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in LEAVE_KINDS])
    starts_on = DateField(_l("From"), validators=[InputRequired(message=_l("Enter a date."))])
    ends_on = DateField(_l("To"), validators=[InputRequired(message=_l("Enter a date."))])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
