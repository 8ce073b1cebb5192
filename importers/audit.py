"""`rbacmap import audit`: stream audit logs into the cluster's usage tables.

Reads JSON lines (plain or gzip, files, directories, stdin) and whole JSON documents
(`EventList`, `aws logs filter-log-events` output, `gcloud logging read --format=json`
arrays). Memory stays flat: lines are parsed one at a time, requests are aggregated in
`UsageAggregator` (flushed to SQLite when it grows), and stage de-duplication keeps a
bounded window of audit IDs (see `StageDeduplicator`). Bad records are reported with file
and line (for an item of a document's list: the document's first line, and which item) and
skipped; the rest imports.

JSON lines of Kubernetes (and EKS export) events take the fast path in `audit_lines`; the
first line, whole documents, GKE entries and CloudWatch records go through `consume_records`.
"""

from __future__ import annotations

import functools
import gzip
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rbacmap.importers.audit_dedup import DEFAULT_DEDUP_WINDOW, StageDeduplicator
from rbacmap.importers.audit_earlier import EarlierImports, prune_counted, record_counted
from rbacmap.importers.audit_formats import BadRecord, detect_format, from_gke_entry, from_k8s_event
from rbacmap.importers.audit_lines import (
    EXPORT_TASK_LINE,
    JSON_ERRORS,
    LineReader,
    Normalizer,
    import_k8s_lines,
    json_error,
    loads,
)
from rbacmap.importers.audit_parallel import RangeJob, cut_points, import_ranges, worker_count
from rbacmap.importers.audit_spool import table_definitions
from rbacmap.importers.sources import expand_paths as expand_source_paths
from rbacmap.store import Store
from rbacmap.usage import (
    DEFAULT_FLUSH_KEYS,
    AuditImportError,
    Observation,
    UsageImport,
    UsageWindow,
    write_usage,
)

__all__ = ["FORMATS", "AuditFormatError", "AuditImportResult", "NothingReadError", "StageDeduplicator",
           "import_audit", "import_observations"]

FORMATS = ("auto", "k8s", "eks", "gke")


class AuditFormatError(ValueError):
    pass


class NothingReadError(Exception):
    """No audit record could be read from any input (all missing, unreadable, empty or bad); nothing was stored.

    As with `import files`: a typo'd path or a failed pipe is an error, not an import of no requests.
    """

    def __init__(self, inputs: Sequence[str], errors: Sequence[AuditImportError]) -> None:
        self.inputs = list(inputs)
        self.errors = list(errors)
        why = f"{len(self.errors)} error(s)" if self.errors else "no audit record in the input"
        super().__init__(f"nothing could be read from {', '.join(self.inputs)} ({why}): nothing was imported")


@dataclass(frozen=True)
class AuditImportResult:
    import_id: int
    cluster: str
    lines: int
    events: int
    requests: int
    errors: list[AuditImportError]
    window: UsageWindow
    already_imported: int = 0  # requests skipped: an earlier import of the cluster counted their auditID
    without_audit_id: int = 0  # requests counted without an auditID (importing them again counts them again)


# --- reading sources ---------------------------------------------------------------------


def expand_paths(paths: Sequence[str]) -> Iterator[Path | str]:
    """Files in order; directories walked recursively (sorted, hidden files skipped); '-' is stdin."""
    return expand_source_paths(paths, lambda path: not path.name.startswith("."))


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


def read_head(
    reader: LineReader, on_error: Callable[[int | None, str], None]
) -> tuple[Iterator[NumberedRecord], bool]:
    """Records of the source's first non-blank line, and whether JSON lines follow it in `reader`.

    A first line holding a whole JSON object starts JSON lines (its records may be a
    document: an EventList, filter-log-events output); so does a CloudWatch export-task
    line. Anything else is read whole as one (pretty-printed) JSON document, or failing
    that, split into lines.
    """
    first = b""
    for first in reader:
        if first.strip():
            break
    else:
        return iter(()), False
    first_number = reader.lines
    stripped = first.strip()
    if stripped.startswith(b"{"):
        try:
            parsed = loads(stripped)
        except JSON_ERRORS:
            parsed = None
        if isinstance(parsed, dict):
            return _document_records(parsed, first_number), True
    elif EXPORT_TASK_LINE.match(stripped):
        return _line_records([first], first_number - 1, on_error), True
    # A pretty-printed document (or a broken first line): read the rest and try the whole.
    rest = first + reader.read()
    try:
        document = loads(rest)
    except JSON_ERRORS:
        # Lazily, so errors are reported in line order with the records' own.
        return _line_records(iter(rest.splitlines()), first_number - 1, on_error), False
    return _document_records(document, first_number), False


