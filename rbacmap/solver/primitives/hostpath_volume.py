"""Primitive 7d: create a hostPath PersistentVolume and a root pod whose claim binds it -> the node -> every
pod's token on the nodes.

PersistentVolumes are cluster-scoped and Pod Security never sees them: it judges the pod, whose volume is a
claim (`persistentVolumeClaim` or a generic `ephemeral` volume, both allowed at every level). So whoever may
create PersistentVolumes reaches a node's files from a namespace enforcing `baseline`, where a hostPath volume
in the pod itself is refused ("Persistent volume creation" in the Kubernetes RBAC good practices: "that access
includes the creation of hostPath volumes, which then means that a Pod would get access to the underlying host
filesystem(s) on the associated node"). `baseline` lets the pod run as root, and root with the node's `/`
mounted reads every pod's token under /var/lib/kubelet and can write the node's files. Not from `restricted`,
which makes the pod run as non-root: the kubelet's directories are root's. In a namespace admitting privileged
pods, `node_escape` already gives the same step with fewer permissions.

No permission on claims is needed: the pod's generic ephemeral volume (`ephemeral.volumeClaimTemplate`, with
`volumeName` naming the new volume and `storageClassName: ""`) makes the ephemeral volume controller create the
claim (pkg/controller/volume/ephemeral: it copies the template's spec). The pod is created, or made by a
controller, or a workload that exists is updated to carry that volume. The new volume names no node, and the
pod may pick its node (`nodeName`): every node is reached, as with `node_escape`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.authorizer import Grant
from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import ANY_NODE_POOL, Edge, Pool
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import can_i, sentence
from rbacmap.solver.permissions import EffectivePermissions
from rbacmap.solver.primitives.node_escape import (
    join_conditions,
    judged_last,
    lazy_pair,
    new_privileged_pods_refused,
    pod_security_ref,
    pod_write_admission,
    pod_write_places,
)
from rbacmap.solver.primitives.scopes import grants_in, proving_request
from rbacmap.solver.primitives.workload_update import assumed_workload
from rbacmap.solver.targets import exec_target

PRIMITIVE = "hostpath_volume"
ESCAPE = "escape to the node"  # the action node_escape's steps show: the same step, by another way in
VOLUME_CREATE = ResourceRequest("create", "persistentvolumes")  # cluster-scoped: only ClusterRoleBindings allow it
BASELINE = "baseline"
VOLUME = ("a generic ephemeral volume whose volumeClaimTemplate names it (volumeName, storageClassName \"\": the "
          "ephemeral volume controller creates the claim)")
# An unprivileged container reads the node's files only where no SELinux policy confines it.
CONDITION = ("the node does not confine containers with SELinux (where it does, as on OpenShift or RHEL nodes, an "
             "unprivileged container cannot read the host's files)")


def hostpath_volume(ctx: SolverContext) -> Iterator[Edge]:
    if new_privileged_pods_refused(ctx):  # GKE Autopilot refuses hostPath volumes too
        return
    for identity, permissions in ctx.frontier_permissions([VOLUME_CREATE]):
        volume_grants = permissions.grants(VOLUME_CREATE)
        if not volume_grants:
            continue
        found = _first_place(ctx, pod_write_places(ctx, permissions))
        if found is not None:
            namespace, requests = found
            yield from lazy_pair(identity, partial(_describe, ctx, identity, permissions, namespace, requests,
                                                   volume_grants), PRIMITIVE)


def _first_place(ctx: SolverContext, writes: dict[str | None, list[ResourceRequest]],
                 ) -> tuple[str, list[ResourceRequest]] | None:
    """A namespace admitting root pods where the identity may make a pod, with the pod writes allowed there
    (every edge leads to the same nodes: one place is enough)."""
    every_write = writes.get(None)
    for namespace in _root_namespaces(ctx):
        requests = writes.get(namespace, every_write)
        if requests is not None:
            return namespace, requests
    return None


def _root_namespaces(ctx: SolverContext) -> list[str]:
    """The namespaces whose Pod Security lets a pod run as root (every level but `restricted`, and a label that
    is no level, enforced as `restricted`), those no validating webhook or policy judges pods in first (once
    per snapshot; do not modify)."""
    objects = ctx.objects
    return judged_last(ctx, "root_namespaces", lambda: [
        namespace for namespace in objects.all_namespaces()
        if objects.admits_privileged_pods(namespace) or objects.enforced_level(namespace) == BASELINE])


def _describe(ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, namespace: str,
              requests: list[ResourceRequest], volume_grants: tuple[Grant, ...]) -> tuple[Edge, Edge]:
    write_grants = grants_in(permissions, requests, namespace)
    write = proving_request(write_grants, requests, namespace)
    pod = (f"create {write.resource} in {namespace} whose pod runs as root with {VOLUME}" if write.verb == "create"
           else f"{write.verb} {write.resource} in {namespace} so that its pod template runs as root with {VOLUME}")
    how = f"create a PersistentVolume with hostPath / (cluster-scoped: Pod Security never sees it), then {pod}"
    grants = tuple(dict.fromkeys(volume_grants + write_grants))
    condition = join_conditions(CONDITION, assumed_workload(ctx, write, namespace),
                                pod_write_admission(ctx, namespace, write))
    explain = sentence(identity, write, grants,
                       f"{how}; root on the node then reads every pod's token; also allowed: "
                       f"`{can_i(identity, VOLUME_CREATE)}`")
    enabler = pod_security_ref(ctx, namespace, "")
    return (Edge(identity, exec_target(None), ESCAPE, how, grants=grants, objects=(enabler,), explain=explain,
                 condition=condition, primitive=PRIMITIVE),
            Edge(identity, Pool.of(ANY_NODE_POOL), ESCAPE, how, grants=grants, objects=(enabler,), explain=explain,
                 condition=condition, primitive=PRIMITIVE))
