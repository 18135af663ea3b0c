"""Default configuration. instance/config.py and QSCORE_* / DATABASE_URL environment variables override it."""
from __future__ import annotations

from datetime import timedelta

# OWASP Password Storage Cheat Sheet floor for scrypt: N=2^17, r=8, p=1.
PASSWORD_HASH_METHOD = "scrypt:131072:8:1"
# What a person may choose as a password (ASVS 2.1.1): qscore/passwords.py holds the whole rule.
MIN_PASSWORD_LENGTH = 12
# A first-time password (an administrator's create, reset or bulk sheet) stops working after this many days.
FIRST_PASSWORD_DAYS = 14

# A secretary leaves a roster open all afternoon: sessions and CSRF tokens last a working day.
PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
WTF_CSRF_TIME_LIMIT = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_NAME = "qscore_session"

# The intranet often runs without TLS. True when browsers reach qscore only over https: the session
# cookie becomes "__Host-qscore" and Secure, the language cookie Secure, and CSRF checks the referrer
# (qscore/security.py applies it).
HTTPS_ONLY = False
WTF_CSRF_SSL_STRICT = False  # HTTPS_ONLY turns it on (it needs the proxy to pass the Host header)
# Sent on https requests only; 0 sends none.
HSTS_MAX_AGE = 365 * 24 * 3600
# Reverse proxies in front of qscore whose X-Forwarded-For/-Proto are trusted (werkzeug's ProxyFix).
PROXY_HOPS = 0

# Every password check (login, password change, the approvals' re-entry): qscore/throttle.py.
# Per account only from unfamiliar addresses (ASVS 2.2.1), so a stranger cannot lock the owner out.
LOGIN_FREE_FAILURES = 3  # per account and address; then waits of 1 s, 2 s, 4 s …
LOGIN_MAX_DELAY_SECONDS = 15 * 60
LOGIN_FAILURE_MEMORY_HOURS = 24  # a pair's failures older than this no longer lengthen its wait
LOGIN_MAX_FAILURES_PER_ADDRESS = 20  # over all accounts …
LOGIN_ADDRESS_WINDOW_SECONDS = 15 * 60  # … within this window
LOGIN_ACCOUNT_UNFAMILIAR_FAILURES = 50  # per account from addresses it has not logged in from lately …
LOGIN_ACCOUNT_MAX_FAILURES = 90  # … and from all addresses (ASVS: under 100) …
LOGIN_ACCOUNT_WINDOW_SECONDS = 3600  # … within this window
LOGIN_FAMILIAR_DAYS = 90  # an address the account logged in from within this many days is familiar
LOGIN_ATTEMPT_RETENTION_DAYS = 30
# The roles that must use a second step (a code from an authenticator app, qscore/second_step); everyone else may.
SECOND_STEP_REQUIRED_ROLES = ("street_admin",)
# A resident's question keeps the sender's network address this long (the form says so), then it is blanked.
QUERY_ADDRESS_DAYS = 30
# First run: the one-time setup code `flask qscore init` writes; None means instance/setup-token.
SETUP_TOKEN_FILE = None

BABEL_DEFAULT_LOCALE = "zh_CN"
BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
# Babel parses zh_CN as zh_Hans_CN: the catalog lives in translations/zh_Hans_CN.
LANGUAGES = ("zh_CN", "en")

SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
MAX_CONTENT_LENGTH = 20 * 1024 * 1024  # roster workbooks
