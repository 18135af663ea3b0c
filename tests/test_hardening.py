"""Small hardening rules of ASVS 4.0.3 L1 that no feature test covers (docs/security.md names each row)."""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_vendored_htmx_is_the_file_the_readme_names():
    """10.3.2: the one third-party script is the published htmx file, byte for byte."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    name, digest = re.search(r"\(`static/vendor/(htmx-[\d.]+\.min\.js)`.*?sha256 `([0-9a-f]{64})`", readme,
                             re.S).groups()
    assert hashlib.sha256((ROOT / "static" / "vendor" / name).read_bytes()).hexdigest() == digest


@pytest.fixture
def stray_files():
    """Files an editor or a careless copy leaves in static/."""
    made = [ROOT / "static" / n for n in ("app.css.bak", "app.js~", ".app.js.swp", "notes.txt", "dump.sql")]
    for p in made:
        p.write_text("secret", encoding="utf-8")
    yield [p.name for p in made]
    for p in made:
        p.unlink(missing_ok=True)


def test_static_serves_only_the_kinds_of_file_it_holds(client, stray_files):
    """12.5.1: an allow-list of suffixes; everything else under static/ is 404."""
    for name in [*stray_files, "app.css", "vendor/htmx-2.0.11.min.js"]:
        with client.get(f"/static/{name}") as resp:
            assert resp.status_code == (404 if name in stray_files else 200), name


@pytest.mark.parametrize("method", ["PUT", "DELETE", "TRACE", "PATCH"])
def test_methods_not_in_use_are_refused_and_logged(client, caplog, method):
    """14.5.1: only GET, HEAD, POST (and OPTIONS) are answered; anything else is 405 and leaves a log line."""
    with caplog.at_level(logging.WARNING, logger="qscore.security"):
        resp = client.open("/login", method=method)
    assert resp.status_code == 405
    assert any(method in r.getMessage() and "/login" in r.getMessage() for r in caplog.records)


def test_text_answers_say_their_charset_and_the_referrer_policy(client, auth, org):
    """14.4.1 and 14.4.6."""
    resp = client.get("/login")
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    health = client.get("/healthz")  # JSON is UTF-8 by definition (RFC 8259): no charset parameter exists
    assert health.headers["Content-Type"] == "application/json" and health.headers["Referrer-Policy"] == "same-origin"
    assert auth.login("bs").status_code == 302
    page = client.get("/")
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"


def test_https_without_https_only_is_logged_once(client, caplog):
    """3.4.1: a request over https while the Secure cookie is off is a misconfiguration someone must see."""
    with caplog.at_level(logging.WARNING, logger="qscore.security"):
        client.get("/login", base_url="https://localhost")
        client.get("/login", base_url="https://localhost")
    warned = [r for r in caplog.records if "HTTPS_ONLY" in r.getMessage()]
    assert len(warned) == 1
