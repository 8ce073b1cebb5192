"""Primitive 4: pods/exec or pods/attach (create, or get for websocket exec) -> exec in N and the pods' tokens."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.admission import in_pod_condition
from rbacmap.solver.context import ClusterObjects, SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, Edge, Pool
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import in_pod_edges, proving_request, where
from rbacmap.solver.primitives.websocket_exec import (
    EXEC_REQUESTS,
    exec_requests,
    unconditional_exec_requests,
    websocket_get_condition,
)
from rbacmap.solver.targets import exec_target

__all__ = ["EXEC_REQUESTS", "TOKEN_READ", "exec_attach"]
TOKEN_READ = "`cat /var/run/secrets/kubernetes.io/serviceaccount/token` in a pod gives its token"



def exec_attach(ctx: SolverContext) -> Iterator[Edge]:
    # `get` alone runs nothing on a 1.35+ server (websocket_exec): it is not asked there.
    requests = exec_requests(ctx)
    return in_pod_edges(ctx, requests, "exec_attach", partial(_describe, ctx, requests), TOKEN_READ,
                        partial(websocket_get_condition, ctx), unconditional_exec_requests(ctx))


def _describe(ctx: SolverContext, requests: list[ResourceRequest], objects: ClusterObjects, identity: Identity,
              permissions: EffectivePermissions, namespace: str | None, token: bool) -> Edge:
    """The exec target's edge, or (`token`) the edge to the pods' ServiceAccounts."""
    grants = permissions.grants_where(requests, namespace)
    request = proving_request(grants, requests, namespace)
    condition = "; ".join(c for c in (websocket_get_condition(ctx, request),
                                      in_pod_condition(objects, namespace, request.subresource)) if c)
    action = f"{request.verb} pods/{request.subresource}"
    if not token:
        return Edge(
            identity, exec_target(namespace), action, f"{action}{where(namespace)}", grants=grants,
            explain=sentence(identity, request, grants, "it runs commands in existing pods"),
            primitive="exec_attach", condition=condition,
        )
    return Edge(
        identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), action,
        f"{action}{where(namespace)}: read the mounted ServiceAccount token", grants=grants,
        explain=sentence(identity, request, grants,
                         TOKEN_READ),
        primitive="exec_attach", condition=condition,
    )
