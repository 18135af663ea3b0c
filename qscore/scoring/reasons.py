"""Structured reasons and warnings: a key of REASON_TEXTS and its parameters (texts translated by the UI)."""
from __future__ import annotations

from dataclasses import dataclass, field


def N_(s: str) -> str:
    """Marks a string for extraction by Babel; the UI translates it when it is shown."""
    return s



REASON_TEXTS: dict[str, str] = {
    # grades
    "advanced": N_("Score {score} reaches {min}; contribution in {quarters} quarter(s) ({required} needed); "
                   "no heavier deduction or veto."),
    # Two texts, so a score at the advanced minimum is never called "below" it.
    "score_qualified": N_("Score {score}: at least {min} and below {advanced_min}."),
    "score_qualified_barred": N_("Score {score} reaches {advanced_min}, but 'advanced' is barred:"),
    "heavier_bars_advanced": N_("A heavier deduction ({indicator}, {date}) bars 'advanced'."),
    "too_few_contribution_quarters": N_("Contribution entries in {quarters} quarter(s) on the roll; "
                                        "{required} needed for 'advanced'."),
    "score_below_qualified": N_("Score {score} is below the qualified minimum {min}."),
    "veto": N_("Veto ({indicator}, {date}): the year score is 0."),
    "absence_streak": N_("Unexcused absence in {months} consecutive months ({start} to {end})."),
    "dues_arrears_streak": N_("Dues in arrears in {months} consecutive months ({start} to {end})."),
    "not_graded_left_roll": N_("Not graded: left the roll on {date}."),
    "not_graded_short_roll": N_("Not graded: on the roll since {since} ({months} month(s) of the year; "
                                "{min} needed)."),
    # early warnings
    "warning_absence_streak": N_("Early warning: unexcused absence in {months} consecutive months "
                                 "({start} to {end})."),
    "warning_dues_arrears_streak": N_("Early warning: dues in arrears in {months} consecutive months "
                                      "({start} to {end})."),
    "warning_no_entries": N_("Early warning: no entries in the last {months} months ({start} to {end})."),
}


@dataclass(frozen=True)
class Reason:
    """A reason for a grade, or an early warning: a key of REASON_TEXTS and its string params."""

    key: str
    params: dict[str, str] = field(default_factory=dict)

    def text(self, gettext=lambda s: s) -> str:
        return gettext(REASON_TEXTS[self.key]).format(**self.params)
