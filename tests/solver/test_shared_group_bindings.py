"""Bindings of the groups nearly everyone is in are placed once and copied (`PermissionIndex._shared_base`);
the grants must still come out in the authorizer's order, whichever binding comes first."""

from __future__ import annotations

from pathlib import Path

import yaml

from rbacmap.authorizer import Authorizer
from rbacmap.importers.manifests import import_files
from rbacmap.model import ResourceRequest
from rbacmap.solver import SolverContext, identity_for_service_account, identity_for_user
from rbacmap.store import Store

RBAC = "rbac.authorization.k8s.io/v1"
READ_SECRETS = {"kind": "ClusterRole", "apiVersion": RBAC, "metadata": {"name": "read-secrets"},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}]}
SA = {"kind": "ServiceAccount", "name": "robot", "namespace": "apps"}
AUTHENTICATED = {"kind": "Group", "name": "system:authenticated", "apiGroup": "rbac.authorization.k8s.io"}
LATE = {"kind": "ServiceAccount", "name": "late", "namespace": "apps"}
ALL_SAS = {"kind": "Group", "name": "system:serviceaccounts", "apiGroup": "rbac.authorization.k8s.io"}


def _binding(kind: str, name: str, subjects: list[dict[str, str]], namespace: str | None = None) -> dict[str, object]:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "apiVersion": RBAC, "metadata": metadata, "subjects": subjects,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "read-secrets"}}


def _context(tmp_path: Path, documents: list[dict[str, object]]) -> SolverContext:
    manifest = tmp_path / "policy.yaml"
    manifest.write_text(yaml.safe_dump_all(documents))
    store = Store(tmp_path / "shared.db")
    result = import_files(store, [str(manifest)], "test")
    assert result.errors == []
    return SolverContext.load(store, result.snapshot)


def test_own_bindings_before_between_and_after_the_shared_groups_keep_snapshot_order(tmp_path: Path) -> None:
    ctx = _context(tmp_path, [
        READ_SECRETS,
        {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "robot", "namespace": "apps"}},
        {"kind": "ServiceAccount", "apiVersion": "v1", "metadata": {"name": "other", "namespace": "apps"}},
        # ClusterRoleBindings come in name order: own, shared, own + shared (its first subject wins), shared, own.
        _binding("ClusterRoleBinding", "a-robot", [SA]),
        _binding("ClusterRoleBinding", "b-everyone", [AUTHENTICATED]),
        _binding("ClusterRoleBinding", "c-both", [ALL_SAS, SA]),
        _binding("ClusterRoleBinding", "d-all-service-accounts", [ALL_SAS]),
        _binding("ClusterRoleBinding", "e-robot", [SA, LATE]),
        _binding("RoleBinding", "f-robot", [SA], "apps"),
        _binding("RoleBinding", "a-late", [LATE], "jobs"),
        _binding("RoleBinding", "g-everyone", [AUTHENTICATED], "apps"),
    ])
    authorizer = Authorizer(ctx.policy)
    identities = [identity_for_service_account("apps", "robot"), identity_for_service_account("apps", "other"),
                  identity_for_user("alice"), identity_for_service_account("apps", "late")]
    for identity in identities:
        permissions = ctx.permission_index.for_identity(identity)
        for namespace in ("", "apps", "jobs", "elsewhere"):
            request = ResourceRequest("get", "secrets", namespace)
            assert permissions.grants(request) == authorizer.authorize(identity.user_info(), request).grants
    robot = ctx.permission_index.for_identity(identities[0])
    cluster_wide = [g.binding.key.name for g in robot.grants(ResourceRequest("get", "secrets"))]
    assert cluster_wide == ["a-robot", "b-everyone", "c-both", "d-all-service-accounts", "e-robot"]
    assert [g.subject_index for g in robot.grants(ResourceRequest("get", "secrets"))][2] == 0
    # An identity bound only through the shared groups, and one bound after them, start from the shared copy.
    other = ctx.permission_index.for_identity(identities[1])
    assert [g.binding.key.name for g in other.grants(ResourceRequest("get", "secrets", "apps"))] == [
        "b-everyone", "c-both", "d-all-service-accounts", "g-everyone"]
    # late's own bindings each come after the shared ones of their list: it starts from the shared copy.
    late = ctx.permission_index.for_identity(identities[3])
    assert [g.binding.key.name for g in late.grants(ResourceRequest("get", "secrets", "jobs"))] == [
        "b-everyone", "c-both", "d-all-service-accounts", "e-robot", "a-late"]
    # Placing late's own bindings did not write into the shared copy `other` started from.
    assert [g.binding.key.name for g in other.grants(ResourceRequest("get", "secrets"))] == [
        "b-everyone", "c-both", "d-all-service-accounts"]
