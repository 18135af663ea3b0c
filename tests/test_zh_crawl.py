"""No English in the Chinese UI: every page and htmx fragment each role can reach in the demo street,
rendered in zh_CN, shows no English words (codes such as J1 and the accounts' login names excepted).
The English UI is checked for the one thing Chinese cannot show: plurals ("1 communities")."""
from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from qscore import create_app
from qscore.db import db
from qscore.demo import DEMO_PASSWORD
from qscore.models import User

from .conftest import load_demo_street, truncate_all

ROLES = {"resident": None, "member": "member1", "branch secretary": "branch01",
         "community secretary": "community1", "street admin": "street"}
# Same rule, different ids: a few examples show the template; more would only repeat it.
PER_RULE = 3
# Files, not pages (spreadsheets, CSV, the scheme's JSON): nothing on them is HTML to read.
DOWNLOAD = re.compile(r"\.(xlsx|csv|json)(\?|$)|[?&]format=(xlsx|csv)\b")
# Never requested: they write, end the session or are not pages.
SKIP_ENDPOINTS = {"auth.logout", "i18n.switch_language", "static", "setup.demo"}
# Attributes whose text a person sees (tooltips, placeholders, screen-reader labels, confirm dialogs).
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-confirm")
# English that belongs in a Chinese UI, each for a reason:
ALLOWED = {
    "SHA",      # "SHA-256", the name of the hash printed with every publication
    "English",  # the language switch offers English in English, as every bilingual site does
    "Excel",    # the program's name, as Chinese offices say it
    "CSV",      # a file format's name
    "JSON",     # a file format's name (the scheme's export)
    "Ctrl",     # a key's name as printed on the keyboard ("Ctrl+P")
    "Esc",      # a key's name as printed on the keyboard
    "qscore",   # the product's name in the page title and the demo password
    "demo",     # part of the demo password "qscore-demo", shown on the login page of the demo
    "Google", "Microsoft", "Authenticator",  # authenticator apps' names, as their icons on the phone say
}
WORD = re.compile(r"[A-Za-z]{3,}")
# Not words: addresses, hex digests (their letters are not English), file extensions (".xlsx", what the file
# picker shows), time-zone names ("Asia/Shanghai", typed exactly so in the settings) and the base32 key of
# two-step verification in groups of four.
NOT_WORDS = re.compile(r"https?://\S*|\b[0-9a-f]{16,}\b|\S+@\S+|\.[a-z]{3,4}\b|\b[A-Z][a-z]+/[A-Z][A-Za-z_]+\b"
                       r"|\b(?:[A-Z2-7]{4} ){7}[A-Z2-7]{4}\b")  # and a second step's key, to type into a phone


