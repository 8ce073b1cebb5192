"""Primitive 5: update/patch pods/ephemeralcontainers -> run a container in a pod, as its ServiceAccount."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import proving_request, where
from rbacmap.solver.targets import exec_target

EPHEMERAL = [ResourceRequest(verb, "pods", subresource="ephemeralcontainers") for verb in ("patch", "update")]


def ephemeral_containers(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(EPHEMERAL):
        for namespace in permissions.where_any(EPHEMERAL):
            yield lazy_edge(identity, exec_target(namespace), "ephemeral_containers",
                            partial(_describe, identity, permissions, namespace, False))
            yield lazy_edge(identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), "ephemeral_containers",
                            partial(_describe, identity, permissions, namespace, True))


def _describe(identity: Identity, permissions: EffectivePermissions, namespace: str | None, token: bool) -> Edge:
    """The exec target's edge, or (`token`) the edge to the pods' ServiceAccounts."""
    grants = permissions.grants_where(EPHEMERAL, namespace)
    request = proving_request(grants, EPHEMERAL, namespace)
    action = f"{request.verb} pods/ephemeralcontainers"
    if not token:
        return Edge(
            identity, exec_target(namespace), action,
            f"{action}{where(namespace)} (kubectl debug)", grants=grants,
            explain=sentence(identity, request, grants, "`kubectl debug` runs a shell inside existing pods"),
            primitive="ephemeral_containers",
        )
    return Edge(
        identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), action,
        f"{action}{where(namespace)}: the debug container reads the pod's ServiceAccount token",
        grants=grants,
        explain=sentence(identity, request, grants, "the ephemeral container shares the pod's token volume"),
        primitive="ephemeral_containers",
    )
