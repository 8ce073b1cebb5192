"""What the screens show, as plain values (no textual imports); the analysis is the core library's.

Lists and lookups read the snapshot's in-memory index (tui/session.py), built once; only the
dashboard's few rows come from SQL, through a read-only Store borrowed by the calling worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from rbacmap.authorizer import Authorizer, Grant, SubjectGrant
from rbacmap.model import (
    CLUSTER_ROLE,
    ROLE,
    Binding,
    NonResourceRequest,
    Request,
    ResourceRequest,
    Role,
    RoleKey,
    Subject,
)
from rbacmap.permissions import SubjectPermissions, permissions_in_policy
from rbacmap.resources import is_cluster_scoped, split_resource
from rbacmap.store import Snapshot, Store
from rbacmap.tui.session import RoleRow, SnapshotData, SubjectRow
from rbacmap.who_can import describe_question, who_can_rows

__all__ = ["RoleRow", "SubjectRow"]

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
    import_errors: tuple[str, ...]


def dashboard(store: Store, snapshot: Snapshot) -> Dashboard:
    """What the first screen needs: three small queries, no snapshot-wide work."""
    clusters = tuple(ClusterSummary(row["name"], row["snapshots"], row["latest"]) for row in store.clusters())
    errors = tuple(error.describe() for error in store.import_errors(snapshot.id)[:20])
    return Dashboard(clusters, snapshot, errors)


# --- subjects and roles: filtered in memory ---------------------------------------------------


def filter_subjects(data: SnapshotData, text: str = "") -> list[SubjectRow]:
    """Subjects whose kind, namespace or name contains `text` (case-insensitive), sorted."""
    needle = text.strip().lower()
    return [row for row in data.subjects if needle in row.search_text]


def filter_roles(data: SnapshotData, text: str = "") -> list[RoleRow]:
    """Roles and ClusterRoles matching `text`, with rule and binding counts."""
    needle = text.strip().lower()
    return [row for row in data.roles if needle in row.search_text]


def permissions_of(data: SnapshotData, subject: Subject) -> SubjectPermissions:
    return permissions_in_policy(data.policy, data.subject_bindings, subject)


@dataclass(frozen=True)
class RoleDetail:
    role: Role
    bindings: tuple[Binding, ...]


def role_detail(data: SnapshotData, key: RoleKey) -> RoleDetail | None:
    role = data.policy.role(key)
    if role is None:
        return None
    return RoleDetail(role, tuple(data.role_bindings.get(key, ())))


# --- who can -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhoCanAnswer:
    request: Request
    all_namespaces: bool
    answers: tuple[SubjectGrant, ...]

    def to_json(self) -> dict[str, Any]:
        return {"request": self.question(), "subjects": who_can_rows(list(self.answers))}

    def question(self) -> str:
        return describe_question(self.request, self.all_namespaces)


def build_request(verb: str, resource: str, namespace: str) -> tuple[Request, bool]:
    """The request the who-can form describes; namespace `*` means every namespace."""
    if resource.startswith("/"):
        return NonResourceRequest(verb, resource), False
    name, subresource, group = split_resource(resource)
    if is_cluster_scoped(name, group):  # as `rbacmap who-can`: no namespace, only ClusterRoleBindings apply
        return ResourceRequest(verb, name, "", group, subresource), False
    all_namespaces = namespace.strip() == "*"
    return ResourceRequest(verb, name, "" if all_namespaces else namespace.strip(), group, subresource), all_namespaces


def who_can(data: SnapshotData, verb: str, resource: str, namespace: str) -> WhoCanAnswer:
    request, all_namespaces = build_request(verb.strip(), resource.strip(), namespace)
    answers = Authorizer(data.policy).who_can(request, all_namespaces=all_namespaces)
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
