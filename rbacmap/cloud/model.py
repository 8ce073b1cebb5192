"""Value types for cloud identities and how they reach Kubernetes (and back)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rbacmap.model import PolicyRule

AWS_PRINCIPAL = "AWSPrincipal"
GCP_PRINCIPAL = "GCPPrincipal"
K8S_SERVICE_ACCOUNT = "ServiceAccount"  # edges from a Kubernetes SA name it "NAMESPACE/NAME"

EKS = "eks"
GKE = "gke"

# Edge mechanisms: how one identity becomes another.
ASSUME_ROLE = "sts:AssumeRole"
IRSA = "irsa"
POD_IDENTITY = "eks-pod-identity"
WORKLOAD_IDENTITY = "gke-workload-identity"
IMPERSONATE = "gcp-impersonate"
CREATE_ACCESS_ENTRY = "eks:CreateAccessEntry+AssociateAccessPolicy"
WRITE_ACCESS_ENTRY = "eks:CreateAccessEntry"  # a STANDARD entry: a username and groups of one's choosing
UPDATE_ACCESS_ENTRY = "eks:UpdateAccessEntry"  # the same, on an existing STANDARD entry
SWITCH_AUTHENTICATION_MODE = "eks:UpdateClusterConfig"  # CONFIG_MAP -> API_AND_CONFIG_MAP
GCP_SET_SA_POLICY = "iam.serviceAccounts.setIamPolicy"  # grant oneself a role on a service account

# Edge ends that are not identities of the cloud or of the cluster.
CLOUD_STEP = "CloudStep"
"""An attacker after a cloud change that gives no identity yet (the cluster's authentication mode switched, a
role binding added on a service account); the name says who and what. Never a subject."""
ACCESS_ENTRY_LOGIN = "EKSAccessEntryLogin"
"""Edge target: the principal named (an ARN) logs in through an access entry whose username and kubernetesGroups
the attacker chose; the solver expands it into one login per username or group that RBAC binds
(rbacmap.cloud.access_entry_logins)."""


@dataclass(frozen=True)
class IdentityMapping:
    """A cloud principal authenticates to Kubernetes as `username` with `groups`.

    `username` may hold EKS templates ({{SessionName}}, …); `live` is False when the
    cluster's authentication mode ignores this mechanism, or when the mapping never applies
    (an aws-auth entry that cannot match, or that another mapping of the principal wins over;
    the provenance says which), kept so the answer can say so.
    """

    principal_kind: str
    principal: str
    username: str
    groups: tuple[str, ...]
    mechanism: str
    provenance: str
    live: bool = True


@dataclass(frozen=True)
class CloudGrant:
    """Kubernetes permissions a cloud mechanism grants a principal directly (EKS access policy, GCP role).

    Expressed as RBAC PolicyRules so the authorizer's rule matching applies unchanged;
    `namespaces` empty means cluster-wide (cluster-scoped resources included). A namespace may
    hold `*` wildcards: an EKS access scope of `dev-*` covers every namespace starting with `dev-`
    (AWS, "Associate access policies with access entries").
    """

    principal_kind: str
    principal: str
    namespaces: tuple[str, ...]
    rules: tuple[PolicyRule, ...]
    mechanism: str
    provenance: str
    live: bool = True

    def covers(self, namespace: str) -> bool:
        """Does the grant apply in this namespace (always, when cluster-wide)?"""
        return not self.namespaces or in_scope(self.namespaces, namespace)


def in_scope(scope: tuple[str, ...], namespace: str) -> bool:
    """Is the namespace one of the scope's names, or matched by one of its `*` wildcards?"""
    return any(_namespace_pattern(pattern).fullmatch(namespace) for pattern in scope)


@lru_cache(maxsize=1024)
def _namespace_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def is_namespace_pattern(namespace: str) -> bool:
    return "*" in namespace


@dataclass(frozen=True)
class CloudEdge:
    """One identity can act as another (assume role, impersonate, IRSA, Workload Identity, …).

    `condition` is a caveat that must also hold (an IAM condition rbacmap could not evaluate, a platform version
    it does not know); empty when none."""

    source_kind: str
    source: str
    target_kind: str
    target: str
    mechanism: str
    provenance: str
    condition: str = ""


@dataclass(frozen=True)
class CloudPower:
    """A cloud permission a principal holds, e.g. `s3:*` on `*` from policy X (what a stolen pod gets)."""

    principal_kind: str
    principal: str
    power: str
    provenance: str


@dataclass(frozen=True)
class CloudImport:
    id: int
    cluster: str
    provider: str
    cloud_cluster: str
    status: str
    started_at: str
    details: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CloudGraph:
    """Everything one cloud import says about a cluster."""

    cloud_import: CloudImport
    mappings: tuple[IdentityMapping, ...] = ()
    grants: tuple[CloudGrant, ...] = ()
    edges: tuple[CloudEdge, ...] = ()
    powers: tuple[CloudPower, ...] = ()


@dataclass
class CloudFacts:
    """What an importer's normalize step produces, before it is loaded."""

    cloud_cluster: str
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mappings: list[IdentityMapping] = field(default_factory=list)
    grants: list[CloudGrant] = field(default_factory=list)
    edges: list[CloudEdge] = field(default_factory=list)
    powers: list[CloudPower] = field(default_factory=list)
