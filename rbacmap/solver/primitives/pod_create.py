"""Primitive 2: create pods, or any controller that creates pods, in N -> run as any ServiceAccount of N."""

from __future__ import annotations

from collections.abc import Iterator

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, Edge, Pool
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.primitives.scopes import places, proving_request, where

POD_CREATORS = [
    ResourceRequest("create", "pods"),
    ResourceRequest("create", "deployments", api_group="apps"),
    ResourceRequest("create", "replicasets", api_group="apps"),
    ResourceRequest("create", "statefulsets", api_group="apps"),
    ResourceRequest("create", "daemonsets", api_group="apps"),
    ResourceRequest("create", "jobs", api_group="batch"),
    ResourceRequest("create", "cronjobs", api_group="batch"),
    ResourceRequest("create", "replicationcontrollers"),
]


def pod_create(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(POD_CREATORS):
        for namespace, grants in places(permissions.scope_any(POD_CREATORS)):
            request = proving_request(grants, POD_CREATORS, namespace)
            yield Edge(
                identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), f"create {request.resource}",
                f"create {request.resource}{where(namespace)} with serviceAccountName set to the victim",
                grants=grants,
                explain=sentence(identity, request, grants, "a pod it starts can run as any ServiceAccount there "
                                 "and hand over its token"),
                primitive="pod_create",
            )
