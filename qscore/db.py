"""Database setup: the SQLAlchemy object, the declarative base and connection pragmas."""
from __future__ import annotations

import sqlite3
import threading

from flask import g, has_request_context, request
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(render_as_batch=True, compare_type=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Foreign keys, WAL and a busy timeout on every SQLite connection."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # The default 2 MB page cache made the same branch's roster ~3x slower in a district's 650 MB file than in
    # a street's 30 MB one (bench: district/street); reads through a memory map and a 16 MB cache do not grow so.
    cursor.execute("PRAGMA cache_size=-16000")
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.close()


READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn) -> None:
    """A SQLite transaction that may write takes the write lock when it begins, not at its first write.

    pysqlite starts a transaction only at the first INSERT/UPDATE, so the reads that decided a write
    (is the quarter published? is this key used?) ran outside it and could be stale when it wrote:
    points were lost around a publish. BEGIN IMMEDIATE makes each writing request's reads and writes
    one serialised transaction (Django 5.1's and Rails 7.1's choice for SQLite). Requests that only
    read (GET) keep pysqlite's deferred transactions, so screens never wait for a writer.
    """
    if conn.dialect.name != "sqlite":
        return
    if has_request_context() and (request.method in READ_ONLY_METHODS or g.get("qscore_reads_only")):
        return
    # Writers of this process queue for the lock instead of polling for it: SQLite's busy handler sleeps
    # and retries, so a secretary adding back to back kept taking the lock while another's add slept (over
    # 1 s at the 99th percentile in the bench's mixed load). After WRITER_WAIT_SECONDS the busy timeout decides.
    if _writer.acquire(timeout=WRITER_WAIT_SECONDS):
        conn.info["qscore_writer"] = True
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release_writer(conn)
        raise


WRITER_WAIT_SECONDS = 5.0  # as the busy timeout
_writer = threading.Lock()


def _release_writer(conn) -> None:
    if conn.info.pop("qscore_writer", False):
        _writer.release()


# A transaction ends in a commit or a rollback; a connection given back to the pool ends one too.
event.listen(Engine, "commit", _release_writer)
event.listen(Engine, "rollback", _release_writer)


@event.listens_for(Pool, "checkin")
def _writer_checked_in(dbapi_connection, connection_record) -> None:
    if connection_record is not None and connection_record.info.pop("qscore_writer", False):
        _writer.release()


def reads_only_from_now() -> None:
    """Say that this request has committed everything it writes: its later transactions (rendering the answer)
    begin deferred, so SQLite's write lock is not held while a branch is scored and a page rendered. A view
    that calls this must not write again (a deferred transaction that read first can fail to write)."""
    g.qscore_reads_only = True


def read_columns(stmt, params: dict | None = None):
    """A statement of columns (no ORM entities) on the session's connection, flushed first as the session's
    autoflush would: the ORM's layer around such a statement costs about as much as running it."""
    db.session.flush()
    return db.session.connection().execute(stmt, params)
