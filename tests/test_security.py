"""CSRF, headers, password hashing policy and error pages."""
from __future__ import annotations

import re

import pytest
from flask import abort
from sqlalchemy import select

from qscore import create_app
from qscore.audit import AppendOnlyError, record
from qscore.db import db
from qscore.models import AuditLog, ResidentQuery

from .conftest import TEST_PASSWORD
from .test_queries import pub  # noqa: F401  (a fixture)


@pytest.fixture
def csrf_client(make_app, org):
    return make_app(WTF_CSRF_ENABLED=True).test_client()


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_post_without_csrf_token_is_refused(csrf_client):
    resp = csrf_client.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    assert resp.status_code == 400
    assert "表单已过期" in resp.get_data(as_text=True)


def test_post_with_csrf_token_works(csrf_client):
    token = _token(csrf_client.get("/login").get_data(as_text=True))
    resp = csrf_client.post("/login", data={"username": "admin", "password": TEST_PASSWORD, "csrf_token": token})
    assert resp.status_code == 302


def test_htmx_requests_carry_the_token_in_a_header(csrf_client):
    page = csrf_client.get("/login").get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    token = _token(page)
    csrf_client.post("/login", data={"username": "admin", "password": TEST_PASSWORD, "csrf_token": token})
    page = csrf_client.get("/").get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    resp = csrf_client.post("/lang", data={"lang": "en"}, headers={"X-CSRFToken": header_token, "HX-Request": "true"})
    assert resp.status_code == 302
    assert csrf_client.post("/lang", data={"lang": "en"}).status_code == 400


def test_csrf_token_lasts_an_afternoon(app):
    assert app.config["WTF_CSRF_TIME_LIMIT"] >= 8 * 3600


def test_security_headers(client, org):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


def test_pages_have_no_inline_script(client, org):
    page = client.get("/login").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert " on" + "click=" not in page


def test_htmx_history_cache_is_off(client, org):
    page = client.get("/login").get_data(as_text=True)
    assert '"historyCacheSize":0' in page


