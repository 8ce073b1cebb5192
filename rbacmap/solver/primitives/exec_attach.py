"""Primitive 4: pods/exec or pods/attach (create, or get for websocket exec) -> exec in N and the pods' tokens."""

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

EXEC_REQUESTS = [
    ResourceRequest(verb, "pods", subresource=sub) for sub in ("exec", "attach") for verb in ("create", "get")
]
TOKEN_READ = "`cat /var/run/secrets/kubernetes.io/serviceaccount/token` in a pod gives its token"



def exec_attach(ctx: SolverContext) -> Iterator[Edge]:
    return in_pod_edges(ctx, EXEC_REQUESTS, "exec_attach", _describe, TOKEN_READ)


def _describe(objects: ClusterObjects, identity: Identity, permissions: EffectivePermissions, namespace: str | None,
              token: bool) -> Edge:
    """The exec target's edge, or (`token`) the edge to the pods' ServiceAccounts."""
    grants = permissions.grants_where(EXEC_REQUESTS, namespace)
    request = proving_request(grants, EXEC_REQUESTS, namespace)
    condition = in_pod_condition(objects, namespace, request.subresource)
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
