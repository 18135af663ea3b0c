"""Recording every write in the audit log, and refusing rewrites of append-only tables."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from .db import db
from .models import AuditLog, Checkin, PointEntry, Publication
from .models._common import utcnow
from .security import client_ip

# Rows of these tables are written once; the ORM refuses to update or delete them.
APPEND_ONLY = (AuditLog, PointEntry, Checkin)
# A publication may only gain a retraction; its snapshot and hash never change.
FROZEN_PUBLICATION_FIELDS = ("snapshot", "sha256", "adjustments", "branch_id", "year", "quarter", "published_at")


class AppendOnlyError(RuntimeError):
    pass


def N_(s: str) -> str:
    """Marks a summary format for translation; the log translates it when shown (admin/audit_log.py)."""
    return s


# What each recorded action is called in the log: every action passed to record() has its label here.
ACTION_LABELS = {
    "login": _l("Logged in"),
    "logout": _l("Logged out"),
    "password_change": _l("Changed own password"),
    "session_ended": _l("Signed out one of own logins"),
    "second_step_enrolled": _l("Turned on two-step verification"),
    "second_step_turned_off": _l("Turned off two-step verification"),
    "second_step_reset": _l("Two-step verification reset"),
    "recovery_codes_renewed": _l("New recovery codes printed"),
    "recovery_code_used": _l("Logged in with a recovery code"),
    "setup": _l("Set up the street"),
    "demo_loaded": _l("Demo data loaded"),
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
    "meeting_recorded": _l("Meeting or activity recorded"),
    "leave_added": _l("Leave registered"),
    "quick_indicators_set": _l("Quick buttons chosen"),
    "self_record_added": _l("Self-recorded item added"),
    "self_record_confirmed": _l("Self-recorded item confirmed"),
    "self_record_rejected": _l("Self-recorded item rejected"),
    "booklet_item_added": _l("Booklet item added at reconciliation"),
    "reconciled": _l("Booklet reconciled"),
    "reconciled_all": _l("All remaining booklets agree"),
    "quarter_published": _l("Quarter published"),
    "publication_retracted": _l("Publication retracted"),
    "query_received": _l("Resident's query received"),
    "query_answered": _l("Resident's query answered"),
    "review_started": _l("Year-end review started"),
    "review_meeting_recorded": _l("Review meeting recorded"),
    "grade_confirmed": _l("Grade confirmed"),
    "grade_overridden": _l("Grade decided differently from the suggestion"),
    "grades_confirmed": _l("Suggested grades confirmed"),
    "grade_dropped": _l("Grade dropped"),
    "review_confirmed": _l("Year-end review confirmed"),
    "review_reopened": _l("Year-end review reopened"),
    "red_flag_chosen": _l("Red-flag branches chosen"),
    "case_opened": _l("Rectification case opened"),
    "case_closed": _l("Rectification case closed"),
    "case_mentor_assigned": _l("Mentor assigned"),
    "case_plan_written": _l("Rectification plan written"),
    "case_follow_up": _l("Follow-up recorded"),
    "case_rectified": _l("Rectified"),
    "case_extended": _l("Rectification extended"),
    "proposal_made": _l("Proposal to the street"),
    "proposal_approved": _l("Proposal approved"),
    "proposal_rejected": _l("Proposal rejected"),
    "post_declared": _l("Volunteer post declared"),
    "post_recorded": _l("Volunteer post recorded"),
    "post_confirmed": _l("Volunteer post confirmed"),
    "post_rejected": _l("Volunteer post rejected"),
    "post_ended": _l("Volunteer post ended"),
    "post_duty_confirmed": _l("Posts served confirmed"),
    "dues_rate_set": _l("Monthly dues set"),
    "dues_line_added": _l("Dues line recorded"),
    "dues_month_paid": _l("Dues of a month recorded as paid"),
    "dues_line_voided": _l("Dues line voided"),
    "dues_month_closed": _l("Dues month closed"),
    "dues_imported": _l("Dues sheet imported"),
    "checkin_opened": _l("Meeting opened for sign-in"),
    "checkin_signed": _l("Signed in at a meeting"),
    "checkin_refused": _l("Sign-in refused"),
    "checkin_closed": _l("Sign-in ended"),
    "post_kind_added": _l("Volunteer post added to the list"),
    "post_kind_retired": _l("Volunteer post retired from the list"),
    "post_kind_reinstated": _l("Volunteer post back on the list"),
    "household_declared": _l("Contact household declared"),
    "household_recorded": _l("Contact household recorded"),
    "household_confirmed": _l("Contact household confirmed"),
    "household_rejected": _l("Contact household rejected"),
    "household_ended": _l("Contact household ended"),
    "household_visited": _l("Contact household visited"),
    "team_added": _l("Volunteer team added"),
    "team_dissolved": _l("Volunteer team dissolved"),
    "team_member_added": _l("Joined a volunteer team"),
    "team_member_left": _l("Left a volunteer team"),
    "scheme_created": _l("Scheme of a year created"),
    "scheme_saved": _l("Scheme saved"),
    "settings_changed": _l("Settings changed"),
}

# The summaries record() is given, in English as stored, per action: the log matches a stored summary
# against these and shows the translation, so old rows read right too. A summary that is only names,
# dates and typed text is shown as stored and needs no entry.
SUMMARY_FORMATS: dict[str, tuple[str, ...]] = {
    "setup": (N_("street %(street)s; admin %(username)s"),),
    "demo_loaded": (N_("demo street %(street)s: %(branches)s branches, %(members)s members, %(entries)s entries, "
                       "%(published)s published quarters, %(reviews)s confirmed reviews (seed %(seed)s, today "
                       "%(today)s)"),
                    N_("demo street loaded from the setup page")),
    "account_created": (N_("%(username)s (member, bulk)"), N_("%(username)s (%(role)s)")),
    "account_disabled": (N_("%(username)s: member left the roll"),
                         N_("%(username)s: demo account, a real street was created")),
    "accounts_bulk_created": (N_("%(branch)s: %(n)s member accounts"),),
    "private_viewed": (N_("%(name)s: %(how)s"),),
    "member_updated": (N_("%(name)s: %(fields)s"),),
    "member_transferred": (N_("%(name)s: branch %(from_branch)s → %(to_branch)s on %(on)s (%(note)s)"),
                           N_("%(name)s: branch %(from_branch)s → %(to_branch)s on %(on)s")),
    "member_status_changed": (N_("%(name)s: %(member_status)s on %(on)s (%(note)s)"),
                              N_("%(name)s: %(member_status)s on %(on)s")),
    "member_type_changed": (N_("%(name)s: %(type_from)s → %(type_to)s from %(on)s"),),
    "opening_balances_recorded": (N_("%(file)s: %(n)s entries for %(members)s members"),
                                  N_("%(name)s: %(n)s entries")),
    "settings_changed": ("%(settings)s",),  # the changed settings, each named
    "members_imported": (N_("%(file)s: %(n)s imported, %(skipped)s skipped of %(rows)s rows"),),
    "roster_exported": (N_("%(n)s members with phone and address"), N_("%(n)s members")),
    "entry_added": (N_("%(name)s %(code)s %(points)s on %(on)s (adjusts %(period)s)"),
                    N_("%(name)s %(code)s %(points)s on %(on)s")),
    "entry_corrected": (N_("corrects entry %(entry)s: %(reason)s"),),
    "meeting_recorded": (N_("%(branch)s %(on)s %(meeting_kind)s %(topic)s: %(n)s entries, own line waits for "
                            "confirmation"),
                         N_("%(branch)s %(on)s %(meeting_kind)s %(topic)s: %(n)s entries")),
    "leave_added": (N_("%(name)s %(leave_kind)s %(on)s..%(until)s"),),
    "self_record_added": (N_("%(name)s %(code)s %(on)s: own line of meeting %(meeting)s"),
                          N_("%(name)s %(code)s on %(on)s")),
    "self_record_confirmed": (N_("%(name)s %(code)s on %(on)s: entry %(entry)s"),),
    "self_record_rejected": (N_("%(name)s %(code)s on %(on)s: %(reason)s"),),
    "reconciled": (N_("%(branch)s %(period)s: %(name)s %(reconciliation)s"),),
    "reconciled_all": (N_("%(branch)s %(period)s: %(n)s booklets agree"),),
    "quarter_published": (N_("%(branch)s %(period)s: %(n)s members, sha256 %(sha256)s"),),
    "query_received": (N_("%(branch)s %(period)s: whole list"),),
    "query_answered": (N_("%(branch)s: whole list"),),
    "review_started": (N_("branch %(branch_id)s %(year)s"),),
    "review_meeting_recorded": (N_("%(year)s meeting %(on)s: %(present)s/%(total)s"),),
    "grade_confirmed": (N_("%(year)s %(name)s: %(grade)s (suggested %(suggested)s): %(reason)s"),
                        N_("%(year)s %(name)s: %(grade)s (suggested %(suggested)s)")),
    "grade_overridden": (N_("%(year)s %(name)s: %(grade)s (suggested %(suggested)s): %(reason)s"),
                         N_("%(year)s %(name)s: %(grade)s (suggested %(suggested)s)")),
    "grades_confirmed": (N_("%(year)s: %(n)s suggestion(s) confirmed"),),
    "grade_dropped": (N_("%(year)s: no longer on the branch's roll at year end"),),
    "review_confirmed": (N_("branch %(branch_id)s %(year)s: %(grade_counts)s"),),
    "review_reopened": (N_("branch %(branch_id)s %(year)s: %(reason)s"),),
    "red_flag_chosen": (N_("%(year)s: branches %(branch_ids)s"),),
    "case_opened": (N_("%(year)s rectification, deadline %(deadline)s"),),
    "case_closed": (N_("the reopened %(year)s review graded the member %(grade)s"),),
    "case_mentor_assigned": (N_("mentor %(mentor)s"),),
    "case_plan_written": (N_("plan, deadline %(deadline)s"),),
    "case_extended": (N_("deadline %(on)s -> %(until)s: %(reason)s"),),
    "proposal_made": (N_("%(proposal_kind)s: %(for)s for, %(against)s against, %(abstain)s abstaining; early, before "
                         "the deadline %(deadline)s: %(reason)s"),
                      N_("%(proposal_kind)s: %(for)s for, %(against)s against, %(abstain)s abstaining")),
    "proposal_approved": (N_("early proposal approved: %(reason)s"),),
    "post_declared": (N_("%(name)s: %(post)s (%(post_status)s)"),),
    "post_recorded": (N_("%(name)s: %(post)s (%(post_status)s)"),),
    "post_duty_confirmed": (N_("%(branch)s %(month)s: %(posts)s posts, %(n)s entries"),),
    "dues_rate_set": (N_("%(name)s: %(amount)s a month from %(month)s: %(note)s"),
                      N_("%(name)s: %(amount)s a month from %(month)s")),
    "dues_line_added": (N_("%(name)s %(month)s: exemption approved: %(note)s"),
                        N_("%(name)s %(month)s: %(amount)s paid on %(on)s (%(dues_method)s): %(note)s"),
                        N_("%(name)s %(month)s: %(amount)s paid on %(on)s (%(dues_method)s)")),
    "dues_month_paid": (N_("%(branch)s %(month)s..%(through)s: %(n)s members paid on %(on)s (%(dues_method)s)"),
                        N_("%(branch)s %(month)s: %(n)s members paid on %(on)s (%(dues_method)s)")),
    "dues_line_voided": (N_("line %(line)s of %(month)s voided: %(reason)s"),),
    "dues_imported": (N_("%(branch)s %(year)s: %(n)s lines from %(rows)s rows, %(skipped)s settled months skipped"),),
    "dues_month_closed": (N_("%(branch)s %(month)s: %(j)s %(paid_code)s, %(k)s %(arrears_code)s written (closed again)"),
                          N_("%(branch)s %(month)s: %(j)s %(paid_code)s, %(k)s %(arrears_code)s written")),
    "checkin_opened": (N_("%(branch)s %(on)s %(from_time)s-%(to_time)s %(meeting_kind)s %(code)s %(topic)s"),),
    "checkin_signed": (N_("%(name)s %(on)s %(topic)s (%(checkin_way)s)"),),
    "checkin_closed": (N_("%(on)s %(topic)s: %(n)s signed in"),),
    "checkin_refused": (N_("%(on)s %(topic)s: from %(ip)s, outside the street's networks"),),
    "household_declared": (N_("%(name)s: household %(household)s (%(post_status)s)"),),
    "household_recorded": (N_("%(name)s: household %(household)s (%(post_status)s)"),),
    "household_confirmed": (N_("%(name)s: household %(household)s"),),
    "household_rejected": (N_("%(name)s: household %(household)s"),),
    "household_ended": (N_("%(name)s: household %(household)s"),),
    "household_visited": (N_("%(name)s: household %(household)s on %(on)s, entry %(entry)s"),),
    "team_member_left": (N_("%(team)s: left %(on)s"),),
    "team_dissolved": (N_("%(community)s: %(team)s dissolved %(on)s"),),
    "scheme_created": ("%(scheme_reason)s",),  # the version's reason (scheme_versions.reason_text)
    "scheme_saved": (N_("%(year)s v%(version)s: %(scheme_reason)s"),),
}


def record(action: str, obj: Any = None, *, summary: str = "", before: Any = None, after: Any = None,
           member_id: int | None = None, user: Any = None) -> AuditLog:
    """Add an audit row to the current transaction: it commits or rolls back with the write it records."""
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    row = AuditLog(
        user_id=getattr(user, "id", None), username=getattr(user, "username", "") or "",
        action=action, object_type=type(obj).__name__.lower() if obj is not None else "",
        object_id=getattr(obj, "id", None), member_id=member_id, summary=summary[:2000],
        before=before, after=after, ip=client_ip() if has_request_context() else "",
    )
    db.session.add(row)
    return row


_INSERT = insert(AuditLog.__table__)


def record_many(action: str, object_type: str, rows: list[dict[str, Any]], *, user: Any = None,
                at: datetime | None = None) -> None:
    """Insert many audit rows of one action in one bulk statement, in the current transaction.

    Each row gives object_id, member_id, summary, before and after; the rest is as ``record`` fills it.
    """
    if not rows:
        return
    if user is None and has_request_context() and current_user and current_user.is_authenticated:
        user = current_user
    common = dict(at=at or utcnow(), user_id=getattr(user, "id", None), username=getattr(user, "username", "") or "",
                  action=action, object_type=object_type, ip=client_ip() if has_request_context() else "")
    db.session.connection().execute(_INSERT, [
        {**common, "object_id": r.get("object_id"), "member_id": r.get("member_id"),
         "summary": (r.get("summary") or "")[:2000], "before": r.get("before"), "after": r.get("after")}
        for r in rows])


@event.listens_for(Session, "before_flush")
def _refuse_rewrites(session: Session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, (*APPEND_ONLY, Publication)):
            raise AppendOnlyError(f"{type(obj).__name__} rows are never deleted")
    for obj in session.dirty:
        if isinstance(obj, APPEND_ONLY) and session.is_modified(obj):
            raise AppendOnlyError(f"{type(obj).__name__} rows are never updated")
        if isinstance(obj, Publication):
            state = db.inspect(obj)
            for name in FROZEN_PUBLICATION_FIELDS:
                if state.attrs[name].history.has_changes():
                    raise AppendOnlyError("a publication's snapshot never changes")
