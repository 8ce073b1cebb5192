"""Value types of an offboarding report: findings with provenance, fix steps, per-cluster results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rbacmap.offboard_identity import Identity, Person

# Finding types; each is one SARIF rule. `remains` findings make `rbacmap offboard` exit 1.
FINDING_TYPES: dict[str, str] = {
    "direct-binding": "A RoleBinding or ClusterRoleBinding names the person as a User subject.",
    "group-binding": "A binding grants a group the person is in; membership must be revoked in the identity provider.",
    "system-masters": "The person authenticates in system:masters, which is allowed everything before RBAC.",
    "aws-auth-mapping": "kube-system/aws-auth maps one of the person's AWS identities into the cluster.",
    "cloud-mapping": "A cloud IAM mechanism (EKS access entry, GKE) maps the person into the cluster.",
    "cloud-grant": "A cloud mechanism grants the person Kubernetes permissions directly.",
    "iam-role-trust": "The person can assume an IAM role (or impersonate a GCP service account) the cluster knows.",
    "client-certificate": "A client certificate was issued for the person's identity; it cannot be revoked.",
    "csr-requested": "The person requested a CertificateSigningRequest.",
    "escalation-path": "The person can still escalate to a more powerful identity.",
    "created-object": "An object the person created still exists (binding, role, service account).",
    "token-secret": "A legacy service-account token Secret the person created or read still exists.",
    "token-request": "The person requested service-account tokens that may still be valid.",
    "created-workload": "A workload the person created runs under a service account with power.",
    "last-seen": "When the person was last seen acting in the cluster's audit log.",
}


@dataclass(frozen=True)
class ObjectRef:
    """A Kubernetes object (or a cloud resource) a finding points at."""

    kind: str
    name: str
    namespace: str = ""

    def logical_name(self) -> str:
        """`ClusterRoleBinding/name` or `RoleBinding/namespace/name`, the SARIF logical location."""
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "namespace": self.namespace or None, "name": self.name}


@dataclass(frozen=True)
class FixStep:
    """One change that removes access: rbacmap writes it down, a human applies it.

    action: `remove-subjects` (rewrite a binding without `subjects`, delete it when none is
    left), `delete` (kubectl delete the target), `aws-auth-remove` (drop `entries` from
    kube-system/aws-auth) or `command` (a cloud-side command to review).
    """

    action: str
    target: ObjectRef | None = None
    subject_indexes: tuple[int, ...] = ()
    entries: tuple[tuple[str, int], ...] = ()
    command: str = ""
    note: str = ""


@dataclass(frozen=True)
class Finding:
    type: str
    message: str
    location: ObjectRef | None = None
    provenance: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    remains: bool = True
    remediation: str = ""
    fix: tuple[FixStep, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "location": self.location.to_json() if self.location else None,
            "remains": self.remains,
            "remediation": self.remediation or None,
            "provenance": self.provenance,
        }


@dataclass(frozen=True)
class Permission:
    """One rule the person holds, where, and the chain that grants it."""

    scope: str  # namespace, or "" for cluster-wide
    rule: str
    grant: dict[str, Any] = field(hash=False, compare=False)
    via: str = ""

    @property
    def granted_by(self) -> str:
        """The binding that grants it, or the cloud mechanism (an EKS access policy has no binding)."""
        binding = self.grant.get("binding")
        if binding:
            return f"{binding['kind']} {binding['name']}"
        return str(self.grant.get("provenance", ""))


@dataclass(frozen=True)
class ClusterReport:
    cluster: str
    snapshot_id: int
    identities: tuple[Identity, ...]
    findings: tuple[Finding, ...]
    permissions: tuple[Permission, ...]
    warnings: tuple[str, ...] = ()
    sources: dict[str, bool] = field(default_factory=dict, hash=False, compare=False)

    @property
    def remains(self) -> bool:
        return any(f.remains for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        scopes: dict[str, list[dict[str, Any]]] = {}
        for permission in self.permissions:
            scopes.setdefault(permission.scope or "cluster-wide", []).append(
                {"rule": permission.rule, "via": permission.via, "grant": permission.grant}
            )
        return {
            "cluster": self.cluster,
            "snapshot": self.snapshot_id,
            "remains": self.remains,
            "identities": [i.to_json() for i in self.identities],
            "findings": [f.to_json() for f in self.findings],
            "permissions": scopes,
            "sources": self.sources,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class PersonReport:
    person: Person
    clusters: tuple[ClusterReport, ...]

    @property
    def remains(self) -> bool:
        return any(c.remains for c in self.clusters)

    def to_json(self) -> dict[str, Any]:
        return {
            "person": self.person.label,
            "identifiers": list(self.person.identifiers),
            "groups_given": list(self.person.groups),
            "remains": self.remains,
            "clusters": [c.to_json() for c in self.clusters],
        }
