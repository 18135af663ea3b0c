"""Words the administration shows for stored codes (statuses, genders, audit actions)."""
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
ACTION_LABELS = {
    "login": _l("Logged in"),
    "logout": _l("Logged out"),
    "password_change": _l("Changed own password"),
    "setup": _l("Set up the street"),
    "community_created": _l("Community created"),
    "community_renamed": _l("Community renamed"),
    "community_retired": _l("Community retired"),
    "community_reinstated": _l("Community reinstated"),
    "branch_created": _l("Branch created"),
    "branch_updated": _l("Branch renamed or changed"),
    "branch_retired": _l("Branch retired"),
    "branch_reinstated": _l("Branch reinstated"),
    "account_created": _l("Account created"),
    "account_updated": _l("Account changed"),
    "account_disabled": _l("Account disabled"),
    "account_enabled": _l("Account enabled"),
    "password_reset": _l("Password reset"),
    "accounts_bulk_created": _l("Member accounts created in bulk"),
    "member_added": _l("Member added"),
    "member_imported": _l("Member imported"),
    "members_imported": _l("Roster imported"),
    "member_updated": _l("Member edited"),
    "member_transferred": _l("Member transferred"),
    "member_status_changed": _l("Member left the roll"),
    "member_type_changed": _l("Type changed"),
    "private_viewed": _l("Private fields viewed"),
    "roster_exported": _l("Roster exported"),
    "opening_balances_recorded": _l("Opening balances recorded"),
    "entry_added": _l("Points recorded"),
    "entry_corrected": _l("Entry corrected"),
    "scheme_created": _l("Scheme of a year created"),
    "scheme_saved": _l("Scheme saved"),
    "settings_changed": _l("Settings changed"),
}
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