def _line_records(
    lines: Iterable[bytes], offset: int, on_error: Callable[[int | None, str], None],
    reader: LineReader | None = None,
) -> Iterator[NumberedRecord]:
    """(line, record) per JSON line; `reader` given when the lines come from it (for exact error text)."""
    number = offset
    for line in lines:
        number += 1
        kept = line[:1] == b"{"  # parsed as read (with its b"\n" when it comes from a stream)
        if not kept:
            line = line.strip()
            if not line:
                continue
            match = EXPORT_TASK_LINE.match(line)
            if match:
                line = line[match.end():]
        try:
            yield number, loads(line)
        except JSON_ERRORS as exc:
            on_error(number, json_error(line) if reader and kept else f"JSON syntax error: {exc}")


@dataclass(frozen=True)
class ListedRecord:
    """One item of a list inside a JSON document: its errors say which, since the whole list shares one line."""

    place: str  # e.g. "item 3 of the EventList (.items[2])": the ordinal to count, the jq path to look
    record: Any


def _document_records(document: Any, line: int) -> Iterator[NumberedRecord]:
    """Records of one parsed JSON value: EventList items, filter-log-events events, array items."""
    if isinstance(document, list):
        items, list_name, path = document, "JSON array", "."
    elif isinstance(document, dict) and document.get("kind") == "EventList":
        items, list_name, path = document.get("items") or [], "EventList", ".items"
    elif isinstance(document, dict) and isinstance(document.get("events"), list) and "verb" not in document:
        items, list_name, path = document["events"], "CloudWatch events", ".events"
    else:
        yield line, document
        return
    for index, item in enumerate(items):
        yield line, ListedRecord(f"item {index + 1} of the {list_name} ({path}[{index}])", item)


def from_eks_record(record: Any) -> Observation:
    """A CloudWatch record (`message` holds the event JSON) or the bare event of an export line."""
    message = record.get("message") if isinstance(record, dict) else None
    if isinstance(message, str):
        try:
            record = loads(message)
        except JSON_ERRORS as exc:
            raise BadRecord(f"CloudWatch message is not JSON: {exc}") from None
    observation: Observation = from_k8s_event(record)
    return observation


NORMALIZERS: dict[str, Normalizer] = {"k8s": from_k8s_event, "eks": from_eks_record, "gke": from_gke_entry}


# --- importing ---------------------------------------------------------------------------


def consume_records(
    job: UsageImport, dedup: StageDeduplicator, name: str, records: Iterable[NumberedRecord], fmt: str,
    until_detected: bool = False,
) -> str:
    """Normalize records into the deduplicator (errors recorded with file and line); returns the format.

    With `fmt` "" the format is detected from the first record of a known format; with
    `until_detected`, consumption stops right after that record.
    """
    normalize = NORMALIZERS.get(fmt)
    add = dedup.add
    errors = job.errors
    for line, record in records:
        job.events += 1
        place = ""
        if type(record) is ListedRecord:
            place, record = f"{record.place}: ", record.record
        if normalize is None:
            detected = detect_format(record)
            if detected is None:
                errors.append(AuditImportError(name, line, f"{place}not an audit record of a known format "
                                                           "(k8s, eks, gke)"))
                continue
            fmt, normalize = detected, NORMALIZERS[detected]
            if until_detected:
                _add_record(add, normalize, errors, name, line, place, record)
                break
        _add_record(add, normalize, errors, name, line, place, record)
    return fmt


def _add_record(
    add: Callable[[Observation], None], normalize: Normalizer, errors: list[AuditImportError], name: str,
    line: int | None, place: str, record: Any,
) -> None:
    try:
        add(normalize(record))
    except BadRecord as exc:
        errors.append(AuditImportError(name, line, f"{place}{exc}"))


def import_source(
    job: UsageImport, dedup: StageDeduplicator, name: str, reader: LineReader, fmt: str,
    path: Path | None = None, workers: int | None = None,
) -> None:
    """One file or stream: its head through `consume_records`, its JSON lines through the hot loop.

    `path` is given when `reader` reads that plain file itself: then a large rest of JSON lines
    is counted by several processes (see `audit_parallel`; `workers` overrides how many).
    """
    on_error = functools.partial(job.error, name)
    head, lines_follow = read_head(reader, on_error)
    fmt = consume_records(job, dedup, name, head, fmt)
    if not lines_follow:
        return
    if not fmt:  # detect on the first usable line, then switch to the fast path
        fmt = consume_records(job, dedup, name, _line_records(reader, reader.lines, on_error, reader), fmt,
                              until_detected=True)
    if fmt in ("k8s", "eks"):
        if path is not None and _import_in_parallel(job, dedup, name, reader, fmt, path, workers):
            return
        import_k8s_lines(reader, reader.lines, job, dedup, name, NORMALIZERS[fmt], fmt == "eks")
    elif fmt:
        consume_records(job, dedup, name, _line_records(reader, reader.lines, on_error, reader), fmt)


