"""Backup and restore lose nothing: a consistent copy while the app writes, and a restore that keeps the WAL's rows.

Always on SQLite files of its own, even when the suite runs on PostgreSQL.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import pytest
from alembic.script import ScriptDirectory

import qscore
from qscore import create_app
from qscore.backup import backup_sqlite, ledger_digest, restore_sqlite
from qscore.db import db
from .conftest import Org, make_member

INSERT = ("INSERT INTO point_entry (member_id, branch_id, year, indicator_code, category, points, earned_on, note, "
          "source, recorded_at) VALUES (?, ?, 2026, 'J1', 'J', 1, '2026-05-20', ?, 'inline', '2026-05-20 10:00:00')")


def sqlite_app(test_config, path: Path):
    return create_app({**test_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})


@pytest.fixture
def live(test_config, tmp_path):
    """The running instance's database: the schema at the migrations' head and one member to record points for."""
    path = tmp_path / "live" / "qscore.sqlite3"
    path.parent.mkdir()
    app = sqlite_app(test_config, path)
    head = ScriptDirectory(str(Path(qscore.__file__).parent / "migrations")).get_current_head()
    with app.app_context(), app.test_request_context():
        db.create_all()
        org = Org()
        member = make_member(org.branch.id, "张三")
        db.session.commit()
        ids = (member.id, org.branch.id)
        db.session.remove()
        db.engine.dispose()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (head,))
    return SimpleNamespace(app=app, path=path, url=f"sqlite:///{path}", ids=ids)


def add_entries(conn: sqlite3.Connection, live, n: int, note: str = "") -> int:
    for i in range(n):
        cursor = conn.execute(INSERT, (*live.ids, f"{note}{i}"))
    return cursor.lastrowid


def read(path: Path):
    """(integrity, ledger digest) of a database file, through a connection closed before returning."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0], ledger_digest(conn)


def test_backup_while_writes_run_restores_into_a_fresh_instance(live, test_config, tmp_path):
    with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
        newest_before = add_entries(conn, live, 30, "before ")
    stop = threading.Event()
    written = []

    def writer():
        with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
            while not stop.is_set():
                written.append(add_entries(conn, live, 1, "during "))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 20 and thread.is_alive():  # the writer is under way before the copy starts
            stop.wait(0.001)
        report = backup_sqlite(live.url, tmp_path / "backup.sqlite3")
        after = len(written)
        while len(written) < after + 20 and thread.is_alive():  # and still writing after it ended
            stop.wait(0.001)
    finally:
        stop.set()
        thread.join()

    assert read(report.path) == ("ok", report.ledger)
    assert newest_before < report.ledger.newest < written[-1]  # a snapshot taken mid-stream
    assert read(live.path)[1].entries == 30 + len(written) > report.ledger.entries

    fresh = tmp_path / "fresh" / "qscore.sqlite3"
    fresh_app = sqlite_app(test_config, fresh)
    result = fresh_app.test_cli_runner().invoke(args=["qscore", "restore", "--yes", str(report.path)])
    assert result.exit_code == 0, result.output
    assert f"ledger: {report.ledger}" in result.output and "kept" not in result.output
    assert read(fresh) == ("ok", report.ledger)
    with closing(sqlite3.connect(fresh)) as conn:
        assert conn.execute("SELECT note FROM point_entry WHERE id = ?", (newest_before,)).fetchone() == ("before 29",)


WRITE_AND_EXIT_WITHOUT_CHECKPOINT = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint=0")
for i in range(40):
    conn.execute(sys.argv[2], (int(sys.argv[3]), int(sys.argv[4]), f"newest {i}"))
