"""The review's vocabulary and its one refusal: grades, proposal kinds, text limits, ReviewError.

grading.py (the year's review) and rectification.py (cases and proposals) raise ReviewError; views
turn it into a form error or a page with ``err.text(gettext)`` and ``err.status``.
"""
from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from ..models import YearReview
from ..refusals import Refusal
from ..scoring import N_

GRADES = ("advanced", "qualified", "rectify", "none")
PROPOSAL_KINDS = ("persuade_withdraw", "expel", "cancel_probation")
# What an approved proposal makes of the member (MEMBER_STATUSES).
STATUS_AFTER = {"persuade_withdraw": "persuaded_withdraw", "expel": "expelled",
                "cancel_probation": "probation_cancelled"}
TEXT_MAX = 2000
LONG_TEXT_MAX = 5000

REVIEW_ERROR_TEXTS: dict[str, str] = {
    "q4_unpublished": N_("Draft only: the branch has not published quarter 4 of {year} yet. The meeting decides "
                         "once it is published."),
    "review_confirmed": N_("The {year} review is confirmed and locked. Only the street office can reopen it."),
    "review_not_confirmed": N_("The review is not confirmed."),
    "meeting_required": N_("Record the branch general meeting first: its date, members present and total."),
    "meeting_date": N_("The meeting date must be in {next_year} or later, and not after today."),
    "meeting_counts": N_("Members present must be a whole number between 0 and the total, and the total above 0."),
    "undecided": N_("{n} member(s) have no decision yet."),
    "stale": N_("The suggested grade changed for {n} member(s) since they were decided: decide them again."),
    "grade_invalid": N_("Choose a grade."),
    "override_reason": N_("Give the meeting's reason for a grade that differs from the suggestion."),
    "own_grade": N_("Your own grade is recorded by another person: the community secretary or another member of "
                    "the branch committee."),
    "case_progressed": N_("{name}'s rectification case has moved on; the grade can no longer change."),
    "reopen_reason": N_("Give the reason for reopening the review."),
    "too_long": N_("The text is too long (at most {max} characters)."),
    "case_not_open": N_("This case is not open."),
    "mentor_and_plan_first": N_("Assign a mentor and write the plan first."),
    "follow_up_first": N_("Record at least one follow-up (help and education) before a proposal."),
    "mentor_outside": N_("The mentor must be a member on the roll of {branch}."),
    "mentor_self": N_("A member cannot mentor their own case."),
    "plan_required": N_("Write the plan."),
    "deadline_required": N_("Enter a deadline."),
    "deadline_past": N_("The deadline cannot be in the past."),
    "extend_later": N_("The new deadline must be later than the current one ({deadline})."),
    "extension_reason": N_("Give the reason for the extension."),
    "follow_up_date": N_("The date must be between the opening of the case ({opened}) and today."),
    "follow_up_text": N_("Say what was done."),
    "proposal_kind": N_("Choose what the meeting proposes."),
    "probationary_withdraw": N_("A probationary member is not persuaded to withdraw: extend the case, or propose "
                                "cancelling the probation."),
    "not_probationary": N_("Only a probationary member's probation can be cancelled."),
    "proposal_meeting_date": N_("Enter the date of the branch general meeting: after the case was opened "
                                "({opened}), not after today."),
    "proposal_opening_day": N_("Nothing that ends membership is proposed on the day the case is opened ({opened}): "
                               "help and education come first. The meeting can propose from {earliest}, after the "
                               "deadline ({deadline}); from {next} only as an early proposal with its reason, for "
                               "the street's approval."),
    "proposal_before_deadline": N_("The case's deadline is {deadline}: the branch meeting can propose from {earliest}. "
                                   "A meeting held before then needs the reason for proposing early; the street "
                                   "office approves it with the proposal."),
    "proposal_counts": N_("Enter the members present and in total, and the votes for, against and abstaining, "
                          "as whole numbers."),
    "proposal_quorum": N_("More than half of the {total} members must be present."),
    "proposal_votes_sum": N_("The votes add up to more than the members present."),
    "proposal_majority": N_("The decision passes only with more than half of all {total} members voting for it."),
    "statement_required": N_("Record the member's own statement, or that they declined to make one."),
    "not_pending": N_("This proposal has already been decided."),
    "member_not_on_roll": N_("{name} is no longer on the roll."),
    "own_proposal": N_("You made this proposal: another street-level user must decide it."),
    "fresh_login": N_("Re-enter your password to confirm this decision."),
    "wrong_password": N_("The password is wrong."),
    "too_many_attempts": N_("Too many failed attempts. Please wait 15 minutes and try again."),
    "comment_required": N_("Give a comment with the decision."),
    "decision_invalid": N_("Choose approve or reject."),
    "year_not_ended": N_("{year} has not ended yet."),
    "choose_branches": N_("Choose at least one branch from the ranking."),
}


class ReviewError(Refusal):
    """A refused transition: ``status`` is the HTTP status (403, 409, 422), ``field`` the form field."""

    TEXTS = REVIEW_ERROR_TEXTS

    def __init__(self, key: str, status: int = 422, field: str = "", **params: Any):
        super().__init__(key, field, status=status, **params)


def clean_text(value: str | None, limit: int = TEXT_MAX, field: str = "") -> str:
    """The text stripped, or refused when longer than ``limit``."""
    value = (value or "").strip()
    if len(value) > limit:
        raise ReviewError("too_long", 422, field, max=limit)
    return value


def add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def meeting_recorded(review: YearReview | None) -> bool:
    return review is not None and review.meeting_on is not None and review.members_total is not None \
        and review.members_present is not None
