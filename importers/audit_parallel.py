"""Large JSON-lines audit files counted by several processes, each over its own byte range.

Decoding and counting cost several times the reading, so a big plain file (not gzip, not
stdin) is cut at line boundaries into one range per worker. Each worker is a forked process
running the same hot loop (`audit_lines.import_k8s_lines`) into its own in-memory aggregate;
whenever that grows to `flush_keys` entries it is sent to the parent, which alone writes to
SQLite, inside the import's one transaction. Memory stays flat per process.

Stage de-duplication across ranges: a worker does not count the requests still waiting for
their final stage when its range ends; it returns them with the audit IDs it counted, and
the parent counts each of those only if no worker counted that ID (so a RequestReceived at
the end of one range and its ResponseComplete at the start of the next is one request). As
with the sequential deduplicator's window, a request logged twice at its final stage on both
sides of a cut is counted twice: counts can be off by that, the set of requests used is exact.

Line numbers in errors are made absolute from the workers' line counts, so messages are the
same as a sequential import's. Any worker failure fails the import (nothing is stored).
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue as queue_module
import traceback
from dataclasses import dataclass, field, replace
from typing import IO, Any

from rbacmap.importers.audit_dedup import StageDeduplicator
from rbacmap.importers.audit_lines import LineReader, Normalizer, import_k8s_lines
from rbacmap.usage import AuditImportError, Observation, UsageAggregator, UsageImport, merge_entry

PARALLEL_MIN_BYTES = 32 << 20  # below this, starting processes costs more than it saves
MAX_WORKERS = 4
WORKERS_ENV = "RBACMAP_AUDIT_WORKERS"  # 1 turns parallel import off
_POLL_SECONDS = 0.5


def worker_count(remaining_bytes: int, requested: int | None = None) -> int:
    """How many processes to use for `remaining_bytes` of JSON lines (1: stay sequential)."""
    if requested is None:
        from_env = os.environ.get(WORKERS_ENV, "")
        requested = int(from_env) if from_env.isdigit() else None
    if requested is not None:
        wanted = max(1, requested)
    else:
        wanted = min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else
                     (os.cpu_count() or 1))
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1  # workers inherit the parsed state and the normalizers by fork
    return max(1, min(wanted, remaining_bytes // max(PARALLEL_MIN_BYTES, 1)))


def cut_points(stream: IO[bytes], start: int, end: int, parts: int) -> list[int]:
    """`parts` + 1 offsets from `start` to `end`, each inner one at the start of a line."""
    points = [start]
    for index in range(1, parts):
        guess = max(start + (end - start) * index // parts, points[-1])
        stream.seek(guess)
        if guess > start:
            stream.readline()  # to the end of the line the guess falls in
        points.append(min(stream.tell(), end))
    points.append(end)
    return points


class ByteRange(io.RawIOBase):
    """Bytes `start`..`end` of a file, as a raw stream (buffered by the caller)."""

    def __init__(self, path: str, start: int, end: int) -> None:
        super().__init__()
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self._file.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: self._left]
        count = self._file.readinto(view) or 0
        self._left -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


@dataclass
class WorkerOutcome:
    """What a worker hands back when its range is done."""

    lines: int = 0
    events: int = 0
    errors: list[AuditImportError] = field(default_factory=list)
    waiting: list[Observation] = field(default_factory=list)  # earlier stages with no final stage seen
    counted: set[str] = field(default_factory=set)  # audit IDs it counted


class ForwardingAggregator(UsageAggregator):
    """A worker's aggregate: each flush sends the entries to the parent instead of writing them."""

    def __init__(self, channel: Any, flush_keys: int) -> None:
        super().__init__(None, "", flush_keys)  # type: ignore[arg-type]  # never touches SQLite
        self._channel = channel

    def flush(self) -> None:
        # Copies go out (the queue pickles them later, in its feeder thread); the dicts themselves are
        # emptied in place, as the hot loop holds them. Their entry lists are not reused after clear().
        if self.usage or self.impersonations:
            self._channel.put(("usage", dict(self.usage), dict(self.impersonations)))
        self.usage.clear()
        self.impersonations.clear()


@dataclass(frozen=True)
class RangeJob:
    path: str
    name: str
    normalize: Normalizer
    cloudwatch_records: bool
    flush_keys: int
    dedup_window: int


