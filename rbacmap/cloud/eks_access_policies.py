"""EKS access policies as the Kubernetes PolicyRules they stand for.

From the AWS EKS user guide, "Review access policy permissions": each access policy is
documented as a list of Kubernetes rules, close to the upstream user-facing ClusterRoles
(ClusterAdmin ~ cluster-admin, Admin ~ admin, Edit ~ edit, View ~ view). The EKS
authorizer evaluates them with RBAC semantics, so rbacmap matches them with the same
rule matcher. An unknown policy maps to no rules and is reported, never guessed.
"""

from __future__ import annotations

from rbacmap.model import PolicyRule

POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")

_CORE_READ = (
    "bindings", "configmaps", "endpoints", "events", "limitranges", "namespaces", "namespaces/status",
    "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "pods/log", "pods/status",
    "replicationcontrollers", "replicationcontrollers/scale", "replicationcontrollers/status",
    "resourcequotas", "resourcequotas/status", "serviceaccounts", "services", "services/status",
)
_APPS = ("controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
         "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
         "statefulsets/scale", "statefulsets/status")
_WORKLOAD_GROUPS = (
    PolicyRule(READ, ("apps",), _APPS),
    PolicyRule(READ, ("autoscaling",), ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
    PolicyRule(READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
    PolicyRule(READ, ("networking.k8s.io",), ("ingresses", "ingresses/status", "networkpolicies")),
    PolicyRule(READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
    PolicyRule(READ, ("discovery.k8s.io",), ("endpointslices",)),
)

VIEW = (PolicyRule(READ, ("",), _CORE_READ), *_WORKLOAD_GROUPS)

EDIT = (
    *VIEW,
    PolicyRule(("impersonate",), ("",), ("serviceaccounts",)),
    PolicyRule(WRITE + READ, ("",), ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
                                     "configmaps", "endpoints", "persistentvolumeclaims", "replicationcontrollers",
                                     "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                                     "services/proxy")),
    PolicyRule(("create",), ("",), ("pods/eviction", "serviceaccounts/token")),
    PolicyRule(WRITE, ("apps",), _APPS),
    PolicyRule(WRITE, ("autoscaling",), ("horizontalpodautoscalers",)),
    PolicyRule(WRITE, ("batch",), ("cronjobs", "jobs")),
    PolicyRule(WRITE, ("networking.k8s.io",), ("ingresses", "networkpolicies")),
    PolicyRule(WRITE, ("policy",), ("poddisruptionbudgets",)),
)

ADMIN = (
    *EDIT,
    PolicyRule(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",)),
    PolicyRule(WRITE + READ, ("rbac.authorization.k8s.io",), ("rolebindings", "roles")),
)

CLUSTER_ADMIN = (
    PolicyRule(("*",), ("*",), ("*",)),
    PolicyRule(("*",), (), (), (), ("*",)),
)

ADMIN_VIEW = (PolicyRule(READ, ("*",), ("*",)),)

ACCESS_POLICY_RULES: dict[str, tuple[PolicyRule, ...]] = {
    "AmazonEKSClusterAdminPolicy": CLUSTER_ADMIN,
    "AmazonEKSAdminPolicy": ADMIN,
    "AmazonEKSEditPolicy": EDIT,
    "AmazonEKSViewPolicy": VIEW,
    "AmazonEKSAdminViewPolicy": ADMIN_VIEW,
}

# The upstream ClusterRole each policy resembles, for people reading the provenance.
RESEMBLES = {
    "AmazonEKSClusterAdminPolicy": "cluster-admin",
    "AmazonEKSAdminPolicy": "admin",
    "AmazonEKSEditPolicy": "edit",
    "AmazonEKSViewPolicy": "view",
    "AmazonEKSAdminViewPolicy": "view, secrets included",
}


def policy_name(policy_arn: str) -> str:
    return policy_arn.removeprefix(POLICY_ARN_PREFIX)


def access_policy_rules(policy_arn: str) -> tuple[PolicyRule, ...] | None:
    """The Kubernetes rules an access policy grants, None when rbacmap does not know the policy."""
    return ACCESS_POLICY_RULES.get(policy_name(policy_arn))
