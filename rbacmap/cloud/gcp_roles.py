"""GCP IAM roles as the Kubernetes PolicyRules GKE's IAM authorizer grants with them.

GKE asks IAM and RBAC; a request is allowed when either allows it. A custom role's
`container.<resource>.<verb>` permissions map one to one to Kubernetes resource verbs
(GKE's "IAM permissions for Kubernetes API objects"), so they become rules the shared
rule matcher reads. Predefined roles are listed here from the GKE IAM roles reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rbacmap.cloud.eks_access_policies import CLUSTER_ADMIN
from rbacmap.model import PolicyRule

READ = ("get", "list", "watch")
ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")

# Kubernetes API group of each resource GKE names in container.* permissions.
RESOURCE_GROUPS = {
    "pods": "", "secrets": "", "configmaps": "", "services": "", "serviceaccounts": "", "namespaces": "",
    "nodes": "", "endpoints": "", "events": "", "persistentvolumes": "", "persistentvolumeclaims": "",
    "replicationcontrollers": "", "resourcequotas": "", "limitranges": "", "podtemplates": "",
    "deployments": "apps", "daemonsets": "apps", "statefulsets": "apps", "replicasets": "apps",
    "controllerrevisions": "apps", "jobs": "batch", "cronjobs": "batch",
    "horizontalpodautoscalers": "autoscaling", "ingresses": "networking.k8s.io",
    "networkpolicies": "networking.k8s.io", "poddisruptionbudgets": "policy",
    "roles": "rbac.authorization.k8s.io", "rolebindings": "rbac.authorization.k8s.io",
    "clusterroles": "rbac.authorization.k8s.io", "clusterrolebindings": "rbac.authorization.k8s.io",
    "certificatesigningrequests": "certificates.k8s.io",
    "mutatingwebhookconfigurations": "admissionregistration.k8s.io",
    "validatingwebhookconfigurations": "admissionregistration.k8s.io",
    "customresourcedefinitions": "apiextensions.k8s.io", "storageclasses": "storage.k8s.io",
    "priorityclasses": "scheduling.k8s.io", "leases": "coordination.k8s.io",
    "endpointslices": "discovery.k8s.io", "tokenreviews": "authentication.k8s.io",
    "subjectaccessreviews": "authorization.k8s.io", "localsubjectaccessreviews": "authorization.k8s.io",
    "selfsubjectaccessreviews": "authorization.k8s.io",
}

# Permissions that are not plain `verb resource`: (verbs, resource or resource/subresource).
SPECIAL_PERMISSIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "container.pods.exec": (("create", "get"), "pods/exec"),
    "container.pods.attach": (("create", "get"), "pods/attach"),
    "container.pods.portForward": (("create", "get"), "pods/portforward"),
    "container.pods.proxy": (ALL_VERBS, "pods/proxy"),
    "container.pods.getLogs": (("get",), "pods/log"),
    "container.pods.evict": (("create",), "pods/eviction"),
    "container.pods.ephemeralContainers": (("update", "patch"), "pods/ephemeralcontainers"),
    "container.serviceAccounts.createToken": (("create",), "serviceaccounts/token"),
    "container.services.proxy": (ALL_VERBS, "services/proxy"),
    "container.nodes.proxy": (ALL_VERBS, "nodes/proxy"),
    "container.certificateSigningRequests.approve": (("update", "patch"), "certificatesigningrequests/approval"),
}

VERBS = {"get": "get", "list": "list", "watch": "watch", "create": "create", "update": "update",
         "delete": "delete", "deleteCollection": "deletecollection", "bind": "bind", "escalate": "escalate",
         "impersonate": "impersonate", "getStatus": "get", "updateStatus": "update"}

DEVELOPER = (
    PolicyRule(ALL_VERBS, ("", "apps", "batch", "autoscaling", "networking.k8s.io", "policy"),
               ("pods", "pods/exec", "pods/attach", "pods/portforward", "pods/log", "pods/eviction", "secrets",
                "configmaps", "services", "serviceaccounts", "endpoints", "events", "persistentvolumeclaims",
                "replicationcontrollers", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs",
                "cronjobs", "horizontalpodautoscalers", "ingresses", "networkpolicies", "poddisruptionbudgets")),
    PolicyRule(("create",), ("",), ("serviceaccounts/token",)),
    PolicyRule(READ, ("*",), ("*",)),
)

VIEWER = (
    PolicyRule(READ, ("", "apps", "batch", "autoscaling", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
                      "storage.k8s.io", "apiextensions.k8s.io"),
               ("pods", "pods/log", "configmaps", "services", "serviceaccounts", "endpoints", "events", "namespaces",
                "nodes", "persistentvolumes", "persistentvolumeclaims", "replicationcontrollers", "resourcequotas",
                "limitranges", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs",
                "horizontalpodautoscalers", "ingresses", "networkpolicies", "poddisruptionbudgets", "roles",
                "rolebindings", "clusterroles", "clusterrolebindings", "storageclasses",
                "customresourcedefinitions")),
)

PREDEFINED_ROLES: dict[str, tuple[PolicyRule, ...]] = {
    "roles/owner": CLUSTER_ADMIN,
    "roles/editor": CLUSTER_ADMIN,
    "roles/container.admin": CLUSTER_ADMIN,
    "roles/container.clusterAdmin": CLUSTER_ADMIN,
    "roles/container.developer": DEVELOPER,
    "roles/viewer": VIEWER,
    "roles/container.viewer": VIEWER,
    "roles/container.clusterViewer": (),
}

_PERMISSION = re.compile(r"^container\.([A-Za-z]+)\.([A-Za-z]+)$")


def is_custom_role(role: str) -> bool:
    return role.startswith(("projects/", "organizations/"))


def permission_rule(permission: str) -> PolicyRule | None:
    """The rule one container.* permission grants; None for cluster-management or unknown ones."""
    special = SPECIAL_PERMISSIONS.get(permission)
    if special is not None:
        verbs, resource = special
        return PolicyRule(verbs, (RESOURCE_GROUPS.get(resource.split("/")[0], "*"),), (resource,))
    match = _PERMISSION.match(permission)
    if match is None:
        return None
    resource, verb = match.group(1).lower(), VERBS.get(match.group(2))
    if verb is None or resource not in RESOURCE_GROUPS:
        return None  # container.clusters.*, container.operations.*, …: not Kubernetes API objects
    if match.group(2) in ("getStatus", "updateStatus"):
        resource += "/status"
    verbs = (verb, "patch") if verb == "update" else (verb,)
    return PolicyRule(verbs, (RESOURCE_GROUPS[match.group(1).lower()],), (resource,))


def permissions_rules(permissions: Iterable[str]) -> tuple[tuple[PolicyRule, ...], tuple[str, ...]]:
    """(rules, the container.* permissions rbacmap could not map) for a custom role."""
    rules: list[PolicyRule] = []
    unmapped: list[str] = []
    for permission in sorted(set(permissions)):
        rule = permission_rule(permission)
        if rule is not None:
            rules.append(rule)
        elif permission.startswith("container.") and not permission.startswith(
            ("container.clusters.", "container.operations.", "container.nodePools.")
        ):
            unmapped.append(permission)
    return tuple(rules), tuple(unmapped)
