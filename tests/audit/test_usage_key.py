"""audit_usage keyed by key_hash (schema 8): stable hashes, hash collisions, odd values, migrated DBs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rbacmap import usage_key
from rbacmap.importers.audit import import_audit
from rbacmap.schema import MIGRATIONS
from rbacmap.store import Store
from rbacmap.usage import Observation, usage_records, write_usage

COLUMNS = ", ".join(usage_key.KEY_COLUMNS) + ", count, first_seen, last_seen"


def _usage(store: Store) -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in store.query(f"SELECT {COLUMNS} FROM audit_usage ORDER BY {COLUMNS}")]


def _import_twice(store: Store, audit_dir: Path) -> None:
    for fmt in ("k8s", "eks"):  # the second import merges into the rows of the first
        import_audit(store, [str(audit_dir / "k8s-audit.jsonl")], "c", fmt=fmt, flush_keys=3)


def test_key_hash_is_stable_and_separates_texts() -> None:
    key = ("prod", "alice", "get", "", "pods", "", "web", "", "", "allow")
    # A fixed value: the same in every process (Python's hash() of str is salted per process).
    assert usage_key.key_hash(key) == 1057540512484038859  # blake2b-64 of the NUL-joined texts, top bit cleared
    assert 0 <= usage_key.key_hash(key) < 2**63
    shifted = ("prod", "alice", "get", "", "pods", "", "we", "b", "", "allow")  # same text, split elsewhere
    with_nul = ("prod", "alice\0get", "", "", "pods", "", "web", "", "", "allow")
    assert len({usage_key.key_hash(key), usage_key.key_hash(shifted), usage_key.key_hash(with_nul)}) == 3
    with pytest.raises(TypeError):
        usage_key.key_hash(("prod", 7, "get", "", "pods", "", "web", "", "", "allow"))  # type: ignore[arg-type]


class _CoarseDigest:
    """Stands in for blake2b: a digest with only `values` possible values, so keys collide all the time."""

    def __init__(self, data: bytes, digest_size: int, values: int) -> None:
        self.value = len(data) % values

    def digest(self) -> bytes:
        return bytes([self.value]) * 8


@pytest.mark.parametrize("values", [1, 3])
def test_hash_collisions_lose_and_mix_nothing(
    audit_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, values: int
) -> None:
    """With a hash that collides all the time, imports store exactly what the real hash stores."""
    with Store(str(tmp_path / "real.db")) as real:
        _import_twice(real, audit_dir)
        expected = _usage(real)
    monkeypatch.setattr(usage_key, "blake2b", lambda data, digest_size: _CoarseDigest(data, digest_size, values))
    with Store(str(tmp_path / "coarse.db")) as coarse:
        _import_twice(coarse, audit_dir)
        assert _usage(coarse) == expected
        hashes = {usage_key.key_hash(row[:10]) for row in expected}
        assert len(hashes) == values
        displaced = coarse.query("SELECT count(*) AS n FROM audit_usage WHERE key_hash < 0")[0]["n"]
        assert displaced == len(expected) - values


def test_numbers_where_text_belongs_count_as_their_text(store: Store) -> None:
    """A verb 7 is stored as '7' (TEXT column): it hashes as '7' too, so both land in one row."""
    with write_usage(store, "c", "test", "k8s", flush_keys=1) as job:
        for audit_id, verb in (("a", 7), ("b", "7"), ("c", 7)):
            key: Any = ("alice", verb, "", "pods", "", "web", "", "", "allow")
            job.aggregator.add(Observation(audit_id, True, key, "2024-05-01T00:00:00Z", (), ""))
    [record] = usage_records(store, "c")
    assert (record.request.verb, record.count) == ("7", 3)
    [row] = store.query("SELECT key_hash FROM audit_usage")
    assert row["key_hash"] == usage_key.key_hash(("c", "alice", "7", "", "pods", "", "web", "", "", "allow"))


def test_migration_8_carries_usage_over_and_the_next_import_rehomes_it(
    audit_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = str(audit_dir / "k8s-audit.jsonl")
    with Store(str(tmp_path / "current.db")) as current:
        import_audit(current, [log], "c")
        before = _usage(current)
        # Forget the auditIDs counted, as a DB from before migration 18 never had them: the log counts twice.
        current.conn.execute("DELETE FROM audit_request_ids")
        import_audit(current, [log], "c")
        expected = current.query("SELECT * FROM audit_usage ORDER BY key_hash")
    # A DB written before schema 8 (10-column primary key), holding the rows of the first import.
    old_path = str(tmp_path / "old.db")
    monkeypatch.setattr("rbacmap.store.MIGRATIONS", [m for m in MIGRATIONS if m[0] < 8])
    with Store(old_path) as old:
        assert "key_hash" not in {c["name"] for c in old.query("PRAGMA table_info(audit_usage)")}
        old.conn.executemany(f"INSERT INTO audit_usage ({COLUMNS}) VALUES ({', '.join('?' * 13)})", before)
    monkeypatch.undo()
    with Store(old_path) as migrated:
        assert _usage(migrated) == before  # carried over, displaced until the next import
        assert migrated.query("SELECT max(key_hash) AS k FROM audit_usage")[0]["k"] < 0
        import_audit(migrated, [log], "c")
        assert migrated.query("SELECT * FROM audit_usage ORDER BY key_hash") == expected
        assert [i["name"] for i in migrated.query("PRAGMA index_list(audit_usage)")] == ["audit_usage_last_seen"]


def test_a_displaced_key_is_counted_in_its_row_even_when_its_hash_is_free(store: Store) -> None:
    """E.g. the other key at its hash was deleted: the upsert finds it displaced rather than add a second row."""
    key = ("c", "alice", "get", "", "pods", "", "web", "", "", "allow")
    store.conn.execute(f"INSERT INTO audit_usage ({COLUMNS}, key_hash) VALUES ({', '.join('?' * 14)})",
                       (*key, 2, "2024-05-02T00:00:00Z", "2024-05-02T00:00:00Z", -1))
    usage_key.upsert_usage(store.conn, [(usage_key.key_hash(key), *key, 3, "2024-05-01T00:00:00Z",
                                         "2024-05-01T00:00:00Z")])
    assert store.query("SELECT key_hash, count, first_seen, last_seen FROM audit_usage") == [
        {"key_hash": -1, "count": 5, "first_seen": "2024-05-01T00:00:00Z", "last_seen": "2024-05-02T00:00:00Z"}
    ]


def test_undated_requests_count_but_never_date_a_row_or_the_window(tmp_path: Path) -> None:
    """A record without any timestamp is counted; first_seen, last_seen and the window come from dated ones."""
    def event(audit_id: str, stamp: str | None) -> str:
        record = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": audit_id, "stage": "ResponseComplete",
                  "verb": "get", "user": {"username": "alice"}, "requestURI": "/api/v1/namespaces/web/pods",
                  "objectRef": {"resource": "pods", "namespace": "web"},
                  "annotations": {"authorization.k8s.io/decision": "allow"}}
        if stamp is not None:
            record["stageTimestamp"] = stamp
        return json.dumps(record)

    first = tmp_path / "first.jsonl"
    first.write_text("\n".join([event("a", None), event("b", "2024-05-02T00:00:00Z"), event("c", None),
                                event("d", "2024-05-03T00:00:00Z")]) + "\n")
    undated_only = tmp_path / "undated.jsonl"
    undated_only.write_text(event("e", None) + "\n")
    later = tmp_path / "later.jsonl"
    later.write_text(event("f", "2024-05-01T00:00:00Z") + "\n")
    with Store(str(tmp_path / "a.db")) as store:
        result = import_audit(store, [str(first)], "c")
        assert (result.requests, result.window.start, result.window.end) == (
            4, "2024-05-02T00:00:00Z", "2024-05-03T00:00:00Z")
        [row] = store.query("SELECT count, first_seen, last_seen FROM audit_usage")
        assert row == {"count": 4, "first_seen": "2024-05-02T00:00:00Z", "last_seen": "2024-05-03T00:00:00Z"}

    with Store(str(tmp_path / "b.db")) as store:  # a row dated '' by an undated import, then dated by a later one
        import_audit(store, [str(undated_only)], "c")
        import_audit(store, [str(later)], "c")
        [row] = store.query("SELECT count, first_seen, last_seen FROM audit_usage")
        assert row == {"count": 2, "first_seen": "2024-05-01T00:00:00Z", "last_seen": "2024-05-01T00:00:00Z"}
        groups = store.query("SELECT count, first_seen FROM audit_user_groups")
        assert groups == []  # alice was seen with no groups