def _run_worker(job: RangeJob, start: int, end: int, index: int, channel: Any) -> None:
    try:
        aggregator = ForwardingAggregator(channel, job.flush_keys)
        usage_import = UsageImport(aggregator, 0)
        dedup = StageDeduplicator(aggregator.add, job.dedup_window)
        with io.BufferedReader(ByteRange(job.path, start, end), buffer_size=1 << 16) as stream:
            reader = LineReader(stream)
            try:
                import_k8s_lines(reader, 0, usage_import, dedup, job.name, job.normalize, job.cloudwatch_records)
            except OSError as exc:
                usage_import.error(job.name, reader.lines or None, f"cannot read: {exc}")
        aggregator.flush()
        waiting = [*dedup.pending_old.values(), *dedup.pending.values()]
        outcome = WorkerOutcome(reader.lines, usage_import.events, usage_import.errors, waiting,
                                dedup.counted | dedup.counted_old)
        channel.put(("done", index, outcome))
    except BaseException:  # the parent must hear of any failure, or it would wait forever
        channel.put(("failed", index, traceback.format_exc()))


class ParallelImportError(RuntimeError):
    pass


def import_ranges(
    job: RangeJob, points: list[int], usage_import: UsageImport, dedup: StageDeduplicator, first_line: int
) -> int:
    """Count the lines between consecutive `points` in forked workers, merged into `usage_import`.

    `first_line` is the number of lines before points[0] (for absolute error line numbers);
    `dedup` holds what was read before (the file's head) and receives the waiting requests.
    Returns the number of lines the workers read.
    """
    context = multiprocessing.get_context("fork")
    channel = context.Queue()
    workers = [
        context.Process(target=_run_worker, args=(job, start, end, index, channel), daemon=True)
        for index, (start, end) in enumerate(zip(points, points[1:], strict=False))
    ]
    for worker in workers:
        worker.start()
    outcomes: dict[int, WorkerOutcome] = {}
    aggregator = usage_import.aggregator
    try:
        while len(outcomes) < len(workers):
            message = _next_message(channel, workers, outcomes)
            if message[0] == "usage":
                _merge_into(aggregator, message[1], message[2])
            elif message[0] == "done":
                outcomes[message[1]] = message[2]
            else:
                raise ParallelImportError(f"audit import worker {message[1]} failed:\n{message[2]}")
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
            worker.join()
    _merge_outcomes([outcomes[i] for i in range(len(workers))], usage_import, dedup, first_line)
    return sum(outcome.lines for outcome in outcomes.values())


def _next_message(channel: Any, workers: list[Any], outcomes: dict[int, WorkerOutcome]) -> tuple[Any, ...]:
    while True:
        try:
            message: tuple[Any, ...] = channel.get(timeout=_POLL_SECONDS)
            return message
        except queue_module.Empty:
            for index, worker in enumerate(workers):
                if index not in outcomes and not worker.is_alive() and worker.exitcode not in (0, None):
                    raise ParallelImportError(
                        f"audit import worker {index} died (exit code {worker.exitcode})") from None


def _merge_into(aggregator: UsageAggregator, usage: dict[Any, list[Any]],
                impersonations: dict[Any, list[Any]]) -> None:
    """A worker's partial aggregate into the parent's, flushed to SQLite when it is full."""
    _add_entries(aggregator.usage, usage)
    _add_entries(aggregator.impersonations, impersonations)
    if len(aggregator.usage) >= aggregator.flush_keys:
        aggregator.flush()


def _add_entries(into: dict[Any, list[Any]], entries: dict[Any, list[Any]]) -> None:
    if not into:
        into.update(entries)
        return
    for key, entry in entries.items():
        merge_entry(into, key, entry)


def _merge_outcomes(
    outcomes: list[WorkerOutcome], usage_import: UsageImport, dedup: StageDeduplicator, first_line: int
) -> None:
    counted: set[str] = set().union(*(outcome.counted for outcome in outcomes))
    for audit_id in [i for i in (*dedup.pending, *dedup.pending_old) if i in counted]:
        dedup.pending.pop(audit_id, None)  # the head's earlier stage whose final stage a worker counted
        dedup.pending_old.pop(audit_id, None)
    offset = first_line
    for outcome in outcomes:
        usage_import.events += outcome.events
        usage_import.errors.extend(
            replace(error, line=None if error.line is None else error.line + offset) for error in outcome.errors
        )
        offset += outcome.lines
        for observation in outcome.waiting:
            if observation.audit_id not in counted:
                dedup.add(observation)  # counted once at close unless its final stage comes later

