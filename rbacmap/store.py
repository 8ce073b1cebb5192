"""The SQLite store: clusters, snapshots and the rows of each snapshot."""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

try:  # optional speed-up (the `fast` extra); the standard json module gives the same values
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the installation
    _orjson = None  # type: ignore[assignment]

from rbacmap.gc_pause import cyclic_gc_paused
from rbacmap.schema import MIGRATIONS, SNAPSHOT_TABLES


class StoreError(Exception):
    """A problem the user can act on (unknown cluster, no snapshot, …)."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Snapshot:
    id: int
    cluster: str
    source: str
    started_at: str
    finished_at: str | None
    status: str
    object_counts: dict[str, int]
    skipped_counts: dict[str, int]
    error_count: int
    incomplete_kinds: list[str]
    server_version: str | None
    platform: str | None
    message: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Snapshot:
        return cls(
            id=row["id"],
            cluster=row["cluster"],
            source=row["source"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            status=row["status"],
            object_counts=json.loads(row["object_counts"]),
            skipped_counts=json.loads(row["skipped_counts"]),
            error_count=row["error_count"],
            incomplete_kinds=json.loads(row["incomplete_kinds"]),
            server_version=row["server_version"],
            platform=row["platform"],
            message=row["message"],
        )

    @property
    def incomplete(self) -> bool:
        return bool(self.incomplete_kinds)

    def incompleteness_warning(self) -> str | None:
        """The sentence every answer from an incomplete snapshot must carry."""
        if not self.incomplete_kinds:
            return None
        kinds = ", ".join(self.incomplete_kinds)
        return f"snapshot {self.id} of {self.cluster} is incomplete: the importer could not read {kinds}"


@dataclass(frozen=True)
class ImportError_:
    source: str
    message: str
    document: int | None = None
    line: int | None = None
    kind: str | None = None
    name: str | None = None
    # Which item of a `kind: List` document, as a path: "items[2]", "items[0].items[1]" for a list in a list.
    item: str | None = None

    def describe(self) -> str:
        where = self.source
        if self.document is not None:
            where += f" document {self.document}"
        if self.item is not None:
            where += f" {self.item}"
        if self.line is not None:
            where += f" (line {self.line})"
        what = f" {self.kind}/{self.name}" if self.kind and self.name else (f" {self.kind}" if self.kind else "")
        return f"{where}:{what} {self.message}"


_INSTANCES = itertools.count(1)


class Store:
    """One SQLite file holding many clusters' snapshots."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        """Open (and migrate) the DB at path; a missing file is created 0600, or with create=False refused."""
        self.path = str(path)
        self.instance = next(_INSTANCES)  # names this open store for in-process caches (id() can be reused)
        if self.path != ":memory:":
            if create:
                _create_private_file(self.path)
            elif not os.path.exists(self.path):
                raise StoreError(f"{self.path} does not exist")
        # isolation_level=None: we issue BEGIN/COMMIT ourselves so a snapshot is one transaction.
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.db = sqlite_utils.Database(self.conn)
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    @classmethod
    def open_read_only(cls, path: str | Path) -> Store:
        """Open an existing DB read-only (SQLite `mode=ro`): nothing is created or migrated.

        Raises StoreError when the file is missing or its schema is behind this rbacmap.
        """
        store = cls.__new__(cls)
        store.path = str(path)
        store.instance = next(_INSTANCES)
        if not os.path.exists(store.path):
            raise StoreError(f"{store.path} does not exist")
        uri = "file:" + urllib.parse.quote(os.path.abspath(store.path)) + "?mode=ro"
        store.conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        store.conn.row_factory = sqlite3.Row
        store.db = sqlite_utils.Database(store.conn)
        missing = store.pending_migrations()
        if missing:
            store.close()
            raise StoreError(f"{store.path} needs schema migration(s) {', '.join(map(str, missing))}; "
                             "open it once with a writing command (e.g. `rbacmap snapshots`) to upgrade it")
        return store

    def pending_migrations(self) -> list[int]:
        """Migration versions this rbacmap knows that the DB has not applied yet."""
        try:
            applied = {int(row[0]) for row in self.conn.execute("SELECT version FROM schema_version")}
        except sqlite3.OperationalError:
            applied = set()
        return [version for version, _ in sorted(MIGRATIONS) if version not in applied]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def predates(self, snapshot: Snapshot, version: int) -> bool:
        """Whether the snapshot was taken before migration `version` was applied to this DB: it holds nothing of
        what that migration began to record (not recorded, which is not the same as absent)."""
        row = self.conn.execute("SELECT applied_at FROM schema_version WHERE version = ?", [version]).fetchone()
        return row is not None and row[0] is not None and snapshot.started_at < str(row[0])

    def _migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        # Versions are assigned per feature and may land out of order: apply every missing one,
        # in version order, rather than only those above the current maximum.
        applied = {int(row[0]) for row in self.conn.execute("SELECT version FROM schema_version")}
        for version, sql in sorted(MIGRATIONS):
            if version in applied:
                continue
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    self.conn.execute(statement)
                self.conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, utc_now()))
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    # --- queries -------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, params)]

    def clusters(self) -> list[dict[str, Any]]:
        return self.query(
            """SELECT c.name, c.created_at,
                      (SELECT count(*) FROM snapshots s WHERE s.cluster = c.name AND s.status='complete') AS snapshots,
                      (SELECT max(id) FROM snapshots s WHERE s.cluster = c.name AND s.status='complete') AS latest
               FROM clusters c ORDER BY c.name"""
        )

    def snapshots(self, cluster: str | None = None) -> list[Snapshot]:
        sql = "SELECT * FROM snapshots"
        params: list[Any] = []
        if cluster:
            sql += " WHERE cluster = ?"
            params.append(cluster)
        return [Snapshot.from_row(row) for row in self.query(sql + " ORDER BY id", params)]

    def snapshot(self, snapshot_id: int) -> Snapshot:
        rows = self.query("SELECT * FROM snapshots WHERE id = ?", [snapshot_id])
        if not rows:
            raise StoreError(f"no snapshot with id {snapshot_id}")
        return Snapshot.from_row(rows[0])

    def resolve_cluster(self, cluster: str | None) -> str:
        names = [row["name"] for row in self.clusters()]
        if cluster:
            if cluster not in names:
                known = ", ".join(names) or "none yet"
                raise StoreError(f"unknown cluster {cluster!r} (known: {known})")
            return cluster
        if not names:
            raise StoreError(f"{self.path} holds no cluster yet: run `rbacmap import files` or `import kube` first")
        if len(names) > 1:
            raise StoreError(f"{self.path} holds several clusters ({', '.join(names)}): choose one with --cluster")
        return str(names[0])

    def latest_snapshot(self, cluster: str | None = None) -> Snapshot:
        """The newest complete snapshot of a cluster (the only cluster when none is named)."""
        name = self.resolve_cluster(cluster)
        rows = self.query(
            "SELECT * FROM snapshots WHERE cluster = ? AND status = 'complete' ORDER BY id DESC LIMIT 1", [name]
        )
        if not rows:
            raise StoreError(f"cluster {name!r} has no complete snapshot")
        return Snapshot.from_row(rows[0])

    def import_errors(self, snapshot_id: int) -> list[ImportError_]:
        return [
            ImportError_(r["source"], r["message"], r["document"], r["line"], r["kind"], r["name"], r["item"])
            for r in self.query("SELECT * FROM import_errors WHERE snapshot_id = ? ORDER BY rowid", [snapshot_id])
        ]

    # --- writing -------------------------------------------------------------------------

    @contextmanager
    def write_snapshot(self, cluster: str, source: str) -> Iterator[SnapshotWriter]:
        """Write one snapshot in one transaction; on any exception nothing of it is visible.

        A failed import is still recorded (status 'failed', with the error) in a separate
        transaction so `rbacmap snapshots` can show it; queries only use complete ones.
        """
        started = utc_now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute("INSERT OR IGNORE INTO clusters (name, created_at) VALUES (?, ?)", (cluster, started))
            cursor = self.conn.execute(
                "INSERT INTO snapshots (cluster, source, started_at, status) VALUES (?, ?, ?, 'complete')",
                (cluster, source, started),
            )
            writer = SnapshotWriter(self.conn, int(cursor.lastrowid or 0), cluster)
            # Parsed API objects are acyclic and freed by reference counting; but the many dicts
            # they allocate made CPython re-scan the heap again and again, which tripled the time
            # of a 60k-object import (bench/bench_import.py).
            with cyclic_gc_paused():
                yield writer
                writer.finish()
            self.conn.execute("COMMIT")
        except BaseException as exc:
            self.conn.execute("ROLLBACK")
            self._record_failed(cluster, source, started, exc)
            raise

    def _record_failed(self, cluster: str, source: str, started: str, exc: BaseException) -> None:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT OR IGNORE INTO clusters (name, created_at) VALUES (?, ?)", (cluster, started))
            self.conn.execute(
                "INSERT INTO snapshots (cluster, source, started_at, finished_at, status, message)"
                " VALUES (?, ?, ?, ?, 'failed', ?)",
                (cluster, source, started, utc_now(), f"{type(exc).__name__}: {exc}"[:2000]),
            )
            self.conn.execute("COMMIT")
        except sqlite3.Error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def prune(self, cluster: str, keep: int) -> list[int]:
        """Delete all but the newest `keep` complete snapshots of a cluster (and its failed ones)."""
        if keep < 1:
            raise StoreError("--keep must be at least 1")
        complete = [s.id for s in self.snapshots(cluster) if s.status == "complete"]
        doomed = complete[:-keep] + [s.id for s in self.snapshots(cluster) if s.status == "failed"]
        if not doomed:
            return []
        marks = ",".join("?" * len(doomed))
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for table in SNAPSHOT_TABLES:
                if table in self.db.table_names():
                    self.conn.execute(f"DELETE FROM {table} WHERE snapshot_id IN ({marks})", doomed)
            self.conn.execute(f"DELETE FROM snapshots WHERE id IN ({marks})", doomed)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return sorted(doomed)


