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
from rbacmap.solver.primitives.scopes import grants_in, proving_request, where

POD_UPDATES = [ResourceRequest(verb, "pods") for verb in ("patch", "update")]
# Resource -> kind of the workloads whose pod template an update can change. Not jobs: a Job's pod
# template is immutable (ValidateJobSpecUpdate).
UPDATABLE = {
    ("deployments", "apps"): "Deployment", ("replicasets", "apps"): "ReplicaSet",
    ("statefulsets", "apps"): "StatefulSet", ("daemonsets", "apps"): "DaemonSet", ("cronjobs", "batch"): "CronJob",
    ("replicationcontrollers", ""): "ReplicationController",
}
WORKLOAD_UPDATES = [ResourceRequest(verb, resource, api_group=group) for resource, group in UPDATABLE
                    for verb in ("patch", "update")]
ASKED = [*WORKLOAD_UPDATES, *POD_UPDATES]


def workload_update(ctx: SolverContext) -> Iterator[Edge]:
    for identity, permissions in ctx.frontier_permissions(ASKED):
        for namespace, requests in updatable_places(ctx, permissions):
            yield lazy_edge(identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), "workload_update",
                            partial(_describe_workload, ctx, identity, permissions, namespace, requests))
        for namespace in permissions.where_any(POD_UPDATES):
            yield lazy_edge(identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), "workload_update",
                            partial(_describe_pod, identity, permissions, namespace))


def updatable_places(
    ctx: SolverContext, permissions: EffectivePermissions,
) -> list[tuple[str | None, list[ResourceRequest]]]:
    """Where the identity may update a workload that exists (an update of nothing is NotFound), with the
    update requests of the kinds there; None: every namespace (each has one it may update).

    Asked by two primitives per identity: the answer is kept per permissions object (do not modify)."""
    memo: dict[int, tuple[EffectivePermissions, list[tuple[str | None, list[ResourceRequest]]]]] = (
        ctx.memo.setdefault("updatable_places", {}))
    known = memo.get(id(permissions))
    if known is not None and known[0] is permissions:
        return known[1]
    places = _updatable_places(ctx, permissions)
    memo[id(permissions)] = (permissions, places)  # holding the object keeps its id from being reused
    return places


def unknown_workload_kinds(ctx: SolverContext) -> frozenset[str]:
    """The updatable kinds the snapshot cannot tell absent, so taken to exist everywhere: kinds a live import
    was forbidden to list, and every kind when the snapshot holds no workload at all (a dump of RBAC alone:
    a real cluster runs some Deployment or DaemonSet, kube-system's at least)."""
    found: frozenset[str] | None = ctx.memo.get("unknown_workload_kinds")
    if found is None:
        updatable = frozenset(UPDATABLE.values())
        found = updatable if not ctx.objects.has_workload_templates() else (
            frozenset(ctx.snapshot.incomplete_kinds) & updatable)
        ctx.memo["unknown_workload_kinds"] = found
    return found


def _updatable_places(
    ctx: SolverContext, permissions: EffectivePermissions,
) -> list[tuple[str | None, list[ResourceRequest]]]:
    places: list[tuple[str | None, list[ResourceRequest]]] = []
    unlisted = unknown_workload_kinds(ctx)
    workload_kinds = ctx.objects.workload_kinds

    def kinds_in(namespace: str) -> frozenset[str]:
        return workload_kinds(namespace) | unlisted if unlisted else workload_kinds(namespace)

    for namespace in permissions.where_any(WORKLOAD_UPDATES):
        if namespace is not None:
            requests = _updates_of(kinds_in(namespace))
            if requests and namespace in permissions.where_any(requests):
                places.append((namespace, requests))
            continue
        allowed = {UPDATABLE[(r.resource, r.api_group)] for r in WORKLOAD_UPDATES if permissions.grants(r)}
        every = ctx.objects.all_namespaces()
        reached = [here for here in every if allowed & kinds_in(here)]
        if len(reached) == len(every):
            places.append((None, _updates_of(frozenset(allowed))))
            continue
        places.extend((here, _updates_of(kinds_in(here) & allowed)) for here in reached)
        # Its RoleBindings may allow other kinds in their namespaces (where_any said None for all of them).
        covered = set(reached)
        for here in sorted(permissions.namespaced):
            requests = _updates_of(kinds_in(here))
            if here not in covered and requests and here in permissions.where_any(requests):
                places.append((here, requests))
    return places


def _updates_of(kinds: frozenset[str]) -> list[ResourceRequest]:
    """WORKLOAD_UPDATES of these kinds: one shared list per set of kinds (permission lookups are memoized per list)."""
    found = _UPDATES_OF.get(kinds)
    if found is None:
        found = _UPDATES_OF[kinds] = [r for r in WORKLOAD_UPDATES if UPDATABLE[(r.resource, r.api_group)] in kinds]
    return found


_UPDATES_OF: dict[frozenset[str], list[ResourceRequest]] = {}


def assumed_workload(ctx: SolverContext, request: ResourceRequest, namespace: str | None) -> str:
    """The condition of an update whose workload the snapshot does not show but cannot rule out ('' if seen, and
    for a create: it needs no workload)."""
    kind = UPDATABLE.get((request.resource, request.api_group))
    if kind is None or request.verb not in ("update", "patch") or kind not in unknown_workload_kinds(ctx):
        return ""
    if namespace is not None and kind in ctx.objects.workload_kinds(namespace):
        return ""
    why = ("the snapshot holds no workload at all" if not ctx.objects.has_workload_templates()
           else f"the import was forbidden to list {kind}s")
    return f"a {kind} exists{where(namespace)} to {request.verb} ({why}, so one is assumed)"


def _describe_workload(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions,
                       namespace: str | None, requests: list[ResourceRequest]) -> Edge:
    grants = grants_in(permissions, requests, namespace)
    request = proving_request(grants, requests, namespace)
    return Edge(
        identity, Pool.of(SERVICE_ACCOUNTS_POOL, namespace or "*"), f"{request.verb} {request.resource}",
        f"{request.verb} {request.resource}{where(namespace)}: point the pod template at another "
        "ServiceAccount and image",
        grants=grants,
        explain=sentence(identity, request, grants, "the controller then starts pods as any ServiceAccount "
                         "of the namespace"),
        condition=assumed_workload(ctx, request, namespace),
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
