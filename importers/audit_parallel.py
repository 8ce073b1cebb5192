"""Large JSON-lines audit files counted by several processes, each over its own byte range.

Decoding and counting cost several times the reading, so a big plain file (not gzip, not
stdin) is cut at line boundaries into one range per worker. Each worker is a forked process
running the same hot loop (`audit_lines.import_k8s_lines`) into its own aggregate, flushed
(every `flush_keys` entries, so memory stays flat) into a private spool file; the parent
alone writes the store, merging each spool in SQL inside the import's one transaction
(see `audit_spool`).

Stage de-duplication across ranges: a worker does not count the requests still waiting for
their final stage when its range ends; it returns them with the audit IDs it counted, and
the parent counts each of those only if no worker counted that ID (so a RequestReceived at
the end of one range and its ResponseComplete at the start of the next is one request). As
with the sequential deduplicator's window, a request logged twice at its final stage on both
sides of a cut is counted twice: counts can be off by that, the set of requests used is exact.

Across imports: each worker asks the store (read-only, its own connection: the parent's
transaction hides nothing committed before it) whether an earlier import counted a request,
and spools the auditIDs it counts; the parent merges them into `audit_request_ids`.

Line numbers in errors are made absolute from the workers' line counts, so messages are the
same as a sequential import's. Any worker failure fails the import (nothing is stored).
"""

from __future__ import annotations

import functools
import io
import multiprocessing
import os
import queue as queue_module
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from rbacmap.importers.audit_dedup import StageDeduplicator
from rbacmap.importers.audit_earlier import EarlierImports, record_counted
from rbacmap.importers.audit_lines import LineReader, Normalizer, import_k8s_lines
from rbacmap.importers.audit_spool import SpoolingAggregator, merge_spool, open_spool
from rbacmap.usage import AuditImportError, Observation, UsageImport

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
    spool: Path | None = None  # its flushed usage, merged by the parent
    requests: int = 0
    window_start: str | None = None
    window_end: str | None = None
    already_imported: int = 0
    without_audit_id: int = 0


@dataclass(frozen=True)
class RangeJob:
    path: str
    name: str
    normalize: Normalizer
    cloudwatch_records: bool
    flush_keys: int
    dedup_window: int
    cluster: str
    table_definitions: list[str]  # the store's, for the spools
    spool_folder: Path
    store_path: str  # workers look up what earlier imports counted through connections of their own
    earlier: EarlierImports | None
    import_id: int  # the import the IDs counted are recorded for


class _RangeDeduplicator(StageDeduplicator):
    """A worker's deduplicator that also keeps the first generation of counted IDs, which rotation drops.

    The final stages of the requests waiting at the end of the previous range come first in this
    range; without these IDs a range of more than two generations of requests would not return
    them, and the parent would count those requests again (once per stage).
    """

    first_counted: set[str] | None = None

    @property
    def counted_old(self) -> set[str]:
        return self._counted_old

    @counted_old.setter
    def counted_old(self, value: set[str]) -> None:
        if self.first_counted is None and value:  # the hot loop and mark_counted both rotate by assigning
            self.first_counted = value
        self._counted_old = value


def _run_worker(job: RangeJob, start: int, end: int, index: int, channel: Any) -> None:
    try:
        spool = job.spool_folder / f"worker-{index}.db"
        aggregator = SpoolingAggregator(open_spool(spool, job.table_definitions), job.cluster, job.flush_keys)
        usage_import = UsageImport(aggregator, 0)
        earlier = job.earlier
        if earlier is not None and earlier.recorded:  # it asks the store for IDs (pruned windows are at hand)
            earlier = earlier.reopened(job.store_path)
        # The IDs it counts go to its spool, with its usage; the parent merges both.
        dedup = _RangeDeduplicator(aggregator.add, job.dedup_window, earlier,
                                   functools.partial(record_counted, aggregator.conn, job.cluster, job.import_id))
        with io.BufferedReader(ByteRange(job.path, start, end), buffer_size=1 << 16) as stream:
            reader = LineReader(stream)
            try:
                import_k8s_lines(reader, 0, usage_import, dedup, job.name, job.normalize, job.cloudwatch_records)
            except OSError as exc:
                usage_import.error(job.name, reader.lines or None, f"cannot read: {exc}")
        waiting = [*dedup.pending_old.values(), *dedup.pending.values()]
        counted = dedup.counted | dedup.counted_old | (dedup.first_counted or set())
        dedup.record_counted()
        aggregator.finish()
        outcome = WorkerOutcome(reader.lines, usage_import.events, usage_import.errors, waiting, counted, spool,
                                aggregator.requests, aggregator.window_start, aggregator.window_end,
                                dedup.already_imported, dedup.without_audit_id)
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
    aggregator = usage_import.aggregator
    workers = [
        context.Process(target=_run_worker, args=(job, start, end, index, channel), daemon=True)
        for index, (start, end) in enumerate(zip(points, points[1:], strict=False))
    ]
    for worker in workers:
        worker.start()
    outcomes: dict[int, WorkerOutcome] = {}
    try:
        while len(outcomes) < len(workers):
            message = _next_message(channel, workers, outcomes)
            if message[0] == "done":
                outcome: WorkerOutcome = message[2]
                outcomes[message[1]] = outcome
                if outcome.spool is not None:  # merged as each worker ends, while the others still run
                    merge_spool(usage_import, outcome.spool)
                aggregator.add_flushed(outcome.requests, outcome.window_start, outcome.window_end)
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
        dedup.already_imported += outcome.already_imported
        dedup.without_audit_id += outcome.without_audit_id
        usage_import.errors.extend(
            replace(error, line=None if error.line is None else error.line + offset) for error in outcome.errors
        )
        offset += outcome.lines
        for observation in outcome.waiting:
            if observation.audit_id not in counted:
                dedup.add(observation)  # counted once at close unless its final stage comes later

