"""CSRF, security headers, password hashing and login throttling."""
from __future__ import annotations

from datetime import datetime

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from .db import db
from .models import LoginAttempt
from .models._common import utcnow

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    app.after_request(_security_headers)


def _security_headers(resp: Response) -> Response:
    h = resp.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if resp.mimetype == "text/html":
        # Pages show private data: never keep them in a shared browser's cache.
        h.setdefault("Cache-Control", "no-store")
    return resp


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(pwhash: str, password: str) -> bool:
    return check_password_hash(pwhash, password)


def client_ip() -> str:
    # Behind a reverse proxy, configure werkzeug's ProxyFix so remote_addr is the client.
    return (request.remote_addr or "")[:64]


def login_blocked(username: str, ip: str, now: datetime | None = None) -> bool:
    """Too many failures for this account or from this address within the window."""
    cfg = current_app.config
    since = (now or utcnow()) - cfg["LOGIN_WINDOW"]
    failures = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.at >= since, LoginAttempt.success.is_(False)
    )
    by_account = db.session.scalar(failures.where(LoginAttempt.username == username.lower()))
    if by_account >= cfg["LOGIN_MAX_FAILURES_PER_ACCOUNT"]:
        return True
    by_address = db.session.scalar(failures.where(LoginAttempt.ip == ip))
    return by_address >= cfg["LOGIN_MAX_FAILURES_PER_ADDRESS"]


def record_login_attempt(username: str, ip: str, success: bool) -> None:
    db.session.add(LoginAttempt(username=username.lower()[:64], ip=ip, success=success))
