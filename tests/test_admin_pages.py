"""Every administration page renders for the roles that may use it, and refuses the others."""
from __future__ import annotations

import pytest

from qscore.db import db

from .conftest import make_member


@pytest.fixture
def member_id(app, org):
    with app.app_context():
        m = make_member(org.branch_id, "张伟", "A", birth_year=1950, phone="13800000000", address="幸福路1号")
        db.session.commit()
        return m.id


STREET_PAGES = ["/admin/", "/admin/organisations", "/admin/accounts", "/admin/accounts/new", "/admin/accounts/bulk",
                "/admin/scheme/2026", "/admin/scheme/2026/edit", "/admin/settings", "/admin/audit"]
SHARED_PAGES = ["/admin/members", "/admin/members/new", "/admin/members/type-review", "/admin/members/import",
                "/admin/opening-balances", "/admin/members/{m}", "/admin/members/{m}/edit",
                "/admin/members/{m}/transfer", "/admin/members/{m}/status", "/admin/members/{m}/opening"]


@pytest.mark.parametrize("path", STREET_PAGES + SHARED_PAGES)
def test_street_admin_sees_every_page(client, auth, org, member_id, path):
    auth.login("admin")
    resp = client.get(path.format(m=member_id))
    assert resp.status_code == 200, resp.get_data(as_text=True)[:2000]


@pytest.mark.parametrize("path", SHARED_PAGES)
def test_community_secretary_sees_the_member_pages(client, auth, org, member_id, path):
    auth.login("cs")
    assert client.get(path.format(m=member_id)).status_code == 200


@pytest.mark.parametrize("path", STREET_PAGES)
def test_community_secretary_may_not_use_the_street_pages(client, auth, org, path):
    auth.login("cs")
    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ["/admin/", "/admin/members", "/admin/settings"])
def test_branch_secretary_and_member_are_refused(client, auth, org, path):
    auth.login("bs")
    assert client.get(path).status_code == 403


def test_anonymous_goes_to_login(client, org):
    resp = client.get("/admin/members")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_navigation_shows_members_and_administration(client, auth, org):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/members"' in html and 'href="/admin/"' in html
    auth.logout()
    auth.login("cs")
    html = client.get("/").get_data(as_text=True)
    assert 'href="/admin/members"' in html and 'href="/admin/"' not in html
