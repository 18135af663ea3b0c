"""One throttle for every password check: logging in, changing one's password, the approvals' re-entry.

OWASP ASVS 2.2.1 without a lockout a stranger could trigger. Failures are counted per (account,
address) pair: after a few, each further try of the pair waits twice as long as the one before
(1 s, 2 s, 4 s … up to 15 minutes), and a success resets the pair. One address may fail a limited
number of times over all accounts within a window. One account may fail a limited number of times
an hour from addresses it has not logged in from lately (ASVS 2.2.1: many addresses, one account);
its familiar addresses are not slowed by that ceiling, so the owner on their own machine logs in at
once whatever strangers try. A throttled try checks no password and is not recorded: waiting it out
is always enough, and hammering does not renew it.

The state is in the database (LoginAttempt), so it holds across server processes. The typed
username is kept only as a keyed hash and whether it named an account. Settings: qscore/config.py.

    wait = throttle.check("login", username, client_ip())
    if wait: ... answer 429 with throttle.message(wait), Retry-After: wait
    ok = check_password(...)
    throttle.record("login", username, client_ip(), ok)
"""
from __future__ import annotations

import hashlib
import hmac
import math
from datetime import datetime, timedelta

from flask import Response, current_app, make_response
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, func, select, text

from .db import db
from .models import LoginAttempt, User, UserSession
from .models._common import utcnow

# setup: the first-run code (qscore/setup.py); second_step: a code from the authenticator app or a recovery code
# (qscore/second_step); checkin: a meeting screen's code typed on a phone (qscore/checkin.py)
KINDS = ("login", "password", "step_up", "setup", "second_step", "checkin")
NOT_AN_ACCOUNT = ("setup",)  # kinds whose "account" names no account: no account-wide ceiling


def _normalise(account: str) -> str:
    return account.strip().lower()


def account_hash(account: str) -> str:
    """The stored form of a typed username: a keyed hash, so failed tries keep no text in clear."""
    secret = current_app.config["SECRET_KEY"]
    key = secret if isinstance(secret, bytes) else str(secret).encode()
    return hmac.new(key, b"login-attempt\0" + _normalise(account).encode(), hashlib.sha256).hexdigest()


def check(kind: str, account: str, address: str) -> int:
    """Seconds this try must wait before a password may be checked; 0 means go ahead.

    Tries from one address are serialised until the transaction ends (on PostgreSQL an advisory
    lock; SQLite's writing requests are serialised already), so parallel guesses cannot all slip
    in before the first failure is recorded.
    """
    assert kind in KINDS, kind
    address = address[:64]
    key = account_hash(account)
    _serialise(b"login-attempt\0", address)
    if kind not in NOT_AN_ACCOUNT:
        _serialise(b"login-account\0", key)  # always after the address's lock: one order, no deadlock
    now = utcnow()
    wait = max(_pair_wait(key, address, now), _address_wait(address, now),
               _account_wait(account, key, address, now) if kind not in NOT_AN_ACCOUNT else timedelta(0))
    return math.ceil(wait.total_seconds()) if wait > timedelta(0) else 0


def record(kind: str, account: str, address: str, ok: bool) -> None:
    """Record a password check (in the caller's transaction) and forget rows older than the retention."""
    assert kind in KINDS, kind
    now = utcnow()
    name = _normalise(account)
    known = db.session.scalar(select(User.id).where(User.username == name)) is not None
    db.session.add(LoginAttempt(at=now, kind=kind, account_hash=account_hash(name), account_known=known,
                                ip=address[:64], success=ok))
    cutoff = now - timedelta(days=current_app.config["LOGIN_ATTEMPT_RETENTION_DAYS"])
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at < cutoff)
                       .execution_options(synchronize_session=False))


