"""Check that `import files` stores exactly the same rows as a saved reference run.

    python bench/check_import_rows.py --save bench/out/rows-before.json   # before a change
    python bench/check_import_rows.py --compare bench/out/rows-before.json  # after it
    python bench/check_import_rows.py --compare REF --namespaces 1000     # also the big cluster

Imports the demo fixtures, every file of fixtures/core on its own (they carry the bad-input
cases, so error reports are compared too) and a generated cluster, then dumps every
snapshot table (every column but snapshot_id, rows sorted) plus the snapshot's counts.
Speed work on the import path must leave this dump unchanged; exit status 1 when it differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from rbacmap.importers.manifests import import_files
from rbacmap.schema import SNAPSHOT_TABLES
from rbacmap.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_cluster import cached_cluster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def dump_snapshot(store: Store, snapshot_id: int) -> dict[str, Any]:
    """Every row of one snapshot, canonical: sorted, snapshot_id left out; import_errors keep their order."""
    snapshot = store.snapshot(snapshot_id)
    dump: dict[str, Any] = {
        "object_counts": snapshot.object_counts,
        "skipped_counts": snapshot.skipped_counts,
        "error_count": snapshot.error_count,
        "status": snapshot.status,
    }
    for table in SNAPSHOT_TABLES:
        order = "rowid" if table == "import_errors" else "1"
        cursor = store.conn.execute(f"SELECT * FROM {table} WHERE snapshot_id = ? ORDER BY {order}", [snapshot_id])
        names = [column[0] for column in cursor.description]
        rows = [[value for name, value in zip(names, row, strict=True) if name != "snapshot_id"] for row in cursor]
        if table != "import_errors":
            rows.sort(key=lambda r: json.dumps(r))
        columns = [c[1] for c in store.conn.execute(f"PRAGMA table_info({table})") if c[1] != "snapshot_id"]
        dump[table] = {"columns": columns, "rows": rows}
    return dump


def import_and_dump(paths: list[str], workdir: Path, label: str) -> dict[str, Any]:
    with Store(workdir / f"{label}.db") as store:
        result = import_files(store, paths, "check")
        return dump_snapshot(store, result.snapshot.id)


def cases(namespaces: list[int]) -> dict[str, list[str]]:
    found = {"demo": [str(ROOT / "fixtures" / "demo")]}
    for path in sorted((ROOT / "fixtures" / "core").iterdir()):
        found[f"core/{path.name}"] = [str(path)]
    for count in namespaces:
        found[f"generated-{count}"] = [str(p) for p in cached_cluster(count)]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", type=Path, help="write the reference dump here")
    action.add_argument("--compare", type=Path, help="compare with this reference dump")
    parser.add_argument("--namespaces", type=int, action="append", help="generated cluster sizes (default 20)")
    args = parser.parse_args(argv)
    sizes = args.namespaces or [20]
    with tempfile.TemporaryDirectory(prefix="rbacmap-rows-") as tmp:
        dumps = {
            label: import_and_dump(paths, Path(tmp), f"case{index}")
            for index, (label, paths) in enumerate(cases(sizes).items())
        }
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(dumps, sort_keys=True))
        for label, dump in dumps.items():
            rows = sum(len(t["rows"]) for t in dump.values() if isinstance(t, dict) and "rows" in t)
            print(f"saved {label}: {rows} rows")
        return 0
    reference = json.loads(args.compare.read_text())
    # Normalise through JSON so tuples/lists and int/bool compare as they were saved.
    dumps = json.loads(json.dumps(dumps, sort_keys=True))
    failed = False
    for label, dump in dumps.items():
        if label not in reference:
            print(f"{label}: not in the reference (run --save with the same --namespaces)")
            failed = True
            continue
        digest = hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:12]
        if dump == reference[label]:
            print(f"{label}: identical ({digest})")
            continue
        failed = True
        for key in sorted(set(dump) | set(reference[label])):
            if dump.get(key) != reference[label].get(key):
                print(f"{label}: {key} differs")
                mine, theirs = dump.get(key), reference[label].get(key)
                if isinstance(mine, dict) and isinstance(theirs, dict) and "rows" in mine:
                    extra = [r for r in mine["rows"] if r not in theirs["rows"]][:2]
                    missing = [r for r in theirs["rows"] if r not in mine["rows"]][:2]
                    print(f"    columns {mine['columns']} vs {theirs['columns']}")
                    print(f"    new rows, e.g. {extra}\n    missing rows, e.g. {missing}")
                else:
                    print(f"    {mine!r} vs {theirs!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
