"""The auditIDs of a cluster's imports are kept a few days only; older imports protect their windows instead.

Daily logs imported one after the other: the IDs table holds the last days' requests only, re-importing an
old day counts nothing, a day that fills a gap between imported days counts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rbacmap.importers import audit_parallel
from rbacmap.importers.audit import import_audit
from rbacmap.schema import MIGRATIONS
from rbacmap.store import Store
from rbacmap.usage import audit_imports

REQUESTS = 48  # per day, one every half hour


def _day_log(folder: Path, day: int, impersonated: bool = False) -> Path:
    """A day of May 2024: every request at its final stage, and every fifth also at an earlier stage before it.

    `impersonated`: every request impersonates (so it takes the reference path, not the hot loop's)."""
    path = folder / f"audit-{day:02d}.jsonl"
    lines = []
    for index in range(REQUESTS):
        stamp = f"2024-05-{day:02d}T{index // 2:02d}:{index % 2 * 30:02d}:00.000000Z"
        event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"day{day}-{index}",
                 "stage": "ResponseComplete", "verb": "get", "user": {"username": "alice"},
                 "objectRef": {"resource": "pods", "namespace": "web"}, "responseStatus": {"code": 200},
                 "requestReceivedTimestamp": stamp, "stageTimestamp": stamp}
        if impersonated:
            event["impersonatedUser"] = {"username": "bob"}
        if index % 5 == 0:
            lines.append(json.dumps({**event, "stage": "RequestReceived"}))
        lines.append(json.dumps(event))
    path.write_text("\n".join(lines) + "\n")
    return path


def _count(store: Store) -> int:
    return int(store.query("SELECT sum(count) AS n FROM audit_usage")[0]["n"] or 0)


def _ids_by_import(store: Store) -> dict[int, int]:
    rows = store.query("SELECT import_id, count(*) AS n FROM audit_request_ids GROUP BY import_id")
    return {row["import_id"]: row["n"] for row in rows}


def test_daily_imports_keep_the_ids_of_the_last_days_only(store: Store, tmp_path: Path) -> None:
    ids = []
    for day in range(1, 9):
        result = import_audit(store, [str(_day_log(tmp_path, day))], "prod")
        assert (result.requests, result.already_imported) == (REQUESTS, 0)
        ids.append(result.import_id)
        # Kept: the imports whose window ended at most 2 days before the newest's (today, yesterday and the
        # day before, which ended exactly 2 days before today).
        assert _ids_by_import(store) == {number: REQUESTS for number in ids[-3:]}
    assert [row["ids_pruned"] for row in audit_imports(store, "prod")] == [1] * 5 + [0] * 3
    assert _count(store) == 8 * REQUESTS


@pytest.mark.parametrize("impersonated", [False, True])
def test_an_old_log_imported_again_counts_nothing(store: Store, tmp_path: Path, impersonated: bool) -> None:
    """Its IDs were pruned, its window stands in for them (in the hot loop and in the reference path)."""
    for day in range(1, 7):
        import_audit(store, [str(_day_log(tmp_path, day, impersonated))], "prod")
    before = _count(store)
    assert store.query("SELECT count(*) AS n FROM audit_request_ids WHERE audit_id LIKE 'day2-%'")[0]["n"] == 0
    again = import_audit(store, [str(_day_log(tmp_path, 2, impersonated))], "prod")
    assert (again.requests, again.already_imported) == (0, REQUESTS)
    assert _count(store) == before
    # The days still holding their IDs are found by ID, as before.
    recent = import_audit(store, [str(_day_log(tmp_path, 6, impersonated))], "prod")
    assert (recent.requests, recent.already_imported) == (0, REQUESTS)


def test_a_log_that_fills_a_gap_counts_and_then_protects_its_own_window(store: Store, tmp_path: Path) -> None:
    for day in (1, 2, 4, 5, 6, 7):
        import_audit(store, [str(_day_log(tmp_path, day))], "prod")
    # Day 3 lies between the pruned windows of days 2 and 4 (not inside either): it counts.
    gap = import_audit(store, [str(_day_log(tmp_path, 3))], "prod")
    assert (gap.requests, gap.already_imported) == (REQUESTS, 0)
    # Its own IDs were pruned at once (its window is old), and its window protects it from now on.
    assert gap.import_id not in _ids_by_import(store)
    again = import_audit(store, [str(_day_log(tmp_path, 3))], "prod")
    assert (again.requests, again.already_imported) == (0, REQUESTS)
    assert _count(store) == 7 * REQUESTS