def test_production_password_hashing_meets_owasp_floor():
    """OWASP: scrypt with N >= 2^17, r = 8, p = 1 (the test config uses a cheaper factor)."""
    app = create_app({"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    method = app.config["PASSWORD_HASH_METHOD"]
    name, n, r, p = method.split(":")
    assert name == "scrypt" and int(n) >= 2**17 and int(r) >= 8 and int(p) >= 1
    with app.app_context():
        from qscore.security import check_password, hash_password

        hashed = hash_password("a-long-password")
        assert hashed.startswith("scrypt:131072:8:1$")
        assert check_password(hashed, "a-long-password") and not check_password(hashed, "other")


def test_app_never_runs_in_debug(app):
    assert app.debug is False


def test_404_page_in_chinese_and_english(client, org):
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and "页面不存在" in resp.get_data(as_text=True)
    client.set_cookie("qscore_lang", "en")
    assert "Not found" in client.get("/no-such-page").get_data(as_text=True)


def test_500_page_is_friendly_and_rolls_back(make_app, org):
    app = make_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "系统出错了" in body and "kaboom" not in body and "Traceback" not in body


def test_403_page(make_app, org):
    app = make_app()

    @app.get("/forbidden")
    def forbidden():
        abort(403)

    resp = app.test_client().get("/forbidden")
    assert resp.status_code == 403 and "无权" in resp.get_data(as_text=True)


def test_audit_log_rows_cannot_be_changed(ctx, org):
    row = record("test", summary="original")
    db.session.commit()
    row.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()
    row = db.session.scalar(select(AuditLog))
    db.session.delete(row)
    with pytest.raises(AppendOnlyError):
        db.session.commit()
    db.session.rollback()


# ---------------------------------------------------------------------------------------------
# HTTPS and the reverse proxy: HSTS, the one HTTPS_ONLY switch, PROXY_HOPS
# ---------------------------------------------------------------------------------------------

def test_hsts_only_on_secure_requests(client, org):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    resp = client.get("/login", base_url="https://localhost")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize(("hops", "hsts"), [(0, False), (1, True)])
def test_behind_a_proxy_the_forwarded_scheme_counts_only_with_proxy_hops(make_app, org, hops, hsts):
    client = make_app(PROXY_HOPS=hops).test_client()
    resp = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert ("Strict-Transport-Security" in resp.headers) is hsts


def _cookie(resp, name: str) -> str:
    return next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith(name + "="))


def test_https_only_is_one_switch_for_the_cookies_and_the_csrf_referrer_check(make_app, org):
    app = make_app(HTTPS_ONLY=True, WTF_CSRF_ENABLED=True)
    assert (app.config["SESSION_COOKIE_NAME"], app.config["SESSION_COOKIE_SECURE"],
            app.config["WTF_CSRF_SSL_STRICT"]) == ("__Host-qscore", True, True)
    client = app.test_client()
    https = {"base_url": "https://localhost"}
    token = _token(client.get("/login", **https).get_data(as_text=True))
    form = {"username": "admin", "password": TEST_PASSWORD, "csrf_token": token}
    # A form posted from elsewhere (no referrer of this site) is refused on https.
    assert client.post("/login", data=form, headers={"Referer": "https://evil.example/"}, **https).status_code == 400
    resp = client.post("/login", data=form, headers={"Referer": "https://localhost/login"}, **https)
    assert resp.status_code == 302
    session_cookie = _cookie(resp, "__Host-qscore")
    assert all(part in session_cookie for part in ("; Secure", "; HttpOnly", "; Path=/", "; SameSite=Lax"))
    assert "Domain=" not in session_cookie
    page = client.get("/", **https).get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', page).group(1)
    resp = client.post("/lang", data={"lang": "en"}, headers={"X-CSRFToken": header_token,
                                                              "Referer": "https://localhost/"}, **https)
    assert "; Secure" in _cookie(resp, "qscore_lang")


def test_without_https_only_cookies_work_over_plain_http(client, org):
    resp = client.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    assert "; Secure" not in _cookie(resp, "qscore_session")
    assert "; Secure" not in _cookie(client.post("/lang", data={"lang": "en"}), "qscore_lang")


def _ask(client, pub_id, forwarded_for: str):
    return client.post(f"/queries/new?pub={pub_id}", headers={"X-Forwarded-For": forwarded_for},
                       data={"member": "张*", "question": "张*第一季度的积分对吗？"})


def test_with_proxy_hops_each_resident_behind_the_proxy_has_their_own_allowance(make_app, pub):
    client = make_app(PROXY_HOPS=1).test_client()
    for _ in range(5):
        assert _ask(client, pub.pub_id, "198.51.100.7").status_code == 302
    assert _ask(client, pub.pub_id, "198.51.100.7").status_code == 429
    # A value the resident wrote themselves comes first; the proxy's own entry is the one trusted.
    assert _ask(client, pub.pub_id, "198.51.100.8, 198.51.100.7").status_code == 429
    assert _ask(client, pub.pub_id, "198.51.100.8").status_code == 302
    with client.application.app_context():
        assert set(db.session.scalars(select(ResidentQuery.ip))) == {"198.51.100.7", "198.51.100.8"}


def test_without_proxy_hops_x_forwarded_for_is_ignored(make_app, pub):
    client = make_app().test_client()
    for i in range(5):
        assert _ask(client, pub.pub_id, f"198.51.100.{i}").status_code == 302
    assert _ask(client, pub.pub_id, "198.51.100.99").status_code == 429
    with client.application.app_context():
        assert set(db.session.scalars(select(ResidentQuery.ip))) == {"127.0.0.1"}


def test_with_proxy_hops_logins_are_throttled_per_resident(make_app, org):
    client = make_app(PROXY_HOPS=1).test_client()

    def login(username, password, forwarded_for):
        return client.post("/login", data={"username": username, "password": password},
                           headers={"X-Forwarded-For": forwarded_for})

    for i in range(20):
        assert login(f"guess{i}", "wrong-password", "198.51.100.7").status_code == 422
    assert login("admin", TEST_PASSWORD, "198.51.100.7").status_code == 429
    assert login("admin", TEST_PASSWORD, "198.51.100.8").status_code == 302
