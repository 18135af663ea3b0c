"""Forms of the year-end review, rectification cases, approvals and the red-flag choice.

The fields refuse what cannot be input (control characters, over-long text, impossible numbers and
dates); whether a grade, a date or a count is acceptable for the review is for grading.py and
rectification.py to say.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField
from wtforms.validators import Length

from ..fields import ArgsForm, Count, Day, Id, Ids, Note, Text
from ..forms import PASSWORD_MAX
from ..models import Proposal, ReviewGrade, YearReview
from ..second_step.forms import Code
from .rules import LONG_TEXT_MAX, TEXT_MAX


class MeetingForm(FlaskForm):
    """The branch general meeting that decides the grades."""

    meeting_on = Day()
    present = Count()
    total = Count()
    chair = Text(column=YearReview.chair)
    minutes = Note(max_length=LONG_TEXT_MAX)


class GradeForm(FlaskForm):
    """One member's grade: the suggestion confirmed (action=confirm), or another grade with the reason."""

    action = Text(max_length=16)  # "confirm"; anything else decides the grade given
    grade = Text(column=ReviewGrade.grade)
    reason = Note(max_length=TEXT_MAX)


class ReasonForm(FlaskForm):
    """A reason alone: reopening a confirmed review."""

    reason = Note(max_length=TEXT_MAX)


class NameSearch(ArgsForm):
    """A mentor looked for by name."""

    q = Text(max_length=100)


class MentorForm(FlaskForm):
    mentor_id = Id(required=True)


class PlanForm(FlaskForm):
    problems = Note(max_length=LONG_TEXT_MAX)
    plan = Note(max_length=LONG_TEXT_MAX)
    deadline = Day()


class FollowUpForm(FlaskForm):
    on = Day()
    text = Note(max_length=TEXT_MAX)


class OutcomeForm(FlaskForm):
    """Rectified (closes the case) or extended (a new deadline and its reason): two buttons of one page."""

    action = SelectField(choices=[SelectChoice("rectified"), SelectChoice("extended")])
    note = Note(max_length=TEXT_MAX)
    new_deadline = Day()
    extension_reason = Note(max_length=TEXT_MAX)


class ProposalForm(FlaskForm):
    kind = Text(column=Proposal.kind)
    meeting_on = Day()
    members_present = Count()
    members_total = Count()
    votes_for = Count()
    votes_against = Count()
    votes_abstain = Count()
    member_statement = Note(max_length=LONG_TEXT_MAX)
    early_reason = Note(max_length=TEXT_MAX)


class DecisionForm(FlaskForm):
    """The street's decision on a proposal, with the password re-entered when the login is not fresh."""

    decision = Text(max_length=16)
    comment = Note(max_length=TEXT_MAX)
    # Kept as typed and only checked, like the login's (qscore/passwords.py rules a password being chosen).
    password = PasswordField(validators=[Length(max=PASSWORD_MAX, message=_l("At most 128 characters."))])
    code = Code(required=False)  # with the password, for an account with a second step (qscore/second_step)


class RedFlagForm(FlaskForm):
    branch = Ids()
    note = Note(max_length=TEXT_MAX)
