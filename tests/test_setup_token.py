"""First run cannot be taken over: setup and the demo need the one-time code `flask qscore init` prints."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from qscore import create_app
from qscore.db import db
from qscore.models import AuditLog, LoginAttempt, Street, User

from .conftest import read_setup_token

GOOD = {"street_name": "幸福街道", "username": "admin", "password": "a-long-password", "confirm": "a-long-password"}


def written(app) -> dict[str, int]:
    with app.app_context():
        return {m.__name__: db.session.scalar(select(func.count()).select_from(m)) for m in (Street, User, AuditLog)}


NOTHING = {"Street": 0, "User": 0, "AuditLog": 0}


def token_file(app) -> Path:
    return Path(app.config["SETUP_TOKEN_FILE"])


# ---------------------------------------------------------------------------------------------
# The command that makes the code
# ---------------------------------------------------------------------------------------------

def test_init_writes_a_private_code_and_prints_the_link_with_it(tmp_path, monkeypatch):
    monkeypatch.setenv("QSCORE_INSTANCE", str(tmp_path / "inst"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})  # a new server: not even the tables yet
    runner = app.test_cli_runner()
    result = runner.invoke(args=["qscore", "init", "--host", "192.168.1.20", "--port", "8080"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "inst" / "setup-token"
    token = path.read_text().strip()
    assert len(token) >= 40 and oct(path.stat().st_mode)[-3:] == "600"
    assert f"首次设置：在浏览器打开 http://192.168.1.20:8080/setup?token={token}" in result.output
    assert f"First run: open http://192.168.1.20:8080/setup?token={token}" in result.output
    # Started again before setup: the link printed first keeps working.
    result = runner.invoke(args=["qscore", "init", "--host", "0.0.0.0"])
    assert f"http://127.0.0.1:5000/setup?token={token}" in result.output
    assert path.read_text().strip() == token


def test_init_after_setup_prints_no_link_and_removes_a_stale_code(make_app, org, tmp_path, monkeypatch):
    monkeypatch.setenv("QSCORE_INSTANCE", str(tmp_path / "inst"))
    app = make_app()
    token_file(app).write_text("left-over\n")
    result = app.test_cli_runner().invoke(args=["qscore", "init"])
    assert result.exit_code == 0, result.output
    assert "setup?token" not in result.output and not token_file(app).exists()


def test_two_installs_get_different_codes(app):
    first = read_setup_token(app)
    token_file(app).unlink()
    assert read_setup_token(app) != first


# ---------------------------------------------------------------------------------------------
# The setup page
# ---------------------------------------------------------------------------------------------

def test_the_printed_link_fills_in_the_code(client, setup_token):
    page = client.get(f"/setup?token={setup_token}").get_data(as_text=True)
    assert "设置码" in page
    assert re.search(rf'name="token"[^>]*value="{re.escape(setup_token)}"', page)
    assert "还没有生成设置码" not in page


def test_without_a_code_setup_is_refused_and_nothing_is_written(app, client, setup_token):
    resp = client.post("/setup", data=GOOD)
    assert resp.status_code == 403
    assert "请填写设置码" in resp.get_data(as_text=True)
    assert written(app) == NOTHING
    assert token_file(app).exists()


def test_a_server_without_a_code_says_how_to_get_one(app, client):
    page = client.get("/setup").get_data(as_text=True)
    assert "本服务器还没有生成设置码" in page and "flask --app app qscore init" in page
    resp = client.post("/setup", data={**GOOD, "token": "anything-at-all"})
    assert resp.status_code == 403 and written(app) == NOTHING


def test_a_wrong_code_is_refused_in_chinese_and_throttled_per_address(app, make_app, setup_token):
    # Three failures from one address hold it for the window (15 minutes): no timing in the test.
    client = make_app(LOGIN_MAX_FAILURES_PER_ADDRESS=3).test_client()
    wrong = {**GOOD, "token": setup_token[:-1] + ("A" if setup_token[-1] != "A" else "B")}
    for _ in range(3):
        resp = client.post("/setup", data=wrong)
        assert resp.status_code == 403
        assert "设置码不正确" in resp.get_data(as_text=True)
    resp = client.post("/setup", data={**GOOD, "token": setup_token})  # even the right code waits now
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 60
    assert "设置码错误次数过多" in resp.get_data(as_text=True)
    assert written(app) == NOTHING
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(LoginAttempt.kind == "setup")) == 3
    # Another address is not held up by this one.
    resp = client.post("/setup", data=wrong, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert resp.status_code == 403
    # Once the wait is over (the tries moved an hour back), the right code works.
    with app.app_context():
        db.session.execute(update(LoginAttempt).values(at=LoginAttempt.at - timedelta(hours=1)))
        db.session.commit()
    assert client.post("/setup", data={**GOOD, "token": setup_token}).status_code == 302


def test_the_right_code_sets_up_the_street_and_the_file_is_gone(app, client, setup_token):
    resp = client.post("/setup", data={**GOOD, "token": setup_token})
    assert resp.status_code == 302
    assert written(app)["User"] == 1
    assert not token_file(app).exists()
    stranger = app.test_client()
    assert stranger.get("/setup").status_code == 404
    assert stranger.get(f"/setup?token={setup_token}").status_code == 404
    assert stranger.post("/setup", data={**GOOD, "token": setup_token}).status_code == 404
    assert stranger.post("/setup/demo", data={"token": setup_token}).status_code == 404


def test_the_whole_link_pasted_into_the_field_works(client, setup_token):
    link = f"http://127.0.0.1:5000/setup?token={setup_token}"
    assert client.post("/setup", data={**GOOD, "token": link}).status_code == 302


def test_invalid_input_with_the_right_code_keeps_the_code_in_the_field(app, client, setup_token):
    resp = client.post("/setup", data={**GOOD, "token": setup_token, "confirm": "different-password"})
    assert resp.status_code == 422
    assert re.search(rf'name="token"[^>]*value="{re.escape(setup_token)}"', resp.get_data(as_text=True))
    assert written(app) == NOTHING and token_file(app).exists()


# ---------------------------------------------------------------------------------------------
# The demo (its accounts share a known password: loading it first is a takeover too)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "not-the-code"])
def test_the_demo_needs_the_code(app, client, setup_token, token):
    resp = client.post("/setup/demo", data={"token": token} if token else {})
    assert resp.status_code == 403
    body = resp.get_data(as_text=True)
    assert ("设置码不正确" if token else "请填写设置码") in body and "使用演示街道体验" in body
    assert written(app) == NOTHING and token_file(app).exists()


def test_the_demo_with_the_code_loads_and_the_file_is_gone(app, client, setup_token):
    resp = client.post("/setup/demo", data={**GOOD, "token": setup_token})  # the button posts the whole form
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert not token_file(app).exists()
    with app.app_context():
        assert db.session.scalar(select(Street.demo)) is True
        assert db.session.scalar(select(User).where(User.username == "admin")) is None  # the typed admin is ignored
