"""Audit import speed and memory: import throughput vs merely parsing the same lines.

Generates deterministic audit logs and runs each measurement in a fresh process so peak RSS
(ru_maxrss) belongs to that run alone. The baseline is the fastest JSON parser installed
(orjson and msgspec are both measured, each decoding every line into Python objects). The
import is measured twice: in one process (`--jobs 1`) and with the default workers (one per
CPU, at most 4); CPU time counts the workers too. Goals: import >= 50% of the parse
throughput; peak memory flat (< 300 MB) whatever the log size -- shown by two sizes. Two key distributions:

- realistic: a 100-node cluster (50 namespaces, 30 pods each, 40 controllers/operators,
  20 people). Request shares: kubelets 45% (node lease update/get by the node's own name,
  node status patch, pod status patch and secret/configmap get by name from the ~30 pods
  on the node, pod list/watch), controllers and operators 40% (leader-election lease
  get/update by one fixed name, cluster-wide list/watch of 3-6 kinds, get/update/patch by
  name on the objects of their namespaces, event create), probes and monitoring 10%
  (/healthz, /readyz, /livez, /metrics, cluster-wide lists), people and CI 5% (list/get/
  watch, some patches by name, 20% of their requests denied). Within each actor, requests
  follow a Zipf-like weight (the first habit ~1/1, the k-th ~1/k), as leases and watches
  dominate real logs. 250,000 events -> ~30,000 distinct usage keys, 1,000,000 -> ~52,000;
  the 100 most frequent keys carry ~27% of requests (100 node leases alone are 100 keys).
- worst case (high cardinality): the same event shape, but every get/update/patch/create/
  delete names a distinct object, so most requests are a new usage key and a new SQLite row
  (1,000,000 events -> ~574,000 keys).

Both: ~10% of requests also logged at RequestReceived, watches at ResponseStarted +
ResponseComplete, ~3% non-resource requests, a unique auditID per request.

    python bench/bench_audit.py            # 250,000 and 1,000,000 events, both distributions
    python bench/bench_audit.py --quick    # 50,000 and 200,000 events
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# (username, groups, verb, apiGroup, resource, subresource, namespace, name pool ([""] = unnamed))
Template = tuple[str, list[str], str, str, str, str, str, list[str]]

NAMESPACES = [f"team-{i:02d}" for i in range(50)]
KINDS = [("", "pods"), ("", "configmaps"), ("", "secrets"), ("", "services"), ("", "endpoints"),
         ("apps", "deployments"), ("apps", "replicasets"), ("batch", "jobs"), ("networking.k8s.io", "ingresses"),
         ("discovery.k8s.io", "endpointslices")]
UNNAMED = [""]


def _zipf(rng: random.Random, templates: list[Template], share: float, fixed: int = 0) -> list[tuple[Template, float]]:
    """The actor's habits weighted 1/k, scaled to the actor's share of requests.

    The first `fixed` habits keep their place (heartbeats: leases, node status, watches are
    the bulk of real audit logs); the rest are shuffled.
    """
    tail = templates[fixed:]
    rng.shuffle(tail)
    templates = templates[:fixed] + tail
    weights = [1 / (k + 1) for k in range(len(templates))]
    total = sum(weights)
    return [(t, share * w / total) for t, w in zip(templates, weights, strict=True)]


def realistic_templates(rng: random.Random) -> list[tuple[Template, float]]:
    """Weighted request templates of the realistic cluster described in the module docstring."""
    pods = {ns: [f"{ns}-app-{i}" for i in range(30)] for ns in NAMESPACES}
    out: list[tuple[Template, float]] = []
    nodes = [f"node-{i:03d}" for i in range(100)]
    for node in nodes:
        user, groups = f"system:node:{node}", ["system:nodes", "system:authenticated"]
        local = [p for ns in rng.sample(NAMESPACES, 3) for p in rng.sample(pods[ns], 10)]
        ns_of = {p: p.rsplit("-app-", 1)[0] for p in local}
        habits: list[Template] = [
            (user, groups, "update", "coordination.k8s.io", "leases", "", "kube-node-lease", [node]),
            (user, groups, "get", "coordination.k8s.io", "leases", "", "kube-node-lease", [node]),
            (user, groups, "patch", "", "nodes", "status", "", [node]),
            (user, groups, "get", "", "nodes", "", "", [node]),
            (user, groups, "watch", "", "pods", "", "", UNNAMED),
            (user, groups, "list", "", "pods", "", "", UNNAMED),
        ]
        for ns in sorted(set(ns_of.values())):
            names = [p for p in local if ns_of[p] == ns]
            habits += [(user, groups, "patch", "", "pods", "status", ns, names),
                       (user, groups, "get", "", "secrets", "", ns, [f"{n}-token" for n in names]),
                       (user, groups, "get", "", "configmaps", "", ns, [f"{n}-config" for n in names]),
                       (user, groups, "create", "", "events", "", ns, UNNAMED)]
        out += _zipf(rng, habits, 0.45 / len(nodes), fixed=6)
    controllers = ["system:kube-controller-manager", "system:kube-scheduler"]
    controllers += [f"system:serviceaccount:operators:operator-{i}" for i in range(38)]
    for user in controllers:
        groups = ["system:serviceaccounts", "system:serviceaccounts:operators", "system:authenticated"]
        home = rng.sample(NAMESPACES, rng.randrange(1, 6))
        habits = [(user, groups, "get", "coordination.k8s.io", "leases", "", "kube-system", [user.rsplit(":", 1)[-1]]),
                  (user, groups, "update", "coordination.k8s.io", "leases", "", "kube-system",
                   [user.rsplit(":", 1)[-1]])]
        kinds = rng.sample(KINDS, rng.randrange(3, 7))
        habits += [(user, groups, verb, group, kind, "", "", UNNAMED) for group, kind in kinds for verb in ("watch",
                                                                                                         "list")]
        fixed = len(habits)
        for group, kind in kinds:
            for ns in home:
                names = [p.replace("pods", kind) for p in pods[ns]]
                habits += [(user, groups, verb, group, kind, "", ns, names) for verb in ("get", "update", "patch")]
        habits += [(user, groups, "create", "", "events", "", ns, UNNAMED) for ns in home]
        out += _zipf(rng, habits, 0.40 / len(controllers), fixed)
    probes: list[Template] = [("system:anonymous", ["system:unauthenticated"], "get", "", "", "", "", [path])
                              for path in ("/healthz", "/readyz", "/livez")]
    prom = ("system:serviceaccount:monitoring:prometheus",
            ["system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"])
    probes += [(*prom, "get", "", "", "", "", ["/metrics"])]
    probes += [(*prom, verb, "", kind, "", "", UNNAMED) for verb in ("list", "watch")
               for kind in ("pods", "nodes", "endpoints", "services")]
    out += _zipf(rng, probes, 0.10, fixed=len(probes))
    people = [f"user{i}@example.com" for i in range(20)]
    habits = []
    for user in people:
        groups = ["devs", "system:authenticated"]
        for ns in rng.sample(NAMESPACES, 3):
            for group, kind in rng.sample(KINDS, 3):
                habits += [(user, groups, "list", group, kind, "", ns, UNNAMED),
                           (user, groups, "get", group, kind, "", ns, [p.replace("pods", kind) for p in pods[ns]]),
                           (user, groups, "patch", group, kind, "", ns, [p.replace("pods", kind) for p in pods[ns]])]
    out += _zipf(rng, habits, 0.05)
    return out


def generate(path: Path, events: int, distribution: str = "realistic", seed: int = 7) -> tuple[int, float]:
    """Write `events` audit lines; returns (distinct usage keys, share of requests of the top 100 keys)."""
    rng = random.Random(seed)
    weighted = realistic_templates(rng)
    templates = [t for t, _ in weighted]
    cumulative = list(itertools.accumulate(w for _, w in weighted))
    keys: Counter[tuple[str, ...]] = Counter()
    written = 0
    request = 0
    with path.open("w") as out:
        while written < events:
            for template in rng.choices(templates, cum_weights=cumulative, k=1000):
                if written >= events:
                    break
                request += 1
                written += _write_request(out, rng, template, request, events, distribution, keys)
    top = sum(count for _, count in keys.most_common(100))
    return len(keys), top / max(sum(keys.values()), 1)


def _write_request(out: object, rng: random.Random, template: Template, request: int, events: int,
                   distribution: str, keys: Counter[tuple[str, ...]]) -> int:
    user, groups, verb, group, resource_name, subresource, namespace, names = template
    denied = user.endswith("@example.com") and rng.random() < 0.2
    if resource_name == "":  # non-resource request: the pool holds the path
        name = ""
        path = names[0]
    else:
        name = rng.choice(names)
        if distribution == "worst" and verb not in ("list", "watch"):
            name = f"{resource_name}-{request}"
        prefix = f"/apis/{group}/v1" if group else "/api/v1"
        path = prefix + (f"/namespaces/{namespace}" if namespace else "") + f"/{resource_name}" + (
            f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")
    keys[(user, verb, group, resource_name, subresource, namespace, name, path if not resource_name else "",
          str(denied))] += 1
    day = 1 + request * 28 // max(events, 1)
    ts = f"2024-05-{day:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.{request % 1000000:06d}Z"
    event: dict[str, object] = {
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": f"{request:08x}-0000-4000-8000-{rng.getrandbits(48):012x}", "stage": "ResponseComplete",
        "requestURI": path, "verb": verb, "user": {"username": user, "groups": groups},
        "sourceIPs": [f"10.0.{rng.randrange(256)}.{rng.randrange(256)}"],
        "userAgent": "kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/abcdef0",
    }
    if resource_name:
        ref = {"resource": resource_name, "apiVersion": "v1"}
        if namespace:
            ref["namespace"] = namespace
        if group:
            ref["apiGroup"] = group
        if name:
            ref["name"] = name
        if subresource:
            ref["subresource"] = subresource
        event["objectRef"] = ref
    event["responseStatus"] = {"metadata": {}, "code": 403 if denied else 200}
    event["requestReceivedTimestamp"] = ts
    event["stageTimestamp"] = ts
    event["annotations"] = {"authorization.k8s.io/decision": "forbid" if denied else "allow",
                            "authorization.k8s.io/reason": "" if denied else "RBAC: allowed by ClusterRoleBinding"}
    stages = []
    if verb == "watch":
        stages.append("ResponseStarted")
    elif rng.random() < 0.1:
        stages.append("RequestReceived")
    stages.append("ResponseComplete")
    for stage in stages:
        event["stage"] = stage
        out.write(json.dumps(event, separators=(",", ":")) + "\n")  # type: ignore[attr-defined]
    return len(stages)


def child(mode: str, log: str, db: str) -> None:
    start = time.perf_counter()
    if mode.startswith("parse-"):
        loads = _parser(mode.removeprefix("parse-"))
        with open(log, "rb") as stream:
            for line in stream:
                loads(line)
        extra = ""
    else:
        from rbacmap.importers.audit import import_audit
        from rbacmap.store import Store

        Path(db).unlink(missing_ok=True)
        workers = 1 if mode == "import-1" else None
        with Store(db) as store:
            result = import_audit(store, [log], "bench", workers=workers)
        extra = f"{result.requests:,} requests, {len(result.errors)} errors"
    elapsed = time.perf_counter() - start
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime  # workers' CPU counts too
    peak_mb = max(own.ru_maxrss, children.ru_maxrss) / 1024
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "peak_mb": peak_mb, "extra": extra}))


def _parser(name: str) -> Any:
    if name == "orjson":
        import orjson

        return orjson.loads
    if name == "msgspec":
        import msgspec

        return msgspec.json.Decoder().decode
    return json.loads


def installed_parsers() -> list[str]:
    """The JSON parsers installed here; the fastest of them on each log is the baseline."""
    found = []
    for name in ("orjson", "msgspec"):
        try:
            __import__(name)
        except ImportError:
            continue
        found.append(name)
    return found or ["json"]


def run(mode: str, log: Path, db: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(log), str(db)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def best_of(runs: int, mode: str, log: Path, db: Path) -> dict[str, Any]:
    """Fastest of `runs` fresh processes (wall and CPU separately): the box is shared, noise only slows."""
    results = [run(mode, log, db) for _ in range(runs)]
    best = dict(results[0])
    best["seconds"] = min(r["seconds"] for r in results)
    best["cpu"] = min(r["cpu"] for r in results)
    best["peak_mb"] = max(r["peak_mb"] for r in results)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=2, help="processes per measurement; the fastest counts")
    parser.add_argument("--distribution", choices=("realistic", "worst", "both"), default="both")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    sizes = (50_000, 200_000) if args.quick else (250_000, 1_000_000)
    distributions = ("realistic", "worst") if args.distribution == "both" else (args.distribution,)
    with tempfile.TemporaryDirectory() as tmp:
        for distribution in distributions:
            for size in sizes:
                log = Path(tmp) / f"audit-{distribution}-{size}.jsonl"
                keys, top_share = generate(log, size, distribution)
                parses = {name: best_of(args.runs, f"parse-{name}", log, Path(tmp) / "unused.db")
                          for name in installed_parsers()}
                fastest = min(parses, key=lambda name: parses[name]["seconds"])
                parse = parses[fastest]
                log_mb = log.stat().st_size / 1e6
                print(f"{distribution:>9} {size:>9,} events ({log_mb:.0f} MB, {keys:,} distinct keys, top 100 keys "
                      f"{top_share:.0%} of requests); parse: "
                      + ", ".join(f"{n} {size / p['seconds']:,.0f} ev/s" for n, p in parses.items())
                      + f" (fastest: {fastest}, peak RSS {parse['peak_mb']:.0f} MB)", flush=True)
                for mode, label in (("import-1", "import, 1 process"), ("import", "import, default workers")):
                    imported = best_of(args.runs, mode, log, Path(tmp) / "bench.db")
                    ratio = parse["seconds"] / imported["seconds"]
                    cpu_ratio = parse["cpu"] / imported["cpu"]
                    print(f"    {label:<24} {size / imported['seconds']:,.0f} ev/s = {ratio:.0%} of {fastest} "
                          f"parse wall-clock (goal >= 50%), {cpu_ratio:.0%} by CPU time (all processes); "
                          f"peak RSS {imported['peak_mb']:.0f} MB per process (goal < 300 MB, flat); "
                          f"{imported['extra']}", flush=True)
                log.unlink()


if __name__ == "__main__":
    main()
