"""Forms of the administration. Choices that depend on the user's scope are set per request."""
from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField
from wtforms.validators import NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..checkin import parse_networks
from ..fields import ArgsForm, Choices, Count, Day, Id, IdChoice, Note, Text
from ..forms import username_rules
from ..ledger import NOTE_MAX
from ..models import BRANCH_KINDS, ROLES, Branch, Community, Member, User

GENDERS = ("M", "F")
TYPE_CODES = ("A", "B", "C", "D")
LEAVING_STATUSES = ("transferred_out", "deceased")
PHONE_RE = re.compile(r"^[0-9+()\- ]{3,32}(?:\s*(?:ext\.?|转)\s*[0-9]{1,6})?$")


def options(values, labels=None) -> list[SelectChoice]:
    """Choices as WTForms 3.3 wants them; labels are set where the template does not name them itself."""
    return [SelectChoice(v, (labels or {}).get(v, str(v))) for v in values]


def phone_rules(form, field) -> None:
    if field.data and not PHONE_RE.match(field.data):
        raise ValidationError(_l("Digits, spaces, +, - and brackets only."))


class MultiCheckboxField(Choices):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# --- organisations -----------------------------------------------------------------------------

class CommunityForm(FlaskForm):
    name = Text(_l("Name of the community"), required=True, column=Community.name)


class BranchForm(FlaskForm):
    community_id = IdChoice(_l("Community"), required=True, choices=[])
    name = Text(_l("Name of the branch"), required=True, column=Branch.name)
    kind = SelectField(_l("Kind of branch"), choices=options(BRANCH_KINDS))


class BranchEditForm(FlaskForm):
    name = Text(_l("Name of the branch"), required=True, column=Branch.name)
    kind = SelectField(_l("Kind of branch"), choices=options(BRANCH_KINDS))


class EditArgs(ArgsForm):
    """?edit=1: a heading or row comes back as its form."""

    edit = Text(max_length=8)


# --- accounts ----------------------------------------------------------------------------------

class AccountForm(FlaskForm):
    username = Text(_l("Username"), [username_rules], required=True, column=User.username)
    display_name = Text(_l("Name shown"), column=User.display_name)
    role = SelectField(_l("Role"), choices=options(ROLES))
    # 0 is "—" (no community, no branch): the choices are checked, so nothing else reaches a query.
    community_id = SelectField(_l("Community (for a community secretary)"), coerce=int, choices=[])
    branch_id = SelectField(_l("Branch (for a branch secretary or a member)"), coerce=int, choices=[])
    member_ref = Text(_l("Own member record (member number)"), max_length=12)


class AccountEditForm(AccountForm):
    username = None  # a username never changes: it is how the audit log names the person


class BulkAccountsForm(FlaskForm):
    branch_id = IdChoice(_l("Branch"), required=True, choices=[])


class AccountFilters(ArgsForm):
    role = Text(max_length=24)
    q = Text(max_length=100)
    state = Text(max_length=16)
    page = Count(minimum=1)


class NewAccountArgs(ArgsForm):
    member_id = Id()   # "create an account for this member" from the member's page


# --- members -----------------------------------------------------------------------------------

class LifeDay(Day):
    """A date of a member's party life, often long before the street kept records (joined in 1975): from 1900."""

    FIRST = date(1900, 1, 1)


class MemberForm(FlaskForm):
    name = Text(_l("Name"), required=True, column=Member.name)
    gender = SelectField(_l("Gender"), choices=options(("", "M", "F")), validators=[Optional()])
    # The range only keeps a typo out of arithmetic; the view says which years are possible.
    birth_year = Count(_l("Year of birth"), minimum=1000, maximum=9999, required=_l("Enter a year, e.g. 1958."))
    joined_party_on = LifeDay(_l("Date joined the party"))
    on_roll_since = LifeDay(_l("On the street's roll since"), required=True)
    probationary = BooleanField(_l("Probationary member"))
    booklet_no = Text(_l("Points booklet number"), column=Member.booklet_no)
    phone = Text(_l("Phone (private)"), [phone_rules], column=Member.phone)
    address = Text(_l("Address (private)"), column=Member.address)


class NewMemberForm(MemberForm):
    branch_id = IdChoice(_l("Branch"), required=True, choices=[])
    type_code = SelectField(_l("Initial type"), choices=options(TYPE_CODES))
    same_name_ok = BooleanField(_l("This is a different person with the same name and year of birth"))


class NewMemberArgs(ArgsForm):
    branch = Id()      # "add a member to this branch"


class MemberFilters(ArgsForm):
    q = Text(max_length=100)
    community = Id()
    branch = Id()
    type = Text(max_length=1)
    status = Text(max_length=24)
    page = Count(minimum=1)


class TransferForm(FlaskForm):
    branch_id = IdChoice(_l("To branch"), required=True, choices=[])
    on = Day(_l("Date of the transfer"), required=True)
    note = Text(_l("Note"), max_length=NOTE_MAX)


class StatusForm(FlaskForm):
    status = SelectField(_l("What happened"), choices=options(LEAVING_STATUSES))
    on = Day(_l("Date"), required=True)
    note = Text(_l("Note"), max_length=NOTE_MAX)


class TypeChangeForm(FlaskForm):
    type_code = SelectField(_l("New type"), choices=options(TYPE_CODES))
    effective_from = Day(_l("Effective from"), required=True)
    reason = Note(_l("Reason (change in work, health or residence)"), required=True, max_length=NOTE_MAX)
    own_wish = Text(_l("The member's own wish"), required=True, max_length=300)


