"""Consistent copies of the SQLite database and a restore that loses nothing, both checked by the ledger digest.

Every copy goes through SQLite's backup API, which reads through SQLite and so includes what is still in the
-wal file; no file of a database is ever moved or deleted here.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import quote

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    pass


class LedgerDigest(NamedTuple):
    entries: int
    newest: int | None
    sha256: str

    def __str__(self) -> str:
        newest = f"#{self.newest}" if self.newest is not None else "none"
        return f"{self.entries} entries, newest {newest}, sha256 {self.sha256}"


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size: int
    ledger: LedgerDigest


@dataclass(frozen=True)
class RestoreReport:
    database: Path
    kept: Path | None  # the database as it was before the restore; None when there was none
    kept_ledger: LedgerDigest | None
    ledger: LedgerDigest  # the restored database's, equal to the backup file's


def ledger_digest(conn: sqlite3.Connection) -> LedgerDigest:
    """Count, highest id and SHA-256 of every point_entry row: the same rows give the same digest on any copy."""
    columns = sorted(row[1] for row in conn.execute("PRAGMA table_info(point_entry)"))
    if not columns:
        raise BackupError("no point_entry table: not a qscore database")
    digest = hashlib.sha256(json.dumps(columns).encode() + b"\n")
    count, newest = 0, None
    select = ", ".join(f'"{c}"' for c in columns)
    for row in conn.execute(f'SELECT id, {select} FROM point_entry ORDER BY id'):
        # One JSON array per row: NULL is null, distinct from "" and from the text "None".
        values = [None if v is None else v.hex() if isinstance(v, bytes) else str(v) for v in row[1:]]
        digest.update(json.dumps(values, ensure_ascii=False).encode() + b"\n")
        count, newest = count + 1, row[0]
    return LedgerDigest(count, newest, digest.hexdigest())


def postgresql_commands(database_url: str, restore_file: str = "FILE") -> str:
    """The pg_dump / pg_restore commands for this database, with a URL libpq accepts (no +psycopg).

    The password is left out of what is printed (a terminal's scrollback is not a secret store)."""
    parsed = make_url(database_url)
    url = parsed._replace(drivername="postgresql", password=None).render_as_string(hide_password=False)
    password = ("  (the password: set PGPASSWORD or put it in ~/.pgpass; it is not printed here)\n"
                if parsed.password else "")
    name = parsed.database or "qscore"
    return (
        "this database is PostgreSQL: use its own tools.\n" + password +
        f'  backup:  pg_dump -Fc -d "{url}" -f qscore-$(date +%F).dump\n'
        "  restore: stop the server, back up the current database as above, then restore into an empty\n"
        "           database (a dump of an older version must not meet tables of a newer one):\n"
        f"           dropdb {name} && createdb -O {parsed.username or 'qscore'} {name}   # as the postgres superuser\n"
        f'           pg_restore --no-owner -d "{url}" {restore_file}\n'
        "           flask --app app db upgrade")


def sqlite_path(database_url: str, restore_file: str = "FILE") -> Path:
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        raise BackupError(postgresql_commands(database_url, restore_file))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError("only a SQLite file database can be copied this way; for PostgreSQL use pg_dump")
    return Path(url.database)


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    # Autocommit: transactions below are explicit, and the backup API refuses a target inside one.
    if readonly:
        return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, isolation_level=None)
    return sqlite3.connect(path, isolation_level=None)


def _integrity(conn: sqlite3.Connection) -> str:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as e:  # not a database at all, or damaged beyond reading
        return str(e)
    return "; ".join(str(r[0]) for r in rows[:5])


def _write_copy(source: sqlite3.Connection, target: Path) -> tuple[str, LedgerDigest | None]:
    """Copy through the backup API into a new single file; returns its integrity result and ledger digest."""
    dest = _connect(target)
    try:
        source.backup(dest)
        dest.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        check = _integrity(dest)
        return check, _ledger_if_any(dest) if check == "ok" else None
    except BaseException:
        dest.close()
        target.unlink(missing_ok=True)  # our own half-written copy, never a database's file
        raise
    finally:
        dest.close()


