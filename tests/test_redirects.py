"""Going back to a URL from the request: one helper (qscore/redirects.py), used by every page that takes
``next``; hostile values never lead off the site and never answer 500."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from qscore.db import db
from qscore.models import Household, MemberPost, PostKind
from qscore.redirects import safe_next

from .conftest import TEST_PASSWORD, make_member

HOSTILE = [
    "//evil.example", "//evil.example/x", "///evil.example", "////evil.example",
    "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example", "/x\\..\\\\evil.example",
    "/\t/evil.example/x", "/\n/evil.example", "/\r/evil.example", " //evil.example", "\t//evil.example",
    "/%09/evil.example", "/%0a/evil.example", "/%0D/evil.example", "/%5cevil.example", "/%5C%5Cevil.example",
    "/%2F/evil.example", "/%2f%2fevil.example", "%2F%2Fevil.example", "/%2F/evil?",
    "http://evil.example", "https://evil.example/", "HTTPS://evil.example", "https:evil.example",
    "http:/evil.example", "ftp://evil.example", "evil.example", "@evil.example",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    "/x\r\nLocation: https://evil.example", "/x\r\nSet-Cookie: sid=planted", "/%0d%0aSet-Cookie:%20sid=planted",
    "/\x00/evil.example", "/%00", "\x01//evil.example", "/\x7f",
    "/" + "a" * 5000, "//" + "a" * 5000,
    "/\u3000/evil.example", "\u3000//evil.example", "/\u200b/evil.example", "/\ufeff/evil.example",
    "/%E3%80%80/evil.example", "／／evil.example", "/\u2028/evil.example",
    "?next=//evil.example", "#//evil.example", "",
]

SAFE = ["/", "/password", "/roster?branch_id=3&month=2026-05", "/members/12?year=2025#entries",
        "/board/前进社区", "/queries?q=%E5%BC%A0"]


def test_at_least_thirty_hostile_values():
    assert len(set(HOSTILE)) == len(HOSTILE) >= 30


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused(value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", SAFE)
def test_paths_on_the_site_are_kept(value):
    assert safe_next(value) == value


# ---------------------------------------------------------------------------------------------
# Every page that takes `next` (the list below is checked against the code)
# ---------------------------------------------------------------------------------------------

QSCORE = Path(__file__).resolve().parent.parent / "qscore"
# A hand read of `next`, or a form's `next` field (the forms of auth, i18n and service declare one).
READS_NEXT = re.compile(r"""(?:args|form|values)\.get\(\s*["']next["']|\[\s*["']next["']\s*\]|\.next\.data\b""")
# module -> the pages of it that take `next` (each one exercised below)
NEXT_TAKERS = {
    "account.py": ["account.acknowledge"],  # exercised in test_account_notices.py (the buttons' hostile values)
    "auth.py": ["auth.login"],
    "i18n.py": ["i18n.switch_language"],
    "service/branch.py": ["service.decide_post", "service.decide_household"],
}


def test_every_module_that_reads_next_is_listed_and_uses_the_one_helper():
    readers = {str(p.relative_to(QSCORE)) for p in QSCORE.rglob("*.py") if READS_NEXT.search(p.read_text())}
    assert readers == set(NEXT_TAKERS)
    for module in readers:
        assert "safe_next(" in (QSCORE / module).read_text(), module
    copies = [p for p in QSCORE.rglob("*.py") if re.search(r"def \w*safe\w*(next|url|redirect)\w*\(", p.read_text())
              and p.name != "redirects.py"]
    assert copies == []


@pytest.fixture
def decisions(org, app):
    """A pending volunteer post and a pending household in the branch secretary's branch."""
    with app.app_context():
        member = make_member(org.branch_id, "张伟", "A")
        kind = PostKind(community_id=org.community_id, name="楼栋长")
        db.session.add(kind)
        db.session.flush()
        post = MemberPost(member_id=member.id, post_kind_id=kind.id, declared_on=date(2026, 1, 5), status="pending")
        household = Household(member_id=member.id, label="幸福小区3栋201室", declared_on=date(2026, 1, 5),
                              status="pending")
        db.session.add_all([post, household])
        db.session.commit()
        org.post_id, org.household_id = post.id, household.id
    return org


def assert_lands_on(resp, expected: str) -> None:
    assert resp.status_code in (302, 303), resp.status_code
    assert resp.headers["Location"] == expected


@pytest.mark.parametrize("value", HOSTILE)
def test_no_page_follows_a_hostile_next(app, client, decisions, value):
    # Logging in, and the login page visited while logged in.
    resp = client.post("/login", query_string={"next": value}, data={"username": "bs", "password": TEST_PASSWORD})
    assert_lands_on(resp, "/")
    assert_lands_on(client.get("/login", query_string={"next": value}), "/")
    # The language switch in the header of every page.
    assert_lands_on(client.post("/lang", data={"lang": "en", "next": value}), "/")
    # The service page's decision forms.
    branch_page = f"/service/branches/{decisions.branch_id}"
    assert_lands_on(client.post(f"/service/posts/{decisions.post_id}/confirm", data={"next": value}), branch_page)
    assert_lands_on(client.post(f"/service/households/{decisions.household_id}/reject", data={"next": value}),
                    branch_page)


@pytest.mark.parametrize("value", [v for v in HOSTILE if re.fullmatch(r"[\x20-\x7e]+", v)])  # header-safe
def test_an_expired_htmx_request_never_sends_the_login_page_off_site(client, org, value):
    """The page an htmx call came from (HX-Current-URL) becomes the login page's `next`."""
    resp = client.get("/password", headers={"HX-Request": "true",
                                            "HX-Current-URL": "http://localhost" + value if value.startswith("/")
                                            else value})
    assert resp.status_code == 401
    target = urlsplit(resp.headers["HX-Redirect"])
    assert target.path == "/login" and not target.netloc
    (back,) = parse_qs(target.query)["next"]
    assert safe_next(back) == back


def test_a_malformed_htmx_current_url_is_not_a_500(client, org):
    resp = client.get("/password", headers={"HX-Request": "true", "HX-Current-URL": "http://[evil.example/x"})
    assert resp.status_code == 401 and resp.headers["HX-Redirect"] == "/login?next=/"


@pytest.mark.parametrize("value", SAFE[1:])
def test_pages_follow_a_next_on_the_site(app, client, decisions, value):
    resp = client.post("/login", query_string={"next": value}, data={"username": "bs", "password": TEST_PASSWORD})
    assert resp.headers["Location"] == urlsplit_location(value)
    resp = client.post("/lang", data={"lang": "zh_CN", "next": value})
    assert resp.headers["Location"] == urlsplit_location(value)
    resp = client.post(f"/service/posts/{decisions.post_id}/confirm", data={"next": value})
    assert resp.status_code == 303 and resp.headers["Location"] == urlsplit_location(value)


def urlsplit_location(value: str) -> str:
    """What werkzeug puts in Location for a path: non-ASCII characters percent-encoded."""
    from werkzeug.urls import iri_to_uri

    return iri_to_uri(value)
