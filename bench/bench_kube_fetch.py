"""`import kube` fetch: serial lists vs the thread pool, against the loopback fake API server.

Every request gets an artificial latency (as a remote API server has), so the ratio shows
what running independent lists concurrently buys. Prints times and the serial/threaded ratio.

    python bench/bench_kube_fetch.py [--quick] [--latency 0.05] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from rbacmap.importers.kube import FetchOptions, import_kube
from rbacmap.importers.kube_auth import resolve_targets
from rbacmap.store import Store

REPO = Path(__file__).resolve().parents[1]


def _fake_apiserver() -> ModuleType:
    path = REPO / "tests" / "importers" / "fake_apiserver.py"
    spec = importlib.util.spec_from_file_location("rbacmap_tests_fake_apiserver", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _timed_import(kubeconfig: Path, db: Path, options: FetchOptions) -> tuple[float, int]:
    [target] = resolve_targets(str(kubeconfig))
    with Store(db) as store:
        start = time.perf_counter()
        result = import_kube(store, target.api_client, target.cluster, options=options)
        elapsed = time.perf_counter() - start
    target.api_client.close()
    return elapsed, sum(result.snapshot.object_counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every request")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    fake = _fake_apiserver()
    page_size = 3 if args.quick else 1  # small pages: several requests per kind, as on a big cluster
    with tempfile.TemporaryDirectory() as tmp, fake.FakeApiServer() as server:
        server.behaviour.latency = args.latency
        kubeconfig = fake.render_kubeconfig("kubeconfig.yaml", Path(tmp) / "kubeconfig", prod=server.url)
        serial, objects = _timed_import(kubeconfig, Path(tmp) / "serial.db", FetchOptions(page_size, 1))
        requests = len(server.requests)
        threaded, _ = _timed_import(kubeconfig, Path(tmp) / "threaded.db", FetchOptions(page_size, args.concurrency))
    print(f"{objects} objects, {requests} requests per import, {args.latency * 1000:.0f} ms latency per request")
    print(f"serial (1 thread):        {serial:.2f} s")
    print(f"threaded ({args.concurrency} threads):     {threaded:.2f} s")
    print(f"ratio serial/threaded:    {serial / threaded:.1f}x")


if __name__ == "__main__":
    main()
