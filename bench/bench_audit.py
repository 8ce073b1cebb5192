"""Audit import speed and memory: import throughput vs merely parsing the same lines with orjson.

Generates deterministic audit logs (a realistic mix: most requests logged at ResponseComplete
only, some also at RequestReceived, watches at ResponseStarted + ResponseComplete, named and
non-resource requests, denials) and runs each measurement in a fresh process so peak RSS
(ru_maxrss) belongs to that run alone. Goals: import >= 50% of orjson parse throughput; peak
memory flat (< 300 MB) whatever the log size -- shown by two sizes.

    python bench/bench_audit.py            # 1,000,000 and 250,000 events
    python bench/bench_audit.py --quick    # 50,000 and 200,000 events
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
RESOURCES = [("", "pods"), ("", "configmaps"), ("", "secrets"), ("apps", "deployments"), ("batch", "jobs"),
             ("", "services"), ("coordination.k8s.io", "leases")]


def generate(path: Path, events: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    users = [f"system:serviceaccount:ns{i % 40}:sa{i}" for i in range(200)]
    users += [f"user{i}@example.com" for i in range(50)]
    # Real audit logs repeat: controllers and CI accounts make the same few requests all day.
    # Each user has 5-25 habits (verb, resource, namespace, name); names vary within a small pool.
    habits = {}
    for user in users:
        own = []
        for _ in range(rng.randrange(5, 26)):
            verb = rng.choice(VERBS)
            group, resource_name = rng.choice(RESOURCES)
            own.append((verb, group, resource_name, f"ns{rng.randrange(40)}"))
        habits[user] = own
    written = 0
    request = 0
    with path.open("w") as out:
        while written < events:
            request += 1
            user = rng.choice(users)
            verb, group, resource_name, namespace = rng.choice(habits[user])
            name = f"obj-{rng.randrange(20)}" if verb in ("get", "update", "patch", "delete") else ""
            day = 1 + request * 28 // max(events, 1)
            ts = f"2024-05-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.{request % 1000000:06d}Z"
            event: dict[str, object] = {
                "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
                "auditID": f"{request:08x}-0000-4000-8000-{rng.getrandbits(48):012x}", "stage": "ResponseComplete",
                "requestURI": f"/api/v1/namespaces/{namespace}/{resource_name}/{name}", "verb": verb,
                "user": {"username": user, "groups": ["system:authenticated", "system:serviceaccounts"]},
                "sourceIPs": [f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"],
                "userAgent": "kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/abcdef0",
            }
            if rng.random() < 0.03:
                event["requestURI"] = rng.choice(["/healthz", "/metrics", "/livez", "/readyz"])
                event["verb"] = "get"
            else:
                ref = {"resource": resource_name, "namespace": namespace, "apiVersion": "v1"}
                if group:
                    ref["apiGroup"] = group
                if name:
                    ref["name"] = name
                event["objectRef"] = ref
            denied = rng.random() < 0.05
            event["responseStatus"] = {"metadata": {}, "code": 403 if denied else 200}
            event["requestReceivedTimestamp"] = ts
            event["stageTimestamp"] = ts
            event["annotations"] = {"authorization.k8s.io/decision": "forbid" if denied else "allow",
                                    "authorization.k8s.io/reason": "" if denied else "RBAC: allowed by RoleBinding"}
            stages = []
            if verb == "watch":
                stages.append("ResponseStarted")
            elif rng.random() < 0.1:
                stages.append("RequestReceived")
            stages.append("ResponseComplete")
            for stage in stages:
                if written >= events:
                    break
                event["stage"] = stage
                out.write(json.dumps(event, separators=(",", ":")) + "\n")
                written += 1


def child(mode: str, log: str, db: str) -> None:
    start = time.perf_counter()
    if mode == "parse":
        import orjson

        loads = orjson.loads
        with open(log, "rb") as stream:
            for line in stream:
                loads(line)
        extra = ""
    else:
        from rbacmap.importers.audit import import_audit

        from rbacmap.store import Store

        with Store(db) as store:
            result = import_audit(store, [log], "bench")
        extra = f"{result.requests} requests, {len(result.errors)} errors"
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": elapsed, "peak_mb": peak_mb, "extra": extra}))


def run(mode: str, log: Path, db: Path) -> dict[str, float | str]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(log), str(db)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = (50_000, 200_000) if args.quick else (250_000, 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            log = Path(tmp) / f"audit-{size}.jsonl"
            generate(log, size)
            parse = run("parse", log, Path(tmp) / "unused.db")
            imported = run("import", log, Path(tmp) / f"bench-{size}.db")
            ratio = float(parse["seconds"]) / float(imported["seconds"])
            print(f"{size:>9,} events ({log.stat().st_size / 1e6:.0f} MB): "
                  f"orjson parse {size / float(parse['seconds']):,.0f} ev/s; "
                  f"import {size / float(imported['seconds']):,.0f} ev/s = {ratio:.0%} of parse (goal >= 50%); "
                  f"peak RSS import {float(imported['peak_mb']):.0f} MB (parse-only {float(parse['peak_mb']):.0f} MB; "
                  f"goal < 300 MB, flat); {imported['extra']}")


if __name__ == "__main__":
    main()
