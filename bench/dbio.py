"""Raw DB-API helpers (SQLite and PostgreSQL): bulk loads, value encoding, the scale marker,
and undoing a run's writes. Used by the generator and the floors, never by the app.
"""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

META_TABLE = "bench_meta"


def dialect_of(raw) -> str:
    """'sqlite' or 'postgresql' for a raw DB-API connection (or SQLAlchemy's pooled wrapper)."""
    mod = type(getattr(raw, "driver_connection", raw)).__module__
    return "sqlite" if mod.startswith("sqlite3") else "postgresql"


def q(dialect: str, sql: str) -> str:
    """Write SQL with ? placeholders; psycopg wants %s."""
    return sql if dialect == "sqlite" else sql.replace("?", "%s")


class Codec:
    """Values as the app's columns store them. SQLite (through SQLAlchemy): dates as ISO text,
    timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff', NUMERIC as REAL; PostgreSQL: native objects."""

    def __init__(self, dialect: str):
        self.sqlite = dialect == "sqlite"
        self._dates: dict[date, Any] = {}

    def d(self, day: date | None):
        if day is None:
            return None
        v = self._dates.get(day)
        if v is None:
            v = self._dates[day] = day.isoformat() if self.sqlite else day
        return v

    def ts(self, day: date, hour: int = 10, minute: int = 0):
        if self.sqlite:
            return f"{self.d(day)} {hour:02d}:{minute:02d}:00.000000"
        return datetime(day.year, day.month, day.day, hour, minute)

    def num(self, value: Decimal | None):
        if value is None:
            return None
        return float(value) if self.sqlite else value

    def json(self, value: Any):
        return json.dumps(value, ensure_ascii=False)

    def boolean(self, value: bool):
        return int(value) if self.sqlite else value


def bulk_insert(raw, table: str, cols: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """executemany on SQLite, COPY on PostgreSQL. Rows must be in ``cols`` order."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return 0
    cur = raw.cursor()
    quoted = ", ".join(f'"{c}"' for c in cols)
    if dialect_of(raw) == "sqlite":
        cur.executemany(f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(cols))})', rows)
    else:
        with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    cur.close()
    return len(rows)


def ensure_meta(raw) -> None:
    cur = raw.cursor()
    cur.execute(f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)")
    raw.commit()


def read_meta(raw) -> dict[str, Any]:
    """The marker written by the generator; {} when absent (a fresh or foreign database)."""
    cur = raw.cursor()
    try:
        cur.execute(f"SELECT key, value FROM {META_TABLE}")
        rows = cur.fetchall()
    except Exception:  # no such table
        raw.rollback()
        return {}
    return {k: json.loads(v) for k, v in rows}


def write_meta(raw, values: dict[str, Any]) -> None:
    ensure_meta(raw)
    cur = raw.cursor()
    for k, v in values.items():
        cur.execute(q(dialect_of(raw), f"DELETE FROM {META_TABLE} WHERE key = ?"), (k,))
        cur.execute(q(dialect_of(raw), f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)"),
                    (k, json.dumps(v, ensure_ascii=False)))
    raw.commit()


def max_ids(raw, tables: Sequence[str]) -> dict[str, int]:
    """Highest id per table, taken before a run so that its writes can be removed afterwards."""
    cur = raw.cursor()
    out = {}
    for t in tables:
        cur.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{t}"')
        out[t] = cur.fetchone()[0]
    raw.commit()
    return out


def delete_after(raw, before: dict[str, int], order: Sequence[str],
                 links: dict[str, dict[str, str]] | None = None) -> dict[str, int]:
    """Delete rows newer than ``before`` (children first): the run leaves the generated data as it was.

    ``links`` names the tables without an id of their own (column → the table it points to): a row of
    theirs goes when it points to a newer row. The app forbids deleting ledger rows; this is the
    benchmark undoing its own writes, in raw SQL.
    """
    dialect = dialect_of(raw)
    cur = raw.cursor()
    removed = {}
    for t in order:
        if t in (links or {}):
            newer = [(col, before[ref]) for col, ref in links[t].items() if ref in before]
            if newer:
                where = " OR ".join(f'"{col}" > ?' for col, _ in newer)
                cur.execute(q(dialect, f'DELETE FROM "{t}" WHERE {where}'), tuple(v for _, v in newer))
        elif t in before:
            cur.execute(q(dialect, f'DELETE FROM "{t}" WHERE id > ?'), (before[t],))
        else:
            continue
        if cur.rowcount:
            removed[t] = cur.rowcount
    raw.commit()
    return removed


def reset_sequences(raw, tables: Sequence[str]) -> None:
    """PostgreSQL: serial sequences follow the explicit ids the generator wrote."""
    if dialect_of(raw) == "sqlite":
        return
    cur = raw.cursor()
    for t in tables:
        cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{t}\"', 'id'), COALESCE((SELECT MAX(id) FROM \"{t}\"), 0) + 1, false)")
    raw.commit()


def encode(value: Any, sqlite: bool) -> Any:
    """One Python value as SQLAlchemy would bind it for the app's column types."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if not sqlite:
        return value
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    return value


def insert_dicts(raw, table, rows: list[dict[str, Any]]) -> int:
    """Bulk insert dicts into a SQLAlchemy Table, filling the model's Python-side defaults.

    For the small and medium tables (organisations, members, accounts, meetings, types); the two
    big tables are written as prepared tuples in the generator, which is several times faster.
    """
    if not rows:
        return 0
    sqlite = dialect_of(raw) == "sqlite"
    given = set(rows[0])
    cols = [c.name for c in table.columns if c.name in given or c.default is not None]
    defaults = {}
    for c in table.columns:
        if c.name not in given and c.default is not None:
            # SQLAlchemy wraps a callable default (utcnow) to take an execution context.
            defaults[c.name] = c.default.arg(None) if c.default.is_callable else c.default.arg
    out = [[encode(r[c] if c in r else defaults[c], sqlite) for c in cols] for r in rows]
    return bulk_insert(raw, table.name, cols, out)
