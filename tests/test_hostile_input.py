"""Hostile input everywhere a person can type or click, as each role of the demo street: never a 500.

- every URL rule with an id, with ids beyond what any column holds (2^31, 2^63, 10^30);
- every page's query parameters, with huge, negative and garbage values;
- every form the pages show (POST), each field in turn given control characters and a NUL, 20,000
  characters, a huge number, a malformed date — the rest as the page filled them in.

On PostgreSQL a NUL or an over-long value reaching the database answers 500: this runs there too.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import String, Text, select

from qscore import create_app
from qscore.db import db
from qscore.demo import DEMO_PASSWORD
from qscore.fields import has_control_characters
from qscore.models import Branch, Member, ResidentQuery, User
from qscore.queries import GENERAL

from .conftest import load_demo_street, truncate_all

ACCOUNTS = [None, "member1", "branch01", "community1", "street"]
HUGE_IDS = [2**31, 2**63, 10**30]
HOSTILE_VALUES = ["\x00\x01\x1f\x7f坏", "长" * 20_000, "9" * 40, "-1", "1e309", "NaN", "99999-01-01", "=1+1",
                  "\u202e\u2066名", "%00"]
QUERY_PARAMETERS = ["page", "branch", "community", "member", "member_id", "year", "month", "pub", "street", "version",
                    "lines", "figure", "period", "show", "format", "q", "status", "type", "role", "state", "action",
                    "from", "to", "indicator", "keep", "v", "d", "on", "next"]
NEVER_POSTED = {"/logout", "/lang", "/setup/demo"}


class _Forms(HTMLParser):
    """The POST forms of a page: action and the fields with the values the page gave them."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "form" and (a.get("method", "get").lower() == "post" or a.get("hx-post")):
            self._form = {"action": a.get("hx-post") or a.get("action", ""), "fields": {}}
            self.forms.append(self._form)
        elif self._form is not None and a.get("name"):
            if tag == "input" and a.get("type") in ("submit", "button", "file"):
                return
            if tag == "input" and a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._form["fields"].setdefault(a["name"], "")
                return
            if tag == "select":
                self._select = a["name"]
                self._form["fields"].setdefault(a["name"], "")
                return
            self._form["fields"][a["name"]] = a.get("value", "")
        elif tag == "option" and self._form is not None and self._select and ("selected" in a):
            self._form["fields"][self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


@pytest.fixture(scope="module")
def demo_app(test_config, _schema):
    app = create_app(dict(test_config))
    load_demo_street(app)
    yield app
    with app.app_context():
        truncate_all()
        db.session.remove()
        db.engine.dispose()


def _client(app, username):
    client = app.test_client()
    if username:
        assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD}).status_code == 302
    return client


def _ids(app, username) -> dict[str, int]:
    """Real ids in the person's scope for the URL arguments, so that only the hostile part varies."""
    with app.app_context():
        u = db.session.scalar(select(User).where(User.username == (username or "street")))
        branch_id = u.branch_id or db.session.scalar(select(Branch.id).order_by(Branch.id).limit(1))
        member_id = u.member_id or db.session.scalar(select(Member.id).where(Member.branch_id == branch_id).limit(1))
        community_id = u.community_id or db.session.scalar(select(Branch.community_id).where(Branch.id == branch_id))
        return {"branch_id": branch_id, "member_id": member_id, "community_id": community_id}


def _url(rule, values) -> str:
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<[^>]*\b{name}>", str(values.get(name, 1)), url)
    return url