class _Page(HTMLParser):
    """The text a person sees, and the URLs a person (or htmx) can follow."""

    SKIP = frozenset({"script", "style", "textarea"})  # a textarea holds the data being edited, not the UI's words

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.links: list[str] = []
        self.fragments: list[str] = []
        self.forms: list[str] = []
        self._skip = 0
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag in self.SKIP:
            self._skip += 1
        for name in SHOWN_ATTRIBUTES:
            if a.get(name):
                self.text.append(a[name])
        if tag == "input" and a.get("type") in ("submit", "button", "reset") and a.get("value"):
            self.text.append(a["value"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if a.get("hx-get"):
            self.fragments.append(a["hx-get"])
        if tag == "form" and a.get("method", "get").lower() == "get":
            self._form = {"action": a.get("action", ""), "fields": []}
        if (self._form is not None and tag == "input" and a.get("name")
                and a.get("type") not in ("checkbox", "radio", "submit", "button")):
            self._form["fields"].append((a["name"], a.get("value", "")))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in self.SKIP:
            self._skip -= 1

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        if tag == "form" and self._form is not None:
            query = urlencode([(k, v) for k, v in self._form["fields"] if v])
            self.forms.append(self._form["action"] + ("?" + query if query else ""))
            self._form = None

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def english_words(texts: list[str], allowed: set[str]) -> set[str]:
    """Each text with English words in it, as the person would read it (so the report shows the phrase)."""
    return english_finder(allowed)(texts)


def english_finder(allowed: set[str]) -> Callable[[list[str]], set[str]]:
    # Allowed words count only whole (a login name "branch01" is allowed, "branch" in "branch02x" is not).
    whole = re.compile(r"(?<![A-Za-z0-9_-])(?:" + "|".join(map(re.escape, sorted(allowed, key=len, reverse=True)))
                       + r")(?![A-Za-z0-9_])")

    def find(texts: list[str]) -> set[str]:
        return {" ".join(t.split())[:120] for t in texts if WORD.search(whole.sub(" ", NOT_WORDS.sub(" ", t)))}
    return find


class Crawl:
    """A breadth-first walk over GET pages and fragments, at most PER_RULE urls per rule."""

    def __init__(self, app, client, find: Callable[[list[str]], set[str]]):
        self.app, self.client, self.find = app, client, find
        self.adapter = app.url_map.bind("localhost")
        self.seen: set[tuple[str, bool]] = set()
        self.per_rule: dict[tuple[str, bool], int] = defaultdict(int)
        self.found: dict[str, set[str]] = defaultdict(set)
        self.errors: list[str] = []
        self.pages = self.fragments = 0
        self.queue: list[tuple[str, bool]] = []

    def add(self, url: str, htmx: bool, base: str = "/") -> None:
        url = urljoin(base, url.strip())
        parts = urlsplit(url)
        if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
            return
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            endpoint, _args = self.adapter.match(parts.path, method="GET")
        except HTTPException:
            return
        if endpoint in SKIP_ENDPOINTS or DOWNLOAD.search(url) or (url, htmx) in self.seen:
            return
        key = (endpoint, htmx)
        if self.per_rule[key] >= PER_RULE:
            return
        self.per_rule[key] += 1
        self.seen.add((url, htmx))
        self.queue.append((url, htmx))

    def run(self, starts: list[str]) -> None:
        for url in starts:
            self.add(url, False)
        while self.queue:
            url, htmx = self.queue.pop(0)
            resp = self.client.get(url, headers={"HX-Request": "true"} if htmx else {})
            if resp.status_code >= 500:
                self.errors.append(f"{resp.status_code} {url}")
            if resp.status_code in (301, 302, 303) and resp.location:
                self.add(resp.location, htmx, url)
                continue
            if resp.mimetype != "text/html":
                continue
            if htmx:
                self.fragments += 1
            else:
                self.pages += 1
            page = _Page()
            page.feed(resp.get_data(as_text=True))
            label = url + (" (htmx)" if htmx else "")
            for phrase in self.find(page.text):
                self.found[phrase].add(label)
            for link in page.links:
                self.add(link.split("#")[0], False, url)
            for frag in page.fragments:
                self.add(frag, True, url)
            for action in page.forms:
                self.add(action or url, False, url)


@pytest.fixture(scope="module")
def demo_app(test_config, _schema):
    app = create_app(dict(test_config))
    load_demo_street(app)
    with app.app_context():
        usernames = set(db.session.scalars(select(User.username)))
        db.session.remove()
    app.config["_usernames"] = usernames
    yield app
    with app.app_context():
        truncate_all()
        db.session.remove()
        db.engine.dispose()


def crawl(app, username: str | None, lang: str, find: Callable[[list[str]], set[str]]) -> Crawl:
    client = app.test_client()
    client.set_cookie("qscore_lang", lang)
    if username:
        resp = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
        assert resp.status_code == 302, username
    walk = Crawl(app, client, find)
    rules = [r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and not r.arguments]
    walk.run(["/", "/board", *rules])
    return walk


def report(walks: dict[str, Crawl], what: str) -> str:
    lines = []
    for role, w in walks.items():
        lines.append(f"{role}: {w.pages} pages, {w.fragments} fragments, {len(w.found)} {what}")
        for phrase, urls in sorted(w.found.items()):
            lines.append(f"  {phrase!r}  on {len(urls)}: " + ", ".join(sorted(urls)[:4]))
        lines.extend(f"  {e}" for e in w.errors)
    return "\n".join(lines)


def test_the_detector_reads_what_a_person_reads():
    page = _Page()
    page.feed('<title>积分方案</title><p>计分单位：attendance</p><a href="/x" title="Open">打开</a>'
              '<input type="submit" value="Save"><script>var never = "seen";</script><textarea>notes</textarea>'
              '<p>SHA-256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 · branch01 · J1 · Z3</p>')
    assert english_words(page.text, ALLOWED | {"branch01"}) == {"计分单位：attendance", "Open", "Save"}
    assert english_words(["branch02x 的账号"], ALLOWED | {"branch01"}) == {"branch02x 的账号"}


def test_chinese_ui_has_no_english(demo_app):
    # A login name is an account's ASCII key, shown as such (names of people are Chinese).
    allowed = ALLOWED | demo_app.config["_usernames"]
    started = time.perf_counter()
    find = english_finder(allowed)
    walks = {role: crawl(demo_app, username, "zh_CN", find) for role, username in ROLES.items()}
    elapsed = time.perf_counter() - started
    print(f"\n{report(walks, 'English strings')}\ncrawled in {elapsed:.1f} s")
    assert all(w.pages > 0 for w in walks.values())
    assert not any(w.found or w.errors for w in walks.values()), report(walks, "English strings")


# "1 communities": a count of one with a plural noun (a decimal such as 1.5 points is plural).
PLURAL_SLIP = re.compile(r"(?<![\d.])\b1 ([a-z]+s)\b")
SINGULAR_IN_S = {"status", "class", "bonus", "plus", "process", "address", "access", "progress"}


def plural_slips(texts: list[str]) -> set[str]:
    found = set()
    for t in texts:
        for m in PLURAL_SLIP.finditer(t):
            if m.group(1) not in SINGULAR_IN_S:
                found.add(" ".join(t.split())[:120])
    return found


def test_english_ui_says_one_thing_not_one_things(demo_app):
    walks = {role: crawl(demo_app, username, "en", plural_slips) for role, username in ROLES.items()}
    print(f"\n{report(walks, 'plural slips')}")
    assert not any(w.found or w.errors for w in walks.values()), report(walks, "plural slips")


def test_an_open_rectification_case_reads_as_under_rectification(demo_app):
    """"Open" of a case is rectification under way, not a query waiting for its answer (待答复)."""
    client = demo_app.test_client()
    client.post("/login", data={"username": "street", "password": DEMO_PASSWORD})
    page = client.get("/cases").get_data(as_text=True)
    assert "整改中" in page and "待答复" not in page
