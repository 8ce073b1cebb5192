"""Escalation solver speed: all subjects x all targets vs `json.loads` of the same dump.

    python bench/bench_solver.py            # 1000 namespaces
    python bench/bench_solver.py --quick    # 50 namespaces, for a smoke run
    python bench/bench_solver.py --full     # 1000 and 10000 namespaces (10x scaling; slow, ~0.5 GB)

Goals from the issue: solving every subject and target (graph build + reverse searches +
every path materialized) takes at most 1x the time to json.loads the dump; a 10x larger
cluster takes at most 12x longer. The import itself is not timed here (bench_import.py
does that). Prints numbers and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from rbacmap.importers.manifests import import_files

from rbacmap.solver import solve
from rbacmap.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_cluster import cached_cluster  # noqa: E402

GOAL_PARSE_RATIO = 1.0
GOAL_SCALING = 12.0


def json_loads_seconds(paths: list[Path], repeat: int) -> float:
    texts = [path.read_bytes() for path in paths]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            json.loads(text)
        best = min(best, time.perf_counter() - start)
    return best


def solve_seconds(store: Store, repeat: int) -> tuple[float, int, int, int]:
    best = float("inf")
    found = nodes = edges = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = solve(store, use_cache=False)
        found = len(result.paths())
        best = min(best, time.perf_counter() - start)
        nodes, edges = len(result.graph.nodes), len(result.graph.edges)
    return best, found, nodes, edges


def measure(namespaces: int, repeat: int) -> float:
    paths = cached_cluster(namespaces)
    size = sum(p.stat().st_size for p in paths)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        start = time.perf_counter()
        import_files(store, [str(p) for p in paths], "bench")
        imported = time.perf_counter() - start
        parse = json_loads_seconds(paths, repeat)
        solved, found, nodes, edges = solve_seconds(store, repeat)
        store.close()
    print(f"{namespaces} namespaces: {size / 1e6:.1f} MB, import {imported:.1f} s (not part of the goal)")
    print(f"  json.loads of the dump:        {parse:.2f} s")
    print(f"  solve all subjects x targets:  {solved:.2f} s  ({nodes} nodes, {edges} edges, {found} findings)")
    ratio = solved / parse
    verdict = "meets" if ratio <= GOAL_PARSE_RATIO else "MISSES"
    print(f"  ratio solve / json.loads = {ratio:.2f}x (goal <= {GOAL_PARSE_RATIO}x: {verdict})")
    return solved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 namespaces")
    parser.add_argument("--full", action="store_true", help="also 10000 namespaces, for the 10x scaling goal")
    parser.add_argument("--namespaces", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    base = args.namespaces or (50 if args.quick else 1000)
    small = measure(base, args.repeat)
    if args.full:
        large = measure(base * 10, 1)
        scaling = large / small
        verdict = "meets" if scaling <= GOAL_SCALING else "MISSES"
        print(f"10x cluster: solve took {scaling:.1f}x longer (goal <= {GOAL_SCALING}x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
