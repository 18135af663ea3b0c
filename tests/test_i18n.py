"""Chinese first, English second; the choice sticks and every message is translated."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import force_locale

from qscore.db import db
from qscore.ledger import record_entry
from qscore.models import User

from .conftest import FIXED_TODAY, TEST_PASSWORD, make_member

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


@pytest.fixture
def member_id(app, org):
    with app.app_context(), app.test_request_context():
        m = make_member(org.branch_id, "张三", "B")
        record_entry(member=m, indicator_code="J1", value=None, earned_on=date(2026, 3, 10), note="",
                     user=db.session.get(User, org.branch_secretary_id), today=FIXED_TODAY)
        db.session.commit()
        return m.id


def test_an_english_users_booklet_print_is_chinese_and_the_booklet_english(client, auth, member_id):
    client.set_cookie("qscore_lang", "en")
    auth.login("admin")
    printed = client.get(f"/members/{member_id}/print").get_data(as_text=True)
    assert "返回积分手册" in printed and "当月合计" in printed and "姓名" in printed
    assert "Back to the booklet" not in printed and "Month total" not in printed
    page = client.get(f"/members/{member_id}").get_data(as_text=True)
    assert "Entries month by month" in page and "Month total" in page and "逐月积分明细" not in page


def test_a_chinese_user_sees_the_booklet_and_its_print_in_chinese(client, auth, member_id):
    auth.login("admin")
    page = client.get(f"/members/{member_id}").get_data(as_text=True)
    assert "逐月积分明细" in page and "当月合计" in page and "Entries month by month" not in page
    printed = client.get(f"/members/{member_id}/print").get_data(as_text=True)
    assert "返回积分手册" in printed and "Back to the booklet" not in printed


@pytest.mark.parametrize("lang, own, other, forced", [("en", "Log in", "登录", "zh_CN"), ("zh_CN", "登录", "Log in", "en")])
def test_a_forced_locale_changes_only_what_is_rendered_inside_it(app, lang, own, other, forced):
    """The templates' catalogue is remembered for the request: a part rendered in another language
    (the booklet's print) must not leak into what the same request renders before or after it."""
    text = '{{ _("Log in") }}'
    with app.test_request_context("/", headers={"Cookie": f"qscore_lang={lang}"}):
        before = render_template_string(text)
        with force_locale(forced):
            inside = [render_template_string(text), render_template_string(text)]
        after = render_template_string(text)
    assert (before, inside, after) == (own, [other, other], own)


@pytest.mark.parametrize("lang, text, plural", [
    ("zh_CN", "已记录：&amp; %% &lt;b&gt;%(x)s&lt;/b&gt; &lt;i&gt;+1&lt;/i&gt;。", "3 条记录"),
    ("en", "Recorded: &lt;b&gt;%(x)s&lt;/b&gt; &lt;i&gt;+1&lt;/i&gt; on &amp; %%.", "3 entries"),
])
def test_a_templates_text_escapes_what_it_is_given_and_fills_it_in_once(app, lang, text, plural):
    """The page's _() and ngettext (bound to the render's catalogue) escape the values but those marked safe, and
    a value that looks like a placeholder is written as it is, never filled in again."""
    page = ('{{ _("Recorded: %(code)s %(points)s on %(day)s.", code="<b>%(x)s</b>", points="<i>+1</i>", day="& %%") }}'
            '|{{ ngettext("%(num)d entry", "%(num)d entries", 3) }}|{{ _("Log in") }}'
            '|{{ _("Counts %(n)s toward the score.", n="<b>+1</b>"|safe) }}')
    with app.test_request_context("/", headers={"Cookie": f"qscore_lang={lang}"}):
        shown = render_template_string(page)
    assert shown.rsplit("|", 1)[0] == f"{text}|{plural}|{'登录' if lang == 'zh_CN' else 'Log in'}"
    assert "<b>+1</b>" in shown.rsplit("|", 1)[1]  # a value marked safe is written as it is


def test_labels_of_codes_are_in_the_request_language(app):
    """Types, roles and grades on a page come from the catalogue of the request's language (or its forced one)."""
    page = '{{ type_label("B") }}|{{ role_label("branch_secretary") }}|{{ grade_label(none) }}|{{ type_label("X") }}'
    with app.test_request_context("/", headers={"Cookie": "qscore_lang=en"}):
        english = render_template_string(page)
        with force_locale("zh_CN"):
            chinese = render_template_string(page)
    assert english == "Type 2|Branch secretary|Not graded|X"
    assert chinese == "第二类|党支部书记|不评定|X"


def test_no_private_flask_babel_state_is_read():
    package = Path(__file__).resolve().parent.parent / "qscore"
    assert [p.name for p in package.rglob("*.py") if "_flask_babel" in p.read_text(encoding="utf-8")] == []
