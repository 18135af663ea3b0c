"""CSRF, security headers, HTTPS and proxy settings, password hashing; password checks are throttled in throttle.py."""
from __future__ import annotations

from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash, generate_password_hash

csrf = CSRFProtect()

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    if app.config["HTTPS_ONLY"]:
        # __Host-: the browser keeps the cookie only if Secure, for path / and without Domain.
        app.config.update(SESSION_COOKIE_NAME="__Host-qscore", SESSION_COOKIE_SECURE=True, SESSION_COOKIE_PATH="/",
                          SESSION_COOKIE_DOMAIN=None, WTF_CSRF_SSL_STRICT=True)
    hops = int(app.config["PROXY_HOPS"] or 0)
    if hops:
        # For: the resident's address (throttles, audit). Proto: is_secure behind TLS (HSTS, CSRF referrer
        # check). Not Host: the proxy passes the browser's Host header itself, one header less to trust.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
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
    max_age = int(current_app.config["HSTS_MAX_AGE"] or 0)
    if request.is_secure and max_age > 0:
        # Not includeSubDomains: the street's other hosts are not ours to force onto https.
        h.setdefault("Strict-Transport-Security", f"max-age={max_age}")
    if resp.mimetype == "text/html":
        # Pages show private data: never keep them in a shared browser's cache.
        h.setdefault("Cache-Control", "no-store")
    return resp


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(pwhash: str, password: str) -> bool:
    return check_password_hash(pwhash, password)


def client_ip() -> str:
    # Behind a reverse proxy, PROXY_HOPS makes remote_addr the resident's address (ProxyFix).
    return (request.remote_addr or "")[:64]
