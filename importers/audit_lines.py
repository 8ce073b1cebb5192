"""The hot path of `import audit`: JSON lines read in large chunks, Kubernetes events counted inline.

A million-event log spends most of its time here, so `import_k8s_lines` is one flat loop
with everything bound to locals: it parses each line with orjson, pulls the request's
attributes out exactly as `audit_formats.from_k8s_event` does, and inlines the final-stage
case of `StageDeduplicator.add` and `UsageAggregator.add`. Anything unusual (a record that
is not a well-formed event, an earlier stage, a missing auditID, an EKS CloudWatch record)
goes through those reference functions instead, so results and error messages are
identical to the plain path; `tests/audit/test_hot_loop.py` checks that they agree.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

from rbacmap.importers.audit_dedup import StageDeduplicator
from rbacmap.importers.audit_formats import DECISION_ANNOTATION, FINAL_STAGES, BadRecord
from rbacmap.usage import AuditImportError, Observation, UsageImport

try:
    import orjson

    loads: Callable[[bytes | str], Any] = orjson.loads
    JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is an optional speed-up
    loads = json.loads
    JSON_ERRORS = (ValueError,)

# CloudWatch export tasks write `TIMESTAMP MESSAGE` per line.
EXPORT_TASK_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\S+ (?=\{)")
CHUNK_BYTES = 1 << 20  # lines are split out of 1 MiB reads: far fewer Python-level calls than readline

Normalizer = Callable[[Any], Observation]


class LineReader:
    """A binary stream as lines (without their b"\\n"), read in large chunks, counting the lines handed out.

    `lines` counts like iterating the stream would (an unterminated last line counts), so
    error positions and the import's line total match a plain `for line in stream`. Chunks
    come from `read1` where the stream has it, so a stream that breaks off (a truncated
    .gz) still yields every complete line before the error, as line iteration would.
    """

    def __init__(self, stream: IO[bytes], chunk_bytes: int = CHUNK_BYTES) -> None:
        self._read: Callable[[int], bytes] = getattr(stream, "read1", stream.read)
        self._read_all = stream.read
        self._chunk_bytes = chunk_bytes
        self._partial: list[bytes] = []  # pieces of a line whose b"\n" has not been read yet
        self._batch: list[bytes] = []  # lines read but not handed out yet: _batch[_next:]
        self._next = 0
        self._eof = False
        self.lines = 0
        self.unterminated_line = 0  # number of the last line when it has no b"\n" (0: none)

    def _fill(self) -> bool:
        """Read until at least one whole line is buffered; False at the end of the stream."""
        read, size, partial = self._read, self._chunk_bytes, self._partial
        while not self._eof:
            chunk = read(size)
            if not chunk:
                self._eof = True
                if partial:
                    self._batch, self._next = [b"".join(partial)], 0
                    partial.clear()
                    self.unterminated_line = self.lines + 1
                    return True
                return False
            cut = chunk.rfind(b"\n")
            if cut < 0:
                partial.append(chunk)
                continue
            head = chunk[:cut]
            if partial:
                partial.append(head)
                head = b"".join(partial)
                partial.clear()
            if cut + 1 < len(chunk):
                partial.append(chunk[cut + 1 :])
            self._batch, self._next = head.split(b"\n"), 0
            return True
        return False

    def batches(self) -> Iterator[list[bytes]]:
        """The remaining lines, a chunk's worth at a time (counted as each list is handed out)."""
        while self._next < len(self._batch) or self._fill():
            batch = self._batch[self._next :] if self._next else self._batch
            self._batch, self._next = [], 0
            self.lines += len(batch)
            yield batch

    def __iter__(self) -> Iterator[bytes]:
        while self._next < len(self._batch) or self._fill():
            line = self._batch[self._next]
            self._next += 1
            self.lines += 1
            yield line

    def terminated(self, number: int) -> bytes:
        """The b"\\n" that line `number` ended with, as line iteration would have kept it."""
        return b"" if number == self.unterminated_line else b"\n"

    def read(self) -> bytes:
        """Everything not handed out yet, as raw bytes (lines counted by their b"\\n", like `stream.read`)."""
        rest = self._batch[self._next :]
        self._batch, self._next = [], 0
        pieces = [line + self.terminated(self.lines + index) for index, line in enumerate(rest, start=1)]
        pieces.extend(self._partial)
        self._partial.clear()
        if not self._eof:
            pieces.append(self._read_all())
            self._eof = True
        data = b"".join(pieces)
        self.lines += data.count(b"\n")
        return data


def json_error(line: bytes, reader: LineReader, number: int) -> str:
    """orjson's message for a bad line that starts with `{`, as line iteration would have kept it (with b"\\n")."""
    try:
        loads(line + reader.terminated(number))
    except JSON_ERRORS as exc:
        return f"JSON syntax error: {exc}"
    return "JSON syntax error"  # pragma: no cover - the line failed to parse a moment ago


