"""Primitive 2b: start pods in N (create them, a controller of them, or rewrite a workload's pod template), or
add a debug container to a pod there -> read any Secret of N.

A pod spec may name any Secret of its namespace, in a `secret` volume or an env var, and the kubelet fetches it
for the pod (the Node authorizer lets it, because the pod names it). Whoever can start pods in N therefore reads
every Secret of N whose name it knows, exactly as `get secrets` without resourceNames would: upstream treats
this as by design ("a pod spec can refer to a service account, secret, or configmap in its namespace",
kubernetes/kubernetes#76954; "Workload creation" in the RBAC good practices). Pod Security allows `secret`
volumes at every level, so no namespace label blocks it. Patching a pod is no such step: a running pod's
volumes and env are immutable.

A debug container (`pods/ephemeralcontainers`) may add no volume, but its env may name any Secret of the pod's
namespace (`secretKeyRef`, `envFrom`), and since Kubernetes 1.33 (kubernetes/kubernetes#129670) the Node
authorizer lets the kubelet read a Secret that only a new ephemeral container names. It needs a running pod
in N to join; on an older or unknown server version the step carries that condition.

Runs after `direct`: an identity that may read the Secrets outright keeps that one-step proof.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

from rbacmap.model import ResourceRequest
from rbacmap.solver.admission import in_pod_condition
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge, ObjectRef, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.ephemeral_containers import EPHEMERAL
from rbacmap.solver.primitives.node_escape import join_conditions, pod_write_places
from rbacmap.solver.primitives.pod_create import POD_CREATORS
from rbacmap.solver.primitives.scopes import grants_in, proving_request, where
from rbacmap.solver.primitives.workload_update import WORKLOAD_UPDATES, assumed_workload
from rbacmap.solver.targets import secrets_target

ASKED = [*POD_CREATORS, *WORKLOAD_UPDATES, *EPHEMERAL]
PRIMITIVE = "mount_secrets"
EPHEMERAL_SECRETS_SINCE = (1, 33)  # the Node authorizer's graph follows new ephemeral containers' references
VERSION = re.compile(r"v?(\d+)\.(\d+)")


def mount_secrets(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        writes = pod_write_places(ctx, permissions)
        if None in writes:  # every namespace: a write in one namespace or a debug container adds nothing
            writes = {None: writes[None]}
        for namespace, requests in writes.items():
            yield lazy_edge(identity, secrets_target(namespace), PRIMITIVE,
                            partial(_describe, ctx, identity, permissions, namespace, requests))
        if None in writes:
            continue
        covered = set(writes)
        for allowed in permissions.where_any(EPHEMERAL):
            # A debug container joins a running pod: only namespaces that have one (each its own Secrets).
            for namespace in ctx.objects.namespaces_running_pods() if allowed is None else [allowed]:
                if namespace not in covered and ctx.objects.nodes_running_pods_of(namespace):
                    covered.add(namespace)
                    yield lazy_edge(identity, secrets_target(namespace), PRIMITIVE,
                                    partial(_describe_debug, ctx, identity, permissions, allowed, namespace))


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


def _describe_debug(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, allowed: str | None,
                    namespace: str) -> Edge:
    grants = grants_in(permissions, EPHEMERAL, allowed)
    request = proving_request(grants, EPHEMERAL, namespace)
    condition = join_conditions(_version_condition(ctx), in_pod_condition(ctx.objects, namespace, request.subresource))
    return Edge(
        identity, secrets_target(namespace), f"{request.verb} pods/ephemeralcontainers",
        f"{request.verb} pods/ephemeralcontainers in {namespace}: a debug container in a running pod there whose env "
        "names any Secret of the namespace (secretKeyRef or envFrom): the kubelet fetches it for the container",
        grants=grants,
        explain=sentence(identity, request, grants,
                         "a debug container it adds can read any Secret of the namespace through its env"),
        objects=(ObjectRef("Namespace", namespace, "", "has a running pod to join"),),
        condition=condition,
        primitive=PRIMITIVE,
    )


def _version_condition(ctx: SolverContext) -> str:
    """'' when the snapshot's API server is 1.33 or later; otherwise the version the step needs."""
    found = VERSION.match(ctx.snapshot.server_version or "")
    if found is not None and (int(found[1]), int(found[2])) >= EPHEMERAL_SECRETS_SINCE:
        return ""
    known = f"the snapshot's server is {ctx.snapshot.server_version}" if found else "the server version is unknown"
    return ("the API server is 1.33 or later, or carries the fix of kubernetes/kubernetes#129670 (before it, the "
            f"Node authorizer refused the kubelet a Secret only a new ephemeral container names; {known})")
