"""Aggregated ClusterRoles are recomputed from their selectors, as the aggregation controller does."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbacmap.aggregation import SelectorError, aggregate_cluster_roles, selector_matches
from rbacmap.authorizer import Authorizer
from rbacmap.importers.manifests import import_files
from rbacmap.model import PolicyRule, ResourceRequest, Role, RoleKey, UserInfo
from rbacmap.normalize import InvalidObject, normalize
from rbacmap.policy import load_policy
from rbacmap.store import Store

LABELS = {"tier": "gold", "team": "web"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({}, True),  # an empty selector selects everything
        ({"matchLabels": {"tier": "gold"}}, True),
        ({"matchLabels": {"tier": "gold", "team": "web"}}, True),
        ({"matchLabels": {"tier": "silver"}}, False),
        ({"matchLabels": {"absent": "x"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold", "silver"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["silver"]}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "In", "values": ["x"]}]}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["silver"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["gold"]}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "NotIn", "values": ["x"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "absent", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, False),
        # matchLabels and matchExpressions are ANDed
        ({"matchLabels": {"tier": "gold"}, "matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, False),
    ],
)
def test_selector_semantics(selector: dict[str, object], matches: bool) -> None:
    assert selector_matches(selector, LABELS) is matches


def test_unknown_operator_is_an_error() -> None:
    with pytest.raises(SelectorError):
        selector_matches({"matchExpressions": [{"key": "a", "operator": "Gt"}]}, LABELS)


def cluster_role(name: str, rules: list[PolicyRule], labels: dict[str, str] | None = None,
                 selectors: tuple[dict[str, object], ...] | None = None) -> Role:
    return Role(RoleKey("ClusterRole", name), tuple(rules), (), labels or {}, selectors)


READ_PODS = PolicyRule(("get",), ("",), ("pods",))
READ_SECRETS = PolicyRule(("get",), ("",), ("secrets",))
DELETE_PODS = PolicyRule(("delete",), ("",), ("pods",))


def test_chained_aggregation_names_each_hop_to_the_original_source() -> None:
    roles = [
        cluster_role("admin", [], selectors=({"matchLabels": {"to-admin": "true"}},)),
        cluster_role("edit", [], {"to-admin": "true"}, ({"matchLabels": {"to-edit": "true"}},)),
        cluster_role("edit-bits", [READ_SECRETS], {"to-edit": "true"}),
        cluster_role("admin-bits", [DELETE_PODS], {"to-admin": "true"}),
    ]
    by_name = {r.key.name: r for r in aggregate_cluster_roles(roles)}
    assert by_name["edit"].rules == (READ_SECRETS,)
    assert by_name["edit"].rule_sources == ("edit-bits",)
    # admin selects edit (itself aggregated) and admin-bits; the rule read through edit names
    # edit (which admin's selector matches), then edit-bits, the role that really holds it: each hop
    # can be checked against a selector. Matched roles are walked by name.
    assert set(by_name["admin"].rules) == {READ_SECRETS, DELETE_PODS}
    assert dict(zip(by_name["admin"].rules, by_name["admin"].rule_sources, strict=True)) == {
        DELETE_PODS: "admin-bits",
        READ_SECRETS: "edit <- edit-bits",
    }


def test_aggregations_that_select_each_other_name_no_route_through_themselves() -> None:
    roles = [
        cluster_role("a", [], {"ring": "1"}, ({"matchLabels": {"ring": "1"}},)),
        cluster_role("b", [], {"ring": "1"}, ({"matchLabels": {"ring": "1"}},)),
        cluster_role("holder", [READ_PODS], {"ring": "1"}),
    ]
    by_name = {r.key.name: r for r in aggregate_cluster_roles(roles)}
    # No route runs through the role itself ("b <- a <- …" growing round after round): a has the rule from
    # holder, b (which walks a first) through a, which its selector matches.
    assert by_name["a"].rules == by_name["b"].rules == (READ_PODS,)
    assert by_name["a"].rule_sources == ("holder",)
    assert by_name["b"].rule_sources == ("a <- holder",)


def test_rules_left_in_roles_that_select_each_other_are_kept_as_the_controller_keeps_them() -> None:
    # No role holds the rule any more (its leaf was deleted), but the two aggregations keep passing it
    # between them, and the API server authorizes with what they hold: the rule stays, each naming the other.
    roles = [
        cluster_role("mon-a", [READ_SECRETS], {"agg": "mon"}, ({"matchLabels": {"agg": "mon"}},)),
        cluster_role("mon-b", [READ_SECRETS], {"agg": "mon"}, ({"matchLabels": {"agg": "mon"}},)),
    ]
    by_name = {r.key.name: r for r in aggregate_cluster_roles(roles)}
    assert by_name["mon-a"].rules == by_name["mon-b"].rules == (READ_SECRETS,)
    assert (by_name["mon-a"].rule_sources, by_name["mon-b"].rule_sources) == (("mon-b",), ("mon-a",))


def test_duplicate_rules_are_kept_once_and_role_does_not_select_itself() -> None:
    roles = [
        cluster_role("agg", [], {"x": "1"}, ({"matchLabels": {"x": "1"}},)),
        cluster_role("a", [READ_PODS], {"x": "1"}),
        cluster_role("b", [READ_PODS, READ_SECRETS], {"x": "1"}),
    ]
    agg = aggregate_cluster_roles(roles)[0]
    assert agg.rules == (READ_PODS, READ_SECRETS)
    assert agg.rule_sources == ("a", "b")


def test_stale_rules_of_an_aggregated_role_are_replaced(store: Store, fixtures_dir: Path) -> None:
    result = import_files(store, [str(fixtures_dir / "core" / "stale-aggregated.yaml")], "c")
    assert result.errors == []
    rows = store.query(
        "SELECT rule_index, resources, verbs, aggregated_from FROM rules WHERE role_name = 'support'"
    )
    assert rows == [
        {"rule_index": 0, "resources": '["pods/log"]', "verbs": '["get"]', "aggregated_from": "support-logs"}
    ]
    authorizer = Authorizer(load_policy(store, result.snapshot.id))
    member = UserInfo.authenticated("sam", ["support"])
    assert not authorizer.authorize(member, ResourceRequest("delete", "pods", "web")).allowed
    grant = authorizer.authorize(member, ResourceRequest("get", "pods", "web", subresource="log")).grants[0]
    assert grant.aggregated_from == "support-logs"
    assert grant.describe().endswith("(aggregated from ClusterRole support-logs)")


def test_demo_custom_aggregation_with_match_expressions(demo_authorizer: Authorizer) -> None:
    prometheus = UserInfo.authenticated("system:serviceaccount:monitoring:prometheus")
    metrics = demo_authorizer.authorize(prometheus, ResourceRequest("list", "deployments", "web", "apps"))
    assert [g.aggregated_from for g in metrics.grants] == ["monitoring-kube-state"]  # label value "yes" (In)
    # monitoring-legacy carries the label but also rbac.example.com/deprecated (DoesNotExist fails).
    assert not demo_authorizer.authorize(prometheus, ResourceRequest("get", "secrets", "payments")).allowed


# LabelSelectorAsSelector (apimachinery pkg/apis/meta/v1/helpers.go) builds every requirement
# before matching anything, and the API server's ValidateLabelSelectorRequirement
# (meta/v1/validation/validation.go) wants values for In/NotIn and none for Exists/DoesNotExist.
@pytest.mark.parametrize(
    "selector",
    [
        # an invalid expression after a matchLabels that already fails for these labels
        {"matchLabels": {"tier": "silver"}, "matchExpressions": [{"key": "a", "operator": "Gt"}]},
        # ... or after an expression that already fails
        {"matchExpressions": [{"key": "absent", "operator": "Exists"}, {"key": "a", "operator": "Gt"}]},
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "tier", "operator": "NotIn"}]},
        {"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["gold"]}]},
        {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist", "values": ["x"]}]},
    ],
)
def test_invalid_selector_is_an_error_whatever_the_labels(selector: dict[str, object]) -> None:
    with pytest.raises(SelectorError):
        selector_matches(selector, LABELS)
    with pytest.raises(SelectorError):
        selector_matches(selector, {})


def test_invalid_expression_after_match_labels_is_rejected_at_import() -> None:
    bad = {
        "kind": "ClusterRole",
        "metadata": {"name": "bad"},
        "aggregationRule": {"clusterRoleSelectors": [
            {"matchLabels": {"x": "1"}, "matchExpressions": [{"key": "y", "operator": "Bogus"}]},
        ]},
    }
    with pytest.raises(InvalidObject, match="Bogus"):
        normalize(bad)


def test_null_match_label_value_is_the_empty_string() -> None:
    # A JSON null decodes to "" in Go's map[string]string.
    assert selector_matches({"matchLabels": {"tier": None}}, {"tier": ""})
    assert not selector_matches({"matchLabels": {"tier": None}}, {"tier": "None"})
