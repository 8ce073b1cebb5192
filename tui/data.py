"""What the screens show, read from the store: plain values, no textual imports.

Every function takes a Store opened by the calling worker thread (SQLite connections stay in
the thread that made them) and a snapshot; the analysis itself is the core library's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import yaml

from rbacmap.authorizer import Authorizer, Grant, SubjectGrant
from rbacmap.model import (
    CLUSTER_ROLE,
    ROLE,
    SERVICE_ACCOUNT,
    Binding,
    NonResourceRequest,
    Request,
    ResourceRequest,
    Role,
    RoleKey,
    Subject,
)
from rbacmap.permissions import SubjectPermissions, bindings_of_role, subject_permissions
from rbacmap.policy import SqlitePolicy
from rbacmap.resources import split_resource
from rbacmap.store import Snapshot, Store
from rbacmap.who_can import who_can_rows

# Lists longer than this show the first rows and ask the user to filter (keeps navigation fast).
ROW_LIMIT = 500


@contextmanager
def open_snapshot(db_path: str, cluster: str | None) -> Iterator[tuple[Store, Snapshot]]:
    """Open the store in the calling thread and pick the cluster's latest complete snapshot."""
    store = Store(db_path)
    try:
        yield store, store.latest_snapshot(cluster)
    finally:
        store.close()


# --- dashboard -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterSummary:
    name: str
    snapshots: int
    latest: int | None


@dataclass(frozen=True)
class Dashboard:
    clusters: tuple[ClusterSummary, ...]
    snapshot: Snapshot
    subject_count: int
    import_errors: tuple[str, ...]


def dashboard(store: Store, snapshot: Snapshot) -> Dashboard:
    clusters = tuple(ClusterSummary(row["name"], row["snapshots"], row["latest"]) for row in store.clusters())
    subjects = len(_subject_index(store, snapshot.id))
    errors = tuple(error.describe() for error in store.import_errors(snapshot.id)[:20])
    return Dashboard(clusters, snapshot, subjects, errors)


# --- subjects ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubjectRow:
    subject: Subject
    bindings: int

    @property
    def display_name(self) -> str:
        if self.subject.kind == SERVICE_ACCOUNT:
            return f"{self.subject.namespace}/{self.subject.name}"
        return self.subject.name


def _subject_index(store: Store, snapshot_id: int) -> dict[Subject, int]:
    counts: dict[Subject, int] = {}
    rows = store.query(
        """SELECT kind, name,
                  CASE WHEN kind = 'ServiceAccount' AND namespace = '' THEN binding_namespace ELSE namespace END AS ns,
                  count(DISTINCT binding_kind || '/' || binding_namespace || '/' || binding_name) AS n
           FROM binding_subjects WHERE snapshot_id = ? GROUP BY kind, name, ns""",
        [snapshot_id],
    )
    for row in rows:
        if row["kind"] == SERVICE_ACCOUNT and not row["ns"]:
            continue  # a namespace-less SA in a ClusterRoleBinding never matches anyone
        namespace = row["ns"] if row["kind"] == SERVICE_ACCOUNT else ""
        counts[Subject(row["kind"], row["name"], namespace)] = row["n"]
    for row in store.query("SELECT namespace, name FROM service_accounts WHERE snapshot_id = ?", [snapshot_id]):
        counts.setdefault(Subject(SERVICE_ACCOUNT, row["name"], row["namespace"]), 0)
    return counts


def list_subjects(store: Store, snapshot_id: int, text: str = "") -> tuple[list[SubjectRow], int]:
    """Subjects whose kind or name contains `text`, sorted; (first ROW_LIMIT rows, total matches)."""
    needle = text.lower()
    rows = [
        SubjectRow(subject, count)
        for subject, count in _subject_index(store, snapshot_id).items()
        if needle in f"{subject.kind} {subject.namespace}/{subject.name}".lower()
    ]
    rows.sort(key=lambda row: (row.subject.kind, row.subject.namespace, row.subject.name))
    return rows[:ROW_LIMIT], len(rows)


def permissions_of(store: Store, snapshot_id: int, subject: Subject) -> SubjectPermissions:
    return subject_permissions(store, snapshot_id, subject)


# --- roles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleRow:
    key: RoleKey
    rules: int
    bindings: int