def _ledger_if_any(conn: sqlite3.Connection) -> LedgerDigest | None:
    """The ledger digest, or None for a database without a ledger (an empty file, say)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'point_entry'").fetchone():
        return ledger_digest(conn)
    return None


def backup_sqlite(database_url: str, target: Path) -> BackupReport:
    """Copy with SQLite's backup API (safe while the app writes), check integrity and the ledger digest."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    target = target.resolve()
    if target == source_path.resolve():
        raise BackupError("the backup must not overwrite the database itself")
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = _connect(source_path, readonly=True)
    try:
        source.execute("BEGIN")  # one read snapshot for the source's digest and the copy
        expected = ledger_digest(source)
        check, copied = _write_copy(source, target)
        source.execute("COMMIT")
    finally:
        source.close()
    if check != "ok" or copied != expected:
        target.unlink(missing_ok=True)
        raise BackupError(f"integrity check failed: {check}" if check != "ok"
                          else f"the copy's ledger ({copied}) differs from the database's ({expected})")
    return BackupReport(target, target.stat().st_size, copied)


def restore_sqlite(database_url: str, source: Path, keep_dir: Path | None = None, *,
                   replace_damaged: bool = False) -> RestoreReport:
    """Replace the database's content with the backup `source`, keeping the current one aside first.

    Run it with the server stopped. The current database is copied (backup API, so its -wal is included) to
    `<name>.before-restore-<time>` and checked; then `source` is written into the live database through
    SQLite, the WAL is checkpointed, and the result must pass integrity_check and equal the source's ledger.
    """
    live = sqlite_path(database_url, str(source))
    source = Path(source)
    if not source.is_file():
        raise BackupError(f"no backup file at {source}")
    if live.exists() and source.resolve() == live.resolve():
        raise BackupError("the backup file is the database itself")
    wal = live.with_name(live.name + "-wal")
    if not live.exists() and wal.exists():  # SQLite would replay that stray WAL onto the restored file
        raise BackupError(f"{wal} exists without its database {live}: the database was moved away from its "
                          "WAL; put it back beside it first (the WAL may hold its newest entries)")
    src = _connect(source, readonly=True)
    try:
        check = _integrity(src)
        if check != "ok":
            raise BackupError(f"{source} fails the integrity check ({check}); nothing was changed")
        if not src.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'").fetchone():
            raise BackupError(f"{source} is not a qscore database (no alembic_version table); nothing was changed")
        expected = ledger_digest(src)
        kept = kept_ledger = None
        if live.exists():
            kept = (keep_dir or live.parent) / f"{live.name}.before-restore-{datetime.now():%Y%m%d-%H%M%S}"
            for n in range(2, 100):  # a second restore within the same second
                if not kept.exists():
                    break
                kept = kept.with_name(f"{kept.name.split('~')[0]}~{n}")
        live.parent.mkdir(parents=True, exist_ok=True)
        dest = _connect(live)
        try:
            dest.execute("PRAGMA busy_timeout=5000")
            if kept is not None:
                kept_ledger = _keep_aside(dest, live, kept, replace_damaged)
            src.backup(dest)  # writes through SQLite: the live file and its own -wal stay consistent
            dest.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            check = _integrity(dest)
            restored = ledger_digest(dest) if check == "ok" else None
        finally:
            dest.close()
    finally:
        src.close()
    if check != "ok" or restored != expected:
        raise BackupError(
            f"the restored database does not match the backup ({check if check != 'ok' else restored})"
            + (f"; the database as it was before is kept at {kept}" if kept else ""))
    return RestoreReport(live, kept, kept_ledger, restored)


def _keep_aside(live_conn: sqlite3.Connection, live: Path, kept: Path, replace_damaged: bool) -> LedgerDigest | None:
    """Copy the current database to `kept` and check the copy equals it; a damaged one only with replace_damaged."""
    live_conn.execute("BEGIN")  # the copy and the digest it is checked against read one snapshot
    try:
        check, copied = _write_copy(live_conn, kept)
        current = _ledger_if_any(live_conn) if check == "ok" else None
    finally:
        live_conn.execute("ROLLBACK")
    if check != "ok":
        if not replace_damaged:
            raise BackupError(
                f"the current database {live} fails the integrity check ({check}); its copy is at {kept}; "
                "nothing was restored. To replace the damaged database anyway, run again with --replace-damaged.")
        return None
    if copied != current:
        raise BackupError(f"the copy at {kept} differs from the current database; nothing was restored")
    return copied
