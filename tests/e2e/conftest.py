"""Browser tests: a live qscore server in a thread, Debian's Chromium, and an accessibility check.

Every page a browser test visits is checked with axe-core: a serious or critical violation fails.
"""
from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import expect
from werkzeug.serving import make_server

from qscore import create_app
from qscore.db import db

from ..conftest import PHONES, TEST_PASSWORD, Org, dispose, phone_code, reset_app

# Not test-results/: pytest-playwright empties that folder when a session starts.
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "screenshots"

# Conditions, not sleeps: a browser check waits until what a person would see is there. On two
# shared cores under the whole suite an htmx round trip has taken over 5 s (the default).
expect.set_options(timeout=15_000)


# Debian's headless shell when installed (what Playwright's own download runs headless too): measured on three
# test files it used a third less CPU than the full browser in headless mode (64 vs 97 CPU-s). A headed run
# (`--headed`) needs the full browser.
_HEADLESS = ("/usr/bin/chromium-headless-shell",)
_FULL = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, pytestconfig):
    candidates = _FULL if pytestconfig.getoption("headed") else _HEADLESS + _FULL
    path = next((p for p in candidates if shutil.which(p)), None)
    args = {**browser_type_launch_args, "args": ["--no-sandbox", "--disable-gpu", "--disable-quic"]}
    if path:
        args["executable_path"] = path
    return args


@pytest.fixture(scope="session")
def live_app(test_config, _schema):
    return create_app(dict(test_config, WTF_CSRF_ENABLED=True, TESTING=False))


def _static_read_whole(app):
    """Static files read whole, and closed, before they are sent: when a test's page closed mid-download the
    development server dropped the connection without closing the file (a ResourceWarning, an error here)."""
    def wsgi(environ, start_response):
        body = app(environ, start_response)
        if not environ.get("PATH_INFO", "").startswith("/static/"):
            return body
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()
    return wsgi


@pytest.fixture(scope="session")
def live_server(live_app):
    server = make_server("127.0.0.1", 0, _static_read_whole(live_app), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    dispose(live_app)


@pytest.fixture(scope="session")
def base_url(live_server):
    return live_server


@pytest.fixture
def fresh_db(live_app):
    # The server remembers that setup is done and caches board answers by ids that restart: forget both.
    reset_app(live_app)
    yield live_app
    with live_app.app_context():
        db.session.remove()


@pytest.fixture
def street(fresh_db):
    """The usual test street with an admin and secretaries; returns the ids."""
    with fresh_db.app_context(), fresh_db.test_request_context():
        o = Org()
        o.user("admin", "street_admin")
        o.user("cs", "community_secretary")
        o.user("bs", "branch_secretary")
        db.session.commit()
        for k in ("street", "community", "other_community", "branch", "sibling_branch", "other_branch"):
            setattr(o, f"{k}_id", getattr(o, k).id)
    return o


# A constructed style sheet: the pages' CSP refuses an injected <style> (and logs a console error).
_FREEZE_MOTION = """() => {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync('*, *::before, *::after { animation-duration: 0s !important;'
    + ' animation-delay: 0s !important; transition: none !important; }');
  window.__a11yFreeze = sheet;
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}"""
_THAW_MOTION = """() => {
  document.adoptedStyleSheets = document.adoptedStyleSheets.filter(s => s !== window.__a11yFreeze);
}"""


# What axe reads, with what differs between two renders of the same page taken out (the CSRF token, the CSP
# nonce): a page identical to one already checked in this process is not checked again (the login page alone
# was checked in most browser tests; axe's run was a third of the browser tests' CPU).
_PAGE_KEY = r"""() => [innerWidth, innerHeight, document.documentElement.outerHTML
  .replace(/(nonce|value|content)="[^"]*"/g, '$1')
  .replace(/X-CSRFToken&quot;: &quot;[^&]*/g, '')].join('|')"""
_CHECKED: set[str] = set()


class A11y:
    """Runs axe-core on a page; fails on serious or critical violations."""

    def check(self, page) -> None:
        # Check what a person sees once fades and transitions have ended (mid-fade text has low contrast).
        # (Long-running ones, like the board's rotation progress bar, are not fades.)
        page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running'"
            " || a.effect.getComputedTiming().iterations === Infinity"
            " || a.effect.getComputedTiming().duration > 3000)", timeout=10000)
        key = hashlib.sha256(page.evaluate(_PAGE_KEY).encode()).hexdigest()
        if key in _CHECKED:
            return
        # A fade that starts while axe runs (the board rotating to its next page) would be caught
        # mid-way: hold every animation at its resting state for the check, then let them go.
        # axe-core is 570 KB of script: put into a page once, and kept across the htmx swaps checked after.
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(AXE_SCRIPT)
        page.evaluate(_FREEZE_MOTION)
        try:
            violations = page.evaluate("() => axe.run({resultTypes: ['violations']}).then(r => r.violations)")
        finally:
            page.evaluate(_THAW_MOTION)
        bad = [v for v in violations if v.get("impact") in ("serious", "critical")]
        if not bad:
            _CHECKED.add(key)
        assert not bad, "\n".join(
            f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:5]}" for v in bad)


@pytest.fixture
def a11y():
    return A11y()


@pytest.fixture
def login(page, a11y, live_app):
    def do(username: str, password: str = TEST_PASSWORD):
        page.goto("/login")
        a11y.check(page)
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        if username in PHONES:  # the demo administrator's second step, with the code of the published secret
            page.wait_for_url("**/login/code")
            page.get_by_label("6 位验证码").fill(phone_code(live_app, username))
            page.get_by_role("button", name="验证并登录").click()
            page.wait_for_url(lambda url: "/login" not in url)
        page.wait_for_load_state()
    return do


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

