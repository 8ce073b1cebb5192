"""The plug-in point: the lists of identity sources and edge sources the solver runs.

An identity source yields the identities to consider (subjects of bindings, ServiceAccounts,
special groups; cloud principals later). An edge source yields `Edge`s, one small module per
escalation primitive. Sources run in rounds: in each round an edge source looks at
`ctx.frontier` (the identities new since the previous round) and may reach new identities
(e.g. a ServiceAccount only a token Secret names), which form the next round's frontier.

To add a mechanism (e.g. `rbacmap/cloud/aws_edges.py`), append to these lists at import time:

    from rbacmap.solver.registry import EDGE_SOURCES, IDENTITY_SOURCES
    IDENTITY_SOURCES.append(aws_principals)   # yields Identity("AWSPrincipal", arn, ...)
    EDGE_SOURCES.append(aws_mapping_edges)    # yields Edge(principal, ctx.identity_for_user(...), ...)

and add the kind to `rbacmap.solver.identity.SUBJECT_IDENTITY_KINDS` to report it as a subject.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rbacmap.cloud import access_entry_logins
from rbacmap.cloud import solver_edges as cloud
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import ChainedEdge, Edge, Pool
from rbacmap.solver.graph import EscalationGraph
from rbacmap.solver.identity import Identity
from rbacmap.solver.primitives import (
    aws_auth,
    bind,
    certificates,
    direct,
    ephemeral_containers,
    escalate,
    escalate_others,
    exec_attach,
    exempt_runtime_class,
    hostpath_volume,
    impersonate,
    kubelet,
    mount_secrets,
    node_escape,
    nodes_proxy,
    pod_create,
    revive_tokens,
    secrets,
    subjects,
    token_request,
    webhooks,
    workload_update,
)

IdentitySource = Callable[[SolverContext], Iterable[Identity]]
EdgeSource = Callable[[SolverContext], Iterable[Edge]]
GraphEdgeSource = Callable[[SolverContext, EscalationGraph], Iterable[ChainedEdge]]
NodeCredentialSource = Callable[[SolverContext, Pool, str | None], Iterable[Edge]]

IDENTITY_SOURCES: list[IdentitySource] = [subjects.kubernetes_subjects, cloud.cloud_principals]

EDGE_SOURCES: list[EdgeSource] = [
    direct.direct_grants,
    pod_create.pod_create,
    workload_update.workload_update,
    mount_secrets.mount_secrets,  # after direct: a direct read keeps its one-step proof
    exec_attach.exec_attach,
    ephemeral_containers.ephemeral_containers,
    nodes_proxy.nodes_proxy,
    node_escape.node_escape,
    exempt_runtime_class.exempt_runtime_class,
    hostpath_volume.hostpath_volume,  # after node_escape: a privileged pod needs fewer permissions
    secrets.secrets,
    revive_tokens.revive_tokens,
    token_request.token_request,
    impersonate.impersonate,
    bind.bind,
    escalate.escalate,
    certificates.certificates,
    webhooks.webhooks,
    aws_auth.aws_auth,
    cloud.cloud_edges,  # EKS/GKE: logins, assume role, IRSA, Workload Identity, impersonation
    access_entry_logins.access_entry_logins,  # EKS: an access entry's username and groups, of one's choosing
]

# The identities root on a node holds (the kubelet's credentials on disk; the instance's cloud credentials from
# its metadata service): called with the pool of that node, and the node's name (None: a node of the attacker's
# choosing).
NODE_CREDENTIAL_SOURCES: list[NodeCredentialSource] = [kubelet.kubelet_credentials, cloud.node_credentials]

# What refuses every new privileged pod whatever Pod Security says (a reason, or ''): node escapes through a
# new pod or a debug container are then left out.
PRIVILEGED_POD_REFUSALS: list[Callable[[SolverContext], str]] = [cloud.privileged_pods_refused]

# Run once the graph is built (they search it), then rounds again for the identities they reach.
GRAPH_EDGE_SOURCES: list[GraphEdgeSource] = [
    escalate_others.escalate_others,  # rewrite a role bound to another identity, then become it
]
