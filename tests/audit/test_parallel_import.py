"""Large audit files counted by several processes give the same answer as one process.

The cut points fall anywhere, so stages of one request land in different workers, in
order and out of order; bad lines land in every range. Every stored row, count, window and
error (with its absolute line number) must equal the sequential import's.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from rbacmap import usage_key
from rbacmap.importers import audit_parallel
from rbacmap.importers.audit import import_audit
from rbacmap.importers.audit_parallel import cut_points, worker_count
from rbacmap.store import Store

USERS = ["alice", "system:serviceaccount:web:api", "system:node:n1"]
RESOURCES = [("", "pods", ""), ("apps", "deployments", ""), ("", "pods", "exec"), ("", "secrets", "")]


def _event(request: int, stage: str, rng: random.Random) -> dict[str, Any]:
    group, resource, subresource = rng.choice(RESOURCES)
    event: dict[str, Any] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"id-{request}",
        "stage": stage, "requestURI": "/api/v1/namespaces/web/pods", "verb": rng.choice(["get", "list", "create"]),
        "user": {"username": rng.choice(USERS), "groups": ["system:authenticated"]},
        "objectRef": {"resource": resource, "namespace": "web", "apiGroup": group, "subresource": subresource},
        "requestReceivedTimestamp": f"2024-05-01T00:{request // 60 % 60:02d}:{request % 60:02d}Z",
        "stageTimestamp": f"2024-05-01T00:{request // 60 % 60:02d}:{request % 60:02d}Z",
        "annotations": {"authorization.k8s.io/decision": rng.choice(["allow", "allow", "forbid"])},
    }
    if rng.random() < 0.05:
        event["impersonatedUser"] = {"username": "carol", "groups": ["devs"]}
    if rng.random() < 0.05:
        event.pop("objectRef")
        event["requestURI"] = "/healthz?verbose"
    return event


def _log(rng: random.Random, requests: int, cloudwatch: bool = False) -> bytes:
    lines = []
    for request in range(requests):
        roll = rng.random()
        if roll < 0.3:
            stages = ["RequestReceived", "ResponseComplete"]
        elif roll < 0.4:
            stages = ["ResponseComplete", "RequestReceived"]  # out of order
        elif roll < 0.45:
            stages = ["RequestReceived"]  # never completed
        else:
            stages = ["ResponseComplete"]
        base = _event(request, "", rng)
        for stage in stages:
            event = {**base, "stage": stage}
            if cloudwatch and rng.random() < 0.7:  # a CloudWatch record carrying the event in its message
                event = {"timestamp": 1714521600000 + request, "message": json.dumps(event)}
            lines.append(json.dumps(event, separators=(",", ":")).encode())
        if rng.random() < 0.03:
            lines.append(rng.choice([b'{"kind":"Event","verb":', b"", b"[1]", b'{"user":{"username":"x"}}']))
    return b"\n".join(lines) + b"\n"


def _stored(store: Store) -> tuple[Any, ...]:
    tables = ("audit_usage", "audit_user_groups", "audit_impersonations")
    rows = tuple(store.query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6") for table in tables)
    errors = store.query("SELECT source, line, message FROM audit_import_errors ORDER BY rowid")
    audit_ids = store.query("SELECT * FROM audit_request_ids ORDER BY cluster, audit_id")
    return (*rows, errors, audit_ids)


@pytest.mark.parametrize(("seed", "workers", "flush_keys", "fmt"),
                         [(1, 2, 50_000, "auto"), (2, 3, 7, "k8s"), (3, 4, 50_000, "auto"), (4, 3, 5, "eks")])
def test_parallel_import_matches_sequential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int,
                                            workers: int, flush_keys: int, fmt: str) -> None:
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_log(random.Random(seed), 600, cloudwatch=fmt == "eks"))
    results = []
    for count in (1, workers):
        with Store(str(tmp_path / f"w{count}.db")) as store:
            result = import_audit(store, [str(log)], "c", fmt=fmt, flush_keys=flush_keys, workers=count)
            results.append(((result.lines, result.events, result.requests, result.errors, result.window),
                            _stored(store)))
    sequential, parallel = results
    assert parallel == sequential
    assert sequential[0][2] > 300 and sequential[0][3]  # requests counted; bad lines reported by line number


def test_cut_points_fall_on_line_starts(tmp_path: Path) -> None:
    data = b"".join(b"x" * length + b"\n" for length in (5, 40, 1, 0, 17, 3, 60))
    path = tmp_path / "lines"
    path.write_bytes(data)
    with path.open("rb") as stream:
        points = cut_points(stream, 6, len(data), 4)
    assert points[0] == 6 and points[-1] == len(data) and points == sorted(points)
    starts = {0} | {i + 1 for i, byte in enumerate(data) if byte == ord("\n")}
    assert set(points) <= starts


def test_small_files_stay_sequential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(audit_parallel.WORKERS_ENV, raising=False)
    assert worker_count(1 << 20) == 1
    assert worker_count(1 << 40, requested=1) == 1
    monkeypatch.setenv(audit_parallel.WORKERS_ENV, "1")
    assert worker_count(1 << 40) == 1


class _CoarseDigest:
    """Stands in for blake2b with 3 possible values: key hashes collide all the time."""

    def __init__(self, data: bytes, digest_size: int) -> None:
        self.value = len(data) % 3

    def digest(self) -> bytes:
        return bytes([self.value]) * 8


def _usage_rows(store: Store) -> list[dict[str, Any]]:
    columns = "cluster, username, verb, api_group, resource, subresource, namespace, name, non_resource_url, decision"
    return store.query(f"SELECT {columns}, count, first_seen, last_seen FROM audit_usage ORDER BY {columns}")


@pytest.mark.parametrize("spool_merge", ["sql", "python"])
def test_spools_merge_exactly_even_when_hashes_collide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spool_merge: str
) -> None:
    """Colliding key hashes (and a connection that cannot ATTACH) still store exactly the sequential rows."""
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_log(random.Random(9), 400))
    with Store(str(tmp_path / "real.db")) as store:
        import_audit(store, [str(log)], "c", workers=1)
        expected = _usage_rows(store)
    monkeypatch.setattr(usage_key, "blake2b", lambda data, digest_size: _CoarseDigest(data, digest_size))
    with Store(str(tmp_path / "coarse.db")) as store:
        if spool_merge == "python":
            store.conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        import_audit(store, [str(log)], "c", workers=3)
        assert _usage_rows(store) == expected
        displaced = store.query("SELECT count(*) AS n FROM audit_usage WHERE key_hash < 0")[0]["n"]
        assert displaced == len(expected) - 3


def test_a_failing_worker_fails_the_import_and_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(_log(random.Random(5), 300))

    real = audit_parallel.import_k8s_lines
    first = tmp_path / "first-worker"

    def broken(*args: Any, **kwargs: Any) -> None:
        """The first worker to start counts its range (its spool is merged); the other one fails."""
        try:
            first.open("x").close()
        except FileExistsError:
            raise MemoryError("worker ran out of memory") from None
        real(*args, **kwargs)

    monkeypatch.setattr(audit_parallel, "import_k8s_lines", broken)
    with Store(str(tmp_path / "a.db")) as store:
        with pytest.raises(audit_parallel.ParallelImportError, match="worker ran out of memory"):
            import_audit(store, [str(log)], "c", workers=2)
        assert store.query("SELECT count(*) AS n FROM audit_imports")[0]["n"] == 0
        assert store.query("SELECT count(*) AS n FROM audit_usage")[0]["n"] == 0
        import_audit(store, [str(log)], "c", workers=1)  # the store is still usable: no spool left attached
        assert store.query("SELECT count(*) AS n FROM audit_imports")[0]["n"] == 1


def test_a_request_cut_between_its_stages_counts_once_in_a_long_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The final stage right after the cut is remembered though the next range rotates its counted IDs many times."""
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)

    def line(audit_id: str, stage: str) -> bytes:
        event = {**_event(0, stage, random.Random(0)), "auditID": audit_id}
        return json.dumps(event, separators=(",", ":")).encode() + b"\n"

    head = line("id-head", "ResponseComplete")
    first = b"".join(line(f"a-{i:04d}", "ResponseComplete") for i in range(99)) + line("cut-000", "RequestReceived")
    second = line("cut-000", "ResponseComplete") + b"".join(line(f"b-{i:03d}", "ResponseComplete") for i in range(99))
    assert len(first) == len(second) + 98  # "RequestReceived" is one letter short of "ResponseComplete"
    log = tmp_path / "audit.jsonl"
    log.write_bytes(head + first + second)
    with log.open("rb") as stream:
        assert cut_points(stream, len(head), log.stat().st_size, 2)[1] == len(head) + len(first)  # between the stages
    for workers in (1, 2):
        with Store(str(tmp_path / f"w{workers}.db")) as store:
            result = import_audit(store, [str(log)], "c", fmt="k8s", dedup_window=2, workers=workers)
            assert result.requests == 200, workers  # 201 lines, 200 requests (counted IDs rotate every 11)


