"""Offboarding from audit usage: the groups a person was seen with, and the artifacts they left behind.

Artifacts are objects the person's requests created (or token Secrets they read) that still
exist in the snapshot: they keep working after the account is gone. Audit rows are matched
to snapshot objects by resource, namespace and name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from rbacmap.model import CLUSTER_ROLE, SERVICE_ACCOUNT, USER, Binding, ResourceRequest, RoleKey
from rbacmap.offboard_context import ClusterContext, Resolution
from rbacmap.offboard_identity import UNIVERSAL_GROUPS, Identity
from rbacmap.offboard_report import Finding, FixStep, ObjectRef
from rbacmap.usage import UsageRecord, audit_imports, impersonations, usage_records, user_groups

TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
# (api group, resource) -> kind, for objects whose creation leaves access behind.
CREATED_ACCESS_OBJECTS = {
    ("rbac.authorization.k8s.io", "clusterrolebindings"): "ClusterRoleBinding",
    ("rbac.authorization.k8s.io", "rolebindings"): "RoleBinding",
    ("rbac.authorization.k8s.io", "clusterroles"): "ClusterRole",
    ("rbac.authorization.k8s.io", "roles"): "Role",
    ("", "serviceaccounts"): "ServiceAccount",
}
WORKLOAD_RESOURCES = {
    ("", "pods"): "Pod",
    ("apps", "deployments"): "Deployment",
    ("apps", "daemonsets"): "DaemonSet",
    ("apps", "statefulsets"): "StatefulSet",
    ("apps", "replicasets"): "ReplicaSet",
    ("batch", "jobs"): "Job",
    ("batch", "cronjobs"): "CronJob",
}
# A bound token's default lifetime (TokenRequest without expirationSeconds, `kubectl create token`).
DEFAULT_TOKEN_SECONDS = 3600
ALLOWED = ("allow", "unknown")

# (namespace, name) of a service account -> (power, provenance) or None when it holds nothing notable.
ServiceAccountPower = Callable[[str, str], tuple[str, dict[str, Any]] | None]


@dataclass(frozen=True)
class AuditData:
    """A cluster's audit usage as offboarding needs it."""

    imported: bool
    groups_by_user: dict[str, tuple[str, ...]]


def load_audit(ctx: ClusterContext) -> AuditData:
    imports = audit_imports(ctx.store, ctx.cluster)
    return AuditData(bool(imports), user_groups(ctx.store, ctx.cluster) if imports else {})


def add_audit_identities(audit: AuditData, resolution: Resolution) -> None:
    """The groups each of the person's usernames was seen with; other users seen in the same groups."""
    shared = resolution.shared_usernames()
    for username in sorted(resolution.usernames()):
        groups = audit.groups_by_user.get(username, ())
        identity = Identity(username, groups, f"audit log: {username} was seen with these groups", "audit",
                            username in shared)
        if not set(groups) - UNIVERSAL_GROUPS or identity in resolution.identities:
            continue
        resolution.identities.append(identity)
    for username, groups in audit.groups_by_user.items():
        for group in groups:
            resolution.add_member(group, username, "audit log")


def requested_csrs(ctx: ClusterContext, usernames: set[str]) -> set[str]:
    """Names of the CSRs the person's requests created."""
    return {
        r.request.name
        for r in _usage(ctx, usernames)
        if isinstance(r.request, ResourceRequest) and r.request.verb == "create" and r.decision in ALLOWED
        and r.request.resource == "certificatesigningrequests" and not r.request.subresource and r.request.name
    }


def _usage(ctx: ClusterContext, usernames: set[str]) -> list[UsageRecord]:
    records: list[UsageRecord] = []
    for username in sorted(usernames):
        records += usage_records(ctx.store, ctx.cluster, username=username)
    return records


def _usage_json(record: UsageRecord) -> dict[str, Any]:
    return {
        "username": record.username, "request": record.request.describe(), "decision": record.decision,
        "count": record.count, "first_seen": record.first_seen, "last_seen": record.last_seen,
        "source": "audit log",
    }


def audit_findings(ctx: ClusterContext, resolution: Resolution, power: ServiceAccountPower) -> list[Finding]:
    """Last seen, objects created, token Secrets created or read, TokenRequests, workloads created.

    What a shared username did (a role's fixed username) may have been anyone's doing: reported,
    but the fix deletes nothing on its account.
    """
    shared = resolution.shared_usernames()
    return [_not_fixed(f) if _actor(f) in shared else f for f in _audit_findings(ctx, resolution, power)]


