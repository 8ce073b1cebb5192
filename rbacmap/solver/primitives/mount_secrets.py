"""Primitive 2b: start pods in N (create them, a controller of them, or rewrite a workload's pod template) ->
read any Secret of N.

A pod spec may name any Secret of its namespace, in a `secret` volume or an env var, and the kubelet fetches it
for the pod (the Node authorizer lets it, because the pod names it). Whoever can start pods in N therefore reads
every Secret of N whose name it knows, exactly as `get secrets` without resourceNames would: upstream treats
this as by design ("a pod spec can refer to a service account, secret, or configmap in its namespace",
kubernetes/kubernetes#76954; "Workload creation" in the RBAC good practices). Pod Security allows `secret`
volumes at every level, so no namespace label blocks it. Patching a pod is no such step: a running pod's
volumes and env are immutable, and an ephemeral container may add no volume.

Runs after `direct`: an identity that may read the Secrets outright keeps that one-step proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.pod_create import POD_CREATORS
from rbacmap.solver.primitives.scopes import grants_in, proving_request, where
from rbacmap.solver.primitives.workload_update import WORKLOAD_UPDATES, assumed_workload, updatable_places
from rbacmap.solver.targets import secrets_target

ASKED = [*POD_CREATORS, *WORKLOAD_UPDATES]
PRIMITIVE = "mount_secrets"


def mount_secrets(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        created = permissions.where_any(POD_CREATORS)
        for namespace in created:
            yield lazy_edge(identity, secrets_target(namespace), PRIMITIVE,
                            partial(_describe, ctx, identity, permissions, namespace, POD_CREATORS))
        if None in created:
            continue  # every namespace already: a workload rewrite adds nothing
        for namespace, requests in updatable_places(ctx, permissions):
            if namespace not in created:
                yield lazy_edge(identity, secrets_target(namespace), PRIMITIVE,
                                partial(_describe, ctx, identity, permissions, namespace, requests))


def _describe(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, namespace: str | None,
              requests: list[ResourceRequest]) -> Edge:
    grants = grants_in(permissions, requests, namespace)
    request = proving_request(grants, requests, namespace)
    if request.verb == "create":
        how = f"create {request.resource}{where(namespace)} whose pod"
        consequence = "a pod it starts can mount any Secret of the namespace by name and show its values"
    else:
        how = f"{request.verb} {request.resource}{where(namespace)} so that the pod template"
        consequence = "the controller then starts pods that mount any Secret of the namespace by name"
    return Edge(
        identity, secrets_target(namespace), f"{request.verb} {request.resource}",
        f"{how} mounts a Secret by name (a secret volume or env var): the kubelet fetches it for the pod",
        grants=grants,
        explain=sentence(identity, request, grants, consequence),
        condition=assumed_workload(ctx, request, namespace),
        primitive=PRIMITIVE,
    )