os._exit(0)  # like waitress: the process ends without closing, so the WAL is never checkpointed
"""


def test_restore_keeps_aside_the_entries_that_live_only_in_the_wal(live, tmp_path):
    with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
        add_entries(conn, live, 10, "old ")
    older = backup_sqlite(live.url, tmp_path / "older.sqlite3")
    subprocess.run([sys.executable, "-c", WRITE_AND_EXIT_WITHOUT_CHECKPOINT, str(live.path), INSERT,
                    *map(str, live.ids)], check=True)
    wal = live.path.with_name(live.path.name + "-wal")
    assert wal.stat().st_size > 0

    # What the server left: read from a copy of all its files, so that nothing checkpoints the original.
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    for f in (live.path, wal):
        shutil.copy(f, snapshot / f.name)
    status, before = read(snapshot / live.path.name)
    assert status == "ok" and before.entries == 50
    shutil.copy(live.path, tmp_path / "main-file-only.sqlite3")  # what the old README's steps kept
    assert read(tmp_path / "main-file-only.sqlite3")[1].entries == 10

    result = live.app.test_cli_runner().invoke(args=["qscore", "restore", "--yes", str(older.path)])
    assert result.exit_code == 0, result.output
    [kept] = live.path.parent.glob("qscore.sqlite3.before-restore-*")
    assert f"kept at {kept} (ledger: {before})" in result.output
    assert read(kept) == ("ok", before)  # the 40 newest entries, which were only in the WAL
    assert not kept.with_name(kept.name + "-wal").exists()  # a single self-contained file
    assert read(live.path) == ("ok", older.ledger)


def not_a_database(path: Path, backup: Path) -> None:
    path.write_text("id,name\n1,张三\n", encoding="utf-8")


def truncated(path: Path, backup: Path) -> None:
    data = backup.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def without_alembic_version(path: Path, backup: Path) -> None:
    shutil.copy(backup, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP TABLE alembic_version")


@pytest.mark.parametrize(("make_file", "message"), [
    (not_a_database, "fails the integrity check"),
    (truncated, "fails the integrity check"),
    (without_alembic_version, "not a qscore database"),
    (None, "no backup file"),
])
def test_restore_refuses_a_file_that_is_not_a_good_qscore_backup(live, tmp_path, make_file, message):
    with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
        add_entries(conn, live, 100, "x" * 200)  # some pages, so that half a file misses some
    backup = backup_sqlite(live.url, tmp_path / "good.sqlite3").path
    bad = tmp_path / "bad.sqlite3"
    if make_file:
        make_file(bad, backup)
    before = read(live.path)
    result = live.app.test_cli_runner().invoke(args=["qscore", "restore", "--yes", str(bad)])
    assert result.exit_code != 0 and message in result.output, result.output
    assert "nothing was changed" in result.output or make_file is None
    assert read(live.path) == before
    assert not list(live.path.parent.glob("*.before-restore-*"))


def test_restore_asks_first(live, tmp_path):
    backup = backup_sqlite(live.url, tmp_path / "backup.sqlite3").path
    with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
        add_entries(conn, live, 3)
    before = read(live.path)
    result = live.app.test_cli_runner().invoke(args=["qscore", "restore", str(backup)], input="n\n")
    assert result.exit_code != 0 and str(live.path) in result.output and "kept aside" in result.output
    assert read(live.path) == before


def test_restore_over_a_damaged_database_only_when_asked(live, tmp_path):
    with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
        add_entries(conn, live, 300, "y" * 100)
    backup = backup_sqlite(live.url, tmp_path / "backup.sqlite3")
    with closing(sqlite3.connect(live.path, isolation_level=None)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ix_point_entry_member_earned'").fetchone()[0]
    with live.path.open("r+b") as f:  # scribble over an index page, as a failing disk would
        f.seek((root - 1) * page_size + 8)
        f.write(b"\xff" * 64)
    runner = live.app.test_cli_runner()
    refused = runner.invoke(args=["qscore", "restore", "--yes", str(backup.path)])
    assert refused.exit_code != 0 and "--replace-damaged" in refused.output, refused.output
    result = runner.invoke(args=["qscore", "restore", "--yes", "--replace-damaged", str(backup.path)])
    assert result.exit_code == 0, result.output
    assert read(live.path) == ("ok", backup.ledger)
    assert len(list(live.path.parent.glob("*.before-restore-*"))) >= 1


@pytest.mark.parametrize("args", [["backup", "copy.sqlite3"], ["restore", "--yes", "qscore-2026-11-26.dump"]])
def test_postgresql_gets_the_pg_dump_and_pg_restore_commands(test_config, args):
    app = create_app({**test_config, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://qscore:secret@db.example/qscore"})
    try:
        result = app.test_cli_runner().invoke(args=["qscore", *args])
    finally:
        with app.app_context():
            db.engine.dispose()
    assert result.exit_code != 0
    assert 'pg_dump -Fc -d "postgresql://qscore@db.example/qscore" -f qscore-$(date +%F).dump' in result.output
    assert "secret" not in result.output and "PGPASSWORD" in result.output
    assert 'pg_restore --no-owner -d "postgresql://qscore@db.example/qscore"' in result.output
    assert "createdb -O qscore qscore" in result.output and "+psycopg" not in result.output


def test_restore_function_refuses_the_database_itself(live):
    from qscore.backup import BackupError

    with pytest.raises(BackupError, match="database itself"):
        restore_sqlite(live.url, live.path)


def test_restore_refuses_a_wal_left_without_its_database(test_config, tmp_path):
    live = tmp_path / "moved" / "qscore.sqlite3"
    live.parent.mkdir()
    wal = live.with_name("qscore.sqlite3-wal")
    wal.write_bytes(b"frames of the newest entries")
    source = tmp_path / "backup.sqlite3"
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    result = sqlite_app(test_config, live).test_cli_runner().invoke(args=["qscore", "restore", "--yes", str(source)])
    assert result.exit_code != 0 and "put it back" in result.output
    assert not live.exists() and wal.read_bytes() == b"frames of the newest entries"