@pytest.mark.parametrize("workers", [1, 3])
def test_importing_an_overlapping_log_again_counts_nothing_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 workers: int) -> None:
    """Workers ask the store what earlier imports counted; the IDs they count are merged from their spools."""
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)
    lines = _log(random.Random(7), 600).splitlines(keepends=True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[: len(lines) * 2 // 3]))
    second.write_bytes(b"".join(lines[len(lines) // 3 :]))  # overlaps the first by a third
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b"".join(lines))
    with Store(str(tmp_path / "once.db")) as once:
        expected = import_audit(once, [str(whole)], "c", workers=1)
        counts_once = once.query("SELECT username, verb, resource, count FROM audit_usage ORDER BY 1, 2, 3, 4")
        ids_once = once.query("SELECT count(*) AS n FROM audit_request_ids")[0]["n"]
    with Store(str(tmp_path / "twice.db")) as store:
        import_audit(store, [str(first)], "c", workers=workers)
        again = import_audit(store, [str(second)], "c", workers=workers)
        assert again.already_imported > 0
        assert store.query("SELECT username, verb, resource, count FROM audit_usage ORDER BY 1, 2, 3, 4") \
            == counts_once
        assert store.query("SELECT count(*) AS n FROM audit_request_ids")[0]["n"] == ids_once == expected.requests
        everything = import_audit(store, [str(whole)], "c", workers=workers)
        assert (everything.requests, everything.already_imported) == (0, expected.requests)
