"""One's own account: "my sign-ins" (logins, wrong passwords, changes to the way in) and the notices banner.

Everything here is the current user's own: a session or notice of anyone else is "not there" (404).
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, g, has_request_context, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from . import account_events, audit
from .access import EVERYONE, loaded, requires, scope_loader, user
from .db import db
from .fields import Text
from .htmx import is_htmx
from .models import AccountEvent, UserSession
from .models._common import utcnow
from .redirects import MAX_LENGTH, safe_next
from .sessions import end_current_session

bp = Blueprint("account", __name__, url_prefix="/account")

SHOWN = 50  # rows of each list on "my sign-ins"
ATTEMPT_KINDS = {"login": _l("Logging in"), "password": _l("Changing the password"),
                 "step_up": _l("Confirming an approval"), "second_step": _l("Second login step")}


class ButtonForm(FlaskForm):
    """A button that changes one thing of one's own: the page to go back to (checked by safe_next)."""

    next = Text(max_length=MAX_LENGTH)


@scope_loader("session_id")
def _own_session(session_id: int) -> UserSession:
    row = db.session.scalar(select(UserSession).where(UserSession.id == session_id,
                                                      UserSession.user_id == current_user.id))
    if row is None:
        abort(404)
    return row


@scope_loader("notice_id")
def _own_notice(notice_id: int) -> AccountEvent:
    row = db.session.scalar(select(AccountEvent).where(AccountEvent.id == notice_id,
                                                       AccountEvent.user_id == current_user.id))
    if row is None:
        abort(404)
    return row


def _status(row: UserSession, current_id: int | None, now) -> str:
    if row.id == current_id:
        return "current"
    if row.ended_at is not None:
        return "ended"
    return "expired" if row.expires_at <= now else "active"


@bp.get("/sign-ins")
@requires(EVERYONE)
def sign_ins():
    me = user()
    now = utcnow()
    current = g.get("user_session")
    current_id = current.id if current is not None else None
    logins = db.session.scalars(select(UserSession).where(UserSession.user_id == me.id)
                                .order_by(UserSession.created_at.desc(), UserSession.id.desc()).limit(SHOWN)).all()
    failures, failure_total = account_events.recent_failures(me, SHOWN)
    events = db.session.scalars(select(AccountEvent).where(AccountEvent.user_id == me.id)
                                .order_by(AccountEvent.at.desc(), AccountEvent.id.desc()).limit(SHOWN)).all()
    return render_template(
        "account/sign_ins.html",
        logins=[{"row": r, "status": _status(r, current_id, now), "browser": account_events.browser_summary(r.user_agent),
                 "when": account_events.local_when(r.created_at)} for r in logins],
        failures=[{"row": a, "kind": ATTEMPT_KINDS.get(a.kind, a.kind), "when": account_events.local_when(a.at)}
                  for a in failures],
        failure_total=failure_total,
        events=[{"row": e, "text": account_events.describe(e)} for e in events],
        shown=SHOWN)


@bp.post("/sign-ins/<int:session_id>/end")
@requires(EVERYONE)
def end_session(session_id: int):
    """Sign out one of one's own logins (another browser, a PC left logged in): its next request goes to the login page."""
    row = loaded("session_id", session_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    current = g.get("user_session")
    if current is not None and row.id == current.id:
        audit.record("logout", user())
        end_current_session()
        db.session.commit()
        flash(_("You have logged out."), "info")
        return redirect(url_for("auth.login"))
    if row.ended_at is None:
        row.ended_at = utcnow()
        audit.record("session_ended", user(), summary=f"{row.ip} {account_events.local_when(row.created_at)}")
        db.session.commit()
        flash(_("That login has been signed out: the browser must log in again."), "success")
    return redirect(url_for("account.sign_ins"))


@bp.post("/notices/<int:notice_id>/seen")
@requires(EVERYONE)
def acknowledge(notice_id: int):
    """"知道了": the notice leaves the banner (it stays listed on "my sign-ins")."""
    event = loaded("notice_id", notice_id)
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    if event.acknowledged_at is None:
        event.acknowledged_at = utcnow()
        db.session.commit()
    return redirect(safe_next(form.next.data) or url_for("home.index"))


@bp.app_context_processor
def _notices() -> dict:
    """The waiting notices for the layout's banner: one small query per page of a logged-in user (htmx fragments
    have no banner)."""
    if not has_request_context() or is_htmx() or not current_user.is_authenticated:
        return {"account_notices": []}
    events = account_events.waiting(user(), g.get("user_session"))
    return {"account_notices": [{"id": e.id, "text": account_events.describe(e)} for e in events]}
