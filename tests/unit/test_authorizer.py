"""Subjects, bindings and decisions of the authorizer (upstream rule.go appliesToUser / VisitRulesFor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rbacmap.aggregation import aggregate_cluster_roles
from rbacmap.authorizer import Authorizer, unmatchable_subjects
from rbacmap.model import (
    GROUP,
    SERVICE_ACCOUNT,
    USER,
    Binding,
    NonResourceRequest,
    ResourceRequest,
    Role,
    UserInfo,
)
from rbacmap.normalize import normalize
from rbacmap.policy import InMemoryPolicy


def policy_from_documents(documents: list[dict[str, Any]]) -> InMemoryPolicy:
    roles: list[Role] = []
    bindings: list[Binding] = []
    for document in documents:
        normalized = normalize(document)
        if normalized.role is not None:
            roles.append(normalized.role)
        if normalized.binding is not None:
            bindings.append(normalized.binding)
    cluster_roles = aggregate_cluster_roles([r for r in roles if r.key.kind == "ClusterRole"])
    return InMemoryPolicy.build(cluster_roles + [r for r in roles if r.key.kind == "Role"], bindings)


@pytest.fixture
def authorizer(fixtures_dir: Path) -> Authorizer:
    text = (fixtures_dir / "core" / "authz-cases.yaml").read_text()
    return Authorizer(policy_from_documents([d for d in yaml.safe_load_all(text) if d]))


def user(name: str, *groups: str) -> UserInfo:
    return UserInfo.authenticated(name, groups)


def get(resource: str, namespace: str = "", subresource: str = "", name: str = "") -> ResourceRequest:
    return ResourceRequest("get", resource, namespace, "", subresource, name)


# --- implicit groups -------------------------------------------------------------------------


def test_service_account_user_carries_its_groups() -> None:
    info = UserInfo.authenticated("system:serviceaccount:ci:deployer")
    assert info.groups == ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated")


def test_plain_user_is_authenticated_and_anonymous_is_not() -> None:
    assert UserInfo.authenticated("alice").groups == ("system:authenticated",)
    assert UserInfo.authenticated("system:anonymous").groups == ("system:unauthenticated",)


@pytest.mark.parametrize(
    "name", ["system:serviceaccount:ns", "system:serviceaccount::x", "system:serviceaccount:a:b:c"]
)
def test_malformed_service_account_names_get_no_sa_groups(name: str) -> None:
    assert UserInfo.authenticated(name).groups == ("system:authenticated",)


# --- RoleBindings ----------------------------------------------------------------------------


def test_rolebinding_to_clusterrole_grants_in_its_namespace_only(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("alice"), get("pods", "team-a"))
    assert decision.allowed
    (grant,) = decision.grants
    assert str(grant.binding.key) == "RoleBinding team-a/alice-pods"
    assert str(grant.role.key) == "ClusterRole pod-reader"
    assert grant.rule_index == 0
    assert not authorizer.authorize(user("alice"), get("pods", "team-b")).allowed
    # ... and never cluster-wide (a RoleBinding does not apply to a namespace-less request).
    assert not authorizer.authorize(user("alice"), get("pods")).allowed


def test_user_subject_matches_by_exact_name(authorizer: Authorizer) -> None:
    assert not authorizer.authorize(user("Alice"), get("pods", "team-a")).allowed
    assert not authorizer.authorize(user("alice2"), get("pods", "team-a")).allowed


def test_subresource_in_rule(authorizer: Authorizer) -> None:
    assert authorizer.authorize(user("alice"), get("pods", "team-a", "log")).allowed
    assert not authorizer.authorize(user("alice"), get("pods", "team-a", "exec")).allowed


def test_clusterrolebinding_applies_in_every_namespace_and_cluster_wide(authorizer: Authorizer) -> None:
    for namespace in ("team-a", "team-b", "kube-system", ""):
        decision = authorizer.authorize(user("carol"), get("pods", namespace))
        assert decision.allowed, namespace
        assert [str(g.binding.key) for g in decision.grants] == ["ClusterRoleBinding carol-pods"]


def test_service_account_namespace_defaults_to_rolebinding_namespace(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("system:serviceaccount:team-a:app"), get("secrets", "team-a"))
    assert decision.allowed
    grant = decision.grants[0]
    assert grant.subject.kind == SERVICE_ACCOUNT and grant.subject.namespace == ""
    # app in another namespace is not the defaulted subject.
    assert not authorizer.authorize(user("system:serviceaccount:team-b:app"), get("secrets", "team-a")).allowed


def test_service_account_with_explicit_namespace_in_foreign_rolebinding(authorizer: Authorizer) -> None:
    assert authorizer.authorize(user("system:serviceaccount:team-b:builder"), get("secrets", "team-a")).allowed
    # team-a/builder is not the subject (it gets secrets only through its namespace group).
    other = authorizer.authorize(user("system:serviceaccount:team-a:builder"), get("secrets", "team-a"))
    assert [str(g.binding.key) for g in other.grants] == ["RoleBinding team-a/team-a-sas-secrets"]
    # The grant is in team-a only.
    assert not authorizer.authorize(user("system:serviceaccount:team-b:builder"), get("secrets", "team-b")).allowed


def test_service_account_without_namespace_in_clusterrolebinding_never_matches(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("system:serviceaccount:default:app"), get("pods"))
    assert not decision.allowed
    # Not even a user literally named like the subject.
    assert not authorizer.authorize(user("app"), get("pods")).allowed
    unmatchable = unmatchable_subjects(authorizer.policy.cluster_role_bindings())
    assert [(str(b.key), s.name) for b, s in unmatchable] == [("ClusterRoleBinding nowhere-sa", "app")]


def test_group_system_serviceaccounts(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("system:serviceaccount:anywhere:x"), get("pods", "team-b"))
    assert decision.allowed
    assert decision.grants[0].subject.name == "system:serviceaccounts"
    assert not authorizer.authorize(user("x"), get("pods", "team-b")).allowed


def test_group_system_serviceaccounts_namespace(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("system:serviceaccount:team-a:other"), get("secrets", "team-a"))
    assert [g.subject.name for g in decision.grants] == ["system:serviceaccounts:team-a"]
    assert not authorizer.authorize(user("system:serviceaccount:team-b:other"), get("secrets", "team-a")).allowed


def test_explicit_groups(authorizer: Authorizer) -> None:
    # No implicit groups at all: the health binding to system:authenticated does not match.
    bare = UserInfo("dave", ())
    assert not authorizer.authorize(bare, NonResourceRequest("get", "/healthz")).allowed
    assert authorizer.authorize(UserInfo("dave", ("system:authenticated",)), NonResourceRequest("get", "/healthz"))


# --- non-resource URLs ---------------------------------------------------------------------


def test_non_resource_urls_via_clusterrolebinding_for_authenticated(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("anyone"), NonResourceRequest("get", "/readyz"))
    assert decision.allowed
    assert str(decision.grants[0].binding.key) == "ClusterRoleBinding health-authenticated"
    assert not authorizer.authorize(user("anyone"), NonResourceRequest("get", "/livez")).allowed


def test_non_resource_urls_never_via_rolebinding(authorizer: Authorizer) -> None:
    # bob's only binding is a RoleBinding to health-checker: it cannot grant URLs.
    decision = authorizer.authorize(UserInfo("bob", ()), NonResourceRequest("get", "/healthz"))
    assert not decision.allowed


def test_anonymous_gets_unauthenticated_grants_only(authorizer: Authorizer) -> None:
    anonymous = UserInfo.authenticated("system:anonymous")
    decision = authorizer.authorize(anonymous, NonResourceRequest("get", "/healthz"))
    assert [str(g.binding.key) for g in decision.grants] == ["ClusterRoleBinding anonymous-health"]
    assert not authorizer.authorize(anonymous, get("pods", "team-b")).allowed


# --- system:masters and decisions -------------------------------------------------------------


def test_system_masters_short_circuits(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("root", "system:masters"), ResourceRequest("delete", "nodes", name="n1"))
    assert decision.allowed and decision.via_system_masters and decision.grants == ()
    assert "system:masters" in decision.reason
    assert authorizer.authorize(user("root", "system:masters"), NonResourceRequest("post", "/anything")).allowed


def test_denied_decision_has_no_grants_and_a_reason(authorizer: Authorizer) -> None:
    decision = authorizer.authorize(user("nobody"), get("pods", "team-a"))
    assert not decision.allowed and decision.grants == ()
    assert decision.reason == "no RBAC rule allows this request"


def test_every_grant_is_collected_unless_first_is_enough(authorizer: Authorizer) -> None:
    sa = user("system:serviceaccount:team-a:app")
    both = authorizer.authorize(sa, get("secrets", "team-a"))
    assert [str(g.binding.key) for g in both.grants] == [
        "RoleBinding team-a/secret-readers",
        "RoleBinding team-a/team-a-sas-secrets",
    ]
    first = authorizer.authorize(sa, get("secrets", "team-a"), all_grants=False)
    assert len(first.grants) == 1


def test_grant_provenance_text_and_json(authorizer: Authorizer) -> None:
    grant = authorizer.authorize(user("alice"), get("pods", "team-a", "log")).grants[0]
    assert grant.describe() == (
        "RoleBinding team-a/alice-pods -> ClusterRole pod-reader rule #0 "
        '{apiGroups="" resources=pods,pods/log verbs=get,list}'
    )
    assert grant.to_json() == {
        "binding": {"kind": "RoleBinding", "namespace": "team-a", "name": "alice-pods"},
        "subject": {"kind": USER, "name": "alice", "namespace": None},
        "role": {"kind": "ClusterRole", "namespace": None, "name": "pod-reader"},
        "rule_index": 0,
        "rule": {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
        "aggregated_from": None,
    }


def test_dangling_binding_is_reported_not_granted() -> None:
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "ghost", "namespace": "ns"},
            "roleRef": {"kind": "Role", "name": "missing", "apiGroup": "rbac.authorization.k8s.io"},
            "subjects": [{"kind": USER, "name": "frank"}],
        }
    ]
    decision = Authorizer(policy_from_documents(documents)).authorize(user("frank"), get("pods", "ns"))
    assert not decision.allowed
    assert [str(b.key) for b in decision.dangling] == ["RoleBinding ns/ghost"]


# --- who-can --------------------------------------------------------------------------------


def test_who_can_lists_subjects_with_defaulted_namespaces(authorizer: Authorizer) -> None:
    answers = authorizer.who_can(get("secrets", "team-a"))
    subjects = {(a.subject.kind, a.subject.namespace, a.subject.name, a.namespace) for a in answers}
    assert subjects == {
        (GROUP, "", "system:masters", None),
        (SERVICE_ACCOUNT, "team-a", "app", "team-a"),
        (SERVICE_ACCOUNT, "team-b", "builder", "team-a"),
        (GROUP, "", "system:serviceaccounts:team-a", "team-a"),
    }


def test_who_can_skips_unmatchable_subjects_and_rolebindings_for_urls(authorizer: Authorizer) -> None:
    names = {a.subject.name for a in authorizer.who_can(get("pods"))}
    assert "app" not in names  # the namespace-less SA of nowhere-sa
    assert "carol" in names and "alice" not in names
    url_subjects = {a.subject.name for a in authorizer.who_can(NonResourceRequest("get", "/healthz"))}
    assert url_subjects == {"system:masters", "system:authenticated", "system:unauthenticated"}


def test_who_can_all_namespaces_says_where(authorizer: Authorizer) -> None:
    answers = authorizer.who_can(get("pods"), all_namespaces=True)
    where = {(a.subject.name, a.namespace) for a in answers if a.grant is not None}
    assert ("alice", "team-a") in where
    assert ("system:serviceaccounts", "team-b") in where
    assert ("carol", None) in where
