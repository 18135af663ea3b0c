"""First run: the setup page creates the street and its administrator, then disappears."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from qscore.db import db
from qscore.models import AuditLog, Street, User

GOOD = {"street_name": "幸福街道", "username": "admin", "password": "a-long-password", "confirm": "a-long-password"}


def test_every_page_leads_to_setup_while_no_account_exists(client):
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/setup")
    assert client.get("/login").headers["Location"].endswith("/setup")


def test_setup_page_is_chinese_by_default(client):
    page = client.get("/setup").get_data(as_text=True)
    assert "街道名称" in page and "创建街道" in page
    assert 'lang="zh-CN"' in page


def test_setup_creates_street_and_admin_and_logs_in(app, client, setup_token):
    resp = client.post("/setup", data={**GOOD, "token": setup_token})
    assert resp.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "幸福街道" in home.get_data(as_text=True)
    with app.app_context():
        admin = db.session.scalar(select(User))
        assert admin.role == "street_admin" and admin.username == "admin"
        assert admin.password_hash != GOOD["password"]
        assert db.session.scalar(select(AuditLog.action)) == "setup"


def test_setup_page_is_gone_once_an_admin_exists(client, setup_token):
    client.post("/setup", data={**GOOD, "token": setup_token})
    assert client.get("/setup").status_code == 404
    assert client.post("/setup", data={**GOOD, "street_name": "别的街道", "token": setup_token}).status_code == 404


@pytest.mark.parametrize(("field", "value", "message"), [
    ("street_name", "", "Fill this in"),
    ("street_name", "幸福\x00街道", "Contains invisible control characters"),
    ("street_name", "幸福\u202e街道", "Contains invisible control characters"),
    ("street_name", "街" * 101, "At most 100 characters"),
    ("street_name", "街" * 100_000, "At most 100 characters"),
    ("username", "admin\x00", "Contains invisible control characters"),
    ("username", "a" * 100_000, "At most 64 characters"),
    ("password", "correct-horse\x01battery", "Contains invisible control characters"),
    ("password", "p" * 100_000, "At most 128 characters"),
    ("username", "a", "3 to 64"),
    ("username", "Bad Name!", "3 to 64"),
    ("password", "short", "At least 12"),
    ("password", "a-long-admin-pass", "must not contain your username"),
    ("password", "qwertyuiop12", "common password"),
    ("confirm", "different-password", "The passwords differ"),
])
def test_setup_rejects_bad_input_and_writes_nothing(app, client, setup_token, field, value, message):
    client.set_cookie("qscore_lang", "en")
    data = {**GOOD, "token": setup_token, field: value}
    if field == "password":
        data["confirm"] = value
    resp = client.post("/setup", data=data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        assert db.session.scalar(select(func.count()).select_from(Street)) == 0
