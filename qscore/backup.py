"""A consistent online copy of the SQLite database, checked for integrity."""
from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    pass


def backup_sqlite(database_url: str, target: Path) -> int:
    """Copy with SQLite's backup API (safe while the app writes); returns the copy's size in bytes."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise BackupError("only a SQLite file database can be copied this way; for PostgreSQL use pg_dump")
    source_path = Path(url.database)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    target = target.resolve()
    if target == source_path.resolve():
        raise BackupError("the backup must not overwrite the database itself")
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    dest = sqlite3.connect(target)
    try:
        with dest:
            source.backup(dest)
        result = dest.execute("PRAGMA integrity_check").fetchone()[0]
        dest.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        dest.close()
        source.close()
    if result != "ok":
        target.unlink(missing_ok=True)
        raise BackupError(f"integrity check failed: {result}")
    return target.stat().st_size
