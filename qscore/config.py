"""Default configuration. instance/config.py and QSCORE_* / DATABASE_URL environment variables override it."""
from __future__ import annotations

from datetime import timedelta

# OWASP Password Storage Cheat Sheet floor for scrypt: N=2^17, r=8, p=1.
PASSWORD_HASH_METHOD = "scrypt:131072:8:1"
MIN_PASSWORD_LENGTH = 10

# A secretary leaves a roster open all afternoon: sessions and CSRF tokens last a working day.
PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
WTF_CSRF_TIME_LIMIT = 12 * 3600
WTF_CSRF_SSL_STRICT = False  # the intranet often runs without TLS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "qscore_session"

# Login throttling, per account and per address, over a sliding window.
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
LOGIN_MAX_FAILURES_PER_ADDRESS = 20

BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
# Babel parses zh_CN as zh_Hans_CN: the catalog lives in translations/zh_Hans_CN.
LANGUAGES = ("zh_CN", "en")

SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # roster workbooks