@pytest.mark.parametrize("workers", [1, 3])
def test_parallel_workers_skip_the_windows_of_pruned_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(audit_parallel, "PARALLEL_MIN_BYTES", 1)
    with Store(str(tmp_path / "rbacmap.db")) as store:
        for day in range(1, 6):
            assert import_audit(store, [str(_day_log(tmp_path, day))], "prod", workers=workers).requests == REQUESTS
        # The IDs the workers counted were recorded for their import, and pruned with it.
        assert sorted(_ids_by_import(store).values()) == [REQUESTS] * 3
        two_days = tmp_path / "two-days.jsonl"
        two_days.write_text(_day_log(tmp_path, 1).read_text() + _day_log(tmp_path, 5).read_text())
        again = import_audit(store, [str(two_days)], "prod", workers=workers)
        assert (again.requests, again.already_imported) == (0, 2 * REQUESTS)


def test_migration_19_gives_known_ids_to_the_latest_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(tmp_path / "old.db")
    monkeypatch.setattr("rbacmap.store.MIGRATIONS", [m for m in MIGRATIONS if m[0] < 19])
    with Store(path) as old:
        old.conn.execute("INSERT INTO clusters (name, created_at) VALUES ('prod', ''), ('dev', '')")
        old.conn.executemany("INSERT INTO audit_imports (id, cluster, source, format, started_at, window_start, "
                             "window_end) VALUES (?, ?, 'audit', 'k8s', '', ?, ?)",
                             [(1, "prod", "2024-05-01T00:00:00Z", "2024-05-01T23:30:00Z"),
                              (2, "dev", "2024-05-01T00:00:00Z", "2024-05-01T23:30:00Z"),
                              (3, "prod", "2024-05-02T00:00:00Z", "2024-05-02T23:30:00Z")])
        old.conn.executemany("INSERT INTO audit_request_ids VALUES (?, ?)",
                             [("prod", "day1-0"), ("prod", "day2-0"), ("dev", "day1-0")])
    monkeypatch.undo()
    with Store(path) as migrated:
        assert migrated.query("SELECT * FROM audit_request_ids ORDER BY cluster, audit_id") == [
            {"cluster": "dev", "audit_id": "day1-0", "import_id": 2},
            {"cluster": "prod", "audit_id": "day1-0", "import_id": 3},
            {"cluster": "prod", "audit_id": "day2-0", "import_id": 3},
        ]
        # Nothing lost: both days' IDs are kept until import 3's window is old.
        result = import_audit(migrated, [str(_day_log(tmp_path, 4))], "prod")
        assert [row["ids_pruned"] for row in audit_imports(migrated, "prod")] == [1, 0, 0]
        assert result.requests == REQUESTS
        assert {row["audit_id"] for row in migrated.query(
            "SELECT audit_id FROM audit_request_ids WHERE cluster = 'prod' AND import_id = 3")} == {"day1-0", "day2-0"}


def test_a_log_dated_in_the_future_prunes_nothing_of_today(store: Store, tmp_path: Path) -> None:
    """The newest window end counts up to the present only: a bad clock does not drop yesterday's IDs."""
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    recent, future = tmp_path / "recent.jsonl", tmp_path / "future.jsonl"
    recent.write_text(_day_log(tmp_path, 1).read_text().replace("2024-05-01", yesterday))
    future.write_text(_day_log(tmp_path, 2).read_text().replace("2024-05-02", "2999-01-01"))
    import_audit(store, [str(recent)], "prod")
    import_audit(store, [str(future)], "prod")
    assert [row["ids_pruned"] for row in audit_imports(store, "prod")] == [0, 0]
    assert sorted(_ids_by_import(store).values()) == [REQUESTS, REQUESTS]