class TypeReminderArgs(ArgsForm):
    reason = Text(max_length=8)    # "age", "silent", or both
    page = Count(minimum=1)


# --- files ------------------------------------------------------------------------------------

class RosterImportForm(FlaskForm):
    file = FileField(_l("Roster workbook (.xlsx)"), validators=[FileRequired(_l("Choose a file."))])
    skip_existing = BooleanField(_l("Skip members who already exist"))


class RosterExportForm(FlaskForm):
    private = BooleanField()        # with phone and address (the export is logged as a view of them)


class OpeningImportForm(FlaskForm):
    file = FileField(_l("Opening balances workbook (.xlsx)"), validators=[FileRequired(_l("Choose a file."))])


# --- opening balances: a table of lines, as many as the page shows ---------------------------------

OPENING_LINES_MAX = 40
OPENING_TIMES_MAX = 50
OPENING_LINE_KEYS = ("indicator", "earned_on", "times", "value", "note")


class OpeningCountForm(FlaskForm):
    lines = Count(minimum=0, maximum=OPENING_LINES_MAX)   # how many lines the page had


class OpeningArgs(ArgsForm):
    lines = Count(minimum=0, maximum=OPENING_LINES_MAX)   # "more lines"


def opening_lines_form(count: int) -> type[FlaskForm]:
    """A form with the fields of ``count`` lines (indicator-0, earned_on-0, … note-<count - 1>)."""
    fields: dict = {}
    for n in range(count):
        fields.update({
            f"indicator-{n}": Text(max_length=8),
            f"earned_on-{n}": Day(),
            f"times-{n}": Count(validators=[NumberRange(1, OPENING_TIMES_MAX, message=_l(
                "A whole number from 1 to %(n)d.", n=OPENING_TIMES_MAX))]),
            f"value-{n}": Text(max_length=12),    # points or hours: the ledger's rules for the indicator decide
            f"note-{n}": Text(max_length=NOTE_MAX),
        })
    return type("OpeningLinesForm", (OpeningCountForm,), fields)


class SchemeImportForm(FlaskForm):
    file = FileField(_l("Scheme file (.json)"), validators=[FileRequired(_l("Choose a file."))])
    reason = Text(_l("Reason for the change"), max_length=NOTE_MAX)


class SchemeVersionArgs(ArgsForm):
    version = Count(minimum=1)


# --- the audit log ------------------------------------------------------------------------------

# "from" is a Python keyword: the class is made with type() so that the parameter keeps its name.
AuditFilters = type("AuditFilters", (ArgsForm,), {
    "__doc__": "The audit log's filters (and ?format=csv of its export).",
    "person": Text(max_length=64), "member": Text(max_length=100), "action": Text(max_length=64),
    "from": Day(), "to": Day(), "format": Text(max_length=8), "page": Count(minimum=1)})


# --- settings ---------------------------------------------------------------------------------

class SettingsForm(FlaskForm):
    office_phone = Text(_l("Office phone"), [phone_rules], max_length=32)
    opinion_box = Text(_l("Where the opinion box is"), max_length=200)
    query_public_url = Text(_l("Public address of the query page"), max_length=300)
    # Count's own range keeps out what no one types; the setting's range has its own words.
    board_rotation_seconds = Count(_l("Noticeboard rotation (seconds)"), required=True, validators=[
        NumberRange(5, 600, message=_l("Between 5 and 600 seconds."))])
    supervision_days = Count(_l("Supervision period (days)"), required=True, validators=[
        NumberRange(3, 60, message=_l("At least 3 days (the openness rules), at most 60."))])
    mask_names = BooleanField(_l("Mask names on the public noticeboard"))
    board_dues_paid = BooleanField(_l("Show “dues paid” on the noticeboard"))
    flexible_branch_kinds = MultiCheckboxField(_l("Branch kinds whose members may attend any branch"),
                                               choices=options(BRANCH_KINDS))
    timezone = Text(_l("Time zone"), required=True, max_length=64)
    deduction_confirm_points = Count(_l("Ask before a deduction of (points)"), required=True, validators=[
        NumberRange(1, 100, message=_l("Between 1 and 100 points."))])
    checkin_networks = Text(_l("Networks phones may sign in from"), max_length=1000)

    def validate_checkin_networks(self, field) -> None:
        try:
            parse_networks(field.data or "")
        except ValueError as err:
            raise ValidationError(_l("“%(text)s” is not an address range such as 10.20.0.0/16.", text=str(err)))

    def validate_query_public_url(self, field) -> None:
        if field.data and not re.match(r"^https?://[^\s/]+\S*$", field.data):
            raise ValidationError(_l("An address starting with http:// or https://, or leave it empty."))

    def validate_timezone(self, field) -> None:
        from zoneinfo import available_timezones

        if field.data not in available_timezones():
            raise ValidationError(_l("Not a time zone name, e.g. Asia/Shanghai."))


def type_form(member: Member, day: date, form: TypeChangeForm | None = None) -> TypeChangeForm:
    """The type-change form of a member, its date starting at the earliest a change may take effect."""
    from ..scheme_versions import scheme_for_year
    from ..templating import TYPE_LABELS, localized
    from ..type_changes import earliest_type_change

    form = form or TypeChangeForm(formdata=None, effective_from=max(day.replace(day=1), earliest_type_change(member)))
    scheme = scheme_for_year(day.year)
    form.type_code.choices = [SelectChoice(c, f"{TYPE_LABELS[c]} · {localized(t)}") for c, t in scheme.types.items()]
    return form
