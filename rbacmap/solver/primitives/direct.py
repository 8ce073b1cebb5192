"""Primitive 1: direct grants (through any binding, group bindings included) of a target."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import SYSTEM_MASTERS, ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge, ObjectRef, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import as_flags, sentence
from rbacmap.solver.permissions import CLUSTER_ADMIN_REQUEST, EffectivePermissions
from rbacmap.solver.primitives.scopes import proving_request, where
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET, secrets_target

SECRET_READS = [ResourceRequest(verb, "secrets") for verb in ("list", "get", "watch")]
ASKED = [CLUSTER_ADMIN_REQUEST, *SECRET_READS]  # system:masters members are kept by frontier_permissions


def direct_grants(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        if permissions.system_masters:
            yield Edge(
                identity, CLUSTER_ADMIN_TARGET, "member of system:masters",
                "system:masters is allowed everything before RBAC is consulted",
                objects=(ObjectRef("Group", SYSTEM_MASTERS, note="privileged group of the API server"),),
                explain=f"{identity} is in group system:masters, which the API server allows everything. "
                f"Check: `kubectl auth can-i '*' '*' {as_flags(identity)}`",
                primitive="direct",
            )
            continue
        admin = permissions.grants(CLUSTER_ADMIN_REQUEST)
        if admin:
            yield Edge(
                identity, CLUSTER_ADMIN_TARGET, "holds cluster-admin",
                "a ClusterRoleBinding grants every verb on every resource in every API group", grants=admin,
                explain=sentence(identity, CLUSTER_ADMIN_REQUEST, admin, "that is cluster-admin"),
                primitive="direct",
            )
            continue
        for namespace in permissions.where_any(SECRET_READS):
            yield lazy_edge(identity, secrets_target(namespace), "direct",
                            partial(_describe_read, identity, permissions, namespace))


def _describe_read(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(SECRET_READS, namespace)
    request = proving_request(grants, SECRET_READS, namespace)
    return Edge(
        identity, secrets_target(namespace), "read secrets",
        f"{request.verb} secrets{where(namespace)} (no resourceNames)", grants=grants,
        explain=sentence(identity, request, grants, "it can read Secret values"),
        primitive="direct",
    )
