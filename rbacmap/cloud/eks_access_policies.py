"""EKS access policies as the Kubernetes PolicyRules they stand for.

The EKS authorizer evaluates an access policy with RBAC semantics, so rbacmap matches it
with the same rule matcher. An unknown policy maps to no rules and is reported, never guessed.

Source of every table below (one rule per table row, transcribed row by row):
  AWS, "Amazon EKS User Guide - Review access policy permissions",
  https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html
  (source: github.com/awsdocs/amazon-eks-user-guide,
  latest/ug/manage-access/k8s-access/access-policy-reference.adoc; read 2025, after the
  "Add AmazonEKSSecretReaderPolicy" update of November 6, 2025).
Where the documented policy differs from the upstream ClusterRole it resembles, the
document wins: e.g. AmazonEKSEditPolicy grants no `create serviceaccounts/token` and no
`create pods/eviction` (upstream `edit` has both), does not write `endpoints`, and does
write `events`; no policy writes `controllerrevisions` or `*/status`.
The Auto Mode / service-linked-role policies (AmazonEKSAutoNodePolicy, AmazonEKSCompute*,
AmazonEKSBlockStorage*, AmazonEKSLoadBalancing*, AmazonEKSNetworking*,
AmazonEKSClusterInsightsPolicy) are described in prose only, so they stay unknown here.
"""

from __future__ import annotations

from rbacmap.model import PolicyRule

POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"

READ = ("get", "list", "watch")
WRITE = ("create", "delete", "deletecollection", "patch", "update")

# --- AmazonEKSViewPolicy (doc section "AmazonEKSViewPolicy", 10 rows) ------------------------
VIEW = (
    PolicyRule(READ, ("apps",), ("controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                                 "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                                 "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status")),
    PolicyRule(READ, ("autoscaling",), ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
    PolicyRule(READ, ("batch",), ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
    PolicyRule(READ, ("discovery.k8s.io",), ("endpointslices",)),
    PolicyRule(READ, ("extensions",), ("daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                       "deployments/status", "ingresses", "ingresses/status", "networkpolicies",
                                       "replicasets", "replicasets/scale", "replicasets/status",
                                       "replicationcontrollers/scale")),
    PolicyRule(READ, ("networking.k8s.io",), ("ingresses", "ingresses/status", "networkpolicies")),
    PolicyRule(READ, ("policy",), ("poddisruptionbudgets", "poddisruptionbudgets/status")),
    PolicyRule(READ, ("",), ("configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
                             "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                             "services", "services/status")),
    PolicyRule(READ, ("",), ("bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                             "replicationcontrollers/status", "resourcequotas", "resourcequotas/status")),
    PolicyRule(READ, ("",), ("namespaces",)),
)

# --- AmazonEKSEditPolicy: every View row plus these (doc section "AmazonEKSEditPolicy") -------
_EDIT_EXTRA = (
    PolicyRule(WRITE, ("apps",), ("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                                  "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale")),
    PolicyRule(WRITE, ("autoscaling",), ("horizontalpodautoscalers",)),
    PolicyRule(WRITE, ("batch",), ("cronjobs", "jobs")),
    PolicyRule(WRITE, ("extensions",), ("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                                        "ingresses", "networkpolicies", "replicasets", "replicasets/scale",
                                        "replicationcontrollers/scale")),
    PolicyRule(WRITE, ("networking.k8s.io",), ("ingresses", "networkpolicies")),
    PolicyRule(WRITE, ("policy",), ("poddisruptionbudgets",)),
    PolicyRule(READ, ("",), ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                             "services/proxy")),
    PolicyRule(("impersonate",), ("",), ("serviceaccounts",)),
    PolicyRule(WRITE, ("",), ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy")),
    PolicyRule(WRITE, ("",), ("configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                              "replicationcontrollers/scale", "secrets", "serviceaccounts", "services",
                              "services/proxy")),
)
EDIT = (*VIEW, *_EDIT_EXTRA)

# --- AmazonEKSAdminPolicy: every Edit row plus these two (doc section "AmazonEKSAdminPolicy") -
ADMIN = (
    *EDIT,
    PolicyRule(("create",), ("authorization.k8s.io",), ("localsubjectaccessreviews",)),
    PolicyRule(("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
               ("rbac.authorization.k8s.io",), ("rolebindings", "roles")),
)

# --- AmazonEKSClusterAdminPolicy: `*` on every group/resource, and `*` on every nonResourceURL -
CLUSTER_ADMIN = (
    PolicyRule(("*",), ("*",), ("*",)),
    PolicyRule(("*",), (), (), (), ("*",)),
)

# --- AmazonEKSAdminViewPolicy: get/list/watch on everything, Secrets included ----------------
ADMIN_VIEW = (PolicyRule(READ, ("*",), ("*",)),)

# --- AmazonEKSSecretReaderPolicy: get/list/watch secrets ------------------------------------
SECRET_READER = (PolicyRule(READ, ("",), ("secrets",)),)

# --- AmazonEKSHybridPolicy (service-linked roles only): list nodes ---------------------------
HYBRID = (PolicyRule(("list",), ("*",), ("nodes",)),)

ACCESS_POLICY_RULES: dict[str, tuple[PolicyRule, ...]] = {
    "AmazonEKSClusterAdminPolicy": CLUSTER_ADMIN,
    "AmazonEKSAdminPolicy": ADMIN,
    "AmazonEKSEditPolicy": EDIT,
    "AmazonEKSViewPolicy": VIEW,
    "AmazonEKSAdminViewPolicy": ADMIN_VIEW,
    "AmazonEKSSecretReaderPolicy": SECRET_READER,
    "AmazonEKSHybridPolicy": HYBRID,
}

# What each policy resembles, for people reading the provenance (the rules above are exact).
RESEMBLES = {
    "AmazonEKSClusterAdminPolicy": "ClusterRole cluster-admin",
    "AmazonEKSAdminPolicy": "ClusterRole admin",
    "AmazonEKSEditPolicy": "ClusterRole edit",
    "AmazonEKSViewPolicy": "ClusterRole view",
    "AmazonEKSAdminViewPolicy": "ClusterRole view, Secrets included",
    "AmazonEKSSecretReaderPolicy": "read Secrets only",
    "AmazonEKSHybridPolicy": "list nodes only",
}


def policy_name(policy_arn: str) -> str:
    """The policy's name from its ARN, in any partition (aws, aws-cn, aws-us-gov)."""
    _, marker, name = policy_arn.partition(":cluster-access-policy/")
    return name if marker else policy_arn


def access_policy_rules(policy_arn: str) -> tuple[PolicyRule, ...] | None:
    """The Kubernetes rules an access policy grants, None when rbacmap does not know the policy."""
    return ACCESS_POLICY_RULES.get(policy_name(policy_arn))
