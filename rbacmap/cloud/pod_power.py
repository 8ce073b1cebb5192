"""What cloud power a compromised pod gets: ServiceAccount -> cloud identity -> its powers.

Joins the cluster's latest Kubernetes snapshot (service accounts, their annotations, the
workloads running as them) with its latest complete cloud import (IRSA, EKS Pod Identity,
GKE Workload Identity and direct KSA grants, the identities' stored cloud powers, and the
mappings that lead back into the cluster). Every row says why it holds:

- admitted: the annotation (or Pod Identity association) and the trust policy / IAM binding agree;
- admitted, not annotated: the trust policy or binding lets the SA in although nothing wires
  it up — a compromised pod can still exchange its token by hand;
- annotated but NOT admitted: the annotation names an identity whose trust policy (AWS) or
  workloadIdentityUser bindings (GCP) do not let this SA in; the pod gets nothing from it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rbacmap.authorizer import Authorizer
from rbacmap.cloud.k8s_context import ServiceAccountInfo, load_k8s_context
from rbacmap.cloud.model import (
    AWS_PRINCIPAL,
    CREATE_ACCESS_ENTRY,
    EKS,
    GCP_PRINCIPAL,
    GKE,
    IRSA,
    K8S_SERVICE_ACCOUNT,
    POD_IDENTITY,
    SWITCH_AUTHENTICATION_MODE,
    UPDATE_ACCESS_ENTRY,
    WORKLOAD_IDENTITY,
    WRITE_ACCESS_ENTRY,
    CloudEdge,
    CloudGraph,
    CloudPower,
)
from rbacmap.cloud.store import latest_cloud_graph
from rbacmap.cloud.who_can import cloud_who_can
from rbacmap.model import ResourceRequest
from rbacmap.policy import SqlitePolicy
from rbacmap.store import Store

# Same annotation keys the importers read (importers/eks.py, importers/gke.py).
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
WI_ANNOTATION = "iam.gke.io/gcp-service-account"

ADMITTED = "admitted"
ADMITTED_NOT_ANNOTATED = "admitted, not annotated"
NOT_ADMITTED = "annotated but NOT admitted"

DIRECT_GRANT = "gcp-direct-grant"
"""Mechanism of a row for IAM roles granted to the KSA itself (principal://… or PROJECT.svc.id.goog[NS/SA])."""

CLUSTER_ADMIN_REQUEST = ResourceRequest("*", "*", api_group="*")
_CLOUD_KINDS = (AWS_PRINCIPAL, GCP_PRINCIPAL)


@dataclass(frozen=True)
class WorkloadUse:
    """A pod or pod controller of the snapshot that runs as the service account."""

    kind: str
    namespace: str
    name: str
    node: str | None

    def describe(self) -> str:
        where = f" on {self.node}" if self.node else ""
        return f"{self.kind} {self.namespace}/{self.name}{where}"


@dataclass(frozen=True)
class PodCloudPower:
    """One cloud identity a service account can become (or is annotated with but cannot), and its powers."""

    service_account: str  # "NS/NAME"
    identity_kind: str
    identity: str
    mechanism: str
    status: str
    provenance: tuple[str, ...]  # first step first: annotation, trust statement / association / binding, chain
    powers: tuple[CloudPower, ...] = ()
    cluster_access: tuple[str, ...] = ()  # cloud grants and logins back into the cluster
    cluster_admin: str | None = None  # the chain to cluster-admin, when there is one
    workloads: tuple[WorkloadUse, ...] = field(default=(), compare=False)

    @property
    def namespace(self) -> str:
        return self.service_account.partition("/")[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "service_account": self.service_account,
            "identity": {"kind": self.identity_kind, "name": self.identity},
            "mechanism": self.mechanism,
            "status": self.status,
            "provenance": list(self.provenance),
            "powers": [{"power": p.power, "provenance": p.provenance} for p in self.powers],
            "cluster_access": list(self.cluster_access),
            "cluster_admin": self.cluster_admin,
            "workloads": [{"kind": w.kind, "namespace": w.namespace, "name": w.name, "node": w.node}
                          for w in self.workloads],
        }


@dataclass(frozen=True)
class PodCloudPowerReport:
    cluster: str
    snapshot_id: int | None
    cloud_import_id: int | None
    provider: str | None
    rows: tuple[PodCloudPower, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "snapshot": self.snapshot_id, "cloud_import": self.cloud_import_id,
                "provider": self.provider, "notes": list(self.notes), "rows": [r.to_json() for r in self.rows]}


def cloud_power_of_workloads(store: Store, cluster: str, namespace: str | None = None) -> PodCloudPowerReport:
    """Every service account with a cloud identity, what it can become, and what that identity can do."""
    context = load_k8s_context(store, cluster)
    graph = latest_cloud_graph(store, cluster)
    if graph is None:
        return PodCloudPowerReport(cluster, context.snapshot_id, None, None,
                                   notes=(f"cluster {cluster} has no complete cloud import (run `rbacmap import eks`"
                                          " or `rbacmap import gke`)",))
    notes = _snapshot_notes(graph, context.snapshot_id)
    accounts = {sa.key: sa for sa in context.service_accounts}
    rows = _reached_rows(graph, accounts) + _direct_grant_rows(graph) + _not_admitted_rows(graph, accounts)
    admin = _cluster_admin_chains(store, graph, context.snapshot_id)
    workloads = _workloads(store, context.snapshot_id)
    finished = []
    for row in rows:
        if namespace is not None and row.namespace != namespace:
            continue
        powers = tuple(p for p in graph.powers if (p.principal_kind, p.principal) == (row.identity_kind, row.identity))
        reachable = row.status != NOT_ADMITTED
        finished.append(PodCloudPower(
            row.service_account, row.identity_kind, row.identity, row.mechanism, row.status, row.provenance,
            powers if reachable else (),
            _cluster_access(graph, row.identity_kind, row.identity) if reachable else (),
            admin.get((row.identity_kind, row.identity)) if reachable else None,
            workloads.get(row.service_account, ()),
        ))
    finished.sort(key=lambda r: (r.service_account, r.status == NOT_ADMITTED, len(r.provenance), r.identity))
    return PodCloudPowerReport(cluster, context.snapshot_id, graph.cloud_import.id, graph.cloud_import.provider,
                               tuple(finished), notes)


def _snapshot_notes(graph: CloudGraph, snapshot_id: int | None) -> tuple[str, ...]:
    used = graph.cloud_import.details.get("k8s_snapshot")
    if snapshot_id is None:
        return ("no Kubernetes snapshot of this cluster: annotations and workloads unknown",)
    if used != snapshot_id:
        return (f"cloud import {graph.cloud_import.id} read the service accounts of snapshot {used}, not the latest"
                f" ({snapshot_id}): re-run the cloud import to judge newer annotations",)
    return ()


def _annotation_step(sa: ServiceAccountInfo | None, key: str) -> str | None:
    value = sa.annotations.get(key) if sa else None
    return f"annotation {key}: {value}" if value else None


def _annotated(sa: ServiceAccountInfo | None, edge: CloudEdge) -> bool:
    if edge.mechanism == IRSA:
        return sa is not None and sa.annotations.get(IRSA_ANNOTATION) == edge.target
    if edge.mechanism == WORKLOAD_IDENTITY:
        return sa is not None and f"serviceAccount:{sa.annotations.get(WI_ANNOTATION)}" == edge.target
    # A Pod Identity association is the wiring itself; a KSA allowed to impersonate (token creator, …) has none.
    return edge.mechanism == POD_IDENTITY


def _reached_rows(graph: CloudGraph, accounts: dict[str, ServiceAccountInfo]) -> list[PodCloudPower]:
    """SA -[IRSA | Pod Identity | Workload Identity]-> identity, then any cloud-side chain from it."""
    onward: dict[tuple[str, str], list[CloudEdge]] = {}
    for edge in graph.edges:
        if edge.source_kind in _CLOUD_KINDS and edge.target_kind in _CLOUD_KINDS:
            onward.setdefault((edge.source_kind, edge.source), []).append(edge)
    rows: list[PodCloudPower] = []
    for edge in graph.edges:
        if edge.source_kind != K8S_SERVICE_ACCOUNT or edge.target_kind not in _CLOUD_KINDS:
            continue
        sa = accounts.get(edge.source)
        annotated = _annotated(sa, edge)
        key = IRSA_ANNOTATION if edge.mechanism == IRSA else WI_ANNOTATION
        annotation = _annotation_step(sa, key) if annotated and edge.mechanism != POD_IDENTITY else None
        first = (*([annotation] if annotation else []), edge.provenance)
        status = ADMITTED if annotated else ADMITTED_NOT_ANNOTATED
        rows.append(PodCloudPower(edge.source, edge.target_kind, edge.target, edge.mechanism, status, first))
        seen = {(edge.target_kind, edge.target)}
        queue = deque([((edge.target_kind, edge.target), first)])
        while queue:
            node, chain = queue.popleft()
            for step in onward.get(node, []):
                target = (step.target_kind, step.target)
                if target in seen:
                    continue
                seen.add(target)
                longer = (*chain, f"{step.source} -[{step.mechanism}]-> {step.target}: {step.provenance}")
                rows.append(PodCloudPower(edge.source, step.target_kind, step.target, step.mechanism, status, longer))
                queue.append((target, longer))
    return rows


def _direct_grant_rows(graph: CloudGraph) -> list[PodCloudPower]:
    """GCP roles granted to the KSA's own member string: the KSA is the identity."""
    grants: dict[str, list[str]] = {}
    for power in graph.powers:
        if power.principal_kind == K8S_SERVICE_ACCOUNT:
            grants.setdefault(power.principal, []).append(power.provenance)
    return [PodCloudPower(ksa, K8S_SERVICE_ACCOUNT, ksa, DIRECT_GRANT, ADMITTED, tuple(dict.fromkeys(provenance)))
            for ksa, provenance in grants.items()]


def _not_admitted_rows(graph: CloudGraph, accounts: dict[str, ServiceAccountInfo]) -> list[PodCloudPower]:
    """Annotations that the provider's side does not honour for this SA."""
    provider = graph.cloud_import.provider
    linked = {(e.source, e.target) for e in graph.edges if e.source_kind == K8S_SERVICE_ACCOUNT}
    rows = []
    for sa in accounts.values():
        if provider == EKS and sa.annotations.get(IRSA_ANNOTATION):
            kind, target, mechanism = AWS_PRINCIPAL, sa.annotations[IRSA_ANNOTATION], IRSA
            why = (f"no trust policy of {target} in the imported IAM data lets {sa.username} assume it"
                   " (role absent, or no AssumeRoleWithWebIdentity statement for this cluster's OIDC provider)")
        elif provider == GKE and sa.annotations.get(WI_ANNOTATION):
            kind, mechanism = GCP_PRINCIPAL, WORKLOAD_IDENTITY
            target = f"serviceAccount:{sa.annotations[WI_ANNOTATION]}"
            why = f"no roles/iam.workloadIdentityUser binding on {target} names this KSA"
        else:
            continue
        if (sa.key, target) in linked:
            continue
        key = IRSA_ANNOTATION if mechanism == IRSA else WI_ANNOTATION
        annotation = _annotation_step(sa, key) or ""
        note = [n for n in graph.cloud_import.notes if n.startswith(f"ServiceAccount {sa.key} is annotated")]
        rows.append(PodCloudPower(sa.key, kind, target, mechanism, NOT_ADMITTED, (annotation, *(note or [why]))))
    return rows


# Cloud steps by which a principal writes its own way into Kubernetes (an access entry, or the mode that enables them).
ENTRY_WRITES = (CREATE_ACCESS_ENTRY, WRITE_ACCESS_ENTRY, UPDATE_ACCESS_ENTRY, SWITCH_AUTHENTICATION_MODE)


def _cluster_access(graph: CloudGraph, kind: str, principal: str) -> tuple[str, ...]:
    """How the identity itself gets back into Kubernetes: logins, cloud grants, access-entry creation."""
    out = [f"logs in as {m.username or '(no username)'} groups [{', '.join(m.groups)}]: {m.provenance}"
           for m in graph.mappings if m.live and (m.principal_kind, m.principal) == (kind, principal)]
    out += [g.provenance for g in graph.grants if g.live and (g.principal_kind, g.principal) == (kind, principal)]
    out += [e.provenance for e in graph.edges
            if e.mechanism in ENTRY_WRITES and (e.source_kind, e.source) == (kind, principal)]
    return tuple(out)


def _cluster_admin_chains(store: Store, graph: CloudGraph, snapshot_id: int | None) -> dict[tuple[str, str], str]:
    """Cloud identity -> its shortest chain to `*` on `*.*` cluster-wide (RBAC through a mapping, or a grant)."""
    answers = []
    if snapshot_id is not None:
        k8s = Authorizer(SqlitePolicy(store, snapshot_id)).who_can(CLUSTER_ADMIN_REQUEST)
        answers = cloud_who_can(graph, CLUSTER_ADMIN_REQUEST, k8s)
    chains: dict[tuple[str, str], str] = {}
    for answer in sorted(answers, key=lambda a: len(a.chain)):
        chains.setdefault((answer.principal_kind, answer.principal), answer.describe())
    for edge in graph.edges:
        if edge.mechanism == CREATE_ACCESS_ENTRY:
            chains.setdefault((edge.source_kind, edge.source), f"{edge.source} -[{edge.mechanism}]-> "
                              f"{edge.target}: {edge.provenance}")
    return chains


def _workloads(store: Store, snapshot_id: int | None) -> dict[str, tuple[WorkloadUse, ...]]:
    if snapshot_id is None:
        return {}
    found: dict[str, list[WorkloadUse]] = {}
    for row in store.query("SELECT kind, namespace, name, service_account, node FROM workloads WHERE snapshot_id = ?"
                           " ORDER BY namespace, kind, name", [snapshot_id]):
        key = f"{row['namespace']}/{row['service_account']}"
        found.setdefault(key, []).append(WorkloadUse(row["kind"], row["namespace"], row["name"], row["node"]))
    return {key: tuple(uses) for key, uses in found.items()}
