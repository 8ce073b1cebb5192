"""Snapshots are all-or-nothing, private, secret-free and prunable."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rbacmap import snapshot_builder
from rbacmap.importers.manifests import import_files
from rbacmap.schema import SNAPSHOT_TABLES
from rbacmap.store import Store

FAKE_SECRET_VALUES = [
    b"ZmFrZS1kZW1vLXRva2VuLURPLU5PVC1TVE9SRQ==",  # the token's base64, as in the manifest
    b"fake-demo-token-DO-NOT-STORE",  # and decoded
    b"fake-demo-password-DO-NOT-STORE",  # stringData
    b"LAST-APPLIED-MARKER-SECRET",  # inside a Secret's last-applied-configuration
    b"LAST-APPLIED-MARKER-NS",  # inside a Namespace's last-applied-configuration
    b"last-applied-configuration",
]


def table_counts(store: Store, snapshot_id: int) -> dict[str, int]:
    return {
        table: store.query(f"SELECT count(*) AS n FROM {table} WHERE snapshot_id = ?", [snapshot_id])[0]["n"]
        for table in SNAPSHOT_TABLES
        if table in store.db.table_names()
    }


def test_crash_inside_the_builder_leaves_the_previous_snapshot(
    store: Store, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = import_files(store, [str(fixtures_dir / "demo")], "demo").snapshot
    before = table_counts(store, first.id)

    def explode(role: object) -> None:
        raise RuntimeError("disk on fire")

    # Fails in finish(), after namespaces, workloads, roles … were already inserted.
    monkeypatch.setattr(snapshot_builder, "role_rule_rows", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_files(store, [str(fixtures_dir / "demo")], "demo")
    assert store.latest_snapshot("demo").id == first.id
    assert table_counts(store, first.id) == before
    failed = [s for s in store.snapshots("demo") if s.status == "failed"]
    assert len(failed) == 1 and "disk on fire" in (failed[0].message or "")
    assert all(n == 0 for n in table_counts(store, failed[0].id).values())
    # No orphan rows of any snapshot other than the complete one.
    orphans = store.query(
        "SELECT count(*) AS n FROM namespaces"
        " WHERE snapshot_id NOT IN (SELECT id FROM snapshots WHERE status = 'complete')"
    )
    assert orphans == [{"n": 0}]


def write_large_cluster(path: Path, namespaces: int) -> int:
    items: list[dict[str, object]] = []
    for n in range(namespaces):
        ns = f"team-{n:04d}"
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(20):
            sa_metadata = {"name": f"sa-{i}", "namespace": ns}
            items.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": sa_metadata})
            items.append({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pod-{i}", "namespace": ns},
                "spec": {"serviceAccountName": f"sa-{i}", "containers": [{"name": "c", "image": "busybox"}]},
            })
            items.append({
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": f"rb-{i}", "namespace": ns},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": f"sa-{i}"}],
            })
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return len(items)


def test_sigkill_mid_import_leaves_the_previous_snapshot_intact(tmp_path: Path, fixtures_dir: Path) -> None:
    db = tmp_path / "killed.db"
    with Store(db) as store:
        first = import_files(store, [str(fixtures_dir / "demo")], "demo").snapshot
        before = table_counts(store, first.id)
    big = tmp_path / "big.json"
    write_large_cluster(big, 300)  # 18k objects: far more rows than SQLite's page cache holds
    rbacmap = Path(sys.executable).parent / "rbacmap"
    process = subprocess.Popen(
        [str(rbacmap), "import", "files", str(big), "--cluster", "demo", "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wal = Path(str(db) + "-wal")
    # Wait until the import has spilled uncommitted pages into the WAL: it is mid-transaction.
    killed = False
    while process.poll() is None:
        if wal.exists() and wal.stat().st_size > 1_000_000:
            os.kill(process.pid, signal.SIGKILL)
            killed = True
            break
        os.sched_yield()
    process.wait()
    assert killed, "the import finished before it could be killed: make the input larger"
    assert process.returncode == -signal.SIGKILL
    with Store(db) as store:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        latest = store.latest_snapshot("demo")
        assert latest.id == first.id
        assert table_counts(store, first.id) == before
        assert [s.id for s in store.snapshots("demo")] == [first.id]  # the killed one left no row at all
        assert store.query("SELECT count(*) AS n FROM namespaces WHERE name LIKE 'team-%'") == [{"n": 0}]


def test_secret_data_and_last_applied_never_reach_the_db(tmp_path: Path, fixtures_dir: Path) -> None:
    db = tmp_path / "secrets.db"
    with Store(db) as store:
        result = import_files(store, [str(fixtures_dir / "demo")], "demo")
        assert result.snapshot.object_counts["Secret"] == 2
        # Through SQL: every text column of every table.
        for table in store.db.table_names():
            for row in store.query(f"SELECT * FROM {table}"):
                for value in row.values():
                    if isinstance(value, str):
                        for needle in FAKE_SECRET_VALUES:
                            assert needle.decode() not in value, (table, row)
    # And in the raw bytes of every file SQLite wrote (WAL checkpointed at close).
    files = list(tmp_path.glob("secrets.db*"))
    assert files
    for path in files:
        data = path.read_bytes()
        for needle in FAKE_SECRET_VALUES:
            assert needle not in data, (path.name, needle)
    # The fixture really holds them (the test could otherwise not fail).
    raw = b"".join(p.read_bytes() for p in (fixtures_dir / "demo").glob("*.yaml"))
    assert all(needle in raw for needle in FAKE_SECRET_VALUES if needle != b"fake-demo-token-DO-NOT-STORE")


def test_db_file_is_private(tmp_path: Path, fixtures_dir: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        db = tmp_path / "new" / "private.db"
        with Store(db) as store:
            import_files(store, [str(fixtures_dir / "core" / "role-list.json")], "c")
            assert stat.S_IMODE(db.stat().st_mode) == 0o600
            wal = Path(str(db) + "-wal")
            assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_prune_keeps_the_newest_snapshots(store: Store, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "core" / "role-list.json")
    ids = [import_files(store, [path], "c").snapshot.id for _ in range(4)]
    other = import_files(store, [path], "other").snapshot.id
    removed = store.prune("c", keep=2)
    assert removed == ids[:2]
    assert [s.id for s in store.snapshots("c")] == ids[2:]
    for snapshot_id in ids[:2]:
        assert all(n == 0 for n in table_counts(store, snapshot_id).values())
    assert table_counts(store, ids[3])["roles"] == 2
    assert [s.id for s in store.snapshots("other")] == [other]  # other clusters untouched
    assert store.prune("c", keep=2) == []


def test_schema_is_current_and_wal(store: Store) -> None:
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    other = sqlite3.connect(store.path)
    try:
        assert other.execute("SELECT max(version) FROM schema_version").fetchone()[0] == store.schema_version()
    finally:
        other.close()
