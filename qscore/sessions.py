"""Logins as server-side sessions: the signed cookie carries only a random token.

Ending the row (logout, password change, disabling the account) refuses any replay of the cookie.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user
from sqlalchemy import bindparam, select, update

from . import account_events
from .db import db
from .htmx import current_path, hx_redirect, is_htmx
from .models import Street, User, UserSession
from .models._common import utcnow
from .security import client_ip

login_manager = LoginManager()
SESSION_KEY = "sid"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.request_loader(_load_from_session)
    login_manager.unauthorized_handler(_unauthorized)


# One query per request loads the session, its account and the account's street (for the header); built once.
_SESSION_ROW = (select(UserSession, User, Street)
                .join(User, User.id == UserSession.user_id)
                .join(Street, Street.id == User.street_id)
                .where(UserSession.token_hash == bindparam("token_hash"), UserSession.ended_at.is_(None)))


def _load_from_session(_request) -> User | None:
    token = session.get(SESSION_KEY)
    if not token:
        return None
    row = db.session.execute(_SESSION_ROW, {"token_hash": _digest(token)}).first()
    if row is None:
        return None
    user_session, user, street = row
    if user_session.expires_at <= utcnow() or not user.active:
        return None
    g.user_session = user_session
    g.street = street
    return user


def _unauthorized():
    target = url_for("auth.login", next=current_path())
    if is_htmx():
        # An XHR would follow a 302 silently and swap the login form into a table cell.
        return hx_redirect(target, 401)
    return redirect(target)


def start_session(user: User) -> UserSession:
    """Log in: a fresh cookie (no fixation) pointing at a new session row.

    Within a login of the same account (a password change) the new row continues that login; a real
    login tells the person on the next page when and where the account last logged in.
    """
    previous = g.get("user_session")
    renewed = previous is not None and previous.user_id == user.id
    lang = session.get("lang")
    session.clear()
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = UserSession(
        token_hash=_digest(token), user_id=user.id, created_at=now, fresh_at=now,
        expires_at=now + current_app.config["PERMANENT_SESSION_LIFETIME"], ip=client_ip(),
        user_agent=account_events.clean_user_agent(request.user_agent.string), renewed=renewed,
    )
    db.session.add(row)
    g.user_session = row  # the rest of this request belongs to the new login
    session.permanent = True
    session[SESSION_KEY] = token
    if lang:
        session["lang"] = lang
    if not renewed:
        account_events.sign_in_notice(user, row)
    return row


def end_current_session() -> None:
    user_session = g.get("user_session")
    if user_session is not None:
        user_session.ended_at = utcnow()
    session.clear()


def end_all_sessions(user_id: int, except_current: bool = False) -> None:
    stmt = update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
    current = g.get("user_session")
    if except_current and current is not None:
        stmt = stmt.where(UserSession.id != current.id)
    db.session.execute(stmt.values(ended_at=utcnow()))


def end_every_session() -> None:
    """Log everybody out (a real street replaces the demo)."""
    db.session.execute(update(UserSession).where(UserSession.ended_at.is_(None)).values(ended_at=utcnow()))


def mark_fresh() -> None:
    """The user re-entered their password just now (for approvals that need a fresh login)."""
    user_session = g.get("user_session")
    if user_session is not None:
        user_session.fresh_at = utcnow()


def is_fresh(max_age_seconds: int = 300) -> bool:
    user_session = g.get("user_session")
    if user_session is None or not current_user.is_authenticated:
        return False
    return (utcnow() - user_session.fresh_at).total_seconds() <= max_age_seconds


def session_started_at() -> datetime | None:
    user_session = g.get("user_session")
    return user_session.created_at if user_session is not None else None
