"""Write fixtures/demo-audit/audit.jsonl: two weeks of audit events for the demo cluster.

Deterministic; run from the repo root: `python3 scripts/gen_demo_audit.py`.
The CI deployer only ever patches one deployment and its config map per team namespace,
the web frontend reads its config map, Erin reads pods and logs and once execs into a pod,
and Dana is denied a payments secret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path("fixtures/demo-audit/audit.jsonl")


def service_account(namespace: str, name: str) -> tuple[str, list[str]]:
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"]
    return f"system:serviceaccount:{namespace}:{name}", groups


class AuditLog:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.requests = 0

    def request(
        self,
        user: tuple[str, list[str]],
        verb: str,
        resource: str,
        namespace: str,
        *,
        name: str = "",
        group: str = "",
        subresource: str = "",
        code: int = 200,
        decision: str = "allow",
        timestamp: str,
        stages: tuple[str, ...] = ("ResponseComplete",),
    ) -> None:
        self.requests += 1
        prefix = f"/apis/{group}/v1" if group else "/api/v1"
        uri = f"{prefix}/namespaces/{namespace}/{resource}"
        uri += f"/{name}" if name else ""
        uri += f"/{subresource}" if subresource else ""
        object_ref = {"resource": resource, "apiVersion": "v1", "namespace": namespace}
        object_ref.update({k: v for k, v in (("name", name), ("apiGroup", group), ("subresource", subresource)) if v})
        for stage in stages:
            event: dict[str, Any] = {
                "kind": "Event",
                "apiVersion": "audit.k8s.io/v1",
                "level": "Metadata",
                "auditID": f"demo-{self.requests:04d}",
                "stage": stage,
                "requestURI": uri,
                "verb": verb,
                "user": {"username": user[0], "groups": user[1]},
                "sourceIPs": ["10.0.3.7"],
                "userAgent": "kubectl/v1.31.0",
                "objectRef": object_ref,
                "requestReceivedTimestamp": timestamp,
                "stageTimestamp": timestamp,
            }
            if stage != "RequestReceived":
                event["responseStatus"] = {"metadata": {}, "code": code}
                event["annotations"] = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": ""}
            self.events.append(event)


def main() -> None:
    log = AuditLog()
    deployer = service_account("ci", "deployer")
    frontend = service_account("web", "frontend")
    erin = ("erin@example.com", ["web-team", "system:authenticated"])
    dana = ("dana@example.com", ["oncall", "system:authenticated"])
    for day in range(13, 27):
        at = f"2026-11-{day}T0{day % 10}:15:00Z"
        for namespace in ("web", "payments"):
            both_stages = ("RequestReceived", "ResponseComplete")
            log.request(
                deployer, "get", "deployments", namespace, name="api", group="apps", timestamp=at, stages=both_stages
            )
            log.request(deployer, "patch", "deployments", namespace, name="api", group="apps", timestamp=at)
            log.request(deployer, "get", "configmaps", namespace, name="app-settings", timestamp=at)
            log.request(deployer, "update", "configmaps", namespace, name="app-settings", timestamp=at)
        log.request(frontend, "get", "configmaps", "web", name="web-config", timestamp=at)
        log.request(frontend, "watch", "configmaps", "web", name="web-config", timestamp=at)
        log.request(erin, "list", "pods", "web", timestamp=at)
        log.request(erin, "get", "pods", "web", name="frontend-7d9f", subresource="log", timestamp=at)
    log.request(
        dana,
        "get",
        "secrets",
        "payments",
        name="stripe-api-key",
        code=403,
        decision="forbid",
        timestamp="2026-11-24T22:10:00Z",
    )
    log.request(dana, "list", "pods", "payments", timestamp="2026-11-24T22:09:00Z")
    log.request(
        erin, "create", "pods", "web", name="frontend-7d9f", subresource="exec", timestamp="2026-11-25T11:00:00Z"
    )
    OUT.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in log.events))
    print(f"{len(log.events)} events, {log.requests} requests -> {OUT}")


if __name__ == "__main__":
    main()
