"""Forms of posts, households, teams and the duty screen: every value through the shared field types."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField

from ..fields import ArgsForm, Day, Id, Ids, Month, Text
from ..models import Household, PostKind, VolunteerTeam

VISIT_NOTE_MAX = 200    # the entry's note adds a prefix to it and holds ledger.NOTE_MAX
DUTY_REASON_MAX = 200


class BackForm(FlaskForm):
    """A decision's button: the page to go back to (redirects.safe_next checks it; never stored)."""

    next = StringField()


class RetireKindForm(FlaskForm):
    retired = SelectField(choices=[SelectChoice("1", "1"), SelectChoice("0", "0")], default="1")


class PostKindForm(FlaskForm):
    name = Text(column=PostKind.name)   # empty: the view says what to do


class TeamForm(FlaskForm):
    name = Text(column=VolunteerTeam.name)
    founded_on = Day()


class TeamMemberForm(FlaskForm):
    member_id = Id(required=True)
    joined_on = Day()   # empty: today


class DeclarePostForm(FlaskForm):
    post_kind_id = Id(required=True)


class DeclareHouseholdForm(FlaskForm):
    label = Text(column=Household.label)


class RecordPostForm(DeclarePostForm):
    """The branch page records a post for one of its members."""

    member_id = Id(required=True)


class RecordHouseholdForm(DeclareHouseholdForm):
    member_id = Id(required=True)


class VisitForm(FlaskForm):
    visited_on = Day()
    note = Text(max_length=VISIT_NOTE_MAX)
    idempotency_key = StringField()  # idempotency.key_from is its rule (a malformed key is a 400)


class DutyForm(FlaskForm):
    month = Month()     # empty: this month
    reason = Text(max_length=DUTY_REASON_MAX)
    post_ids = Ids()


class MonthArgs(ArgsForm):
    """?month=YYYY-MM of a monthly page."""

    month = Month()
