"""Primitive 6: nodes/proxy (get or create) -> exec in every pod on every node through the kubelet API."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, Edge, Pool
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.targets import exec_target

NODES_PROXY = [ResourceRequest(verb, "nodes", subresource="proxy") for verb in ("create", "get")]


def nodes_proxy(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(NODES_PROXY):
        for request in NODES_PROXY:
            grants = permissions.grants(request)  # cluster-scoped: only ClusterRoleBindings count
            if not grants:
                continue
            action = f"{request.verb} nodes/proxy"
            yield Edge(
                identity, exec_target(None), action, f"{action}: the kubelet's /exec and /run on every node",
                grants=grants,
                explain=sentence(identity, request, grants, "the kubelet API runs commands in any pod of any node"),
                primitive="nodes_proxy",
            )
            yield Edge(
                identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, "*"), action,
                f"{action}: read the token of any pod through the kubelet", grants=grants,
                explain=sentence(identity, request, grants, "commands in pods through the kubelet read their tokens"),
                primitive="nodes_proxy",
            )
            break
