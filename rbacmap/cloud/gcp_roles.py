"""GCP IAM roles as the Kubernetes PolicyRules GKE's IAM authorizer grants with them.

GKE asks IAM and RBAC; a request is allowed when either allows it. A role's
`container.<resource>.<verb>` permissions map one to one to Kubernetes resource verbs, so
they become rules the shared rule matcher reads; predefined roles go through the same
mapping from their documented permission lists (rbacmap.cloud.gcp_predefined_roles).

Sources for the permission -> Kubernetes request table:
- Google Cloud, "GKE API permissions" (Kubernetes API section),
  https://cloud.google.com/kubernetes-engine/docs/reference/api-permissions
- Google Cloud, "Google Kubernetes Engine roles and permissions",
  https://cloud.google.com/iam/docs/roles-permissions/container (the permission names).
Inferences, marked as such: no documented role holds a `watch` or `deleteCollection`
permission, yet watching and collection deletes work for IAM-only users, so `list` is read
as list+watch and `delete` as delete+deletecollection (answers err towards showing access);
`update` covers patch. Permissions on API-less or removed kinds (thirdPartyObjects = every
custom resource, petSets, podPresets, …) are not mapped and are reported for custom roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rbacmap.cloud.eks_access_policies import CLUSTER_ADMIN
from rbacmap.cloud.gcp_predefined_roles import ALL_CONTAINER_PERMISSIONS_ROLES, PREDEFINED_ROLE_PERMISSIONS
from rbacmap.model import PolicyRule

ALL_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")

# Kubernetes API group of each resource GKE names in container.* permissions.
RESOURCE_GROUPS = {
    "pods": "", "secrets": "", "configmaps": "", "services": "", "serviceaccounts": "", "namespaces": "",
    "nodes": "", "endpoints": "", "events": "", "persistentvolumes": "", "persistentvolumeclaims": "",
    "replicationcontrollers": "", "resourcequotas": "", "limitranges": "", "podtemplates": "",
    "bindings": "", "componentstatuses": "",
    "deployments": "apps", "daemonsets": "apps", "statefulsets": "apps", "replicasets": "apps",
    "controllerrevisions": "apps", "jobs": "batch", "cronjobs": "batch",
    "horizontalpodautoscalers": "autoscaling", "ingresses": "networking.k8s.io",
    "networkpolicies": "networking.k8s.io", "poddisruptionbudgets": "policy",
    "roles": "rbac.authorization.k8s.io", "rolebindings": "rbac.authorization.k8s.io",
    "clusterroles": "rbac.authorization.k8s.io", "clusterrolebindings": "rbac.authorization.k8s.io",
    "certificatesigningrequests": "certificates.k8s.io",
    "mutatingwebhookconfigurations": "admissionregistration.k8s.io",
    "validatingwebhookconfigurations": "admissionregistration.k8s.io",
    "customresourcedefinitions": "apiextensions.k8s.io", "apiservices": "apiregistration.k8s.io",
    "storageclasses": "storage.k8s.io", "csidrivers": "storage.k8s.io", "csinodes": "storage.k8s.io",
    "volumeattachments": "storage.k8s.io", "priorityclasses": "scheduling.k8s.io",
    "runtimeclasses": "node.k8s.io", "leases": "coordination.k8s.io", "endpointslices": "discovery.k8s.io",
    "volumesnapshots": "snapshot.storage.k8s.io", "volumesnapshotcontents": "snapshot.storage.k8s.io",
    "volumesnapshotclasses": "snapshot.storage.k8s.io",
    "backendconfigs": "cloud.google.com", "frontendconfigs": "networking.gke.io",
    "managedcertificates": "networking.gke.io",
    "tokenreviews": "authentication.k8s.io", "subjectaccessreviews": "authorization.k8s.io",
    "localsubjectaccessreviews": "authorization.k8s.io", "selfsubjectaccessreviews": "authorization.k8s.io",
    "selfsubjectrulesreviews": "authorization.k8s.io",
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
    "container.deployments.rollback": (("create",), "deployments/rollback"),
    "container.namespaces.finalize": (("update",), "namespaces/finalize"),
}

# permission verb -> (Kubernetes verbs, subresource)
VERBS: dict[str, tuple[tuple[str, ...], str]] = {
    "get": (("get",), ""), "list": (("list", "watch"), ""), "create": (("create",), ""),
    "update": (("update", "patch"), ""), "delete": (("delete", "deletecollection"), ""),
    "deleteCollection": (("deletecollection",), ""), "bind": (("bind",), ""), "escalate": (("escalate",), ""),
    "impersonate": (("impersonate",), ""), "getStatus": (("get",), "status"),
    "updateStatus": (("update", "patch"), "status"), "getScale": (("get",), "scale"),
    "updateScale": (("update", "patch"), "scale"),
}

# Permissions of the GKE API (the cluster as a GCP resource), not of Kubernetes objects.
CLUSTER_MANAGEMENT_PREFIXES = ("container.clusters.", "container.operations.", "container.nodePools.")

_PERMISSION = re.compile(r"^container\.([A-Za-z]+)\.([A-Za-z]+)$")


def is_custom_role(role: str) -> bool:
    return role.startswith(("projects/", "organizations/"))


def permission_rule(permission: str) -> PolicyRule | None:
    """The rule one container.* permission grants; None for cluster-management or unknown ones."""
    special = SPECIAL_PERMISSIONS.get(permission)
    if special is not None:
        verbs, resource = special
        return PolicyRule(verbs, (RESOURCE_GROUPS[resource.split("/")[0]],), (resource,))
    match = _PERMISSION.match(permission)
    if match is None:
        return None
    resource, mapped = match.group(1).lower(), VERBS.get(match.group(2))
    if mapped is None or resource not in RESOURCE_GROUPS:
        return None  # container.clusters.*, container.operations.*, removed kinds: not Kubernetes API objects
    verbs, subresource = mapped
    group = RESOURCE_GROUPS[resource]
    return PolicyRule(verbs, (group,), (f"{resource}/{subresource}" if subresource else resource,))


def permissions_rules(permissions: Iterable[str]) -> tuple[tuple[PolicyRule, ...], tuple[str, ...]]:
    """(rules, the container.* permissions rbacmap could not map) for a set of permissions.

    One rule per (API group, resource), its verbs the union of the permissions on it.
    """
    merged: dict[tuple[str, str], list[str]] = {}
    unmapped: list[str] = []
    for permission in sorted(set(permissions)):
        rule = permission_rule(permission)
        if rule is not None:
            verbs = merged.setdefault((rule.api_groups[0], rule.resources[0]), [])
            verbs.extend(v for v in rule.verbs if v not in verbs)
        elif permission.startswith("container.") and not permission.startswith(CLUSTER_MANAGEMENT_PREFIXES):
            unmapped.append(permission)
    rules = tuple(PolicyRule(tuple(verbs), (group,), (resource,)) for (group, resource), verbs in merged.items())
    return rules, tuple(unmapped)


def _predefined() -> dict[str, tuple[PolicyRule, ...]]:
    roles: dict[str, tuple[PolicyRule, ...]] = {role: CLUSTER_ADMIN for role in ALL_CONTAINER_PERMISSIONS_ROLES}
    for role, permissions in PREDEFINED_ROLE_PERMISSIONS.items():
        roles[role] = permissions_rules(permissions)[0]
    return roles


# Predefined role -> the Kubernetes rules GKE's IAM authorizer grants with it. `container.*`
# roles (container.admin, owner) are `*` on everything, like cluster-admin. Roles with only
# cluster-management permissions (container.clusterAdmin, container.clusterViewer) grant none.
PREDEFINED_ROLES: dict[str, tuple[PolicyRule, ...]] = _predefined()


def role_permissions(role: str) -> tuple[str, ...]:
    """The documented container.* permissions of a predefined role (() when rbacmap does not list it)."""
    if role in ALL_CONTAINER_PERMISSIONS_ROLES:
        return ("container.*",)
    return PREDEFINED_ROLE_PERMISSIONS.get(role, ())


# What a member holding GKE cluster-management permissions (and no Kubernetes API permission)
# can still do; stated as a finding instead of being turned into Kubernetes rules.
CLUSTER_MANAGEMENT_RISK = (
    "no Kubernetes API permission: it cannot get, list, create, change or delete any Kubernetes object"
    " (Secrets, Pods, RBAC, …) through the cluster's API. Through the GKE API it can{can}"
    " — none of which rbacmap turns into a Kubernetes permission"
)


def cluster_management_risk(permissions: Iterable[str]) -> str | None:
    """The finding for a role holding cluster-management permissions but no Kubernetes ones, else None."""
    held = set(permissions)
    if held & {"container.*"} or any(permission_rule(p) for p in held):
        return None
    can = []
    if "container.clusters.delete" in held:
        can.append(" delete the cluster (every Kubernetes object with it)")
    if "container.clusters.update" in held:
        can.append(" change the cluster's configuration (node pools, versions, network and control-plane"
                   " access, and authorization settings such as enabling legacy ABAC, whose static"
                   " policies grant broad access; with iam.serviceAccounts.actAs on a Google service"
                   " account it can run node pools as that account)")
    if "container.clusters.create" in held:
        can.append(" create new clusters")
    if not can:
        return None
    return CLUSTER_MANAGEMENT_RISK.format(can=";".join(can))