def import_k8s_lines(
    reader: LineReader, number: int, job: UsageImport, dedup: StageDeduplicator, name: str,
    normalize: Normalizer, cloudwatch_records: bool,
) -> None:
    """Count the Kubernetes audit events of the reader's remaining lines (after line `number`).

    `normalize` is the format's reference normalizer: from_k8s_event, or from_eks_record
    (then `cloudwatch_records`: a record carrying its event in `message` goes through it).
    `dedup` must feed `job.aggregator.add`, as `import_audit` sets it up.
    """
    errors = job.errors
    agg = job.aggregator
    usage = agg.usage
    usage_get = usage.get
    flush_keys = agg.flush_keys
    pending, pending_old, counted, counted_old = dedup.pending, dedup.pending_old, dedup.counted, dedup.counted_old
    counted_add = counted.add
    counted_room = dedup.counted_limit - len(counted)  # adds left before the counted IDs rotate
    window = dedup.window
    final_stages = FINAL_STAGES
    decision_annotation = DECISION_ANNOTATION
    empty: dict[str, Any] = {}
    events = requests = 0
    low: str | None = None
    high: str | None = None
    try:
        for batch in reader.batches():
            events += len(batch)  # less the blank and unparsable lines, subtracted as they come
            for line in batch:
                number += 1
                try:
                    # Whitespace around a JSON value is allowed, so a line `_line_records` would strip
                    # parses the same here; lines it would cut (export-task prefixes) do not parse.
                    event = loads(line)
                except JSON_ERRORS:
                    event = _careful_parse(line, number, reader, errors, name)
                    if event is _SKIPPED:
                        events -= 1
                        continue
                if cloudwatch_records and isinstance(event, dict) and isinstance(event.get("message"), str):
                    audit_id = None  # a CloudWatch record: the event is in its message
                else:
                    # The values audit_formats.from_k8s_event computes, for the usual shape of an event.
                    # Fields events nearly always have are subscripted where it uses .get(): when one is
                    # missing (or anything is odd), the reference function decides instead, below.
                    try:
                        user = event["user"]
                        if "impersonatedUser" in event and event["impersonatedUser"]:
                            audit_id = None
                        else:
                            annotation = event["annotations"][decision_annotation]
                            if annotation == "allow":
                                decision = "allow"
                            elif annotation == "forbid":
                                decision = "deny"
                            else:
                                code = (event.get("responseStatus") or empty).get("code")
                                decision = "unknown" if code is None else "deny" if code in (401, 403) else "allow"
                            acting = user["username"] or ""
                            verb = event["verb"]
                            groups = tuple(user["groups"] or ())
                            ref = event.get("objectRef")
                            if ref and ref.get("resource"):
                                key = (acting, verb, ref.get("apiGroup") or "", ref["resource"],
                                       ref.get("subresource") or "", ref.get("namespace") or "",
                                       ref.get("name") or "", "", decision, groups)
                            else:
                                key = (acting, verb, "", "", "", "", "", event["requestURI"].partition("?")[0],
                                       decision, groups)
                            stage = event["stage"]
                            final = stage in final_stages or not stage
                            timestamp = event["stageTimestamp"] or (
                                event.get("requestReceivedTimestamp") or event.get("timestamp") or "")
                            audit_id = event["auditID"]
                            if type(verb) is not str or not verb or type(acting) is not str or not acting:
                                audit_id = None  # the reference path reports the record as bad
                    except (KeyError, TypeError, AttributeError):
                        audit_id = None
                if not audit_id:
                    # The reference path: impersonation, no auditID, unusual shapes, bad records.
                    try:
                        observation = normalize(event)
                    except BadRecord as exc:
                        errors.append(AuditImportError(name, number, str(exc)))
                        continue
                    dedup.add(observation)
                    pending, pending_old = dedup.pending, dedup.pending_old
                    counted, counted_old = dedup.counted, dedup.counted_old
                    counted_add = counted.add
                    counted_room = dedup.counted_limit - len(counted)
                    continue
                # StageDeduplicator.add, inlined.
                if audit_id in counted or audit_id in counted_old:
                    continue
                if not final:
                    if audit_id not in pending and audit_id not in pending_old:
                        pending[audit_id] = Observation(audit_id, False, key[:9], timestamp, groups, "")
                        if len(pending) > window:
                            dedup.retire_pending()
                            pending, pending_old = dedup.pending, dedup.pending_old
                            counted, counted_old = dedup.counted, dedup.counted_old
                            counted_add = counted.add
                            counted_room = dedup.counted_limit - len(counted)
                    continue
                if (not pending or pending.pop(audit_id, None) is None) and pending_old:
                    pending_old.pop(audit_id, None)
                counted_add(audit_id)
                counted_room -= 1
                if counted_room < 0:  # StageDeduplicator.mark_counted's rotation
                    dedup.counted_old = counted_old = counted
                    dedup.counted = counted = set()
                    counted_add = counted.add
                    counted_room = dedup.counted_limit
                # UsageAggregator.add, with `groups` riding in the key.
                requests += 1
                entry = usage_get(key)
                if entry is None:
                    usage[key] = [1, timestamp, timestamp]
                    if len(usage) >= flush_keys:
                        agg.flush()
                else:
                    entry[0] += 1
                    if timestamp > entry[2]:  # first <= last always, so this order is the same as _bump's
                        entry[2] = timestamp
                    elif timestamp < entry[1]:
                        entry[1] = timestamp
                if timestamp:
                    if high is None or timestamp > high:
                        high = timestamp
                    if low is None or timestamp < low:
                        low = timestamp
    finally:
        job.events += events
        agg.merge_counted(requests, low, high)


_SKIPPED = object()


def _careful_parse(line: bytes, number: int, reader: LineReader, errors: list[AuditImportError], name: str) -> Any:
    """A line that did not parse as it is, handled as `_line_records` does: blank lines and
    export-task prefixes cut, else the JSON error recorded. `_SKIPPED` when there is no record."""
    kept = line[:1] == b"{"  # such a line is parsed as read, with its b"\n"
    if not kept:
        line = line.strip()
        if not line:
            return _SKIPPED
        match = EXPORT_TASK_LINE.match(line)
        if match:
            line = line[match.end() :]
    try:
        return loads(line)
    except JSON_ERRORS as exc:
        errors.append(AuditImportError(name, number, json_error(line, reader, number) if kept
                                       else f"JSON syntax error: {exc}"))
        return _SKIPPED
