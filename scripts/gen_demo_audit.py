"""Writes fixtures/demo-audit/audit.jsonl: two weeks of audit events for the demo cluster.

Deterministic; run from the repo root: python3 scripts/gen_demo_audit.py
"""

import json
events = []
n = 0
def ev(user, groups, verb, resource, ns, name="", group="", sub="", code=200, decision="allow", ts="2026-11-20T09:00:00Z", stages=("ResponseComplete",), imp=None):
    global n
    n += 1
    path = ("/apis/%s/v1" % group if group else "/api/v1") + (f"/namespaces/{ns}" if ns else "") + f"/{resource}" + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")
    obj = {"resource": resource, "apiVersion": "v1"}
    if ns: obj["namespace"] = ns
    if name: obj["name"] = name
    if group: obj["apiGroup"] = group
    if sub: obj["subresource"] = sub
    for stage in stages:
        e = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"demo-{n:04d}",
             "stage": stage, "requestURI": path, "verb": verb, "user": {"username": user, "groups": groups},
             "sourceIPs": ["10.0.3.7"], "userAgent": "kubectl/v1.31.0", "objectRef": obj,
             "requestReceivedTimestamp": ts, "stageTimestamp": ts}
        if imp: e["impersonatedUser"] = imp
        if stage != "RequestReceived":
            e["responseStatus"] = {"metadata": {}, "code": code}
            e["annotations"] = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": ""}
        events.append(e)
SA = lambda ns, name: (f"system:serviceaccount:{ns}:{name}", ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"])
dep = SA("ci", "deployer")
for day in range(13, 27):
    ts = f"2026-11-{day}T0{day % 10}:15:00Z"
    for ns in ("web", "payments"):
        ev(*dep, "get", "deployments", ns, name="api", group="apps", ts=ts, stages=("RequestReceived", "ResponseComplete"))
        ev(*dep, "patch", "deployments", ns, name="api", group="apps", ts=ts)
        ev(*dep, "get", "configmaps", ns, name="app-settings", ts=ts)
        ev(*dep, "update", "configmaps", ns, name="app-settings", ts=ts)
    fe = SA("web", "frontend")
    ev(*fe, "get", "configmaps", "web", name="web-config", ts=ts)
    ev(*fe, "watch", "configmaps", "web", name="web-config", ts=ts)
    erin = ("erin@example.com", ["web-team", "system:authenticated"])
    ev(*erin, "list", "pods", "web", ts=ts)
    ev(*erin, "get", "pods", "web", name="frontend-7d9f", sub="log", ts=ts)
dana = ("dana@example.com", ["oncall", "system:authenticated"])
ev(*dana, "get", "secrets", "payments", name="stripe-api-key", code=403, decision="forbid", ts="2026-11-24T22:10:00Z")
ev(*dana, "list", "pods", "payments", ts="2026-11-24T22:09:00Z")
erin = ("erin@example.com", ["web-team", "system:authenticated"])
ev(*erin, "create", "pods", "web", name="frontend-7d9f", sub="exec", ts="2026-11-25T11:00:00Z")
with open("fixtures/demo-audit/audit.jsonl", "w") as f:
    for e in events:
        f.write(json.dumps(e, separators=(",", ":")) + "\n")
print(len(events))
