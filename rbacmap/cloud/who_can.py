"""who-can over both planes: cloud principals that reach a Kubernetes permission, with the path.

Three ways in: a cloud grant (EKS access policy, GCP role) whose rules allow the request;
an identity mapping (access entry, aws-auth, Google identity) to a user or group that RBAC
allows; and any identity that can become one of those (assume role, impersonation,
IRSA, Workload Identity). Mappings of a mechanism the cluster does not use are left out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rbacmap.authorizer import Grant, SubjectGrant, rule_allows
from rbacmap.cloud.model import (
    AWS_PRINCIPAL,
    GCP_PRINCIPAL,
    K8S_SERVICE_ACCOUNT,
    CloudGrant,
    CloudGraph,
    IdentityMapping,
)
from rbacmap.cloud.store import latest_cloud_graph
from rbacmap.cloud.username_templates import can_render_to
from rbacmap.model import AUTHENTICATED, GROUP, SERVICE_ACCOUNT, USER, Request, ResourceRequest, Subject
from rbacmap.store import Store

# Edges whose source can act as their target; the target must be a cloud principal.
_ACTOR_KINDS = (AWS_PRINCIPAL, GCP_PRINCIPAL, K8S_SERVICE_ACCOUNT)


@dataclass(frozen=True)
class CloudAnswer:
    """One cloud (or SA) identity allowed, and the chain of steps that allows it."""

    principal_kind: str
    principal: str
    namespace: str | None  # None: cluster-wide
    chain: tuple[str, ...]  # cloud steps, first hop first
    grant: Grant | None = None  # the RBAC grant when reached through a mapping
    rule_text: str = ""  # the rule when a cloud grant allows directly

    def describe(self) -> str:
        steps = list(self.chain)
        if self.grant is not None:
            steps.append(self.grant.describe())
        elif self.rule_text:
            steps.append(f"rule {self.rule_text}")
        return " -> ".join(steps)


def mapping_matches(mapping: IdentityMapping, subject: Subject) -> bool:
    """Does a binding subject name the identity this mapping logs in as?

    Username and group templates ({{SessionName}}, …) match every name they can render to, with
    the same function the solver uses (rbacmap.cloud.username_templates.can_render_to).
    """
    if subject.kind == GROUP:  # groups are rendered too (aws-iam-authenticator `renderTemplates`)
        return subject.name == AUTHENTICATED or any(can_render_to(group, subject.name) for group in mapping.groups)
    if subject.kind == USER:
        return can_render_to(mapping.username, subject.name)
    if subject.kind == SERVICE_ACCOUNT:
        return can_render_to(mapping.username, f"system:serviceaccount:{subject.namespace}:{subject.name}")
    return False


def _direct_answers(graph: CloudGraph, request: Request, k8s_answers: Iterable[SubjectGrant],
                    all_namespaces: bool) -> list[CloudAnswer]:
    out: list[CloudAnswer] = []
    for grant in graph.grants:
        if not grant.live:
            continue
        for namespace in _grant_scopes(grant, request, all_namespaces):
            scoped = _scoped(request, namespace)
            for index, rule in enumerate(grant.rules):
                if rule_allows(scoped, rule):
                    out.append(CloudAnswer(grant.principal_kind, grant.principal, namespace, (grant.provenance,),
                                           rule_text=f"#{index} {rule.describe()}"))
                    break
    answers = list(k8s_answers)
    for mapping in graph.mappings:
        if not mapping.live:
            continue
        login = f"{mapping.provenance}: logs in as {mapping.username} groups [{', '.join(mapping.groups)}]"
        for answer in answers:
            if not mapping_matches(mapping, answer.subject):
                continue
            # system:masters comes without a grant: say why it is allowed instead.
            chain = (login, f"{answer.subject}: {answer.note}") if answer.grant is None else (login,)
            out.append(CloudAnswer(mapping.principal_kind, mapping.principal, answer.namespace, chain, answer.grant))
    return out


def _grant_scopes(grant: CloudGrant, request: Request, all_namespaces: bool) -> list[str | None]:
    if not grant.namespaces:
        return [None]
    if not isinstance(request, ResourceRequest):
        return []
    if all_namespaces:
        return list(grant.namespaces)  # a wildcard scope (`dev-*`) is its own answer
    # A namespace scope never covers cluster-scoped requests (namespace "").
    return [request.namespace] if request.namespace and grant.covers(request.namespace) else []


def _scoped(request: Request, namespace: str | None) -> Request:
    if isinstance(request, ResourceRequest) and namespace and request.namespace != namespace:
        return ResourceRequest(request.verb, request.resource, namespace, request.api_group, request.subresource,
                               request.name)
    return request


def cloud_who_can(
    graph: CloudGraph, request: Request, k8s_answers: Iterable[SubjectGrant], *, all_namespaces: bool = False
) -> list[CloudAnswer]:
    """Every cloud principal (and SA through a cloud identity) allowed the request, shortest chain first."""
    direct = _direct_answers(graph, request, k8s_answers, all_namespaces)
    incoming: dict[str, list[tuple[str, str, str]]] = {}
    for edge in graph.edges:
        if edge.source_kind in _ACTOR_KINDS and edge.target_kind in (AWS_PRINCIPAL, GCP_PRINCIPAL):
            step = f"{edge.source} -[{edge.mechanism}]-> {edge.target}: {edge.provenance}"
            incoming.setdefault(edge.target, []).append((edge.source_kind, edge.source, step))
    out = list(direct)
    for answer in direct:
        # Breadth-first backwards: who can become this principal, and through whom.
        seen = {answer.principal}
        queue = deque([(answer.principal, answer.chain)])
        while queue:
            target, chain = queue.popleft()
            for source_kind, source, step in incoming.get(target, []):
                if source in seen:
                    continue
                seen.add(source)
                longer = (step, *chain)
                out.append(CloudAnswer(source_kind, source, answer.namespace, longer, answer.grant, answer.rule_text))
                queue.append((source, longer))
    return out


def cloud_who_can_rows(answers: Iterable[CloudAnswer]) -> list[dict[str, Any]]:
    """Rows shaped like rbacmap.who_can.who_can_rows, with the cloud chain under `via`."""
    rows = []
    for answer in answers:
        grant = answer.grant
        namespace, name = None, answer.principal
        if answer.principal_kind == K8S_SERVICE_ACCOUNT:
            namespace, _, name = answer.principal.partition("/")
        rows.append({
            "subject": {"kind": answer.principal_kind, "name": name, "namespace": namespace},
            "where": answer.namespace or "cluster-wide",
            "binding": str(grant.binding.key) if grant else None,
            "role": str(grant.role.key) if grant else None,
            "rule_index": grant.rule_index if grant else None,
            "rule": grant.rule.describe() if grant else answer.rule_text or None,
            "aggregated_from": grant.aggregated_from if grant else None,
            "note": "",
            "via": list(answer.chain),
        })
    return rows


def cluster_cloud_rows(
    store: Store, cluster: str, snapshot_id: int, request: Request, k8s_answers: Iterable[SubjectGrant], *,
    all_namespaces: bool = False,
) -> list[dict[str, Any]]:
    """who-can rows for the cluster's latest complete cloud import ([] when it has none).

    The import's IRSA and aws-auth facts come from the snapshot current at import time; when a
    newer snapshot exists, every row says so.
    """
    graph = latest_cloud_graph(store, cluster)
    if graph is None:
        return []
    rows = cloud_who_can_rows(cloud_who_can(graph, request, k8s_answers, all_namespaces=all_namespaces))
    used = graph.cloud_import.details.get("k8s_snapshot")
    for row in rows:
        row["cloud_import"] = graph.cloud_import.id
        if used is not None and used != snapshot_id:
            row["note"] = f"cloud import {graph.cloud_import.id} read service accounts of snapshot {used}"
    return rows


def format_cloud_paths(rows: Iterable[dict[str, Any]]) -> str:
    """The chain of each cloud row, for the table output (one indented step a line)."""
    lines = []
    for row in rows:
        if not row.get("via"):
            continue
        subject = row["subject"]
        name = f"{subject['namespace']}/{subject['name']}" if subject.get("namespace") else subject["name"]
        lines.append(f"{subject['kind']} {name} ({row['where']}):")
        lines.extend(f"    via {step}" for step in row["via"])
        lines.append(f"    then {row['binding']} -> {row['role']} rule {row['rule']}" if row["binding"]
                     else f"    then rule {row['rule']}")
    return "\n".join(lines)
