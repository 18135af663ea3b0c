"""Telling people about their own account (OWASP ASVS 2.2.3, 2.5.5).

- After logging in: when and from where the account last logged in, and how many wrong passwords
  were tried on it since (``sign_in_notice``, called by sessions.start_session).
- A change to how someone signs in (their password changed or reset, a second step set up or reset)
  is shown to them on every page until they press "知道了". Whoever makes such a change calls, in the
  same transaction:

      account_events.note(user, "password_reset", by=current_user)

  A change the person made themselves is not repeated in the browser where they made it (that page
  already confirmed it); it is shown in their other and later logins.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from flask import current_app, flash, g, has_request_context, render_template
from flask_babel import format_datetime, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import bindparam, func, or_, select

from .db import db
from .fields import has_control_characters
from .models import AccountEvent, LoginAttempt, User, UserSession
from .models._common import utcnow
from .security import client_ip
from .throttle import account_hash

# Each kind: the sentence when the holder made the change (or the server's command line), and when another person did.
KINDS = {
    "password_change": (_l("Your password was changed on %(when)s."),
                        _l("Your password was changed by %(name)s on %(when)s.")),
    "password_reset": (_l("Your password was reset on %(when)s."),
                       _l("Your password was reset by %(name)s on %(when)s.")),
    "second_step_enrolled": (_l("Two-step verification was turned on for your account on %(when)s."),
                             _l("Two-step verification was turned on for your account by %(name)s on %(when)s.")),
    "second_step_turned_off": (_l("Two-step verification was turned off for your account on %(when)s."),
                               _l("Two-step verification was turned off for your account by %(name)s on %(when)s.")),
    "second_step_reset": (_l("Your two-step verification was reset on %(when)s."),
                          _l("Your two-step verification was reset by %(name)s on %(when)s.")),
    "recovery_codes_renewed": (_l("New recovery codes were made for your account on %(when)s."),
                               _l("New recovery codes were made for your account by %(name)s on %(when)s.")),
}
PASSWORD_KINDS = ("login", "password", "step_up")  # throttle's kinds that check a password (not a code)
BANNER_MAX = 5  # more waiting notices than this are seen on "my sign-ins"
USER_AGENT_MAX = 200


def note(user: User, kind: str, by: User | None = None) -> AccountEvent:
    """Tell ``user`` that their way of signing in changed: a banner on their pages until acknowledged.

    ``by`` is whoever made the change (None: the server's command line). Call it in the transaction of
    the change, after a password change has started the new session (that browser is not told again).
    """
    assert kind in KINDS, kind
    other = by is not None and by.id != user.id
    current = g.get("user_session") if has_request_context() else None
    own = current if current is not None and current.user_id == user.id and not other else None
    if own is not None and own.id is None:
        db.session.flush()
    event = AccountEvent(user_id=user.id, kind=kind, at=utcnow(), by_user_id=by.id if other else None,
                         by_name=((by.display_name or by.username) if other else "")[:100],
                         session_id=own.id if own is not None else None,
                         ip=client_ip() if has_request_context() else "")
    db.session.add(event)
    return event


def describe(event: AccountEvent) -> str:
    """The sentence a person reads about one event, in their language."""
    plain, named = KINDS.get(event.kind, KINDS["password_change"])
    when = local_when(event.at)
    return str(named) % {"name": event.by_name, "when": when} if event.by_name else str(plain) % {"when": when}


# Read on every page: built once (only the account and its login change).
_WAITING = (select(AccountEvent)
            .where(AccountEvent.user_id == bindparam("user_id"), AccountEvent.acknowledged_at.is_(None))
            .order_by(AccountEvent.at, AccountEvent.id).limit(BANNER_MAX))
_WAITING_IN_LOGIN = _WAITING.where(or_(AccountEvent.session_id.is_(None),
                                       AccountEvent.session_id != bindparam("session_id")))


def waiting(user: User, user_session: UserSession | None) -> list[AccountEvent]:
    """The notices still to show this browser: unacknowledged, and not made in this very login."""
    if user_session is not None and user_session.id is not None:
        return list(db.session.scalars(_WAITING_IN_LOGIN, {"user_id": user.id, "session_id": user_session.id}))
    return list(db.session.scalars(_WAITING, {"user_id": user.id}))


def local_when(value: datetime) -> str:
    """A moment as a person says it: 2026年12月6日 14:05 / 6 Dec 2026, 14:05 (the street's time zone)."""
    pattern = "y年M月d日 HH:mm" if get_locale().language == "zh" else "d MMM y, HH:mm"
    return format_datetime(value, pattern)


# ---------------------------------------------------------------------------------------------
# After logging in
# ---------------------------------------------------------------------------------------------

def previous_login(user: User, current: UserSession) -> UserSession | None:
    """The account's login before this one (a session renewed after a password change is not a login)."""
    if current.id is None:
        db.session.flush()
    return db.session.scalar(
        select(UserSession).where(UserSession.user_id == user.id, UserSession.renewed.is_(False),
                                  UserSession.id != current.id)
        .order_by(UserSession.created_at.desc(), UserSession.id.desc()).limit(1))


def failures_since(user: User, since: datetime | None) -> int:
    """Wrong passwords typed for this account (login, password change, re-entry) since ``since``, as far as kept."""
    stmt = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.account_hash == account_hash(user.username), LoginAttempt.success.is_(False),
        LoginAttempt.kind.in_(PASSWORD_KINDS))
    if since is not None:
        stmt = stmt.where(LoginAttempt.at > since)
    return db.session.scalar(stmt) or 0


def sign_in_notice(user: User, current: UserSession) -> None:
    """Flash, for the first page after logging in, the previous login and the wrong passwords since."""
    before = previous_login(user, current)
    failures = failures_since(user, before.created_at if before else None)
    if before is None:
        parts = [_("This is your first login.")]
        if failures:
            parts.append(ngettext("Before it, %(num)d wrong password was typed for your account.",
                                  "Before it, %(num)d wrong passwords were typed for your account.", failures))
    else:
        parts = [_("Last login: %(when)s, from %(address)s.", when=local_when(before.created_at),
                   address=before.ip or _("an unknown address"))]
        if failures:
            parts.append(ngettext("Since then there has been %(num)d failed password attempt.",
                                  "Since then there have been %(num)d failed password attempts.", failures))
    # Rendered (and escaped) by its template; Markup so that the layout shows the link as a link.
    flash(Markup(render_template("account/_sign_in_notice.html", parts=parts)),
          "signin-alert" if failures else "signin")


# ---------------------------------------------------------------------------------------------
# The browser, as stored and as shown
# ---------------------------------------------------------------------------------------------

def clean_user_agent(value: str | None) -> str:
    """What the browser says of itself, as stored: no control characters, at most 200 characters."""
    text = "".join(c for c in (value or "") if not has_control_characters(c))
    return text.strip()[:USER_AGENT_MAX]


# Order matters: Edge, Opera and the Chinese browsers also call themselves Chrome and Safari.
_BROWSERS = (
    ("MicroMessenger/", _l("WeChat")),
    ("QQBrowser/", _l("QQ Browser")),
    ("UCBrowser/", "UC"),
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"), ("HeadlessChrome/", "Chrome"), ("Chromium/", "Chromium"), ("Chrome/", "Chrome"),
    ("Version/", "Safari"),  # Safari's own version follows "Version/"
    ("Trident/", "Internet Explorer"),
)
_SYSTEMS = (("Windows", "Windows"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def browser_summary(user_agent: str) -> str:
    """"Chrome 120 · Windows" from a user agent; "Unknown browser" when it says nothing we know."""
    browser = next(((token, name) for token, name in _BROWSERS if token in user_agent), None)
    system = next((name for token, name in _SYSTEMS if token in user_agent), None)
    if browser is None:
        return _("Unknown browser") + (f" · {system}" if system else "")
    token, name = browser
    version = re.match(r"(\d+)", user_agent.split(token, 1)[1])
    text = f"{name} {version.group(1)}" if version and token != "Trident/" else str(name)
    return f"{text} · {system}" if system else text


def recent_failures(user: User, limit: int = 50) -> tuple[list[LoginAttempt], int]:
    """Failed checks of this account (passwords and codes) in the kept period: newest first, at most ``limit``,
    and how many in all."""
    since = utcnow() - timedelta(days=current_app.config["LOGIN_ATTEMPT_RETENTION_DAYS"])
    where = (LoginAttempt.account_hash == account_hash(user.username), LoginAttempt.success.is_(False),
             LoginAttempt.at > since)
    rows = db.session.scalars(select(LoginAttempt).where(*where)
                              .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc()).limit(limit)).all()
    total = db.session.scalar(select(func.count()).select_from(LoginAttempt).where(*where)) or 0
    return list(rows), total
