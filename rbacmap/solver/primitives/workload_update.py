"""Primitive 3: update/patch a pod (its image) -> that pod's ServiceAccount; a workload -> any SA of N."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, SERVICE_ACCOUNTS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.scopes import proving_request, where

POD_UPDATES = [ResourceRequest(verb, "pods") for verb in ("patch", "update")]
WORKLOAD_UPDATES = [
    ResourceRequest(verb, resource, api_group=group)
    for resource, group in (
        ("deployments", "apps"), ("replicasets", "apps"), ("statefulsets", "apps"), ("daemonsets", "apps"),
        ("cronjobs", "batch"), ("replicationcontrollers", ""),
    )  # not jobs: a Job's pod template is immutable (ValidateJobSpecUpdate)
    for verb in ("patch", "update")
]
ASKED = [*WORKLOAD_UPDATES, *POD_UPDATES]


def workload_update(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        for namespace in permissions.where_any(WORKLOAD_UPDATES):
            yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "workload_update",
                            partial(_describe_workload, identity, permissions, namespace))
        for namespace in permissions.where_any(POD_UPDATES):
            yield lazy_edge(identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), "workload_update",
                            partial(_describe_pod, identity, permissions, namespace))


def _describe_workload(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(WORKLOAD_UPDATES, namespace)
    request = proving_request(grants, WORKLOAD_UPDATES, namespace)
    return Edge(
        identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), f"{request.verb} {request.resource}",
        f"{request.verb} {request.resource}{where(namespace)}: point the pod template at another "
        "ServiceAccount and image",
        grants=grants,
        explain=sentence(identity, request, grants, "the controller then starts pods as any ServiceAccount "
                         "of the namespace"),
        primitive="workload_update",
    )


def _describe_pod(identity: Identity, permissions: EffectivePermissions, namespace: str | None) -> Edge:
    grants = permissions.grants_where(POD_UPDATES, namespace)
    request = proving_request(grants, POD_UPDATES, namespace)
    return Edge(
        identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), f"{request.verb} pods",
        f"{request.verb} pods{where(namespace)}: replace a container image (the pod keeps its ServiceAccount)",
        grants=grants,
        explain=sentence(identity, request, grants, "the new image runs with the pod's ServiceAccount token"),
        primitive="workload_update",
    )
