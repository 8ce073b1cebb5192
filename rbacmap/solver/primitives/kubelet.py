"""Root on a node holds the kubelet's own credentials: user `system:node:NAME` in group `system:nodes`.

Every kubelet authenticates with credentials kept on the node: a client certificate
(`/var/lib/kubelet/pki/kubelet-client-current.pem` on kubeadm clusters) and the kubeconfig that
points at it. Root on the node reads them and acts as that node. (On EKS the kubelet logs in with
the node role instead: `import eks` adds that path, with the groups aws-auth or the access entry
give it.) NodeRestriction still judges the node's writes (`NodeRestrictedPermissions`).

What that adds is RBAC granted to the group `system:nodes` or to the node's own username. No
upstream binding does so since 1.8 (the `system:node` ClusterRoleBinding has no subjects), but
older clusters and hand-made bindings do, and then a pod escape anywhere reaches it. The Node
authorizer's own grants (the Secrets, ConfigMaps and tokens of the pods bound to that node) add
nothing root on the node does not already read from disk, so they are not modelled here.

Registered in `NODE_CREDENTIAL_SOURCES`: called with the pool of one node (root on that node), or
with the "root on any node" pool (`node` None), where a new pod may pick any node by `nodeName`.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge, ObjectRef, Pool, lazy_edge
from rbacmap.solver.identity import Identity, identity_for_kubelet

KUBELET_CREDENTIALS = ("its kubeconfig and the client certificate it names, /var/lib/kubelet/pki/"
                       "kubelet-client-current.pem on kubeadm clusters")


def kubelet_credentials(ctx: SolverContext, pool: Pool, node: str | None) -> Iterator[Edge]:
    """The kubelet identity of the node (`node` None: of each node the snapshot knows, one being chosen)."""
    nodes = [node] if node is not None else _known_nodes(ctx)
    for name in nodes:
        kubelet = ctx.add_identity(identity_for_kubelet(name))
        yield lazy_edge(pool, kubelet, "kubelet", partial(_describe, pool, kubelet, node is None))


def _known_nodes(ctx: SolverContext) -> list[str]:
    """The snapshot's Node objects, or without any (a manifest dump) the nodes its pods run on, sorted."""
    found: list[str] | None = ctx.memo.get("kubelet_nodes")
    if found is None:
        found = ctx.memo["kubelet_nodes"] = sorted(ctx.objects.nodes or ctx.objects.nodes_running_pods())
    return found


def _describe(pool: Pool, kubelet: Identity, chosen: bool) -> Edge:
    node = kubelet.name
    where = f"a node of one's choosing ({node}, by nodeName)" if chosen else f"node {node}"
    return Edge(pool, kubelet, "", f"root on {where} reads the kubelet's client credentials ({KUBELET_CREDENTIALS})"
                f" and acts as {kubelet.username} in group system:nodes",
                objects=(ObjectRef("Node", node, note=f"kubelet user {kubelet.username}"),),
                primitive="kubelet")
