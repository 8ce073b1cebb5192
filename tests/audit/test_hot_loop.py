"""The fast JSON-lines path of `import audit` counts exactly what the reference path counts.

`audit_lines.import_k8s_lines` inlines `from_k8s_event`, `StageDeduplicator.add` and
`UsageAggregator.add` for speed. These tests run mutated copies of the fixture log (dropped
fields, odd values, repeated and reordered stages, impersonation, blank, padded, broken and
export-task lines) through both `import_audit` and a plain reference pipeline built from the
reference functions alone, and compare every stored row, count, window and error.
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from rbacmap.importers.audit import _line_records, consume_records, import_audit
from rbacmap.importers.audit_dedup import StageDeduplicator
from rbacmap.importers.audit_lines import LineReader
from rbacmap.store import Store
from rbacmap.usage import Observation, UsageWindow, usage_records, user_groups, write_usage

FIELDS_TO_DROP = ["auditID", "stage", "verb", "user", "objectRef", "annotations", "responseStatus", "stageTimestamp",
                  "requestURI"]


def _events(audit_dir: Path) -> list[dict[str, Any]]:
    events = []
    for line in (audit_dir / "k8s-audit.jsonl").read_bytes().splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "verb" in parsed and "user" in parsed:
            events.append(parsed)
    return events


def _mutated_log(events: list[dict[str, Any]], rng: random.Random) -> bytes:
    """About 60 lines drawn from the fixture events, each perhaps bent out of shape."""
    lines = []
    for _ in range(60):
        event = json.loads(json.dumps(rng.choice(events)))
        roll = rng.random()
        if roll < 0.15:
            event.pop(rng.choice(FIELDS_TO_DROP), None)
        elif roll < 0.25:
            event[rng.choice(["auditID", "stage", "stageTimestamp"])] = rng.choice(["", None, 7, "Panic"])
        elif roll < 0.3:
            event["user"] = rng.choice(["bob", {"groups": ["g"]}, {"username": "bob", "groups": None}])
        elif roll < 0.35:
            event["impersonatedUser"] = rng.choice([{"username": "carol", "groups": ["devs"]}, None])
        elif roll < 0.4:
            event["annotations"] = rng.choice([None, {}, {"authorization.k8s.io/decision": "forbid"}])
        elif roll < 0.45:
            event["auditID"] = f"shared-{rng.randrange(3)}"  # stages of one request, or duplicates
        raw = json.dumps(event, separators=(",", ":")).encode()
        roll = rng.random()
        if roll < 0.04:
            raw = raw[: len(raw) // 2]
        elif roll < 0.08:
            raw = b"  " + raw + b" "
        elif roll < 0.1:
            raw = b""
        elif roll < 0.14:
            raw = b"2024-05-01T10:00:00.000Z " + raw
        elif roll < 0.16:
            raw = rng.choice([b"[1, 2]", b'"text"', b"{}"])
        elif roll < 0.18:
            raw += b"\r"
        lines.append(raw)
    # The first line stays a whole event, so the file reads as JSON lines (not a document).
    lines[0] = json.dumps(events[0], separators=(",", ":")).encode()
    return b"\n".join(lines) + rng.choice([b"\n", b""])


def _reference_import(store: Store, path: Path, fmt: str, flush_keys: int, window: int) -> tuple[Any, ...]:
    """The plain pipeline: line iteration, every record through normalize/dedup.add/aggregator.add."""
    with write_usage(store, "c", "reference", fmt, flush_keys) as job, path.open("rb") as stream:
        dedup = StageDeduplicator(job.aggregator.add, window)
        counted = _LineCount(stream)
        records = _line_records(counted, 0, lambda line, message: job.error(str(path), line, message))
        consume_records(job, dedup, str(path), records, fmt)
        dedup.close()
        job.lines = counted.lines
        outcome = (job.lines, job.events, job.aggregator.requests, list(job.errors))
        window_seen = UsageWindow(job.aggregator.window_start, job.aggregator.window_end)
    return (*outcome, window_seen)


class _LineCount:
    def __init__(self, stream: io.BufferedReader) -> None:
        self.stream = stream
        self.lines = 0

    def __iter__(self) -> Any:
        for line in self.stream:
            self.lines += 1
            yield line


def _stored(store: Store) -> tuple[Any, ...]:
    tables = ("audit_usage", "audit_user_groups", "audit_impersonations")
    rows = tuple(store.query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6") for table in tables)
    errors = store.query("SELECT source, line, message FROM audit_import_errors ORDER BY rowid")
    return (*rows, errors)


@pytest.mark.parametrize("seed", range(12))
def test_fast_path_matches_reference_path(audit_dir: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_mutated_log(_events(audit_dir), rng))
    fmt, flush_keys, window = [("k8s", 50_000, 20_000), ("k8s", 2, 1), ("eks", 3, 2)][seed % 3]
    fast_store = Store(str(tmp_path / "fast.db"))
    reference_store = Store(str(tmp_path / "reference.db"))
    with fast_store, reference_store:
        fast = import_audit(fast_store, [str(log)], "c", fmt=fmt, flush_keys=flush_keys, dedup_window=window)
        reference = _reference_import(reference_store, log, fmt, flush_keys, window)
        assert (fast.lines, fast.events, fast.requests, fast.errors, fast.window) == reference
        assert fast.requests > 0 and fast.errors  # the mutations left both counted requests and errors
        assert _stored(fast_store) == _stored(reference_store)


def test_groups_ride_with_the_request_and_split_at_flush(store: Store, tmp_path: Path) -> None:
    """One request key seen with two group sets: one usage row, each group counted per request."""
    key = ("alice", "get", "", "pods", "", "web", "", "", "allow")
    with write_usage(store, "c", "test", "k8s", flush_keys=1) as job:
        dedup = StageDeduplicator(job.aggregator.add)
        dedup.add(Observation("a", True, key, "2024-05-01T00:00:00Z", ("devs", "all"), ""))
        dedup.add(Observation("b", True, key, "2024-05-03T00:00:00Z", ("all",), ""))
        dedup.add(Observation("c", False, key, "2024-05-02T00:00:00Z", ("all",), ""))
        dedup.close()
    [record] = usage_records(store, "c")
    assert (record.count, record.first_seen, record.last_seen) == (3, "2024-05-01T00:00:00Z", "2024-05-03T00:00:00Z")
    assert user_groups(store, "c") == {"alice": ("all", "devs")}
    counts = {r["group_name"]: r["count"] for r in store.query("SELECT * FROM audit_user_groups")}
    assert counts == {"all": 3, "devs": 1}


def test_line_reader_is_line_iteration() -> None:
    data = b'{"a":1}\n\n  {"b":2}\r\nno newline at the end'
    reader = LineReader(io.BytesIO(data))
    assert list(reader) == list(io.BytesIO(data))
    assert reader.lines == 4


def test_line_reader_hands_back_the_unread_rest() -> None:
    data = b"first\nsecond\nthird\n"
    reader = LineReader(io.BytesIO(data))
    assert next(iter(reader)) == b"first\n"
    assert reader.read() == b"second\nthird\n"
    assert reader.lines == 3  # like iterating one line, then stream.read() counting b"\n"
