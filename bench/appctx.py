"""The app under test: qscore's own factory and code paths, with the benchmark's settings.

Only what a test run changes is changed: a fixed "today" (the generator's last day, so runs are
reproducible), a cheap password hash (the generator hashed the secretaries' password once with
it), and the benchmark's database. CSRF protection stays ON: the bench reads the token from the
page and sends it in the X-CSRFToken header, as htmx does.
"""
from __future__ import annotations

import re

from qscore import create_app

from .generate import BENCH_PASSWORD, CHEAP_HASH, database_url
from .scales import LAST_DAY

CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')


def bench_config(scale: str) -> dict:
    return {
        "TESTING": False,  # errors are returned as 500s, as in production; the bench checks statuses
        "SECRET_KEY": "bench-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url(scale),
        "PASSWORD_HASH_METHOD": CHEAP_HASH,
        "FIXED_TODAY": LAST_DAY,
    }


def bench_app(scale: str):
    return create_app(bench_config(scale))


class Client:
    """A logged-in Flask test client with the CSRF token of its session."""

    def __init__(self, app, username: str, password: str = BENCH_PASSWORD):
        self.app = app
        self.username = username
        self.http = app.test_client()
        page = self.http.get("/login")
        token = CSRF_INPUT.search(page.get_data(as_text=True)).group(1)
        resp = self.http.post("/login", data={"username": username, "password": password, "csrf_token": token})
        if resp.status_code != 302:
            raise RuntimeError(f"login as {username} failed: {resp.status_code}")
        home = self.http.get("/", follow_redirects=True).get_data(as_text=True)
        self.csrf = CSRF_HEADER.search(home).group(1)

    def get(self, url: str, **headers):
        return self.http.get(url, headers=headers)

    def post(self, url: str, data: dict, htmx: bool = False):
        headers = {"X-CSRFToken": self.csrf}
        if htmx:
            headers["HX-Request"] = "true"
        return self.http.post(url, data=data, headers=headers)

    def session_token(self) -> str:
        """The login's random token (the cookie is signed; the floors look the session up by its hash)."""
        cookie = self.http.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        data = self.app.session_interface.get_signing_serializer(self.app).loads(cookie.value)
        return data["sid"]
