"""`import files` stores the same rows whether workloads take the fast path or normalize_workload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rbacmap import snapshot_builder
from rbacmap.importers.manifests import import_files
from rbacmap.schema import SNAPSHOT_TABLES
from rbacmap.store import Store


def table_dump(store: Store, snapshot_id: int) -> dict[str, Any]:
    """Every row of every snapshot table (snapshot_id left out), in a canonical order, plus the counts."""
    snapshot = store.snapshot(snapshot_id)
    dump: dict[str, Any] = {"counts": (snapshot.object_counts, snapshot.skipped_counts, snapshot.error_count)}
    for table in SNAPSHOT_TABLES:
        cursor = store.conn.execute(f"SELECT * FROM {table} WHERE snapshot_id = ? ORDER BY rowid", [snapshot_id])
        names = [column[0] for column in cursor.description]
        rows = [tuple(pair for pair in zip(names, row, strict=True) if pair[0] != "snapshot_id") for row in cursor]
        # Import errors keep their order (it is the order of the input); other tables are sets.
        dump[table] = rows if table == "import_errors" else sorted(rows, key=repr)
    return dump


def test_fast_and_reference_paths_store_identical_rows(
    tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [str(fixtures_dir / "demo"), str(fixtures_dir / "core" / "workload-shapes.yaml")]
    with Store(tmp_path / "fast.db") as store:
        result = import_files(store, paths, "c")
        fast = table_dump(store, result.snapshot.id)
    monkeypatch.setattr(snapshot_builder, "workload_values", lambda obj, namespace: None)
    with Store(tmp_path / "reference.db") as store:
        result = import_files(store, paths, "c")
        reference = table_dump(store, result.snapshot.id)
    assert len(fast["workloads"]) >= 12 and len(fast["import_errors"]) == 4
    assert fast == reference
