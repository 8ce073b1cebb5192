"""Which API resources `import kube` lists: every kind the shared normalizer knows."""

from __future__ import annotations

from dataclasses import dataclass

SA_TOKEN_TYPE = "kubernetes.io/service-account-token"
# Secrets are listed as a server-side Table: each row's cells are [Name, Type, Data (the NUMBER
# of keys), Age] (kubernetes pkg/printers/internalversion printSecret) and, with
# includeObject=Metadata, its object is a PartialObjectMetadata: the type without any value.
# One media type only, never followed by a plain `application/json` fallback (kubectl adds
# one), which a server without Table support would answer with the full Secrets.
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
# A server refusing Tables (406) gets two metadata-only lists instead; they cannot tell the
# type of Secrets that are not legacy SA tokens (those are asked for by field selector).
PARTIAL_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
UNKNOWN_SECRET_TYPE = "unknown"


@dataclass(frozen=True)
class ResourceKind:
    """One listable API resource: its kind, group/version and plural name."""

    kind: str
    group_version: str
    plural: str
    # A single object to GET instead of listing the whole resource (ConfigMap aws-auth).
    only: tuple[str, str] | None = None
    # Served only by newer API servers: a 404 means "none here", not a failed import.
    optional: bool = False
    # Read for this platform's sake only: a 403 elsewhere is no gap (kube_platform_kinds).
    platform: str | None = None

    @property
    def base_path(self) -> str:
        return "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"

    @property
    def list_path(self) -> str:
        return f"{self.base_path}/{self.plural}"

    @property
    def object_path(self) -> str:
        assert self.only is not None
        namespace, name = self.only
        return f"{self.base_path}/namespaces/{namespace}/{self.plural}/{name}"

    @property
    def file_name(self) -> str:
        """The dump file of this kind (`import files` reads it back)."""
        group = self.group_version.split("/")[0] if "/" in self.group_version else "core"
        return f"{self.plural}.{group}.json"


RBAC = "rbac.authorization.k8s.io/v1"

KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("Namespace", "v1", "namespaces"),
    ResourceKind("ClusterRole", RBAC, "clusterroles"),
    ResourceKind("ClusterRoleBinding", RBAC, "clusterrolebindings"),
    ResourceKind("Role", RBAC, "roles"),
    ResourceKind("RoleBinding", RBAC, "rolebindings"),
    ResourceKind("ServiceAccount", "v1", "serviceaccounts"),
    ResourceKind("Secret", "v1", "secrets"),
    ResourceKind("Pod", "v1", "pods"),
    ResourceKind("ReplicationController", "v1", "replicationcontrollers"),
    ResourceKind("Deployment", "apps/v1", "deployments"),
    ResourceKind("ReplicaSet", "apps/v1", "replicasets"),
    ResourceKind("StatefulSet", "apps/v1", "statefulsets"),
    ResourceKind("DaemonSet", "apps/v1", "daemonsets"),
    ResourceKind("Job", "batch/v1", "jobs"),
    ResourceKind("CronJob", "batch/v1", "cronjobs"),
    ResourceKind("Node", "v1", "nodes"),
    ResourceKind(
        "ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"
    ),
    ResourceKind("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"),
    # GA in 1.30 (v1beta1 in 1.28-1.29 sat behind a feature gate): older servers answer 404.
    ResourceKind("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1", "validatingadmissionpolicies",
                 optional=True),
    ResourceKind("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1",
                 "validatingadmissionpolicybindings", optional=True),
    ResourceKind("RuntimeClass", "node.k8s.io/v1", "runtimeclasses"),
    ResourceKind("CertificateSigningRequest", "certificates.k8s.io/v1", "certificatesigningrequests"),
    ResourceKind("ConfigMap", "v1", "configmaps", only=("kube-system", "aws-auth"), platform="EKS"),
)


def platform_of(git_version: str) -> str | None:
    """EKS or GKE when the server's gitVersion says so (v1.29.3-eks-ae9a62a, v1.30.2-gke.1587003)."""
    if "-eks-" in git_version:
        return "EKS"
    if "-gke." in git_version:
        return "GKE"
    return None
