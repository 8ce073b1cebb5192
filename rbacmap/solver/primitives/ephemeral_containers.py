"""Primitive 5: update/patch pods/ephemeralcontainers -> run a container in a pod, as its ServiceAccount."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.admission import in_pod_condition
from rbacmap.solver.context import ClusterObjects, SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, Edge, Pool
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import in_pod_edges, proving_request, where
from rbacmap.solver.targets import exec_target

EPHEMERAL = [ResourceRequest(verb, "pods", subresource="ephemeralcontainers") for verb in ("patch", "update")]
TOKEN_READ = "the ephemeral container shares the pod's token volume"



def ephemeral_containers(ctx: SolverContext) -> Iterator[Edge]:
    return in_pod_edges(ctx, EPHEMERAL, "ephemeral_containers", _describe, TOKEN_READ)


def _describe(objects: ClusterObjects, identity: Identity, permissions: EffectivePermissions, namespace: str | None,
              token: bool) -> Edge:
    """The exec target's edge, or (`token`) the edge to the pods' ServiceAccounts."""
    grants = permissions.grants_where(EPHEMERAL, namespace)
    request = proving_request(grants, EPHEMERAL, namespace)
    condition = in_pod_condition(objects, namespace, request.subresource)
    action = f"{request.verb} pods/ephemeralcontainers"
    if not token:
        return Edge(
            identity, exec_target(namespace), action,
            f"{action}{where(namespace)} (kubectl debug)", grants=grants,
            explain=sentence(identity, request, grants, "`kubectl debug` runs a shell inside existing pods"),
            primitive="ephemeral_containers", condition=condition,
        )
    return Edge(
        identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), action,
        f"{action}{where(namespace)}: the debug container reads the pod's ServiceAccount token",
        grants=grants,
        explain=sentence(identity, request, grants, TOKEN_READ),
        primitive="ephemeral_containers", condition=condition,
    )
