"""CSRF, security headers, HTTPS and proxy settings, password hashing; password checks are throttled in throttle.py."""
from __future__ import annotations

import logging
from pathlib import PurePosixPath

from flask import Flask, Response, abort, current_app, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import check_password_hash, generate_password_hash

csrf = CSRFProtect()
log = logging.getLogger(__name__)

# What static/ may serve: an editor's backup (.swp, .bak, ~) or a stray file left there is not served.
STATIC_SUFFIXES = frozenset({".css", ".js", ".svg", ".png", ".ico", ".woff2", ".woff", ".ttf", ".webmanifest"})
METHODS_IN_USE = frozenset({"GET", "HEAD", "POST", "OPTIONS"})

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
    app.before_request(_screen_request)
    app.after_request(_security_headers)


def _screen_request() -> None:
    if request.method not in METHODS_IN_USE:
        # Flask answers 405; a PUT, DELETE or TRACE is someone probing, so it is logged too.
        log.warning("method %s refused: %s from %s", request.method, request.path[:200], client_ip())
    if request.endpoint == "static":
        name = PurePosixPath((request.view_args or {}).get("filename", ""))
        if name.suffix.lower() not in STATIC_SUFFIXES or name.name.startswith("."):
            abort(404)
    if request.is_secure and not current_app.config["HTTPS_ONLY"] and not current_app.config.get("_warned_https"):
        current_app.config["_warned_https"] = True
        log.warning("served over https while HTTPS_ONLY is off: cookies are not Secure (README, Configuration)")


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
    # scrypt and PBKDF2 key HMAC with the password, and HMAC pads a key with zero bytes: "secret" and
    # "secret\x00" would both open the account. No chosen password holds a NUL (qscore/passwords.py).
    if "\x00" in password:
        return False
    return check_password_hash(pwhash, password)


def client_ip() -> str:
    # Behind a reverse proxy, PROXY_HOPS makes remote_addr the resident's address (ProxyFix).
    return (request.remote_addr or "")[:64]