@dataclass
class SnapshotWriter:
    """Collects one import's rows inside the store's open transaction."""

    conn: sqlite3.Connection
    snapshot_id: int
    cluster: str
    object_counts: Counter[str] = field(default_factory=Counter)
    skipped_counts: Counter[str] = field(default_factory=Counter)
    errors: list[ImportError_] = field(default_factory=list)
    incomplete_kinds: list[str] = field(default_factory=list)
    server_version: str | None = None
    platform: str | None = None

    def insert(self, table: str, rows: Iterable[dict[str, Any]]) -> int:
        """Insert rows (dicts without snapshot_id) into a snapshot table; returns the count.

        The first row's keys are the columns; dict/list cells become JSON text, booleans 0/1.
        """
        iterator = iter(rows)
        first = next(iterator, None)
        if first is None:
            return 0
        columns = list(first)
        return self.insert_values(
            table, columns, (sqlite_values(row, columns) for row in itertools.chain((first,), iterator))
        )

    def insert_values(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Insert rows already in `columns` order and SQLite-ready (see `sqlite_cell`); returns the count."""
        # snapshot_id is our own integer: a literal in the statement rather than one more value per row.
        sql = (
            f"INSERT OR REPLACE INTO {table} (snapshot_id, {', '.join(columns)}) "
            f"VALUES ({int(self.snapshot_id)}, {', '.join('?' * len(columns))})"
        )
        count = 0
        executemany = self.conn.executemany
        for batch in _batches(rows, 5000):
            executemany(sql, batch)
            count += len(batch)
        return count

    def count(self, kind: str, n: int = 1) -> None:
        self.object_counts[kind] += n

    def skip(self, kind: str, n: int = 1) -> None:
        self.skipped_counts[kind] += n

    def error(self, error: ImportError_) -> None:
        self.errors.append(error)

    def mark_incomplete(self, kind: str) -> None:
        if kind not in self.incomplete_kinds:
            self.incomplete_kinds.append(kind)

    def finish(self) -> None:
        self.insert(
            "import_errors",
            (
                {
                    "source": e.source,
                    "document": e.document,
                    "line": e.line,
                    "kind": e.kind,
                    "name": e.name,
                    "item": e.item,
                    "message": e.message,
                }
                for e in self.errors
            ),
        )
        self.conn.execute(
            """UPDATE snapshots SET finished_at = ?, object_counts = ?, skipped_counts = ?, error_count = ?,
                   incomplete_kinds = ?, server_version = ?, platform = ? WHERE id = ?""",
            (
                utc_now(),
                json.dumps(dict(sorted(self.object_counts.items()))),
                json.dumps(dict(sorted(self.skipped_counts.items()))),
                len(self.errors),
                json.dumps(self.incomplete_kinds),
                self.server_version,
                self.platform,
                self.snapshot_id,
            ),
        )


def sqlite_cell(value: Any) -> Any:
    """A row value as SQLite stores it: dict/list/tuple as compact JSON text, a bool as 0/1.

    sqlite3 would store a bool as 0/1 too, but only after a slow adapter lookup per value.
    """
    if isinstance(value, (dict, list, tuple)):
        return json_cell(value)
    if value is True:
        return 1
    if value is False:
        return 0
    return value


_STORED_AS_IS = frozenset({str, int, float, type(None)})


def sqlite_values(row: dict[str, Any], columns: Sequence[str]) -> list[Any]:
    """A row dict's values in `columns` order (None where a key is missing), as `sqlite_cell` makes them."""
    plain, cell = _STORED_AS_IS, sqlite_cell
    # One comprehension rather than a call per value: this runs for every cell of an import.
    return [value if type(value) in plain else cell(value) for value in map(row.get, columns)]


def json_cell(value: Any) -> str:
    """Compact JSON for a dict/list cell; orjson when installed (several times faster)."""
    if not value:  # most list cells of pods are empty (no hostPath, no added capabilities)
        return "{}" if isinstance(value, dict) else "[]"
    if _orjson is not None:
        try:
            return _orjson.dumps(value, option=_orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # e.g. an int beyond 64 bits: let the standard library decide
            pass
    return json.dumps(value, separators=(",", ":"))


def _batches(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    """Lists of `size` rows (itertools.batched needs Python 3.12)."""
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _create_private_file(path: str) -> None:
    """Create the DB file 0600 before SQLite does (SQLite gives WAL/SHM files the same mode)."""
    if os.path.exists(path):
        return
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    os.close(fd)


def _split_sql(sql: str) -> list[str]:
    return [statement.strip() for statement in sql.split(";") if statement.strip()]
