"""Counting each audited request once, though the API server logs it at several stages."""

from __future__ import annotations

from collections.abc import Callable

from rbacmap.importers.audit_earlier import EarlierImports
from rbacmap.usage import Observation

DEFAULT_DEDUP_WINDOW = 20_000


class StageDeduplicator:
    """Passes each request to `sink` once, though the API server logs it at several stages.

    Stages of one request share an auditID and arrive close together. The final stage
    (ResponseComplete/Panic) is counted as soon as it is seen; an earlier stage waits in
    `pending` and is counted (as the fallback) only if no final stage follows. Bound: both
    the pending and the already-counted IDs are kept in two generations of at most `window`
    entries each, so a request's stages must arrive within `window` to 2*`window` other
    requests of each other. A watch whose ResponseComplete comes later than that is counted
    twice (a count only; the set of requests used, which trimming relies on, is exact).

    Across imports: a request that `earlier` imports counted is not passed on (it is counted in
    `already_imported`); every counted ID is handed to `record` (a generation at a time, as it is
    dropped, and all at `close`), which stores it for the imports to come.

    `audit_lines.import_k8s_lines` inlines `add` for speed and swaps the generations the
    same way; keep the two in step.
    """

    def __init__(
        self, sink: Callable[[Observation], None], window: int = DEFAULT_DEDUP_WINDOW,
        earlier: EarlierImports | None = None, record: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.sink = sink
        self.window = window
        self.counted_limit = window * 5
        self.pending: dict[str, Observation] = {}
        self.pending_old: dict[str, Observation] = {}
        self.counted: set[str] = set()
        self.counted_old: set[str] = set()
        self.earlier = earlier
        self.record = record
        self.already_imported = 0  # requests an earlier import counted
        self.without_audit_id = 0  # requests counted though nothing tells whether an earlier import did

    def add(self, observation: Observation) -> None:
        audit_id = observation.audit_id
        if not audit_id:
            self.without_audit_id += 1
            self.sink(observation)
            return
        if audit_id in self.counted or audit_id in self.counted_old:
            return
        if observation.final:
            if self.pending.pop(audit_id, None) is None:
                self.pending_old.pop(audit_id, None)
            self.mark_counted(audit_id)
            self.count(observation)
        elif audit_id not in self.pending and audit_id not in self.pending_old:
            self.pending[audit_id] = observation
            if len(self.pending) > self.window:
                self.retire_pending()

    def count(self, observation: Observation) -> None:
        """Pass a request (its ID marked counted) to the sink, unless an earlier import counted it."""
        earlier = self.earlier
        if earlier is not None and earlier.counted(observation.audit_id, observation.timestamp):
            self.already_imported += 1
        else:
            self.sink(observation)

    def mark_counted(self, audit_id: str) -> None:
        self.counted.add(audit_id)
        if len(self.counted) > self.counted_limit:
            self.rotate_counted()

    def rotate_counted(self) -> None:
        """Start a new generation of counted IDs; the oldest one is recorded, then forgotten."""
        if self.record is not None and self.counted_old:
            self.record(self.counted_old)
        self.counted_old = self.counted
        self.counted = set()

    def retire_pending(self) -> None:
        """Count the older generation of pending requests (no final stage came for them)."""
        for audit_id, observation in self.pending_old.items():
            self.mark_counted(audit_id)
            self.count(observation)
        self.pending_old = self.pending
        self.pending = {}

    def record_counted(self) -> None:
        """Record the counted IDs still held (once, when no request is left to count)."""
        if self.record is not None:
            self.record(self.counted_old)
            self.record(self.counted)
            self.record = None

    def close(self) -> None:
        """Count every request still waiting for its final stage, and record every counted ID."""
        self.retire_pending()
        self.retire_pending()
        self.record_counted()
