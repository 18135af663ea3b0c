"""Forms of the administration. Choices that depend on the user's scope are set per request."""
from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (BooleanField, SelectChoice, DateField, IntegerField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import username_rules
from ..models import BRANCH_KINDS, ROLES

GENDERS = ("M", "F")
TYPE_CODES = ("A", "B", "C", "D")
LEAVING_STATUSES = ("transferred_out", "deceased")
PHONE_RE = re.compile(r"^[0-9+()\- ]{3,32}(?:\s*(?:ext\.?|转)\s*[0-9]{1,6})?$")


def options(values, labels=None) -> list[SelectChoice]:
    """Choices as WTForms 3.3 wants them; labels are set where the template does not name them itself."""
    return [SelectChoice(v, (labels or {}).get(v, str(v))) for v in values]


def strip(value):
    return value.strip() if isinstance(value, str) else value


def phone_rules(form, field) -> None:
    if field.data and not PHONE_RE.match(field.data):
        raise ValidationError(_l("Digits, spaces, +, - and brackets only."))


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- organisations -----------------------------------------------------------------------------

class CommunityForm(FlaskForm):
    name = StringField(_l("Name of the community"), validators=[DataRequired(), Length(max=100)], filters=[strip])


class BranchForm(FlaskForm):
    community_id = SelectField(_l("Community"), coerce=int, choices=[])
    name = StringField(_l("Name of the branch"), validators=[DataRequired(), Length(max=100)], filters=[strip])
    kind = SelectField(_l("Kind of branch"), choices=options(BRANCH_KINDS))


class BranchEditForm(FlaskForm):
    name = StringField(_l("Name of the branch"), validators=[DataRequired(), Length(max=100)], filters=[strip])
    kind = SelectField(_l("Kind of branch"), choices=options(BRANCH_KINDS))


# --- accounts ----------------------------------------------------------------------------------

class AccountForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), username_rules])
    display_name = StringField(_l("Name shown"), validators=[Length(max=100)], filters=[strip])
    role = SelectField(_l("Role"), choices=options(ROLES))
    community_id = SelectField(_l("Community (for a community secretary)"), coerce=int, choices=[])
    branch_id = SelectField(_l("Branch (for a branch secretary or a member)"), coerce=int, choices=[])
    member_ref = StringField(_l("Own member record (member number)"), validators=[Optional(), Length(max=12)],
                             filters=[strip])


class AccountEditForm(AccountForm):
    username = None  # a username never changes: it is how the audit log names the person


class BulkAccountsForm(FlaskForm):
    branch_id = SelectField(_l("Branch"), coerce=int, choices=[])


# --- members -----------------------------------------------------------------------------------

class MemberForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)], filters=[strip])
    gender = SelectField(_l("Gender"), choices=options(("", "M", "F")), validators=[Optional()])
    birth_year = IntegerField(_l("Year of birth"), validators=[InputRequired(message=_l("Enter a year, e.g. 1958."))])
    joined_party_on = DateField(_l("Date joined the party"), validators=[Optional()])
    on_roll_since = DateField(_l("On the street's roll since"),
                              validators=[InputRequired(message=_l("Enter a date."))])
    probationary = BooleanField(_l("Probationary member"))
    booklet_no = StringField(_l("Points booklet number"), validators=[Length(max=32)], filters=[strip])
    phone = StringField(_l("Phone (private)"), validators=[Length(max=32), phone_rules], filters=[strip])
    address = StringField(_l("Address (private)"), validators=[Length(max=200)], filters=[strip])


class NewMemberForm(MemberForm):
    branch_id = SelectField(_l("Branch"), coerce=int, choices=[])
    type_code = SelectField(_l("Initial type"), choices=options(TYPE_CODES))
    same_name_ok = BooleanField(_l("This is a different person with the same name and year of birth"))


class TransferForm(FlaskForm):
    branch_id = SelectField(_l("To branch"), coerce=int, choices=[])
    on = DateField(_l("Date of the transfer"), validators=[InputRequired(message=_l("Enter a date."))])
    note = StringField(_l("Note"), validators=[Length(max=500)], filters=[strip])


class StatusForm(FlaskForm):
    status = SelectField(_l("What happened"), choices=options(LEAVING_STATUSES))
    on = DateField(_l("Date"), validators=[InputRequired(message=_l("Enter a date."))])
    note = StringField(_l("Note"), validators=[Length(max=500)], filters=[strip])


class TypeChangeForm(FlaskForm):
    type_code = SelectField(_l("New type"), choices=options(TYPE_CODES))
    effective_from = DateField(_l("Effective from"), validators=[InputRequired(message=_l("Enter a date."))])
    reason = TextAreaField(_l("Reason (change in work, health or residence)"),
                           validators=[DataRequired(), Length(max=500)], filters=[strip])
    own_wish = StringField(_l("The member's own wish"), validators=[DataRequired(), Length(max=300)],
                           filters=[strip])


# --- files ------------------------------------------------------------------------------------

class RosterImportForm(FlaskForm):
    file = FileField(_l("Roster workbook (.xlsx)"), validators=[FileRequired(_l("Choose a file."))])
    skip_existing = BooleanField(_l("Skip members who already exist"))


class OpeningImportForm(FlaskForm):
    file = FileField(_l("Opening balances workbook (.xlsx)"), validators=[FileRequired(_l("Choose a file."))])


class SchemeImportForm(FlaskForm):
    file = FileField(_l("Scheme file (.json)"), validators=[FileRequired(_l("Choose a file."))])
    reason = StringField(_l("Reason for the change"), validators=[Length(max=500)], filters=[strip])


# --- settings ---------------------------------------------------------------------------------

class SettingsForm(FlaskForm):
    office_phone = StringField(_l("Office phone"), validators=[Length(max=32), phone_rules], filters=[strip])
    opinion_box = StringField(_l("Where the opinion box is"), validators=[Length(max=200)], filters=[strip])
    query_public_url = StringField(_l("Public address of the query page"), validators=[Length(max=300)],
                                   filters=[strip])
    board_rotation_seconds = IntegerField(
        _l("Noticeboard rotation (seconds)"),
        validators=[InputRequired(message=_l("Enter a number.")),
                    NumberRange(5, 600, message=_l("Between 5 and 600 seconds."))])
    supervision_days = IntegerField(
        _l("Supervision period (days)"),
        validators=[InputRequired(message=_l("Enter a number.")),
                    NumberRange(3, 60, message=_l("At least 3 days (the openness rules), at most 60."))])
    mask_names = BooleanField(_l("Mask names on the public noticeboard"))
    flexible_branch_kinds = MultiCheckboxField(_l("Branch kinds whose members may attend any branch"),
                                               choices=options(BRANCH_KINDS))
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)], filters=[strip])
    deduction_confirm_points = IntegerField(
        _l("Ask before a deduction of (points)"),
        validators=[InputRequired(message=_l("Enter a number.")),
                    NumberRange(1, 100, message=_l("Between 1 and 100 points."))])

    def validate_query_public_url(self, field) -> None:
        if field.data and not re.match(r"^https?://[^\s/]+\S*$", field.data):
            raise ValidationError(_l("An address starting with http:// or https://, or leave it empty."))

    def validate_timezone(self, field) -> None:
        from zoneinfo import available_timezones

        if field.data not in available_timezones():
            raise ValidationError(_l("Not a time zone name, e.g. Asia/Shanghai."))