def list_roles(store: Store, snapshot_id: int, text: str = "") -> tuple[list[RoleRow], int]:
    """Roles and ClusterRoles matching `text`, with rule and binding counts."""
    rule_counts = {
        (r["role_kind"], r["role_namespace"], r["role_name"]): r["n"]
        for r in store.query(
            "SELECT role_kind, role_namespace, role_name, count(*) AS n FROM rules WHERE snapshot_id = ?"
            " GROUP BY role_kind, role_namespace, role_name",
            [snapshot_id],
        )
    }
    binding_counts: dict[tuple[str, str, str], int] = {}
    for r in store.query(
        "SELECT role_kind, namespace, role_name, count(*) AS n FROM bindings WHERE snapshot_id = ?"
        " GROUP BY role_kind, namespace, role_name",
        [snapshot_id],
    ):
        # A ClusterRole bound by RoleBindings in many namespaces counts all of them.
        namespace = r["namespace"] if r["role_kind"] == ROLE else ""
        key = (r["role_kind"], namespace, r["role_name"])
        binding_counts[key] = binding_counts.get(key, 0) + r["n"]
    needle = text.lower()
    rows = []
    for r in store.query(
        "SELECT kind, namespace, name FROM roles WHERE snapshot_id = ? ORDER BY kind, namespace, name", [snapshot_id]
    ):
        if needle not in f"{r['kind']} {r['namespace']}/{r['name']}".lower():
            continue
        key = (r["kind"], r["namespace"], r["name"])
        rows.append(RoleRow(RoleKey(r["kind"], r["name"], r["namespace"]), rule_counts.get(key, 0),
                            binding_counts.get(key, 0)))
    return rows[:ROW_LIMIT], len(rows)


@dataclass(frozen=True)
class RoleDetail:
    role: Role
    bindings: tuple[Binding, ...]


def role_detail(store: Store, snapshot_id: int, key: RoleKey) -> RoleDetail | None:
    role = SqlitePolicy(store, snapshot_id).role(key)
    if role is None:
        return None
    return RoleDetail(role, tuple(bindings_of_role(store, snapshot_id, key)))


# --- who can -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhoCanAnswer:
    request: Request
    all_namespaces: bool
    answers: tuple[SubjectGrant, ...]

    def to_json(self) -> dict[str, Any]:
        return {"request": self.request.describe(), "subjects": who_can_rows(list(self.answers))}


def build_request(verb: str, resource: str, namespace: str) -> tuple[Request, bool]:
    """The request the who-can form describes; namespace `*` means every namespace."""
    if resource.startswith("/"):
        return NonResourceRequest(verb, resource), False
    name, subresource, group = split_resource(resource)
    all_namespaces = namespace.strip() == "*"
    return ResourceRequest(verb, name, "" if all_namespaces else namespace.strip(), group, subresource), all_namespaces


def who_can(store: Store, snapshot_id: int, verb: str, resource: str, namespace: str) -> WhoCanAnswer:
    request, all_namespaces = build_request(verb.strip(), resource.strip(), namespace)
    answers = Authorizer(SqlitePolicy(store, snapshot_id)).who_can(request, all_namespaces=all_namespaces)
    return WhoCanAnswer(request, all_namespaces, tuple(answers))


# --- YAML views of objects -------------------------------------------------------------------


def role_manifest(role: Role) -> dict[str, Any]:
    """The role as a Kubernetes manifest (what `kubectl get -o yaml` would show of its rules)."""
    metadata: dict[str, Any] = {"name": role.key.name}
    if role.key.namespace:
        metadata["namespace"] = role.key.namespace
    if role.labels:
        metadata["labels"] = dict(role.labels)
    manifest: dict[str, Any] = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": role.key.kind,
                                "metadata": metadata}
    if role.aggregation_selectors is not None:
        manifest["aggregationRule"] = {"clusterRoleSelectors": list(role.aggregation_selectors)}
    manifest["rules"] = [rule.to_dict() for rule in role.rules]
    return manifest


def binding_manifest(binding: Binding) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": binding.key.name}
    if binding.key.namespace:
        metadata["namespace"] = binding.key.namespace
    subjects = []
    for subject in binding.subjects:
        entry: dict[str, Any] = {"kind": subject.kind, "name": subject.name}
        if subject.api_group:
            entry["apiGroup"] = subject.api_group
        if subject.namespace:
            entry["namespace"] = subject.namespace
        subjects.append(entry)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": binding.key.kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": binding.role_ref.kind,
                    "name": binding.role_ref.name},
        "subjects": subjects,
    }


def grant_json(grant: Grant) -> dict[str, object]:
    return grant.to_json()


def permissions_json(permissions: SubjectPermissions) -> dict[str, Any]:
    subject = permissions.subject
    return {
        "subject": {"kind": subject.kind, "name": subject.name, "namespace": subject.namespace or None},
        "groups": list(permissions.identity.groups) if permissions.identity else None,
        "permissions": {
            namespace or "cluster-wide": [grant.to_json() for grant in grants]
            for namespace, grants in permissions.by_namespace().items()
        },
        "dangling_bindings": [str(binding.key) for binding in permissions.dangling],
    }


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=False)


def role_key_of(kind: str, namespace: str, name: str) -> RoleKey:
    return RoleKey(CLUSTER_ROLE if kind == CLUSTER_ROLE else ROLE, name, namespace)