def _actor(finding: Finding) -> str | None:
    """The username whose audited request a finding comes from."""
    record = finding.provenance.get("created_by") or finding.provenance.get("request") or {}
    return record.get("username") if isinstance(record, dict) else None


def _not_fixed(finding: Finding) -> Finding:
    return replace(finding, fix=(), remediation=f"{_actor(finding)} is shared with others: find out who did this "
                                                f"before acting; {finding.remediation}")


def _audit_findings(ctx: ClusterContext, resolution: Resolution, power: ServiceAccountPower) -> list[Finding]:
    records = _usage(ctx, resolution.usernames())
    if not records:
        return []
    usernames = resolution.usernames()
    findings = [_last_seen(records, _impersonated_by(ctx, usernames))]
    resource_records = [r for r in records if isinstance(r.request, ResourceRequest) and r.decision in ALLOWED]
    created = _created_objects(resource_records)
    for record in resource_records:
        request = record.request
        assert isinstance(request, ResourceRequest)
        key = (request.api_group, request.resource)
        if request.verb == "create" and not request.subresource and key in CREATED_ACCESS_OBJECTS:
            kind = CREATED_ACCESS_OBJECTS[key]
            findings += _created_object(ctx, record, request, kind, _in_use(ctx, request, kind, usernames, created))
        elif key == ("", "secrets") and not request.subresource and request.verb in ("create", "get", "list", "watch"):
            findings += _token_secrets(ctx, record, request)
        elif key == ("", "serviceaccounts") and request.subresource == "token" and request.verb == "create":
            findings.append(_token_request(ctx, record, request))
        elif request.verb == "create" and not request.subresource and key in WORKLOAD_RESOURCES:
            findings += _created_workload(ctx, record, request, WORKLOAD_RESOURCES[key], power)
    return findings


def _impersonated_by(ctx: ClusterContext, usernames: set[str]) -> list[dict[str, Any]]:
    """Users the person acted as through impersonation headers (their requests count as those users')."""
    return [row for row in impersonations(ctx.store, ctx.cluster) if row["impersonator"] in usernames]


def _last_seen(records: list[UsageRecord], impersonated: list[dict[str, Any]]) -> Finding:
    last = max(records, key=lambda r: r.last_seen)
    first = min(r.first_seen for r in records)
    return Finding(
        "last-seen",
        f"last seen acting at {last.last_seen} as {last.username} ({last.request.describe()}, {last.decision}); "
        f"first seen {first}; {sum(r.count for r in records)} request(s) in the imported audit logs",
        None,
        {"last_seen": last.last_seen, "first_seen": first, "last_request": _usage_json(last),
         "requests": sum(r.count for r in records), "impersonated": impersonated},
        remains=False,
    )


def _exists(ctx: ClusterContext, table: str, namespace: str, name: str, kind: str | None = None) -> bool:
    sql = f"SELECT 1 FROM {table} WHERE snapshot_id = ? AND namespace = ? AND name = ?"
    params: list[Any] = [ctx.snapshot.id, namespace, name]
    if kind is not None:
        sql += " AND kind = ?"
        params.append(kind)
    return bool(ctx.store.query(sql, params))


