"""`rbacmap import audit`: stream audit logs into the cluster's usage tables.

Reads JSON lines (plain or gzip, files, directories, stdin) and whole JSON documents
(`EventList`, `aws logs filter-log-events` output, `gcloud logging read --format=json`
arrays). Memory stays flat: lines are parsed one at a time, requests are aggregated in
`UsageAggregator` (flushed to SQLite when it grows), and stage de-duplication keeps a
bounded window of audit IDs (see `StageDeduplicator`). Bad records are reported with file
and line and skipped; the rest imports.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from rbacmap.importers.audit_formats import BadRecord, detect_format, from_gke_entry, from_k8s_event

from rbacmap.store import Store
from rbacmap.usage import (
    DEFAULT_FLUSH_KEYS,
    AuditImportError,
    Observation,
    UsageImport,
    UsageWindow,
    write_usage,
)

try:
    import orjson

    _loads: Callable[[bytes | str], Any] = orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is an optional speed-up
    _loads = json.loads
    _JSON_ERRORS = (ValueError,)

FORMATS = ("auto", "k8s", "eks", "gke")
# CloudWatch export tasks write `TIMESTAMP MESSAGE` per line.
_EXPORT_TASK_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\S+ (?=\{)")
DEFAULT_DEDUP_WINDOW = 20_000

Normalizer = Callable[[Any], Observation]


class AuditFormatError(ValueError):
    pass


@dataclass(frozen=True)
class AuditImportResult:
    import_id: int
    cluster: str
    lines: int
    events: int
    requests: int
    errors: list[AuditImportError]
    window: UsageWindow


class StageDeduplicator:
    """Passes each request to `sink` once, though the API server logs it at several stages.

    Stages of one request share an auditID and arrive close together. The final stage
    (ResponseComplete/Panic) is counted as soon as it is seen; an earlier stage waits in
    `pending` and is counted (as the fallback) only if no final stage follows. Bound: both
    the pending and the already-counted IDs are kept in two generations of at most `window`
    entries each, so a request's stages must arrive within `window` to 2*`window` other
    requests of each other. A watch whose ResponseComplete comes later than that is counted
    twice (a count only; the set of requests used, which trimming relies on, is exact).
    """

    def __init__(self, sink: Callable[[Observation], None], window: int = DEFAULT_DEDUP_WINDOW) -> None:
        self.sink = sink
        self.window = window
        self.pending: dict[str, Observation] = {}
        self.pending_old: dict[str, Observation] = {}
        self.counted: set[str] = set()
        self.counted_old: set[str] = set()

    def add(self, observation: Observation) -> None:
        audit_id = observation.audit_id
        if not audit_id:
            self.sink(observation)
            return
        if audit_id in self.counted or audit_id in self.counted_old:
            return
        if observation.final:
            if self.pending.pop(audit_id, None) is None:
                self.pending_old.pop(audit_id, None)
            self._mark_counted(audit_id)
            self.sink(observation)
        elif audit_id not in self.pending and audit_id not in self.pending_old:
            self.pending[audit_id] = observation
            if len(self.pending) > self.window:
                self._retire_pending()

    def _mark_counted(self, audit_id: str) -> None:
        self.counted.add(audit_id)
        if len(self.counted) > self.window * 5:
            self.counted_old = self.counted
            self.counted = set()

    def _retire_pending(self) -> None:
        for audit_id, observation in self.pending_old.items():
            self._mark_counted(audit_id)
            self.sink(observation)
        self.pending_old = self.pending
        self.pending = {}

    def close(self) -> None:
        """Count every request still waiting for its final stage."""
        self._retire_pending()
        self._retire_pending()


# --- reading sources ---------------------------------------------------------------------


def expand_paths(paths: Sequence[str]) -> Iterator[Path | str]:
    """Files in order; directories walked recursively (sorted, hidden files skipped); '-' is stdin."""
    for raw in paths:
        if raw == "-":
            yield "-"
            continue
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        else:
            yield path


@contextmanager
def open_source(source: Path | str, stdin: IO[bytes] | None = None) -> Iterator[IO[bytes]]:
    """A binary stream, gunzipped when the data starts with the gzip magic; files are closed after."""
    raw: IO[bytes] = (stdin or sys.stdin.buffer) if source == "-" else open(source, "rb")  # noqa: SIM115
    try:
        peek = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
        if not peek and hasattr(raw, "seekable") and raw.seekable():
            peek = raw.read(2)
            raw.seek(0)
        if peek == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped  # type: ignore[misc]
        else:
            yield raw
    finally:
        if source != "-":
            raw.close()


NumberedRecord = tuple[int | None, Any]


class LineSource(Protocol):
    def __iter__(self) -> Iterator[bytes]: ...

    def read(self) -> bytes: ...


def iter_records(
    name: str, stream: LineSource, on_error: Callable[[int | None, str], None]
) -> Iterator[NumberedRecord]:
    """(line, parsed record) for JSON lines; a whole JSON document is split into its records."""
    first_number, first = 0, b""
    for first_number, first in enumerate(stream, start=1):  # noqa: B007 - we keep the first non-blank line
        if first.strip():
            break
    else:
        return
    stripped = first.strip()
    if stripped.startswith(b"{"):
        try:
            parsed = _loads(stripped)
        except _JSON_ERRORS:
            parsed = None
        if isinstance(parsed, dict):
            yield from _document_records(parsed, first_number)
            yield from _line_records(stream, first_number, on_error)
            return
    elif _EXPORT_TASK_LINE.match(stripped):
        yield from _line_records(_chain([first], stream), first_number - 1, on_error)
        return
    # A pretty-printed document (or a broken first line): read the rest and try the whole.
    rest = first + stream.read()
    try:
        document = _loads(rest)
    except _JSON_ERRORS:
        yield from _line_records(iter(rest.splitlines()), first_number - 1, on_error)
        return
    yield from _document_records(document, first_number)


def _chain(head: list[bytes], tail: Iterable[bytes]) -> Iterator[bytes]:
    yield from head
    yield from tail


def _line_records(
    lines: Iterable[bytes], offset: int, on_error: Callable[[int | None, str], None]
) -> Iterator[NumberedRecord]:
    number = offset
    for line in lines:
        number += 1
        if line[:1] != b"{":
            line = line.strip()
            if not line:
                continue
            match = _EXPORT_TASK_LINE.match(line)
            if match:
                line = line[match.end():]
        try:
            yield number, _loads(line)
        except _JSON_ERRORS as exc:
            on_error(number, f"JSON syntax error: {exc}")


def _document_records(document: Any, line: int) -> Iterator[NumberedRecord]:
    """Records of one parsed JSON value: EventList items, filter-log-events events, array items."""
    if isinstance(document, list):
        for item in document:
            yield line, item
    elif isinstance(document, dict) and document.get("kind") == "EventList":
        for item in document.get("items") or []:
            yield line, item
    elif isinstance(document, dict) and isinstance(document.get("events"), list) and "verb" not in document:
        for item in document["events"]:
            yield line, item
    else:
        yield line, document


def from_eks_record(record: Any) -> Observation:
    """A CloudWatch record (`message` holds the event JSON) or the bare event of an export line."""
    message = record.get("message") if isinstance(record, dict) else None
    if isinstance(message, str):
        try:
            record = _loads(message)
        except _JSON_ERRORS as exc:
            raise BadRecord(f"CloudWatch message is not JSON: {exc}") from None
    observation: Observation = from_k8s_event(record)
    return observation


NORMALIZERS: dict[str, Normalizer] = {"k8s": from_k8s_event, "eks": from_eks_record, "gke": from_gke_entry}


# --- importing ---------------------------------------------------------------------------


def consume_records(
    job: UsageImport, dedup: StageDeduplicator, name: str, records: Iterable[NumberedRecord], fmt: str
) -> None:
    """Normalize records of one source into the deduplicator; errors are recorded with file and line."""
    normalize = NORMALIZERS.get(fmt)
    add = dedup.add
    errors = job.errors
    events = 0
    for line, record in records:
        events += 1
        if normalize is None:
            detected = detect_format(record)
            if detected is None:
                errors.append(AuditImportError(name, line, "not an audit record of a known format (k8s, eks, gke)"))
                continue
            normalize = NORMALIZERS[detected]
        try:
            add(normalize(record))
        except BadRecord as exc:
            errors.append(AuditImportError(name, line, str(exc)))
    job.events += events


def import_audit(
    store: Store,
    paths: Sequence[str],
    cluster: str,
    *,
    fmt: str = "auto",
    stdin: IO[bytes] | None = None,
    flush_keys: int = DEFAULT_FLUSH_KEYS,
    dedup_window: int = DEFAULT_DEDUP_WINDOW,
) -> AuditImportResult:
    """Import audit log files into the usage tables of `cluster`, in one transaction."""
    if fmt not in FORMATS:
        raise AuditFormatError(f"unknown audit format {fmt!r} (choose from {', '.join(FORMATS)})")
    with write_usage(store, cluster, "audit: " + ", ".join(paths), fmt, flush_keys) as job:
        dedup = StageDeduplicator(job.aggregator.add, dedup_window)
        for source in expand_paths(paths):
            name = "<stdin>" if source == "-" else str(source)
            counter: _LineCounter | None = None
            try:
                with open_source(source, stdin) as stream:
                    counter = _LineCounter(stream)
                    records = iter_records(name, counter, functools.partial(job.error, name))
                    consume_records(job, dedup, name, records, fmt if fmt != "auto" else "")
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                where = counter.lines if counter is not None and counter.lines else None
                job.error(name, where, f"cannot read: {exc}")
            finally:
                job.lines += counter.lines if counter is not None else 0
        dedup.close()
        import_id = job.import_id
        result_counts = (job.lines, job.events, job.aggregator.requests, list(job.errors))
        window = UsageWindow(job.aggregator.window_start, job.aggregator.window_end)
    return AuditImportResult(import_id, cluster, *result_counts, window)


def import_observations(
    store: Store, cluster: str, source: str, fmt: str, records: Iterable[NumberedRecord],
    dedup_window: int = DEFAULT_DEDUP_WINDOW,
) -> AuditImportResult:
    """Import already-fetched records (e.g. CloudWatch events) through the same path as files."""
    with write_usage(store, cluster, source, fmt) as job:
        dedup = StageDeduplicator(job.aggregator.add, dedup_window)
        consume_records(job, dedup, source, records, fmt)
        dedup.close()
        job.lines = job.events
        import_id = job.import_id
        result_counts = (job.lines, job.events, job.aggregator.requests, list(job.errors))
        window = UsageWindow(job.aggregator.window_start, job.aggregator.window_end)
    return AuditImportResult(import_id, cluster, *result_counts, window)


class _LineCounter:
    """Wraps a binary stream and counts the lines read through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.lines = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.lines += 1
            yield line

    def read(self) -> bytes:
        data = self.stream.read()
        self.lines += data.count(b"\n")
        return data
