"""Well-known resources and their API groups, so `can get deployments` means apps/deployments.

kubectl resolves short resource names through API discovery; offline snapshots have no
discovery, so we keep the built-in groups of a current Kubernetes release. A user can
always be explicit with `RESOURCE.GROUP` (as kubectl accepts) or `--api-group`.
"""

from __future__ import annotations

BUILTIN_RESOURCE_GROUPS: dict[str, str] = {
    **dict.fromkeys(
        [
            "pods", "services", "endpoints", "configmaps", "secrets", "serviceaccounts", "namespaces", "nodes",
            "persistentvolumes", "persistentvolumeclaims", "events", "limitranges", "resourcequotas",
            "replicationcontrollers", "podtemplates", "componentstatuses", "bindings",
            # Impersonation's resources (verb impersonate), core group, no namespace.
            "users", "groups", "uids", "userextras",
        ],
        "",
    ),
    **dict.fromkeys(["deployments", "replicasets", "statefulsets", "daemonsets", "controllerrevisions"], "apps"),
    **dict.fromkeys(["jobs", "cronjobs"], "batch"),
    **dict.fromkeys(["roles", "rolebindings", "clusterroles", "clusterrolebindings"], "rbac.authorization.k8s.io"),
    **dict.fromkeys(["certificatesigningrequests", "signers"], "certificates.k8s.io"),
    **dict.fromkeys(
        ["mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
         "validatingadmissionpolicybindings"],
        "admissionregistration.k8s.io",
    ),
    **dict.fromkeys(["ingresses", "networkpolicies", "ingressclasses"], "networking.k8s.io"),
    "horizontalpodautoscalers": "autoscaling",
    "poddisruptionbudgets": "policy",
    **dict.fromkeys(["storageclasses", "volumeattachments", "csidrivers", "csinodes"], "storage.k8s.io"),
    "leases": "coordination.k8s.io",
    "customresourcedefinitions": "apiextensions.k8s.io",
    "apiservices": "apiregistration.k8s.io",
    **dict.fromkeys(["tokenreviews"], "authentication.k8s.io"),
    **dict.fromkeys(
        ["subjectaccessreviews", "selfsubjectaccessreviews", "localsubjectaccessreviews", "selfsubjectrulesreviews"],
        "authorization.k8s.io",
    ),
    "priorityclasses": "scheduling.k8s.io",
    **dict.fromkeys(["flowschemas", "prioritylevelconfigurations"], "flowcontrol.apiserver.k8s.io"),
    "runtimeclasses": "node.k8s.io",
    "endpointslices": "discovery.k8s.io",
}

CLUSTER_SCOPED = {
    "nodes", "namespaces", "persistentvolumes", "clusterroles", "clusterrolebindings", "certificatesigningrequests",
    "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "storageclasses", "customresourcedefinitions",
    "apiservices", "priorityclasses", "runtimeclasses", "csidrivers", "csinodes", "volumeattachments",
    "ingressclasses", "componentstatuses", "validatingadmissionpolicies", "tokenreviews", "subjectaccessreviews",
    "selfsubjectaccessreviews", "selfsubjectrulesreviews", "users", "groups", "uids", "userextras", "signers",
    "validatingadmissionpolicybindings", "flowschemas", "prioritylevelconfigurations",
}


def is_cluster_scoped(resource: str, group: str) -> bool:
    """Built-in cluster-scoped resources (nodes, clusterroles, …) in their own API group.

    A real request for one carries no namespace, so RoleBindings never apply to it.
    """
    return resource in CLUSTER_SCOPED and BUILTIN_RESOURCE_GROUPS.get(resource) == group


def split_resource(spec: str, api_group: str | None = None) -> tuple[str, str, str]:
    """`deployments.apps/scale` -> ("deployments", "scale", "apps"); groups guessed for built-ins."""
    resource, _, subresource = spec.partition("/")
    group = api_group
    if group is None and "." in resource:
        resource, _, group = resource.partition(".")
    if group is None:
        group = BUILTIN_RESOURCE_GROUPS.get(resource, "")
    return resource, subresource, group


def guessed_group_note(spec: str, api_group: str | None) -> str | None:
    """A note when `split_resource` put a resource it does not know in the core group ('widgets' is asked as
    core/widgets, which no rule for a custom resource's group allows): say how to name the group."""
    resource = spec.partition("/")[0]
    if api_group is not None or "." in resource or resource in BUILTIN_RESOURCE_GROUPS or resource == "*":
        return None
    return (f"rbacmap does not know the API group of {resource}: asked in the core group; for a custom "
            f"resource give its group, as {resource}.GROUP or --api-group GROUP")