def _import_in_parallel(
    job: UsageImport, dedup: StageDeduplicator, name: str, reader: LineReader, fmt: str, path: Path,
    workers: int | None,
) -> bool:
    """Count the rest of a plain file in worker processes when it is large enough; False: not done."""
    stream = reader.stream
    if not stream.seekable():
        return False
    start, end = stream.tell(), os.fstat(stream.fileno()).st_size
    count = worker_count(end - start, workers)
    store_path = job.aggregator.conn.execute("PRAGMA database_list").fetchone()[2]
    if count < 2 or (not store_path and dedup.earlier is not None and dedup.earlier.recorded):
        return False  # workers could not ask an in-memory store what earlier imports counted
    points = cut_points(stream, start, end, count)
    agg = job.aggregator
    with tempfile.TemporaryDirectory(prefix="rbacmap-audit-") as spools:
        range_job = RangeJob(str(path), name, NORMALIZERS[fmt], fmt == "eks", agg.flush_keys, dedup.window,
                             agg.cluster, table_definitions(agg.conn), Path(spools), store_path, dedup.earlier,
                             job.import_id)
        reader.lines += import_ranges(range_job, points, job, dedup, reader.lines)
    return True


def import_audit(
    store: Store,
    paths: Sequence[str],
    cluster: str,
    *,
    fmt: str = "auto",
    stdin: IO[bytes] | None = None,
    flush_keys: int = DEFAULT_FLUSH_KEYS,
    dedup_window: int = DEFAULT_DEDUP_WINDOW,
    workers: int | None = None,
) -> AuditImportResult:
    """Import audit log files into the usage tables of `cluster`, in one transaction.

    `workers`: processes for large plain files (default: one per CPU, at most 4; 1 = sequential).
    Raises NothingReadError (nothing stored) when no record could be read from any input.

    Requests an earlier import of the cluster counted are skipped: by auditID for 2 days behind the newest log
    imported, by the earlier import's window after that (see `audit_earlier`). So a second API server's log
    of the same time imported later than that is skipped, and an undated request is protected for 2 days only.
    """
    if fmt not in FORMATS:
        raise AuditFormatError(f"unknown audit format {fmt!r} (choose from {', '.join(FORMATS)})")
    with write_usage(store, cluster, "audit: " + ", ".join(paths), fmt, flush_keys) as job:
        dedup = _deduplicator(job, dedup_window)
        for source in expand_paths(paths):
            name = "<stdin>" if source == "-" else str(source)
            reader: LineReader | None = None
            try:
                with open_source(source, stdin) as stream:
                    reader = LineReader(stream)
                    plain_file = source if isinstance(source, Path) and not isinstance(stream, gzip.GzipFile) else None
                    import_source(job, dedup, name, reader, fmt if fmt != "auto" else "", plain_file, workers)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                where = reader.lines if reader is not None and reader.lines else None
                job.error(name, where, f"cannot read: {exc}")
            finally:
                job.lines += reader.lines if reader is not None else 0
        result = _finish(job, dedup)
        if not result.requests and not result.already_imported and (result.errors or not result.events):
            # Raised inside the transaction, which rolls back: no empty import is recorded.
            raise NothingReadError(["<stdin>" if given == "-" else given for given in paths], result.errors)
    return result


def import_observations(
    store: Store, cluster: str, source: str, fmt: str, records: Iterable[NumberedRecord],
    dedup_window: int = DEFAULT_DEDUP_WINDOW, flush_keys: int = DEFAULT_FLUSH_KEYS,
) -> AuditImportResult:
    """Import records (e.g. CloudWatch events, fetched as they are read) through the same path as files.

    An exception raised while reading `records` rolls the whole import back.
    """
    with write_usage(store, cluster, source, fmt, flush_keys) as job:
        dedup = _deduplicator(job, dedup_window)
        consume_records(job, dedup, source, records, fmt)
        job.lines = job.events
        result = _finish(job, dedup)
    return result


def _deduplicator(job: UsageImport, dedup_window: int) -> StageDeduplicator:
    """The import's stage de-duplication, which also skips (and records) what earlier imports counted."""
    agg = job.aggregator
    earlier = EarlierImports.load(agg.conn, agg.cluster)
    return StageDeduplicator(agg.add, dedup_window, earlier,
                             functools.partial(record_counted, agg.conn, agg.cluster, job.import_id))


def _finish(job: UsageImport, dedup: StageDeduplicator) -> AuditImportResult:
    """Count what still waits in `dedup` and prune the IDs of old imports, then the import's result (its rows
    are written as the transaction ends)."""
    dedup.close()
    job.already_imported, job.without_audit_id = dedup.already_imported, dedup.without_audit_id
    agg = job.aggregator
    prune_counted(agg.conn, agg.cluster, job.import_id, (agg.window_start, agg.window_end))
    return AuditImportResult(job.import_id, agg.cluster, job.lines, job.events, agg.requests, list(job.errors),
                             UsageWindow(agg.window_start, agg.window_end), job.already_imported,
                             job.without_audit_id)
