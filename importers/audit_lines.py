"""The hot path of `import audit`: JSON lines iterated as read, Kubernetes events counted inline.

A million-event log spends most of its time here, so `import_k8s_lines` is one flat loop
with everything bound to locals: it decodes each line by schema (`audit_event_schema`:
msgspec Structs holding only the fields usage needs), computes the request's attributes
exactly as `audit_formats.from_k8s_event` does, and inlines the final-stage case of
`StageDeduplicator.add` (with its `count`) and `UsageAggregator.add`. Anything unusual (a line that does not
decode into the schema, impersonation, an earlier stage, a missing auditID, an EKS
CloudWatch record) goes through those reference functions instead (parsed by orjson), so
results and error messages are identical to the plain path; `tests/audit/test_hot_loop.py`
checks that they agree. `audit_parallel` runs this loop in several processes for big files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

from rbacmap.importers.audit_dedup import StageDeduplicator
from rbacmap.importers.audit_event_schema import SCHEMA_ERRORS, UNSET, decode_event_fields
from rbacmap.importers.audit_formats import FINAL_STAGES, BadRecord
from rbacmap.usage import AuditImportError, Observation, UsageImport, is_utc_text

try:
    import orjson

    loads: Callable[[bytes | str], Any] = orjson.loads
    JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - orjson is an optional speed-up
    loads = json.loads
    JSON_ERRORS = (ValueError,)

# CloudWatch export tasks write `TIMESTAMP MESSAGE` per line.
EXPORT_TASK_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\S+ (?=\{)")

Normalizer = Callable[[Any], Observation]


class LineReader:
    """A binary stream as lines, each with its b"\\n" (the last perhaps without), counting the lines handed out.

    Plain line iteration of the buffered stream: the C readline is faster than any chunking
    done in Python, and a stream that breaks off (a truncated .gz) yields every complete
    line before the error. The hot loop iterates `stream` itself and keeps `lines` up to date.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.lines = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.stream:
            self.lines += 1
            yield line

    def read(self) -> bytes:
        """Everything not handed out yet, as raw bytes (lines counted by their b"\\n", like `stream.read`)."""
        data = self.stream.read()
        self.lines += data.count(b"\n")
        return data


def json_error(line: bytes) -> str:
    """orjson's message for a bad line that starts with `{`, parsed as read (with its b"\\n")."""
    try:
        loads(line)
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
    # StageDeduplicator.count's question, asked only within the earlier imports' time span.
    earlier = dedup.earlier
    earlier_start, earlier_end = ("", "") if earlier is None or not earlier.recorded else (earlier.start, earlier.end)
    earlier_holds = earlier.holds if earlier is not None else None
    # EarlierImports.counted's first question: a request inside the window of an import whose IDs were pruned.
    pruned_end = earlier.pruned_end if earlier is not None else ""
    in_pruned_window = earlier.in_pruned_window if earlier is not None else None
    final_stages = FINAL_STAGES
    decode, schema_errors, unset = decode_event_fields, SCHEMA_ERRORS, UNSET
    utc_seconds: set[str] = set()  # is_utc_text's shortcut: whole seconds of timestamps found good
    events = 0
    try:
        for line in reader.stream:
            number += 1
            events += 1  # less the blank and unparsable lines, subtracted as they come
            try:
                fields = decode(line)
            except schema_errors:
                fields = None
            audit_id = ""
            if fields is not None and fields.impersonatedUser is unset and (
                    not cloudwatch_records or fields.message is unset):
                # from_k8s_event's values, for the usual shape of an event. Anything it would treat
                # differently (impersonation, no auditID, no user or verb) is left to it, below.
                user = fields.user
                acting = user.username
                verb = fields.verb
                annotations = fields.annotations
                annotation = None if annotations is None else annotations.decision
                if annotation == "allow":
                    decision = "allow"
                elif annotation == "forbid":
                    decision = "deny"
                else:
                    status = fields.responseStatus
                    code = None if status is None else status.code
                    decision = "unknown" if code is None else "deny" if code in (401, 403) else "allow"
                groups = user.groups or ()
                ref = fields.objectRef
                if ref is not None and ref.resource:
                    key = (acting, verb, ref.apiGroup, ref.resource, ref.subresource, ref.namespace, ref.name,
                           "", decision, groups)
                    audit_id = fields.auditID
                elif (uri := fields.requestURI) is not unset:
                    key = (acting, verb, "", "", "", "", "", uri.partition("?")[0], decision, groups)
                    audit_id = fields.auditID
                timestamp = fields.stageTimestamp or fields.requestReceivedTimestamp or fields.timestamp
                if not acting or not verb or not timestamp:
                    audit_id = ""  # the reference path reports the record as bad, or counts it undated
                elif not (timestamp[:19] in utc_seconds and timestamp[-1] == "Z" and (
                        len(timestamp) == 27 and timestamp[19] == "." and timestamp[20:26].isdecimal())
                          ) and not is_utc_text(timestamp, utc_seconds):
                    audit_id = ""  # converted to UTC, or reported as bad, by the reference path
                stage = fields.stage
                final = stage == "ResponseComplete" or stage in final_stages or not stage
            if not audit_id:
                # The reference path: impersonation, no auditID, unusual shapes, bad records.
                try:
                    # Whitespace around a JSON value is allowed, so a line `_line_records` would strip
                    # parses the same here; lines it would cut (export-task prefixes) do not parse.
                    event = loads(line)
                except JSON_ERRORS:
                    event = _careful_parse(line, number, errors, name)
                    if event is _SKIPPED:
                        events -= 1
                        continue
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
                dedup.rotate_counted()
                counted, counted_old = dedup.counted, dedup.counted_old
                counted_add = counted.add
                counted_room = dedup.counted_limit
            if ((pruned_end and timestamp <= pruned_end and in_pruned_window is not None
                    and in_pruned_window(timestamp))
                    or (earlier_end and earlier_start <= timestamp <= earlier_end and earlier_holds is not None
                        and earlier_holds(audit_id))):
                dedup.already_imported += 1
                continue
            # UsageAggregator.add, with `groups` riding in the key.
            entry = usage_get(key)
            if entry is None:
                usage[key] = [1, timestamp, timestamp]
                if len(usage) >= flush_keys:
                    agg.flush()
            else:
                entry[0] += 1
                # Dated here (undated requests take the reference path); an entry it made may be undated.
                if timestamp > entry[2]:
                    entry[2] = timestamp
                    if not entry[1]:
                        entry[1] = timestamp
                elif timestamp < entry[1]:
                    entry[1] = timestamp
    finally:
        reader.lines = number
        job.events += events


_SKIPPED = object()


def _careful_parse(line: bytes, number: int, errors: list[AuditImportError], name: str) -> Any:
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
        errors.append(AuditImportError(name, number, json_error(line) if kept
                                       else f"JSON syntax error: {exc}"))
        return _SKIPPED