def _created_objects(records: list[UsageRecord]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every binding, role, service account and workload the person's requests created."""
    out = set()
    for record in records:
        request = record.request
        assert isinstance(request, ResourceRequest)
        key = (request.api_group, request.resource)
        kind = CREATED_ACCESS_OBJECTS.get(key) or WORKLOAD_RESOURCES.get(key, "")
        if request.verb == "create" and not request.subresource and kind and request.name:
            out.add((kind, "" if kind.startswith("Cluster") else request.namespace, request.name))
    return out


def _service_account_users(ctx: ClusterContext, namespace: str, name: str,
                           created: set[tuple[str, str, str]]) -> list[str]:
    """Workloads running as the service account that the person did not create (nor their owners)."""
    rows = ctx.store.query(
        "SELECT kind, name, owner_kind, owner_name FROM workloads WHERE snapshot_id = ? AND namespace = ?",
        [ctx.snapshot.id, namespace],
    )
    owners = {(r["kind"], r["name"]): (r["owner_kind"], r["owner_name"]) for r in rows}
    users = ctx.store.query(
        "SELECT kind, name FROM workloads WHERE snapshot_id = ? AND namespace = ? AND service_account = ?"
        " ORDER BY kind, name", [ctx.snapshot.id, namespace, name],
    )
    out = []
    for row in users:
        # Pod -> ReplicaSet -> Deployment: theirs when any object up the chain is.
        chain, node = [], (row["kind"], row["name"])
        while node[0] and node not in chain:
            chain.append(node)
            node = owners.get(node, (None, None))
        if not any((kind, namespace, owned) in created for kind, owned in chain):
            out.append(f"{chain[-1][0]} {namespace}/{chain[-1][1]}")
    return sorted(set(out))


def _others(binding: Binding, usernames: set[str]) -> list[str]:
    """The people a binding grants besides the person: Users not theirs, and every Group (shared by nature).

    ServiceAccounts are not people: a binding for one the person set up is the usual thing left behind.
    """
    return [f"{s.kind} {s.name}" for s in binding.subjects
            if s.kind != SERVICE_ACCOUNT and not (s.kind == USER and s.name in usernames)]


def _goes_with_the_person(binding: Binding, usernames: set[str], created: set[tuple[str, str, str]]) -> bool:
    """Whether the fix deletes the binding: it names only the person, or they created it and it grants nobody else."""
    if all(s.kind == USER and s.name in usernames for s in binding.subjects):
        return True
    return (binding.key.kind, binding.key.namespace, binding.key.name) in created and not _others(binding, usernames)


def _in_use(ctx: ClusterContext, request: ResourceRequest, kind: str, usernames: set[str],
            created: set[tuple[str, str, str]]) -> list[str]:
    """Why deleting a created binding or role would cut other people's access (empty: it would not).

    A binding that also names others keeps them (the person's own subject is removed by the
    direct-binding fix); a role stays while a binding the fix keeps grants it, or while an
    aggregated ClusterRole takes its rules.
    """
    if kind.endswith("Binding"):
        namespace = "" if kind.startswith("Cluster") else request.namespace
        for binding in ctx.policy.all_bindings():
            if (binding.key.kind, binding.key.namespace, binding.key.name) == (kind, namespace, request.name):
                others = _others(binding, usernames)
                return [f"it also grants {', '.join(others)}"] if others else []
        return []
    if kind == "ServiceAccount":
        users = _service_account_users(ctx, request.namespace, request.name, created)
        return [f"{', '.join(users)} run{'s' if len(users) == 1 else ''} as it"] if users else []
    key = RoleKey(kind, request.name, "" if kind == CLUSTER_ROLE else request.namespace)
    reasons = [f"{binding.key} grants it" for binding in ctx.policy.all_bindings()
               if binding.role_key() == key and not _goes_with_the_person(binding, usernames, created)]
    if kind == CLUSTER_ROLE:
        reasons += [f"ClusterRole {role.key.name} aggregates its rules" for role in ctx.policy.roles.values()
                    if role.key.kind == CLUSTER_ROLE and role.key.name != key.name and key.name in role.rule_sources]
    return reasons


def _created_object(ctx: ClusterContext, record: UsageRecord, request: ResourceRequest, kind: str,
                    in_use: list[str]) -> list[Finding]:
    if not request.name:
        return []
    namespace = "" if kind.startswith("Cluster") else request.namespace
    table = {"ServiceAccount": "service_accounts"}.get(kind, "bindings" if kind.endswith("Binding") else "roles")
    if not _exists(ctx, table, namespace, request.name, None if table == "service_accounts" else kind):
        return []
    ref = ObjectRef(kind, request.name, namespace)
    what = "its tokens keep working" if kind == "ServiceAccount" else "the access it grants stays"
    message = (f"{ref.logical_name()} was created by {record.username} (last create at {record.last_seen}) and "
               f"still exists: {what} after the person's account is gone")
    provenance = {"object": ref.to_json(), "created_by": _usage_json(record), "in_use": in_use}
    if in_use:
        # Deleting it would take access from people who still need it: a human decides.
        # Not the person's access once their own subjects are gone: information, not "access remains".
        return [Finding(
            "created-object", f"{message}; the fix keeps it: {'; '.join(in_use)}", ref, provenance, remains=False,
            remediation=f"review {ref.logical_name()} and hand it to an owner; deleting it cuts everyone it serves",
        )]
    return [Finding(
        "created-object", message, ref, provenance,
        remediation=f"review {ref.logical_name()}, then delete it (or hand it to an owner)",
        fix=(FixStep("delete", ref, note=f"created by {record.username}: review before deleting"),),
    )]


def _token_secret_rows(ctx: ClusterContext, namespace: str, name: str) -> list[dict[str, Any]]:
    sql = "SELECT namespace, name, service_account, created_at FROM secrets WHERE snapshot_id = ? AND type = ?"
    params: list[Any] = [ctx.snapshot.id, TOKEN_SECRET_TYPE]
    if namespace:
        sql += " AND namespace = ?"
        params.append(namespace)
    if name:
        sql += " AND name = ?"
        params.append(name)
    return ctx.store.query(sql + " ORDER BY namespace, name", params)


def _token_secrets(ctx: ClusterContext, record: UsageRecord, request: ResourceRequest) -> list[Finding]:
    if request.verb == "create" and not request.name:
        return []
    findings = []
    for row in _token_secret_rows(ctx, request.namespace, request.name):
        ref = ObjectRef("Secret", row["name"], row["namespace"])
        action = "created" if request.verb == "create" else ("read" if request.name else f"{request.verb}ed")
        findings.append(Finding(
            "token-secret",
            f"{record.username} {action} the legacy token Secret {row['namespace']}/{row['name']} of ServiceAccount "
            f"{row['service_account']} (last {request.verb} at {record.last_seen}); a legacy token never expires: "
            "it works until the Secret is deleted",
            ref,
            {"secret": ref.to_json(), "service_account": row["service_account"], "request": _usage_json(record)},
            remediation="delete the Secret (invalidates the token); recreate it if something still needs one",
            fix=(FixStep("delete", ref, note=f"token {action} by {record.username}: deleting invalidates it"),),
        ))
    return findings


def _token_request(ctx: ClusterContext, record: UsageRecord, request: ResourceRequest) -> Finding:
    ref = ObjectRef("ServiceAccount", request.name, request.namespace)
    exists = _exists(ctx, "service_accounts", request.namespace, request.name)
    return Finding(
        "token-request",
        f"{record.username} requested {record.count} token(s) for ServiceAccount {request.namespace}/{request.name}"
        f" (last at {record.last_seen}); a bound token lives for its expirationSeconds (default "
        f"{DEFAULT_TOKEN_SECONDS}s, up to the API server's --service-account-max-token-expiration; the audit "
        "metadata does not record the requested lifetime)" + ("" if exists else "; the ServiceAccount is gone"),
        ref,
        {"service_account": ref.to_json(), "request": _usage_json(record), "service_account_exists": exists,
         "default_lifetime_seconds": DEFAULT_TOKEN_SECONDS, "lifetime_known": False},
        remains=exists,
        remediation="bound tokens die with their ServiceAccount: recreate it (new UID) if long-lived tokens may "
                    "have been requested",
        fix=(FixStep("command", command=f"kubectl get serviceaccount {request.name} -n {request.namespace} -o yaml",
                     note="to invalidate tokens requested for it: delete and recreate this ServiceAccount"),)
        if exists else (),
    )


def _created_workload(
    ctx: ClusterContext, record: UsageRecord, request: ResourceRequest, kind: str, power: ServiceAccountPower
) -> list[Finding]:
    if not request.name:
        return []
    rows = ctx.store.query(
        "SELECT service_account, privileged, host_pid, host_network, host_path_volumes FROM workloads"
        " WHERE snapshot_id = ? AND kind = ? AND namespace = ? AND name = ?",
        [ctx.snapshot.id, kind, request.namespace, request.name],
    )
    if not rows:
        return []
    row = rows[0]
    ref = ObjectRef(kind, request.name, request.namespace)
    found = power(request.namespace, row["service_account"])
    host = [flag for flag in ("privileged", "host_pid", "host_network") if row[flag]]
    if json.loads(row["host_path_volumes"] or "[]"):
        host.append("hostPath")
    detail = f"runs as ServiceAccount {request.namespace}/{row['service_account']}"
    if found:
        detail += f", which can {found[0]}"
    if host:
        detail += f"; the pod is {', '.join(host)}"
    return [Finding(
        "created-workload",
        f"{ref.logical_name()} was created by {record.username} (at {record.last_seen}) and {detail}",
        ref,
        {"workload": ref.to_json(), "created_by": _usage_json(record), "service_account": row["service_account"],
         "service_account_power": found[1] if found else None, "host_access": host},
        remains=bool(found or host),
        remediation="review what the workload runs and who can reach it; delete it if nobody owns it",
        fix=(FixStep("delete", ref, note=f"created by {record.username}: review before deleting"),)
        if found or host else (),
    )]
