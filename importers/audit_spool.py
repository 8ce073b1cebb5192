"""A worker's usage spool: its aggregate flushed into a private SQLite file, merged by the parent in SQL.

Writing usage rows costs a Python-side bind of 14 values per row; in a parallel import that
cost is paid by each worker into its own spool file (same table definitions as the store), and
the parent merges every spool with one `INSERT ... SELECT ... ON CONFLICT` per table, without a
Python-level row. The merge keeps `usage_key`'s invariants: when the store holds displaced rows,
or a key_hash collides with another key's, the rows take the Python path (`upsert_usage`).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rbacmap.usage import DEFAULT_FLUSH_KEYS, GROUPS_UPSERT, IMPERSONATION_UPSERT, UsageAggregator, UsageImport
from rbacmap.usage_key import (
    KEY_COLUMNS,
    WIDEN_SEEN,
    UsageRow,
    has_displaced_rows,
    key_hash,
    store_collided,
    upsert_usage,
)

SPOOLED_TABLES = ("audit_usage", "audit_user_groups", "audit_impersonations", "audit_request_ids")
_USAGE_COLUMNS = ", ".join(("key_hash", *KEY_COLUMNS, "count", "first_seen", "last_seen"))
_SAME_KEY = " AND ".join(f"{column} = excluded.{column}" for column in KEY_COLUMNS)
# `WHERE true`: SQLite needs it to tell an upsert's ON CONFLICT from a join's ON.
_MERGE = {
    "audit_usage": f"INSERT INTO audit_usage ({_USAGE_COLUMNS}) SELECT {_USAGE_COLUMNS} FROM {{spool}}.audit_usage"
                   f" WHERE key_hash >= 0 ORDER BY key_hash"
                   f" ON CONFLICT (key_hash) DO UPDATE SET {WIDEN_SEEN} WHERE {_SAME_KEY}",
    "audit_user_groups": "INSERT INTO audit_user_groups SELECT * FROM {spool}.audit_user_groups WHERE true"
                         f" ON CONFLICT (cluster, username, group_name) DO UPDATE SET {WIDEN_SEEN}",
    "audit_impersonations": "INSERT INTO audit_impersonations SELECT * FROM {spool}.audit_impersonations WHERE true"
                            f" ON CONFLICT (cluster, impersonator, username) DO UPDATE SET {WIDEN_SEEN}",
    "audit_request_ids": "INSERT OR IGNORE INTO audit_request_ids SELECT * FROM {spool}.audit_request_ids",
}


def table_definitions(conn: sqlite3.Connection) -> list[str]:
    """The store's CREATE TABLE statements of the spooled tables (a spool uses the very same)."""
    marks = ", ".join("?" * len(SPOOLED_TABLES))
    found = dict(conn.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ({marks})", SPOOLED_TABLES,
    ).fetchall())
    return [found[name] for name in SPOOLED_TABLES]


def open_spool(path: Path, definitions: list[str]) -> sqlite3.Connection:
    """A fresh spool file: private scratch space, so no journal and no syncs."""
    conn = sqlite3.connect(path, isolation_level=None)
    path.chmod(0o600)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    for sql in definitions:
        conn.execute(sql)
    conn.execute("BEGIN")
    return conn


class SpoolingAggregator(UsageAggregator):
    """A worker's aggregator: `flush` writes into its spool (the parent merges the spool later)."""

    def finish(self) -> None:
        self.flush()
        self.conn.execute("COMMIT")
        self.conn.close()


def merge_spool(job: UsageImport, path: Path) -> None:
    """Add a spool's rows to the store's tables, inside the import's transaction.

    The spool stays attached until the transaction ends (SQLite keeps a lock on it until then);
    if it cannot be attached (SQLite allows 10 attached databases), its rows go through Python.
    """
    conn = job.aggregator.conn
    alias = f"spool_{next(_ALIASES)}"
    try:
        conn.execute(f"ATTACH DATABASE ? AS {alias}", (str(path),))
    except sqlite3.OperationalError:
        _merge_through_python(conn, path)
        return
    job.after_transaction.append(lambda: _detach(conn, alias))
    select = f"SELECT {_USAGE_COLUMNS} FROM {alias}.audit_usage"
    if has_displaced_rows(conn):
        _upsert_in_batches(conn, conn.execute(select))
    else:
        expected = conn.execute(f"SELECT count(*) FROM {alias}.audit_usage WHERE key_hash >= 0").fetchone()[0]
        before = conn.total_changes
        conn.execute(_MERGE["audit_usage"].format(spool=alias))
        if conn.total_changes - before != expected:  # a key_hash taken by another key: see usage_key
            for rows in _batches(conn.execute(select + " WHERE key_hash >= 0")):
                store_collided(conn, [tuple(row) for row in rows])
        # Keys the spool itself had to displace (their hash collided there) go through Python.
        _upsert_in_batches(conn, conn.execute(select + " WHERE key_hash < 0"))
    conn.execute(_MERGE["audit_user_groups"].format(spool=alias))
    conn.execute(_MERGE["audit_impersonations"].format(spool=alias))
    conn.execute(_MERGE["audit_request_ids"].format(spool=alias))


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[Any]]:
    """A query's rows a bounded batch at a time (a spool holds as many rows as its worker saw keys)."""
    while rows := cursor.fetchmany(DEFAULT_FLUSH_KEYS):
        yield rows


def _upsert_in_batches(conn: sqlite3.Connection, cursor: sqlite3.Cursor) -> None:
    for rows in _batches(cursor):
        upsert_usage(conn, _rehomed(rows))


def _rehomed(rows: Iterable[Sequence[Any]]) -> list[UsageRow]:
    """Spool rows with the key_hash of their own columns (a spool's displaced rows have a negative one)."""
    return [tuple(row) if row[0] >= 0 else (key_hash(row[1:11]), *row[1:]) for row in rows]


def _detach(conn: sqlite3.Connection, alias: str) -> None:
    conn.execute(f"DETACH DATABASE {alias}")


def _merge_through_python(conn: sqlite3.Connection, path: Path) -> None:
    spool = sqlite3.connect(path)
    try:
        _upsert_in_batches(conn, spool.execute(f"SELECT {_USAGE_COLUMNS} FROM audit_usage"))
        conn.executemany(GROUPS_UPSERT, spool.execute("SELECT * FROM audit_user_groups"))
        conn.executemany(IMPERSONATION_UPSERT, spool.execute("SELECT * FROM audit_impersonations"))
        conn.executemany("INSERT OR IGNORE INTO audit_request_ids VALUES (?, ?, ?)",
                         spool.execute("SELECT * FROM audit_request_ids"))
    finally:
        spool.close()


_ALIASES = itertools.count()
