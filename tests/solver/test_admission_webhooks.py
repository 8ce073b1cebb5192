"""Validating webhooks that judge a privileged pod: the step stays, with a condition naming them."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN
from rbacmap.solver.admission import covers, pod_webhooks
from rbacmap.solver.context import ClusterObjects
from rbacmap.solver.edges import ANY_NODE_POOL, Pool
from tests.solver.helpers import path_of, solve_fixture

FIXTURE = "review/admission-webhooks.yaml"
KYVERNO = "kyverno-resource-validating-webhook-cfg/validate.kyverno.svc-fail"


def test_a_webhook_judging_pods_is_the_escape_s_condition(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    ann = path_of(result, "user:ann", CLUSTER_ADMIN)
    assert ann is not None and ann.steps[0].action == "escape to the node"
    assert ann.steps[0].condition.startswith(f"validating admission webhook {KYVERNO} judges this pod")
    # legacy is outside its namespaceSelector; opt-in.example.com has an objectSelector the attacker dodges.
    bo = path_of(result, "user:bo", CLUSTER_ADMIN)
    assert bo is not None and bo.steps[0].action == "escape to the node" and bo.steps[0].condition == ""
    # A privileged debug container is an update of pods/ephemeralcontainers, which the rule lists too.
    dee = path_of(result, "user:dee", CLUSTER_ADMIN)
    assert dee is not None and "--profile=sysadmin" in dee.steps[0].detail
    assert KYVERNO in dee.steps[0].condition


def test_every_namespace_is_shown_where_no_webhook_judges_pods(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    graph = result.graph
    any_node = graph.index[Pool.of(ANY_NODE_POOL)]
    [edge] = [graph.edges[e] for e in graph.into[any_node] if graph.nodes[graph.sources[e]].name == "cy"]
    assert edge.detail.endswith("volume in legacy") and edge.condition == ""


def test_rule_matching_follows_upstream() -> None:
    def rule(resources: list[str], operations: list[str] | None = None) -> list[dict[str, object]]:
        return [{"apiGroups": [""], "apiVersions": ["v1"], "operations": operations or ["CREATE"],
                 "resources": resources}]

    assert covers(rule(["pods"]), "CREATE", "pods")
    assert not covers(rule(["pods"]), "UPDATE", "pods/ephemeralcontainers")  # the resource alone
    assert covers(rule(["pods/*"], ["UPDATE"]), "UPDATE", "pods/ephemeralcontainers")
    assert covers(rule(["*/*"], ["*"]), "UPDATE", "pods/ephemeralcontainers")
    assert not covers(rule(["*"], ["*"]), "UPDATE", "pods/ephemeralcontainers")  # "*": no subresource
    assert not covers(rule(["deployments"]), "CREATE", "pods")
    assert not covers([{"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"],
                         "resources": ["pods"]}], "CREATE", "pods")
    assert not covers([{**rule(["pods"])[0], "scope": "Cluster"}], "CREATE", "pods")


def _objects(*hooks: dict[str, object]) -> ClusterObjects:
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
              "resources": ["pods", "pods/ephemeralcontainers"]}]
    return ClusterObjects(
        namespaces={"apps": {"name": "apps", "labels": '{"policy": "enforce"}', "pss_enforce": None}},
        webhooks=[{"kind": "Validating", "name": "policy",
                   "webhooks": [{"rules": rules, **hook} for hook in hooks]}])


def test_object_selectors_are_dodged_only_by_a_pod_whose_labels_the_attacker_writes() -> None:
    objects = _objects({"name": "labelled", "objectSelector": {"matchLabels": {"app": "web"}}},
                       {"name": "everything", "objectSelector": {"matchLabels": {}}})
    assert pod_webhooks(objects, "apps") == ["policy/everything"]  # a new pod: labels of its choosing
    # A debug container joins an existing pod; an updated workload keeps the labels its selector needs.
    assert pod_webhooks(objects, "apps", "UPDATE", "ephemeralcontainers", labels_chosen=False) == [
        "policy/labelled", "policy/everything"]
    assert pod_webhooks(objects, "apps", labels_chosen=False) == ["policy/labelled", "policy/everything"]


def test_a_namespace_seen_only_through_its_pods_may_be_selected() -> None:
    objects = _objects({"name": "opt-in", "namespaceSelector": {"matchLabels": {"policy": "enforce"}}},
                       {"name": "not-system", "namespaceSelector": {"matchExpressions": [
                           {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["zeta"]}]}})
    assert pod_webhooks(objects, "apps") == ["policy/opt-in", "policy/not-system"]
    # zeta has no Namespace object: its labels are unknown (opt-in may select it), its name is not.
    assert pod_webhooks(objects, "zeta") == ["policy/opt-in"]


def test_an_exempt_user_s_every_namespace_is_shown_where_no_webhook_judges_pods(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/exempt-every-namespace.yaml")
    graph = result.graph
    any_node = graph.index[Pool.of(ANY_NODE_POOL)]
    # Its shortest path runs a pod as keeper directly; the escape edge is the one to look at.
    [edge] = [graph.edges[e] for e in graph.into[any_node] if graph.nodes[graph.sources[e]].name == "ci-bot"]
    assert edge.detail.endswith("volume in legacy") and edge.condition == ""
    assert edge.objects[0].note.startswith("exemptions.usernames lists ci-bot")