def message(seconds: int, kind: str = "login") -> str:
    """The 429 text, with the wait in words."""
    if seconds < 60:
        wait = ngettext("%(num)d second", "%(num)d seconds", seconds)
    else:
        wait = ngettext("%(num)d minute", "%(num)d minutes", math.ceil(seconds / 60))
    if kind == "second_step":  # the password was right: "failed attempts" would send the user to retype it
        return _("Too many wrong codes. Please wait %(wait)s and try again.", wait=wait)
    return _("Too many failed attempts. Please wait %(wait)s and try again.", wait=wait)


def too_many(body: str, seconds: int) -> Response:
    """A throttled answer: 429 with Retry-After."""
    resp = make_response(body, 429)
    resp.headers["Retry-After"] = str(seconds)
    return resp


def _serialise(namespace: bytes, value: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(namespace + value.encode()).digest()[:8], "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _pair_wait(key: str, address: str, now: datetime) -> timedelta:
    """1 s after LOGIN_FREE_FAILURES failures of the pair since its last success, doubling, capped."""
    cfg = current_app.config
    pair = (LoginAttempt.account_hash == key, LoginAttempt.ip == address)
    last_success = (select(func.coalesce(func.max(LoginAttempt.id), 0))
                    .where(*pair, LoginAttempt.success.is_(True)).scalar_subquery())
    failures, last = db.session.execute(
        select(func.count(), func.max(LoginAttempt.at)).where(
            *pair, LoginAttempt.success.is_(False), LoginAttempt.id > last_success,
            LoginAttempt.at > now - timedelta(hours=cfg["LOGIN_FAILURE_MEMORY_HOURS"]))).one()
    beyond = failures - cfg["LOGIN_FREE_FAILURES"]
    if beyond < 0:
        return timedelta(0)
    delay = min(2 ** min(beyond, 32), cfg["LOGIN_MAX_DELAY_SECONDS"])
    return last + timedelta(seconds=delay) - now


def _address_wait(address: str, now: datetime) -> timedelta:
    """Until the oldest of the address's last LOGIN_MAX_FAILURES_PER_ADDRESS failures leaves the window."""
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_ADDRESS_WINDOW_SECONDS"])
    return _window_wait((LoginAttempt.ip == address,), cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"], window, now)


def _account_wait(account: str, key: str, address: str, now: datetime) -> timedelta:
    """The account-wide ceiling: unfamiliar addresses together, then all addresses together, per hour.

    An address is familiar when the account logged in from it within LOGIN_FAMILIAR_DAYS (its sessions);
    strangers' failures never slow it. Since unfamiliar addresses stop at their own ceiling, only failures
    from familiar addresses can reach the higher one: a stranger cannot lock the owner out, and an account
    never fails more than LOGIN_ACCOUNT_MAX_FAILURES times an hour.
    """
    cfg = current_app.config
    window = timedelta(seconds=cfg["LOGIN_ACCOUNT_WINDOW_SECONDS"])
    familiar = (select(UserSession.ip).join(User, User.id == UserSession.user_id)
                .where(User.username == _normalise(account),
                       UserSession.created_at > now - timedelta(days=cfg["LOGIN_FAMILIAR_DAYS"])))
    on_account = (LoginAttempt.account_hash == key,)
    wait = _window_wait(on_account, cfg["LOGIN_ACCOUNT_MAX_FAILURES"], window, now)
    if db.session.scalar(familiar.where(UserSession.ip == address).limit(1)) is None:
        strangers = (*on_account, LoginAttempt.ip.not_in(familiar))
        wait = max(wait, _window_wait(strangers, cfg["LOGIN_ACCOUNT_UNFAMILIAR_FAILURES"], window, now))
    return wait


def _window_wait(where: tuple, cap: int, window: timedelta, now: datetime) -> timedelta:
    """Until the oldest of the last ``cap`` failures matching ``where`` leaves the window (0: room now; cap 0: off)."""
    if cap <= 0:
        return timedelta(0)
    recent = db.session.scalars(
        select(LoginAttempt.at).where(*where, LoginAttempt.success.is_(False), LoginAttempt.at > now - window)
        .order_by(LoginAttempt.at.desc()).limit(cap)).all()
    if len(recent) < cap:
        return timedelta(0)
    return recent[-1] + window - now