@pytest.mark.parametrize("username", ACCOUNTS)
def test_ids_beyond_any_column_are_404_never_500(demo_app, username):
    client = _client(demo_app, username)
    base = {**_ids(demo_app, username), "year": 2026, "quarter": 1, "action": "confirm", "code": "J1"}
    errors = []
    for rule in demo_app.url_map.iter_rules():
        ids = [a for a in rule.arguments if a.endswith("_id") or a in ("year", "quarter")]
        if rule.endpoint == "static" or not ids:
            continue
        for arg in ids:
            for huge in HUGE_IDS:
                for method in sorted(rule.methods & {"GET", "POST"}):
                    status = client.open(_url(rule, {**base, arg: huge}), method=method).status_code
                    if status >= 500 or status == 200:
                        errors.append(f"{method} {rule.rule} {arg}={huge}: {status}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("username", ACCOUNTS)
def test_query_parameters_never_500(demo_app, username):
    client = _client(demo_app, username)
    base = {**_ids(demo_app, username), "year": 2026, "quarter": 1, "action": "confirm", "code": "J1"}
    errors = []
    for rule in demo_app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.logout") or "GET" not in rule.methods:
            continue
        url = _url(rule, base)
        for value in HOSTILE_VALUES[:1] + ["9" * 40, "-1", "abc", "2026-13"]:
            query = urlencode({p: value for p in QUERY_PARAMETERS})
            status = client.get(f"{url}?{query}").status_code
            if status >= 500:
                errors.append(f"GET {url}?…={value[:12]!r}: {status}")
    assert not errors, "\n".join(errors)


# Who posts which form: each form is filled with hostile values once, by the first of these accounts whose
# pages show it (the narrowest scope first). The validation is the form's, whoever posts it; posting every
# form as every role cost four times the requests (the street's share alone ran past two minutes).
FORM_POSTERS = ["member1", "branch01", "community1", "street"]


def _forms_on_pages(app, username) -> list[dict]:
    """The POST forms the person's pages show, once per action (ids folded), with the values the page gave."""
    client = _client(app, username)
    base = {**_ids(app, username), "year": 2026, "quarter": 1}
    seen: set[str] = set()
    forms: list[dict] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or "GET" not in rule.methods or rule.endpoint.startswith(("board.", "auth.")):
            continue
        resp = client.get(_url(rule, base))
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            continue
        parser = _Forms()
        parser.feed(resp.get_data(as_text=True))
        for form in parser.forms:
            action = urlsplit(form["action"]).path or _url(rule, base)
            key = re.sub(r"\d+", "N", action)
            if action in NEVER_POSTED or key in seen or not form["fields"]:
                continue
            seen.add(key)
            forms.append({**form, "action": action, "key": key})
    return forms


@pytest.fixture(scope="module")
def forms_to_post(demo_app) -> dict[str, list[dict]]:
    """Every form any role's pages show, given to the first poster that sees it."""
    taken: set[str] = set()
    share = {}
    for username in FORM_POSTERS:
        share[username] = [f for f in _forms_on_pages(demo_app, username) if f["key"] not in taken]
        taken |= {f["key"] for f in share[username]}
    return share


def _hostile_posts(fields: dict[str, str]):
    """(field, data) pairs to post: each kind of field meets every hostile value, the rest as the page filled them.

    One field of each kind (the scheme editor's 18 indicators × 20 fields are 20 kinds, not 360). A form of
    more than 40 fields (the scheme editor: some 60 kinds, each post re-rendering it) gets every kind hostile at
    once, each kind with another value, turning through all the values: 10 posts instead of 600, and still
    every kind meets every value.
    """
    kinds: dict[str, str] = {}
    for field in fields:
        kind = re.sub(r"\d+", "N", field)
        if field != "csrf_token" and kind not in kinds:
            kinds[kind] = field
    if len(fields) <= 40:
        for field in kinds.values():
            for value in HOSTILE_VALUES:
                yield field, {**fields, field: value}
        return
    for turn in range(len(HOSTILE_VALUES)):
        data = {**fields, **{field: HOSTILE_VALUES[(i + turn) % len(HOSTILE_VALUES)]
                             for i, field in enumerate(kinds.values())}}
        yield "*", data


@pytest.mark.parametrize("username", FORM_POSTERS)
def test_every_form_refuses_hostile_values_without_500(demo_app, forms_to_post, username):
    client = _client(demo_app, username)
    forms = forms_to_post[username]
    errors, sent = [], 0
    for form in forms:
        for field, data in _hostile_posts(form["fields"]):
            status = client.post(form["action"], data=data, headers={"HX-Request": "true"}).status_code
            sent += 1
            if status >= 500:
                errors.append(f"POST {form['action']} {field}={data.get(field, '')[:12]!r}: {status}")
    assert not errors, f"{len(errors)} of {sent} posts answered 500:\n" + "\n".join(errors)
    assert sent >= len(forms) > 0  # every role has forms of its own to post
    assert not _stored_controls(demo_app)


def test_every_role_posts_its_forms(forms_to_post):
    """The pages still show the forms this module exists for (a broken parser would find none and pass)."""
    shares = {username: len(share) for username, share in forms_to_post.items()}
    assert sum(shares.values()) > 45 and all(shares.values()), shares


def _stored_controls(app) -> list[str]:
    """Every text value of every table that holds a control character or a direction mark."""
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
            if not columns:
                continue
            for row in db.session.execute(select(*columns)):
                found += [f"{table.name}.{c.name}" for c, v in zip(columns, row) if has_control_characters(v)]
        db.session.remove()
    return sorted(set(found))


def test_public_forms_refuse_hostile_values(demo_app):
    """The anonymous doors: login and the residents' question form (a NUL answered 500 on PostgreSQL)."""
    client = demo_app.test_client()
    with demo_app.app_context():
        queries_before = db.session.scalar(select(db.func.count()).select_from(ResidentQuery))
        pub = db.session.scalar(select(db.func.min(db.text("id"))).select_from(db.text("publication")))
    statuses = []
    refused = [v for v in HOSTILE_VALUES if has_control_characters(v) or len(v) > 1000]
    assert len(refused) == 3
    for value in refused:
        statuses.append(client.post("/login", data={"username": value, "password": value}).status_code)
        page = client.get(f"/queries/new?pub={pub}")
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True))
        data = {"csrf_token": token.group(1) if token else "", "member": GENERAL, "question": f"问：{value}",
                "asker_name": value, "asker_contact": value}
        statuses.append(client.post(f"/queries/new?pub={pub}", data=data).status_code)
    assert all(s < 500 for s in statuses), statuses
    with demo_app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(ResidentQuery)) == queries_before
    assert not _stored_controls(demo_app)
