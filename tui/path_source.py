"""Where the TUI's escalation paths come from: the solver in a helper process, or in this one.

The solver can take seconds to tens of seconds on a big snapshot and is pure Python: run in
a thread it would hold the GIL and make every keystroke wait. `SolverProcess` runs it in one
long-lived, lower-priority child process (its in-memory solve cache survives between
questions) and hands back plain `PathView`s. `InProcessPaths` is for small DBs and tests; a
test can pass any object with the same `paths` method to stub the solver out.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from dataclasses import dataclass
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from rbacmap.model import Subject
from rbacmap.store import Store, StoreError
from rbacmap.tui.features import FeatureUnavailable, PathView, escalation_paths, paths_of_subject


@dataclass(frozen=True)
class PathQuery:
    """Paths of one subject, or of everyone to a target (in a namespace, '' for any)."""

    snapshot_id: int
    target: str = ""
    namespace: str = ""
    subject: Subject | None = None


class PathSource(Protocol):
    def paths(self, db_path: str, query: PathQuery) -> list[PathView]:
        """The paths answering the query; FeatureUnavailable with a sentence to show otherwise."""
        ...

    def close(self) -> None: ...


def solve_paths(db_path: str, query: PathQuery) -> list[PathView]:
    """Ask the solver (through tui/features.py) on a read-only connection."""
    store = Store.open_read_only(db_path)
    try:
        snapshot = store.snapshot(query.snapshot_id)
        found: list[PathView]
        if query.subject is not None:
            found = paths_of_subject(store, snapshot, query.subject)
        else:
            found = escalation_paths(store, snapshot, query.target, query.namespace)
        return found
    finally:
        store.close()


class InProcessPaths:
    """Solve in the calling worker thread (fine for small snapshots and tests)."""

    def paths(self, db_path: str, query: PathQuery) -> list[PathView]:
        return solve_paths(db_path, query)

    def close(self) -> None:
        return None


class SolverProcess:
    """One helper process, started on first use, answering one query at a time."""

    def __init__(self) -> None:
        # Start multiprocessing's resource tracker now: once textual has replaced sys.stderr,
        # starting it fails (it passes stderr's file descriptor on).
        resource_tracker.ensure_running()
        self._lock = threading.Lock()
        self._stop_lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def paths(self, db_path: str, query: PathQuery) -> list[PathView]:
        with self._lock:
            conn = self._connection()
            try:
                conn.send((db_path, query))
                ok, value = conn.recv()
            except (EOFError, OSError) as exc:
                self._stop()
                raise FeatureUnavailable("escalation solver stopped before answering") from exc
        if ok:
            return list(value)
        raise FeatureUnavailable(str(value))

    def _connection(self) -> Connection:
        if self._conn is None or self._process is None or not self._process.is_alive():
            # spawn, not fork: this process runs threads (textual, workers) that fork would copy mid-flight.
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe()
            self._process = context.Process(target=_serve, args=(theirs,), name="rbacmap-tui-solver", daemon=True)
            self._process.start()
            theirs.close()
            self._conn = ours
        return self._conn

    def _stop(self) -> None:
        # Called by close() (app quitting) while a worker may be waiting for an answer, and by
        # that worker when the pipe breaks: whoever comes first takes the process and the pipe.
        with self._stop_lock:
            process, conn = self._process, self._conn
            self._process, self._conn = None, None
        if process is not None and process.is_alive():
            process.terminate()
            process.join(timeout=2)
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """Stop the helper, even mid-solve (quitting must not wait for an answer nobody reads)."""
        self._stop()


def _serve(conn: Connection) -> None:
    """The helper process: answer queries until the app closes the pipe."""
    with contextlib.suppress(OSError):
        os.nice(10)  # the UI process keeps the CPU when both want it
    while True:
        try:
            db_path, query = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send((True, solve_paths(db_path, query)))
        except (FeatureUnavailable, StoreError) as exc:
            conn.send((False, str(exc)))
        except Exception as exc:  # the UI shows the failure instead of waiting forever
            conn.send((False, f"escalation solver failed: {type(exc).__name__}: {exc}"))
