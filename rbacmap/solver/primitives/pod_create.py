"""Primitive 2: create pods, or any controller that creates pods, in N -> run as any ServiceAccount of N."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import SERVICE_ACCOUNTS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import proving_request, where

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
        for namespace in permissions.where_any(POD_CREATORS):
            yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "pod_create",
                            partial(_describe, identity, permissions, namespace))


def _describe(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(POD_CREATORS, namespace)
    request = proving_request(grants, POD_CREATORS, namespace)
    return Edge(
        identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), f"create {request.resource}",
        f"create {request.resource}{where(namespace)} with serviceAccountName set to the victim",
        grants=grants,
        explain=sentence(identity, request, grants, "a pod it starts can run as any ServiceAccount there "
                         "and hand over its token"),
        primitive="pod_create",
    )
