"""Words the administration shows for stored codes (statuses, genders; audit actions are audit.ACTION_LABELS)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

MEMBER_STATUS_LABELS = {
    "active": _l("On the roll"),
    "transferred_out": _l("Transferred out"),
    "persuaded_withdraw": _l("Persuaded to withdraw"),
    "expelled": _l("Expelled"),
    "probation_cancelled": _l("Probation cancelled"),
    "deceased": _l("Deceased"),
}
GENDER_LABELS = {"M": _l("Male"), "F": _l("Female")}
THRESHOLD_LABELS = {
    "advanced_min": _l("Advanced from (score)"),
    "qualified_min": _l("Qualified from (score)"),
    "advanced_min_quarters_with_contribution": _l("Advanced needs contribution entries in this many quarters"),
    "rectify_streak_months": _l("Rectification after this many months in a row of absence or arrears"),
    "warning_streak_months": _l("Early warning after this many months in a row"),
    "min_months_on_roll_for_grade": _l("Months on the roll needed for a suggested grade"),
}
WEIGHT_LABELS = {
    "average_member_score_share": _l("Average member score (share of the maximum)"),
    "attendance_rate": _l("Attendance at organisational life"),
    "dues_on_time_rate": _l("Dues paid on time"),
    "on_time_publication_share": _l("Quarters published on time"),
    "queries_answered_share": _l("Residents' queries answered"),
}
INDICATOR_ROLE_LABELS = {
    "attendance": _l("attendance at organisational life"),
    "dues_paid": _l("dues paid"),
    "absence": _l("unexcused absence"),
    "dues_arrears": _l("dues in arrears"),
}
