"""Audit input that cannot be used (bad timestamps, unreadable or empty inputs), and timestamps with offsets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.importers import audit_parallel
from rbacmap.importers.audit import NothingReadError, import_audit
from rbacmap.store import Store
from rbacmap.usage import audit_imports, parse_duration, usage_records, usage_window


def _event(audit_id: str, stamp: str) -> str:
    event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": audit_id, "stage": "ResponseComplete",
             "verb": "get", "user": {"username": "alice"}, "objectRef": {"resource": "pods", "namespace": "web"},
             "responseStatus": {"code": 200}, "requestReceivedTimestamp": stamp, "stageTimestamp": stamp}
    return json.dumps(event) + "\n"


def _count(store: Store, cluster: str = "prod") -> int:
    return sum(record.count for record in usage_records(store, cluster))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_record_with_an_unreadable_timestamp_is_rejected_and_the_rest_imports(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)
    log = tmp_path / "audit.jsonl"
    # The first line takes the reference path, the others the hot loop.
    log.write_text(_event("a", "2024-05-01T10:00:00.000000Z") + _event("b", "2024-05-01T10:00Z")
                   + _event("c", "garbage") + _event("d", "2024-05-01T11:00:00.000000Z"))
    result = import_audit(store, [str(log)], "prod", workers=workers)
    assert result.requests == 2
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "not a usable audit event: bad timestamp (not an RFC 3339 timestamp: '2024-05-01T10:00Z')"),
        (3, "not a usable audit event: bad timestamp (not an RFC 3339 timestamp: 'garbage')"),
    ]
    assert result.window.describe() == "2024-05-01T10:00:00.000000Z .. 2024-05-01T11:00:00.000000Z (0.0 days)"
    again = import_audit(store, [str(log)], "prod", workers=workers)
    assert (again.requests, again.already_imported) == (0, 2)


def test_an_unreadable_window_stored_before_the_fix_breaks_neither_imports_nor_usage(
        store: Store, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text(_event("a", "2024-05-01T10:00:00Z") + _event("b", "2024-05-02T10:00:00Z"))
    import_audit(store, [str(log)], "prod")
    store.conn.execute("UPDATE audit_imports SET window_start = '2024-05-01T10:00Z', window_end = 'garbage'")
    window = usage_window(store, "prod", parse_duration("1d"))
    assert (window.start, window.end, window.days) == (None, None, 0.0)
    again = import_audit(store, [str(log)], "prod")  # the unreadable window: every request is looked up
    assert (again.requests, again.already_imported) == (0, 2)
    assert _count(store) == 2
    runner = CliRunner()
    db = str(tmp_path / "rbacmap.db")
    assert runner.invoke(cli, ["usage", "--db", db, "--cluster", "prod", "--since", "1d"]).exit_code == 0


def test_a_timestamp_with_an_offset_is_stored_in_utc(store: Store, tmp_path: Path) -> None:
    """The same instant written with +14:00 is matched with the earlier import (as text it is a day later)."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(_event("a", "2024-05-01T10:00:00Z") + _event("d", "2024-05-01T10:30:00Z"))
    second.write_text(_event("d", "2024-05-02T00:30:00+14:00") + _event("e", "2024-05-01T12:31:00.5+02:00"))
    import_audit(store, [str(first)], "prod")
    result = import_audit(store, [str(second)], "prod")
    assert (result.requests, result.already_imported) == (1, 1)
    assert result.window.describe() == "2024-05-01T10:31:00.5Z .. 2024-05-01T10:31:00.5Z (0.0 days)"
    assert _count(store) == 3
    assert [r.last_seen for r in usage_records(store, "prod")] == ["2024-05-01T10:31:00.5Z"]


def test_an_event_with_an_offset_near_the_since_cutoff_is_kept(store: Store, tmp_path: Path) -> None:
    """10:30Z written as 07:30-03:00 is after a cutoff of 10:00Z, though its text sorts before it."""
    log = tmp_path / "audit.jsonl"
    log.write_text(_event("a", "2024-05-03T10:00:00Z")
                   + _event("b", "2024-05-02T07:30:00-03:00").replace('"alice"', '"bob"'))
    import_audit(store, [str(log)], "prod")
    window = usage_window(store, "prod", parse_duration("1d"))
    assert {r.username for r in usage_records(store, "prod", window)} == {"alice", "bob"}


@pytest.mark.parametrize("given", ["missing", "empty", "stdin", "bad records"])
def test_nothing_read_exits_2_and_records_nothing(tmp_path: Path, given: str) -> None:
    db = str(tmp_path / "e.db")
    path = {"missing": str(tmp_path / "nonexistent.jsonl"), "empty": str(tmp_path / "empty.jsonl"),
            "stdin": "-", "bad records": str(tmp_path / "bad.jsonl")}[given]
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "bad.jsonl").write_text(_event("a", "garbage") + "{not json\n")
    result = CliRunner().invoke(cli, ["import", "audit", "--db", db, "--cluster", "c", path], input="")
    assert result.exit_code == 2, result.output
    assert "nothing was imported" in result.output
    with Store(db) as store:
        assert audit_imports(store) == []


def test_partly_read_input_imports_what_it_read(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text(_event("a", "2024-05-01T10:00:00Z"))
    result = import_audit(store, [str(tmp_path / "nonexistent.jsonl"), str(log)], "prod")
    assert (result.requests, len(result.errors)) == (1, 1)
    with pytest.raises(NothingReadError, match="nothing could be read from <stdin>"):
        import_audit(store, ["-"], "prod", stdin=io.BytesIO(b""))
    assert len(audit_imports(store, "prod")) == 1
