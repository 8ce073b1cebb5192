"""Real answers from the upstream bootstrap policy (the default roles every cluster has)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from rbacmap.authorizer import Authorizer, rule_allows
from rbacmap.model import NonResourceRequest, ResourceRequest, RoleKey, UserInfo
from rbacmap.policy import InMemoryPolicy
from rbacmap.resources import split_resource


@pytest.fixture
def authorizer(bootstrap_policy: Callable[..., InMemoryPolicy]) -> Authorizer:
    return Authorizer(bootstrap_policy())


def resource(verb: str, spec: str, namespace: str = "", name: str = "") -> ResourceRequest:
    res, sub, group = split_resource(spec)
    return ResourceRequest(verb, res, namespace, group, sub, name)


def bound_to(role: str) -> Callable[[Authorizer, ResourceRequest], bool]:
    """Whether a RoleBinding of ClusterRole `role` would allow the request: ask the role's rules."""

    def check(authorizer: Authorizer, request: ResourceRequest) -> bool:
        found = authorizer.policy.role(RoleKey("ClusterRole", role))
        assert found is not None, role
        return any(rule_allows(request, rule) for rule in found.rules)

    return check


def test_view_cannot_read_secrets_but_edit_and_admin_can(authorizer: Authorizer) -> None:
    view, edit, admin = bound_to("view"), bound_to("edit"), bound_to("admin")
    get_secret = resource("get", "secrets", "ns1")
    assert not view(authorizer, get_secret)
    assert edit(authorizer, get_secret)
    assert admin(authorizer, get_secret)
    assert view(authorizer, resource("list", "configmaps", "ns1"))
    assert view(authorizer, resource("watch", "deployments", "ns1"))
    assert not view(authorizer, resource("create", "pods/exec", "ns1"))
    assert edit(authorizer, resource("create", "pods/exec", "ns1"))


def test_admin_aggregates_edit_and_adds_rbac(authorizer: Authorizer) -> None:
    admin = authorizer.policy.role(RoleKey("ClusterRole", "admin"))
    assert admin is not None
    sources = set(admin.rule_sources)
    # admin's rules come from system:aggregate-to-admin, and through edit from
    # system:aggregate-to-edit and (through view) system:aggregate-to-view.
    assert {"system:aggregate-to-admin", "edit <- system:aggregate-to-edit",
            "edit <- view <- system:aggregate-to-view"} <= sources
    assert bound_to("admin")(authorizer, resource("create", "rolebindings", "ns1"))
    assert not bound_to("edit")(authorizer, resource("create", "rolebindings", "ns1"))


def test_discovery_urls_for_every_authenticated_user(authorizer: Authorizer) -> None:
    alice = UserInfo.authenticated("alice@example.com")
    for path in ("/api", "/api/v1", "/apis/apps/v1", "/openapi/v3", "/version", "/healthz"):
        decision = authorizer.authorize(alice, NonResourceRequest("get", path))
        assert decision.allowed, path
    decision = authorizer.authorize(alice, NonResourceRequest("get", "/apis/apps/v1"))
    assert any(g.binding.key.name == "system:discovery" for g in decision.grants)
    assert not authorizer.authorize(alice, NonResourceRequest("get", "/metrics")).allowed
    assert not authorizer.authorize(alice, NonResourceRequest("post", "/api")).allowed


def test_anonymous_sees_public_info_but_not_discovery(authorizer: Authorizer) -> None:
    anonymous = UserInfo.authenticated("system:anonymous")
    assert authorizer.authorize(anonymous, NonResourceRequest("get", "/version")).allowed
    assert authorizer.authorize(anonymous, NonResourceRequest("get", "/livez")).allowed
    assert not authorizer.authorize(anonymous, NonResourceRequest("get", "/apis")).allowed


def test_basic_user_may_ask_about_itself(authorizer: Authorizer) -> None:
    alice = UserInfo.authenticated("alice@example.com")
    assert authorizer.authorize(alice, resource("create", "selfsubjectaccessreviews")).allowed
    assert not authorizer.authorize(alice, resource("create", "subjectaccessreviews")).allowed
    assert not authorizer.authorize(alice, resource("list", "pods", "default")).allowed


def test_controller_roles(authorizer: Authorizer) -> None:
    deployment_controller = UserInfo.authenticated("system:serviceaccount:kube-system:deployment-controller")
    decision = authorizer.authorize(deployment_controller, resource("update", "deployments/status", "web"))
    assert decision.allowed
    assert [str(g.role.key) for g in decision.grants] == ["ClusterRole system:controller:deployment-controller"]
    assert not authorizer.authorize(deployment_controller, resource("get", "secrets", "web")).allowed
    # The same SA name in another namespace is someone else.
    impostor = UserInfo.authenticated("system:serviceaccount:default:deployment-controller")
    assert not authorizer.authorize(impostor, resource("update", "deployments/status", "web")).allowed


def test_namespaced_bootstrap_roles(authorizer: Authorizer) -> None:
    # kube-public's cluster-info ConfigMap is readable by the bootstrap signer controller only there.
    signer = UserInfo.authenticated("system:serviceaccount:kube-system:bootstrap-signer")
    assert authorizer.authorize(signer, resource("get", "configmaps", "kube-public")).allowed
    assert not authorizer.authorize(signer, resource("get", "configmaps", "default")).allowed


def test_system_masters_binding_and_short_circuit(authorizer: Authorizer) -> None:
    root = UserInfo.authenticated("root", ["system:masters"])
    assert authorizer.authorize(root, resource("delete", "nodes", name="n1")).via_system_masters
    who = authorizer.who_can(resource("escalate", "clusterroles"))
    assert ("Group", "system:masters") in {(a.subject.kind, a.subject.name) for a in who if a.grant}
