"""The second step of logging in (ASVS 4.3.1): a time-based one-time code (RFC 6238) or a printed recovery code.

Required for the roles in SECOND_STEP_REQUIRED_ROLES (street administrators by default), offered to
everyone else. The password alone never creates a session: it leaves a pending state in the signed
Flask session (the account and an expiry of 5 minutes), and only the code page turns it into a login.

- The secret is stored sealed with a key derived from SECRET_KEY (a copy of the database alone does
  not give the codes away) and never shown after enrolment.
- Codes are accepted one step (30 s) early or late; the accepted step is stored and claimed with one
  conditional UPDATE, so a code never works twice, not even sent twice at the same instant.
- Ten recovery codes are shown once, stored as salted hashes, each usable once.
- Wrong codes go through the one throttle (qscore/throttle.py, kind "second_step"); a correct password
  is not recorded as a success until the code is right, so retyping the password does not reset the
  count of wrong codes.
- A lost phone: another street administrator resets the second step, with a reason (audited); the
  person's sessions end.

The views are in views.py; this module has no request handling beyond the pending state.
"""
from __future__ import annotations

import base64
import hmac
import secrets
import time
import unicodedata

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, session
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from .. import account_events, audit, qr
from ..access import has_role
from ..db import db
from ..models import RecoveryCode, User
from ..models._common import utcnow
from ..sessions import end_all_sessions

DIGITS = 6
INTERVAL = 30  # seconds per code (RFC 6238's default; every authenticator app uses it)
WINDOW = 1  # steps accepted before and after the current one: a phone clock 30 s off still works
PENDING_SECONDS = 5 * 60
PENDING_KEY = "second_step"
ENROL_KEY = "second_step_enrol"
RECOVERY_CODES = 10
RECOVERY_LENGTH = 10
# As first-time passwords (admin/accounts.py): no 0/o, 1/l/i, read off paper without confusion.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


# --- who needs it ---------------------------------------------------------------------------------

def required_for(user: User) -> bool:
    """The account's role must use a second step (it is offered to every other role)."""
    roles = current_app.config.get("SECOND_STEP_REQUIRED_ROLES") or ()
    if isinstance(roles, str):  # QSCORE_SECOND_STEP_REQUIRED_ROLES=street_admin,community_secretary (not JSON)
        roles = [r.strip() for r in roles.split(",")]
    return has_role(*roles, u=user)


# --- the secret, sealed ---------------------------------------------------------------------------

def _fernet() -> Fernet:
    """The cipher for stored secrets: Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from SECRET_KEY."""
    secret = current_app.config["SECRET_KEY"]
    material = secret if isinstance(secret, bytes) else str(secret).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"qscore second step").derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    """The stored form of a TOTP secret: encrypted and authenticated (a changed byte is refused)."""
    return "v2." + _fernet().encrypt(secret.encode()).decode()


def unseal(stored: str | None) -> str | None:
    """The secret, or None when it was altered or sealed under another SECRET_KEY."""
    if not stored or not stored.startswith("v2."):
        return None
    try:
        return _fernet().decrypt(stored[3:].encode()).decode()
    except (InvalidToken, ValueError):
        return None


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends


def grouped(secret: str) -> str:
    """The secret as a person types it into an app: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def provisioning_uri(secret: str, user: User, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(name=user.username,
                                                                                 issuer_name=issuer)


def qr_svg(uri: str, label: str) -> Markup:
    """The enrolment QR code as inline SVG, drawn here (nothing leaves the intranet)."""
    return qr.qr_svg(uri, css_class="totp-qr", label=label)


# --- codes ------------------------------------------------------------------------------------------

def normalise(text: str | None) -> str:
    """What a person typed, as compared: full-width digits and letters of a Chinese keyboard made ASCII,
    spaces and dashes dropped, lower case."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(c for c in text if not c.isspace() and c not in "-_").lower()


def is_code(text: str) -> bool:
    return len(text) == DIGITS and text.isascii() and text.isdigit()


def is_recovery_code(text: str) -> bool:
    return len(text) == RECOVERY_LENGTH and all(c in RECOVERY_ALPHABET for c in text)


def current_step() -> int:
    return int(time.time()) // INTERVAL


def matching_step(secret: str, code: str, after: int | None = None) -> int | None:
    """The time-step within the window whose code this is, later than ``after`` (the last one used)."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    now = current_step()
    found = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        # Every step is compared (no early return), in constant time.
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            found = step
    return found


def check_code(user: User, code: str) -> bool:
    """A correct code from the account's authenticator, not used before: its step is claimed at once."""
    secret = unseal(user.totp_secret)
    if secret is None or not is_code(code):
        return False
    step = matching_step(secret, code, user.totp_last_step)
    if step is None:
        return False
    claimed = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:  # another request took this step (or a later one) first
        return False
    db.session.expire(user, ["totp_last_step"])
    return True


