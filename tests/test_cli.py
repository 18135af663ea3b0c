"""Command-line chores: secret key, organisations and accounts, backup."""
from __future__ import annotations

import os
import sqlite3

import pytest
from sqlalchemy import select

from qscore import create_app
from qscore.db import db
from qscore.models import Branch, User


def test_init_writes_a_secret_key_once(tmp_path, monkeypatch):
    monkeypatch.setenv("QSCORE_INSTANCE", str(tmp_path / "inst"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["qscore", "init"])
    assert result.exit_code == 0 and "wrote a new SECRET_KEY" in result.output
    config = tmp_path / "inst" / "config.py"
    first = config.read_text()
    assert "SECRET_KEY = '" in first and oct(config.stat().st_mode)[-3:] == "600"
    result = runner.invoke(args=["qscore", "init"])
    assert "already has a SECRET_KEY" in result.output and config.read_text() == first
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert len(create_app().config["SECRET_KEY"]) == 64


def test_add_org_and_user(app, runner):
    result = runner.invoke(args=["qscore", "add-org", "--street", "幸福街道", "--community", "前进社区",
                                 "--branch", "再就业党支部", "--kind", "reemployment"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["qscore", "add-user", "zhang", "--role", "branch_secretary", "--street", "幸福街道",
                                 "--community", "前进社区", "--branch", "再就业党支部", "--password", "a-long-password"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "zhang"))
        branch = db.session.get(Branch, user.branch_id)
        assert branch.name == "再就业党支部" and branch.kind == "reemployment"
    assert app.test_client().post("/login", data={"username": "zhang", "password": "a-long-password"}).status_code == 302


@pytest.mark.parametrize(("args", "message"), [
    (["--role", "branch_secretary", "--street", "幸福街道", "--community", "前进社区"], "--branch is required"),
    (["--role", "street_admin", "--street", "没有的街道"], "no such street"),
    (["--role", "street_admin", "--street", "幸福街道", "--password", "short"], "至少 12 个字符"),
])
def test_add_user_refuses_bad_input(app, runner, args, message):
    runner.invoke(args=["qscore", "add-org", "--street", "幸福街道", "--community", "前进社区"])
    if "--password" not in args:
        args = [*args, "--password", "a-long-password"]
    result = runner.invoke(args=["qscore", "add-user", "li", *args])
    assert result.exit_code != 0 and message in result.output


def test_backup_writes_a_consistent_checked_copy(app, runner, org, tmp_path):
    target = tmp_path / "copy.sqlite3"
    result = runner.invoke(args=["qscore", "backup", str(target)])
    if os.environ.get("DATABASE_URL"):  # the PostgreSQL run: the command points to pg_dump
        assert result.exit_code != 0 and "pg_dump" in result.output
        return
    assert result.exit_code == 0, result.output
    assert "integrity ok" in result.output
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM user").fetchone()[0] == 4
    again = runner.invoke(args=["qscore", "backup", str(target)])
    assert again.exit_code != 0 and "exists" in again.output


def test_backup_refuses_postgresql_urls(tmp_path):
    from qscore.backup import BackupError, backup_sqlite

    with pytest.raises(BackupError, match="pg_dump"):
        backup_sqlite("postgresql+psycopg://u@localhost/db", tmp_path / "x")
