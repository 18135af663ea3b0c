"""Chinese first, English second; the choice sticks and every message is translated."""
from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

from .conftest import TEST_PASSWORD

PO = Path(__file__).resolve().parent.parent / "qscore/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def test_default_language_is_chinese(client, org):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page


def test_switch_to_english_sticks(client, org):
    resp = client.post("/lang", data={"lang": "en", "next": "/login"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "Log in" in page and 'lang="en"' in page
    client.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    assert "Overview" in client.get("/").get_data(as_text=True)


def test_choice_is_remembered_on_the_account(app, client, org):
    client.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    client.post("/lang", data={"lang": "en"})
    fresh = app.test_client()  # another browser, no cookie
    fresh.post("/login", data={"username": "admin", "password": TEST_PASSWORD})
    assert "Overview" in fresh.get("/").get_data(as_text=True)


def test_unknown_language_is_ignored(client, org):
    client.post("/lang", data={"lang": "xx", "next": "/login"})
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_lang_switch_next_cannot_leave_the_site(client, org):
    resp = client.post("/lang", data={"lang": "en", "next": "https://evil.example/"})
    assert "evil" not in resp.headers["Location"]


def test_every_message_has_a_chinese_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh)
    # A plural message's string is a tuple: every form must be filled.
    missing = [m.id for m in catalog if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert missing == [] and fuzzy == []