def _recovery_hash_method() -> str:
    # A random code of ~50 bits needs no memory-hard hash: salted PBKDF2 (ASVS 2.6.2) checks ten in 0.1 s, scrypt 2 s.
    method = current_app.config["PASSWORD_HASH_METHOD"]
    return "pbkdf2:sha256:10000" if method.startswith("scrypt") else method


def new_recovery_codes(user: User) -> list[str]:
    """Ten new recovery codes for the account (the old ones stop working), returned once, in clear."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
             for _ in range(RECOVERY_CODES)]
    method = _recovery_hash_method()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=generate_password_hash(c, method=method))
                       for c in codes)
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def use_recovery_code(user: User, code: str) -> bool:
    """An unused recovery code of the account: it is spent at once."""
    if not is_recovery_code(code):
        return False
    for row in db.session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                             RecoveryCode.used_at.is_(None))):
        if check_password_hash(row.code_hash, code):
            spent = db.session.execute(update(RecoveryCode).where(RecoveryCode.id == row.id,
                                                                  RecoveryCode.used_at.is_(None))
                                       .values(used_at=utcnow()).execution_options(synchronize_session=False))
            return spent.rowcount == 1
    return False


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def verify(user: User, code: str, recovery: str) -> str | None:
    """How the person proved the second step ("code" or "recovery"), or None."""
    if code and check_code(user, code):
        return "code"
    if recovery and use_recovery_code(user, recovery):
        audit.record("recovery_code_used", user, user=user, summary=user.username, member_id=user.member_id)
        return "recovery"
    return None


# --- changes to an account's second step ---------------------------------------------------------------

def enrol(user: User, secret: str, step: int) -> list[str]:
    """Turn the second step on with a secret the person has just proved (its code of ``step``)."""
    user.totp_secret = seal(secret)
    user.totp_last_step = step
    user.totp_enrolled_at = utcnow()
    codes = new_recovery_codes(user)
    # Logins made with the password alone end; this one goes on.
    end_all_sessions(user.id, except_current=True)
    audit.record("second_step_enrolled", user, summary=user.username, member_id=user.member_id)
    _notify(user, "second_step_enrolled", by=user)
    return codes


def enrol_fixed(user: User, secret: str) -> None:
    """The demo administrator's published secret (qscore/demo/accounts.py): enrolled without recovery codes."""
    user.totp_secret = seal(secret)
    user.totp_last_step = None
    user.totp_enrolled_at = utcnow()


def renew_recovery_codes(user: User) -> list[str]:
    codes = new_recovery_codes(user)
    audit.record("recovery_codes_renewed", user, summary=user.username, member_id=user.member_id)
    _notify(user, "recovery_codes_renewed", by=user)
    return codes


def _clear(user: User) -> None:
    user.totp_secret = None
    user.totp_last_step = None
    user.totp_enrolled_at = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def turn_off(user: User) -> None:
    """The holder turns it off (only where the role does not require it; the view checks)."""
    _clear(user)
    audit.record("second_step_turned_off", user, summary=user.username, member_id=user.member_id)
    _notify(user, "second_step_turned_off", by=user)


def reset(user: User, by: User | None, reason: str) -> None:
    """A lost phone: another street administrator (``by``; None: the server's console) removes the second step;
    every login of the account ends. The next login asks for the password only (and, where the role requires
    it, to enrol again)."""
    if by is not None and user.id == by.id:
        raise ValueError("nobody resets their own second step")
    _clear(user)
    end_all_sessions(user.id)
    audit.record("second_step_reset", user, summary=f"{user.username}: {reason}", member_id=user.member_id,
                 user=by)
    _notify(user, "second_step_reset", by=by)


def _notify(user: User, kind: str, by: User | None) -> None:
    """Tell the holder: a notice on their pages until acknowledged (not repeated where they made the change)."""
    account_events.note(user, kind, by=by)


# --- the pending state between password and code ------------------------------------------------------

def begin(user: User, after: str) -> None:
    """The password was right: remember the account for 5 minutes, with no login yet."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session[PENDING_KEY] = {"user": user.id, "until": int(time.time()) + PENDING_SECONDS, "next": after}


def pending_state() -> dict | None:
    state = session.get(PENDING_KEY)
    return state if isinstance(state, dict) and isinstance(state.get("user"), int) else None


def pending_expired(state: dict) -> bool:
    return not isinstance(state.get("until"), int) or state["until"] <= time.time()


def pending_user() -> User | None:
    """The account waiting for its code: None when none waits, the wait expired or the account changed."""
    state = pending_state()
    if state is None or pending_expired(state):
        return None
    user = db.session.get(User, state["user"])
    if user is None or not user.active or not user.has_second_step:
        return None
    return user


def end_pending() -> None:
    session.pop(PENDING_KEY, None)


__all__ = ["begin", "check_code", "end_pending", "enrol", "enrol_fixed", "matching_step", "new_secret", "normalise",
           "pending_user", "renew_recovery_codes", "required_for", "reset", "seal", "turn_off", "unseal", "verify"]
