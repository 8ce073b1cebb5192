"""Primitive 4: pods/exec or pods/attach (create, or get for websocket exec) -> exec in N and the pods' tokens."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, Edge, Pool
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.primitives.scopes import places, proving_request, where
from rbacmap.solver.targets import exec_target

EXEC_REQUESTS = [
    ResourceRequest(verb, "pods", subresource=sub) for sub in ("exec", "attach") for verb in ("create", "get")
]


def exec_attach(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(EXEC_REQUESTS):
        for namespace, grants in places(permissions.scope_any(EXEC_REQUESTS)):
            request = proving_request(grants, EXEC_REQUESTS, namespace)
            action = f"{request.verb} pods/{request.subresource}"
            yield Edge(
                identity, exec_target(namespace), action, f"{action}{where(namespace)}", grants=grants,
                explain=sentence(identity, request, grants, "it runs commands in existing pods"),
                primitive="exec_attach",
            )
            yield Edge(
                identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), action,
                f"{action}{where(namespace)}: read the mounted ServiceAccount token", grants=grants,
                explain=sentence(identity, request, grants,
                                 "`cat /var/run/secrets/kubernetes.io/serviceaccount/token` in a pod gives its token"),
                primitive="exec_attach",
            )
