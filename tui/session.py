"""What the TUI reads, and how: pooled read-only connections and one in-memory index per snapshot.

Workers borrow a long-lived read-only connection (SQLite `mode=ro`: the TUI never writes the
DB) instead of opening a Store each time. The lists and lookups of a snapshot are built once,
from one `load_policy` (a handful of set-based queries), then every screen filters them in
memory. No textual imports: tests and benchmarks use this directly.
"""

from __future__ import annotations

import gc
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar, cast

from rbacmap.model import SERVICE_ACCOUNT, Binding, RoleKey, Subject
from rbacmap.permissions import SubjectBindingIndex, bindings_by_role
from rbacmap.policy import InMemoryPolicy, load_policy
from rbacmap.store import Snapshot, Store

T = TypeVar("T")

# Read connections kept open; more workers than this at once open a short-lived extra one.
POOL_SIZE = 4


@dataclass(frozen=True)
class SubjectRow:
    subject: Subject
    bindings: int

    @property
    def display_name(self) -> str:
        if self.subject.kind == SERVICE_ACCOUNT:
            return f"{self.subject.namespace}/{self.subject.name}"
        return self.subject.name

    @property
    def search_text(self) -> str:
        return f"{self.subject.kind} {self.subject.namespace}/{self.subject.name}".lower()


@dataclass(frozen=True)
class RoleRow:
    key: RoleKey
    rules: int
    bindings: int

    @property
    def search_text(self) -> str:
        return f"{self.key.kind} {self.key.namespace}/{self.key.name}".lower()


@dataclass(frozen=True)
class SnapshotData:
    """A snapshot's policy and the TUI's lists of it, built once and then only read."""

    snapshot: Snapshot
    policy: InMemoryPolicy
    subjects: tuple[SubjectRow, ...]
    roles: tuple[RoleRow, ...]
    role_bindings: dict[RoleKey, list[Binding]]
    subject_bindings: SubjectBindingIndex


def build_snapshot_data(store: Store, snapshot: Snapshot) -> SnapshotData:
    policy = load_policy(store, snapshot.id)
    bindings = list(policy.all_bindings())
    by_role = bindings_by_role(bindings)
    service_accounts = [
        Subject(SERVICE_ACCOUNT, row["name"], row["namespace"])
        for row in store.query("SELECT namespace, name FROM service_accounts WHERE snapshot_id = ?", [snapshot.id])
    ]
    return SnapshotData(snapshot, policy, _subject_rows(bindings, service_accounts), _role_rows(policy, by_role),
                        by_role, SubjectBindingIndex(bindings))


def _subject_rows(bindings: list[Binding], service_accounts: list[Subject]) -> tuple[SubjectRow, ...]:
    """Every subject a binding names (SA namespaces defaulted) and every ServiceAccount, with binding counts."""
    counts: Counter[Subject] = Counter()
    for binding in bindings:
        named: set[Subject] = set()
        for subject in binding.subjects:
            if subject.kind == SERVICE_ACCOUNT:
                namespace = subject.namespace or binding.key.namespace
                if not namespace:
                    continue  # a namespace-less SA in a ClusterRoleBinding never matches anyone
                named.add(Subject(SERVICE_ACCOUNT, subject.name, namespace))
            else:
                named.add(Subject(subject.kind, subject.name))
        counts.update(named)
    for account in service_accounts:
        counts.setdefault(account, 0)
    rows = [SubjectRow(subject, count) for subject, count in counts.items()]
    rows.sort(key=lambda row: (row.subject.kind, row.subject.namespace, row.subject.name))
    return tuple(rows)


def _role_rows(policy: InMemoryPolicy, by_role: dict[RoleKey, list[Binding]]) -> tuple[RoleRow, ...]:
    keys = sorted(policy.roles, key=lambda key: (key.kind, key.namespace, key.name))
    return tuple(RoleRow(key, len(policy.roles[key].rules), len(by_role.get(key, ()))) for key in keys)


def keep_out_of_full_collections() -> None:
    """Move every object alive now out of the cyclic GC's sight (`gc.freeze`).

    A snapshot's index is ~70k objects on 1000 namespaces, kept until the app ends. Each full
    collection walked all of them: 100-300 ms pauses on whichever key press happened to
    trigger one. Frozen objects are still freed by reference counting; only cycles among them
    would stay (the index holds none that die while the app runs).
    """
    gc.freeze()


class Session:
    """One DB opened read-only for the whole app: a connection pool and a cache per snapshot."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._pool: list[Store] = []
        self._pool_lock = threading.Lock()
        self._data_lock = threading.Lock()
        self._snapshots: dict[str | None, Snapshot] = {}
        self._data: dict[int, SnapshotData] = {}
        self._build_locks: dict[int, threading.Lock] = {}
        self._remembered: dict[Hashable, object] = {}
        self._closed = False

    @contextmanager
    def store(self) -> Iterator[Store]:
        """A read-only Store for the calling thread; it goes back to the pool afterwards."""
        with self._pool_lock:
            store = self._pool.pop() if self._pool else None
        if store is None:
            store = Store.open_read_only(self.db_path)
        try:
            yield store
        finally:
            with self._pool_lock:
                keep = not self._closed and len(self._pool) < POOL_SIZE
                if keep:
                    self._pool.append(store)
            if not keep:
                store.close()

    def snapshot(self, cluster: str | None) -> Snapshot:
        """The cluster's latest complete snapshot, chosen once: every screen shows the same one."""
        with self._data_lock:
            if cluster in self._snapshots:
                return self._snapshots[cluster]
        with self.store() as store:
            snapshot = store.latest_snapshot(cluster)
        with self._data_lock:
            self._snapshots.setdefault(cluster, snapshot)
            self._snapshots.setdefault(snapshot.cluster, snapshot)
            return self._snapshots[cluster]

    def data(self, cluster: str | None) -> SnapshotData:
        """The snapshot's lists and indexes; the first caller builds them, the others wait and share."""
        snapshot = self.snapshot(cluster)
        with self._data_lock:
            cached = self._data.get(snapshot.id)
        if cached is not None:
            return cached
        with self._build_lock(snapshot.id), self.store() as store:
            if snapshot.id not in self._data:
                built = build_snapshot_data(store, snapshot)
                with self._data_lock:
                    self._data[snapshot.id] = built
                keep_out_of_full_collections()
            return self._data[snapshot.id]

    def remember(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`'s value, kept for the session under `key` (keys name their snapshot).

        For analyses a screen repeats (audit usage per role): the DB is read-only and the
        snapshot fixed, so an answer stays right. Exceptions are not kept.
        """
        with self._data_lock:
            if key in self._remembered:
                return cast(T, self._remembered[key])
        value = compute()  # outside the lock: two callers may both compute; the first is kept
        with self._data_lock:
            return cast(T, self._remembered.setdefault(key, value))

    def cached(self, cluster: str | None) -> SnapshotData | None:
        """The snapshot's data if already built (never blocks: the UI thread may ask)."""
        with self._data_lock:
            snapshot = self._snapshots.get(cluster)
            return self._data.get(snapshot.id) if snapshot is not None else None

    def _build_lock(self, snapshot_id: int) -> threading.Lock:
        with self._data_lock:
            return self._build_locks.setdefault(snapshot_id, threading.Lock())

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
            pool, self._pool = self._pool, []
        for store in pool:
            store.close()

