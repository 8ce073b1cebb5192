"""The cloud -> Kubernetes mappings as the AWS and GCP documentation states them (sources in the modules).

EKS access policies: rbacmap.cloud.eks_access_policies (EKS user guide, "Review access policy
permissions"). GKE roles: rbacmap.cloud.gcp_roles / gcp_predefined_roles (GCP IAM roles
reference). Username templates: rbacmap.cloud.username_templates (aws-iam-authenticator).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rbacmap.authorizer import Authorizer, rule_allows
from rbacmap.cloud.eks_access_policies import access_policy_rules
from rbacmap.cloud.gcp_roles import PREDEFINED_ROLES, cluster_management_risk, permissions_rules, role_permissions
from rbacmap.cloud.k8s_context import K8sContext
from rbacmap.cloud.model import AWS_PRINCIPAL, CloudFacts, IdentityMapping
from rbacmap.cloud.solver_edges import principal_identity
from rbacmap.cloud.store import latest_cloud_graph, save_cloud_import
from rbacmap.cloud.username_templates import can_render_to
from rbacmap.cloud.who_can import cloud_who_can
from rbacmap.importers.gke import GkeRawData, normalize_gke
from rbacmap.importers.manifests import import_files
from rbacmap.model import NonResourceRequest, PolicyRule, ResourceRequest
from rbacmap.policy import SqlitePolicy
from rbacmap.solver import solve
from rbacmap.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
ARN = "arn:aws:eks::aws:cluster-access-policy/"


def allows(rules: tuple[PolicyRule, ...], verb: str, resource: str, group: str = "", subresource: str = "",
           namespace: str = "payments") -> bool:
    request = ResourceRequest(verb, resource, namespace, group, subresource)
    return any(rule_allows(request, rule) for rule in rules)


def eks(name: str) -> tuple[PolicyRule, ...]:
    rules = access_policy_rules(ARN + name)
    assert rules is not None, name
    return rules


# --- EKS access policies ------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "verb", "resource", "group", "sub", "allowed"), [
    # View: reads workloads (also in the legacy `extensions` group), never Secrets, never writes.
    ("AmazonEKSViewPolicy", "watch", "pods", "", "", True),
    ("AmazonEKSViewPolicy", "get", "deployments", "extensions", "", True),
    ("AmazonEKSViewPolicy", "get", "secrets", "", "", False),
    ("AmazonEKSViewPolicy", "create", "pods", "", "", False),
    ("AmazonEKSViewPolicy", "get", "pods", "", "exec", False),
    # Edit: the documented rows, which differ from upstream `edit`.
    ("AmazonEKSEditPolicy", "create", "pods", "", "exec", True),
    ("AmazonEKSEditPolicy", "get", "secrets", "", "", True),
    ("AmazonEKSEditPolicy", "impersonate", "serviceaccounts", "", "", True),
    ("AmazonEKSEditPolicy", "create", "events", "", "", True),
    ("AmazonEKSEditPolicy", "create", "deployments", "apps", "rollback", True),
    ("AmazonEKSEditPolicy", "patch", "deployments", "extensions", "", True),
    ("AmazonEKSEditPolicy", "create", "serviceaccounts", "", "token", False),
    ("AmazonEKSEditPolicy", "create", "pods", "", "eviction", False),
    ("AmazonEKSEditPolicy", "create", "endpoints", "", "", False),
    ("AmazonEKSEditPolicy", "patch", "controllerrevisions", "apps", "", False),
    ("AmazonEKSEditPolicy", "update", "deployments", "apps", "status", False),
    ("AmazonEKSEditPolicy", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    # Admin: Edit plus namespaced RBAC and local access reviews; nothing cluster-scoped beyond reads.
    ("AmazonEKSAdminPolicy", "create", "rolebindings", "rbac.authorization.k8s.io", "", True),
    ("AmazonEKSAdminPolicy", "escalate", "roles", "rbac.authorization.k8s.io", "", False),
    ("AmazonEKSAdminPolicy", "create", "localsubjectaccessreviews", "authorization.k8s.io", "", True),
    ("AmazonEKSAdminPolicy", "create", "clusterrolebindings", "rbac.authorization.k8s.io", "", False),
    ("AmazonEKSAdminPolicy", "get", "nodes", "", "", False),
    # AdminView reads everything, Secrets included; SecretReader only Secrets.
    ("AmazonEKSAdminViewPolicy", "get", "secrets", "", "", True),
    ("AmazonEKSAdminViewPolicy", "create", "pods", "", "", False),
    ("AmazonEKSSecretReaderPolicy", "list", "secrets", "", "", True),
    ("AmazonEKSSecretReaderPolicy", "get", "pods", "", "", False),
    ("AmazonEKSClusterAdminPolicy", "escalate", "clusterroles", "rbac.authorization.k8s.io", "", True),
])
def test_eks_access_policy_rows(policy: str, verb: str, resource: str, group: str, sub: str, allowed: bool) -> None:
    assert allows(eks(policy), verb, resource, group, sub) is allowed


def test_eks_cluster_admin_covers_non_resource_urls_and_other_partitions() -> None:
    rules = eks("AmazonEKSClusterAdminPolicy")
    assert any(rule_allows(NonResourceRequest("get", "/metrics"), r) for r in rules)
    assert not any(rule_allows(NonResourceRequest("get", "/metrics"), r) for r in eks("AmazonEKSAdminViewPolicy"))
    assert access_policy_rules("arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy") == eks(
        "AmazonEKSViewPolicy")
    # Auto Mode policies are described in prose only: unknown, never guessed.
    assert access_policy_rules(ARN + "AmazonEKSAutoNodePolicy") is None


# --- GKE predefined and custom roles ------------------------------------------------------------

@pytest.mark.parametrize(("role", "verb", "resource", "group", "sub", "allowed"), [
    ("roles/container.developer", "get", "secrets", "", "", True),
    ("roles/container.developer", "watch", "pods", "", "", True),  # list is read as list+watch
    ("roles/container.developer", "create", "pods", "", "exec", True),
    ("roles/container.developer", "create", "serviceaccounts", "", "token", True),
    ("roles/container.developer", "get", "nodes", "", "proxy", True),
    ("roles/container.developer", "patch", "deployments", "apps", "scale", True),
    ("roles/container.developer", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    ("roles/container.developer", "create", "clusterrolebindings", "rbac.authorization.k8s.io", "", False),
    ("roles/container.developer", "bind", "clusterroles", "rbac.authorization.k8s.io", "", False),
    ("roles/container.developer", "patch", "mutatingwebhookconfigurations", "admissionregistration.k8s.io", "",
     False),
    ("roles/container.developer", "update", "certificatesigningrequests", "certificates.k8s.io", "approval", False),
    ("roles/container.viewer", "list", "pods", "", "", True),
    ("roles/container.viewer", "get", "clusterroles", "rbac.authorization.k8s.io", "", True),
    ("roles/container.viewer", "get", "secrets", "", "", False),
    ("roles/container.viewer", "get", "pods", "", "log", False),  # not in the documented list
    ("roles/container.viewer", "create", "pods", "", "", False),
    ("roles/viewer", "get", "pods", "", "log", True),
    ("roles/viewer", "get", "secrets", "", "", False),
    ("roles/editor", "create", "pods", "", "exec", True),
    ("roles/editor", "create", "rolebindings", "rbac.authorization.k8s.io", "", False),
    ("roles/editor", "create", "subjectaccessreviews", "authorization.k8s.io", "", False),
    ("roles/container.admin", "create", "clusterrolebindings", "rbac.authorization.k8s.io", "", True),
    ("roles/owner", "escalate", "clusterroles", "rbac.authorization.k8s.io", "", True),
])
def test_gke_predefined_roles(role: str, verb: str, resource: str, group: str, sub: str, allowed: bool) -> None:
    assert allows(PREDEFINED_ROLES[role], verb, resource, group, sub) is allowed


@pytest.mark.parametrize("role", ["roles/container.clusterAdmin", "roles/container.clusterViewer"])
def test_gke_cluster_management_roles_grant_no_kubernetes_rule(role: str) -> None:
    assert PREDEFINED_ROLES[role] == ()
    assert not allows(PREDEFINED_ROLES[role], "get", "secrets")


def test_cluster_admin_risk_says_what_it_can_and_cannot_do() -> None:
    risk = cluster_management_risk(role_permissions("roles/container.clusterAdmin"))
    assert risk is not None
    assert "cannot get, list, create, change or delete any Kubernetes object" in risk
    assert "delete the cluster" in risk and "legacy ABAC" in risk and "iam.serviceAccounts.actAs" in risk
    # Read-only cluster access is not a risk; a role with Kubernetes permissions is not "management only".
    assert cluster_management_risk(role_permissions("roles/container.clusterViewer")) is None
    assert cluster_management_risk(role_permissions("roles/container.developer")) is None
    assert cluster_management_risk(["container.clusters.update", "container.secrets.get"]) is None


def test_custom_role_permissions_merge_per_resource() -> None:
    rules, unmapped = permissions_rules(["container.deployments.get", "container.deployments.updateScale",
                                         "container.deployments.list", "container.thirdPartyObjects.get"])
    assert [(r.resources, r.verbs) for r in rules] == [(("deployments",), ("get", "list", "watch")),
                                                        (("deployments/scale",), ("update", "patch"))]
    assert unmapped == ("container.thirdPartyObjects.get",)


def test_gke_import_turns_cluster_admin_into_a_finding_not_a_grant() -> None:
    raw = GkeRawData("acme-prod", {"name": "web"}, {"bindings": [
        {"role": "roles/container.clusterAdmin", "members": ["user:ops@acme.example"]},
        {"role": "roles/container.developer", "members": ["user:dev@acme.example"]}]})
    facts = normalize_gke(raw, K8sContext(None))
    assert [g.principal for g in facts.grants] == ["user:dev@acme.example"]
    [power] = facts.powers
    assert (power.principal, power.power) == ("user:ops@acme.example",
                                              "gke:cluster-management via roles/container.clusterAdmin")
    assert "cannot get, list, create, change or delete any Kubernetes object" in power.provenance
    assert any(n.startswith("user:ops@acme.example holds roles/container.clusterAdmin") for n in facts.notes)


# --- username templates: one rule for who-can and the solver ------------------------------------

@pytest.mark.parametrize(("template", "username", "expected"), [
    ("ops:{{SessionName}}", "ops:alice", True),
    ("ops:{{SessionName}}", "ops:alice-example.com", True),
    ("ops:{{SessionName}}", "ops:bob@example.com", False),  # `@` is rendered as `-`
    ("ops:{{SessionNameRaw}}", "ops:bob@example.com", True),
    ("ops:{{SessionName}}", "ops:a/b", False),  # session names have no `/`
    ("ops:{{SessionName}}", "ops:a", False),  # 2 to 64 characters
    ("ops:{{SessionName}}", "ops:" + "x" * 65, False),
    ("arn:aws:sts::111122223333:assumed-role/dev/{{SessionName}}",
     "arn:aws:sts::111122223333:assumed-role/dev/alice", True),
    ("arn:aws:sts::111122223333:assumed-role/dev/{{SessionName}}",
     "arn:aws:sts::111122223333:assumed-role/admin/alice", False),
    ("system:node:{{EC2PrivateDNSName}}", "system:node:ip-10-0-1-2.eu-west-1.compute.internal", True),
    ("system:node:{{EC2PrivateDNSName}}", "system:admin", False),
    ("{{AccountID}}:x", "111122223333:x", True),
    ("plain", "plain", True),
    ("plain", "plainer", False),
])
def test_template_rendering(template: str, username: str, expected: bool) -> None:
    assert can_render_to(template, username) is expected


@pytest.fixture()
def session_store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "templates.db")
    import_files(store, [str(FIXTURES / "eks-session-names.yaml")], "prod")
    facts = CloudFacts("arn:aws:eks:eu-west-1:111122223333:cluster/prod")
    for role, template in (("ops", "ops:{{SessionName}}"), ("ops-raw", "ops:{{SessionNameRaw}}")):
        arn = f"arn:aws:iam::111122223333:role/{role}"
        facts.mappings.append(IdentityMapping(AWS_PRINCIPAL, arn, template, (), "eks-access-entry",
                                              f"access entry {arn}"))
    save_cloud_import(store, "prod", "eks", facts)
    return store


def test_who_can_and_solver_agree_on_template_usernames(session_store: Store) -> None:
    snapshot = session_store.latest_snapshot("prod")
    graph = latest_cloud_graph(session_store, "prod")
    assert graph is not None
    authorizer = Authorizer(SqlitePolicy(session_store, snapshot.id))
    result = solve(session_store, snapshot, use_cache=False)
    ops, raw = "arn:aws:iam::111122223333:role/ops", "arn:aws:iam::111122223333:role/ops-raw"
    checks = [(ResourceRequest("get", "secrets", "payments"), "secrets", {ops: True, raw: True}),
              (ResourceRequest("create", "pods", "payments", subresource="exec"), "exec", {ops: False, raw: True})]
    for request, target, expected in checks:
        who = {a.principal for a in cloud_who_can(graph, request, authorizer.who_can(request))}
        for principal, reachable in expected.items():
            paths = result.paths(subject=principal_identity(AWS_PRINCIPAL, principal), target=target,
                                 namespace="payments")
            assert (principal in who) is reachable, (principal, target, "who-can")
            assert bool(paths) is reachable, (principal, target, "solver")
    [path] = result.paths(subject=principal_identity(AWS_PRINCIPAL, ops), target="secrets", namespace="payments")
    login = path.steps[0].to_json()
    assert login["action"] == "log in to Kubernetes" and login["as"] == {
        "kind": "CloudLogin", "name": "ops:alice", "namespace": "system:authenticated"}


def test_group_templates_render_like_usernames(tmp_path: Path) -> None:
    # aws-iam-authenticator renders the templates of an aws-auth entry's groups too (server.go renderTemplates):
    # with session name `masters`, `system:{{SessionName}}` is system:masters.
    store = Store(tmp_path / "group-templates.db")
    import_files(store, [str(FIXTURES / "eks-session-names.yaml")], "prod")
    facts = CloudFacts("arn:aws:eks:eu-west-1:111122223333:cluster/prod")
    arn = "arn:aws:iam::111122223333:role/teams"
    facts.mappings.append(IdentityMapping(AWS_PRINCIPAL, arn, "teams:{{SessionName}}", ("system:{{SessionName}}",),
                                          "aws-auth", "aws-auth ConfigMap kube-system/aws-auth mapRoles[0]"))
    save_cloud_import(store, "prod", "eks", facts)
    snapshot = store.latest_snapshot("prod")
    graph = latest_cloud_graph(store, "prod")
    assert graph is not None
    request = ResourceRequest("delete", "nodes")
    who = {a.principal for a in cloud_who_can(graph, request, Authorizer(SqlitePolicy(store, snapshot.id))
                                              .who_can(request))}
    assert arn in who
    result = solve(store, snapshot, use_cache=False)
    [path] = result.paths(subject=principal_identity(AWS_PRINCIPAL, arn), target="cluster-admin")
    assert "system:masters" in path.steps[0].to_json()["as"]["namespace"]
