"""Escalate a role bound to another identity, then become that identity (a chained edge)."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN, EXEC, SECRETS
from rbacmap.solver.edges import ChainedEdge, Edge
from rbacmap.solver.graph import EscalationGraph
from rbacmap.solver.identity import identity_for_user
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET
from tests.solver.helpers import actions, path_of, solve_fixture

ESCALATE_OTHERS = "review/escalate-others.yaml"


def test_rewriting_a_cluster_role_bound_to_a_service_account_one_can_become(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, ESCALATE_OTHERS)
    eve = path_of(result, "user:eve", CLUSTER_ADMIN)
    assert actions(eve) == ["escalate ClusterRole viewer-lite", "request a token", "holds the rewritten role"]
    assert eve is not None
    rewrite, token, hold = eve.steps
    assert rewrite.as_identity.name == "eve"
    # The same rule allows update and escalate: listed once.
    assert [(g.binding.key.name, g.role.key.name, g.rule_index) for g in rewrite.grants] == [
        ("rewriters", "viewer-lite-rewriter", 0)]
    assert "kubectl auth can-i escalate clusterroles.rbac.authorization.k8s.io/viewer-lite -A" in rewrite.explanation
    assert (token.as_identity.namespace, token.as_identity.name) == ("ops", "helper")
    assert token.grants[0].binding.key.name == "minters"
    assert hold.as_identity.name == "helper"
    assert [(o.kind, o.name) for o in hold.objects] == [("ClusterRoleBinding", "helper-view")]


def test_no_chain_without_a_way_to_become_the_holder_or_without_escalate(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, ESCALATE_OTHERS)
    assert result.paths(subject="user:fay") == []  # may rewrite viewer-lite, cannot become helper
    assert result.paths(subject="user:gus") == []  # can become helper, update without escalate


def test_rewriting_a_role_gives_everything_in_its_namespace_only(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, ESCALATE_OTHERS)
    hal = path_of(result, "user:hal", SECRETS, "shop")
    assert actions(hal) == ["escalate Role shop/reader", "impersonate a ServiceAccount", "holds the rewritten role",
                            "read secrets"]
    assert hal is not None
    assert hal.steps[2].as_identity.namespace == "shop"  # the holder's new power is scoped to shop
    # The secrets read is granted by the binding that exists, to the role it names, as rewritten: no new binding.
    [read] = hal.steps[3].grants
    assert (str(read.binding.key), str(read.role.key), read.rule.verbs) == (
        "RoleBinding shop/clerk-reads", "Role shop/reader", ("*",))
    assert (read.subject.kind, read.subject.name) == (hal.steps[1].as_identity.kind, hal.steps[1].as_identity.name)
    assert "Check (once the bind or rewrite above is done)" in hal.steps[3].explanation
    assert path_of(result, "user:hal", EXEC, "shop") is not None
    assert path_of(result, "user:hal", CLUSTER_ADMIN) is None
    assert path_of(result, "user:hal", SECRETS, "ops") is None


def test_the_search_charges_a_chained_edge_its_whole_length() -> None:
    """A 3-step chain loses to a 2-step path; without its cost it would win (it was added first)."""
    attacker, helper = identity_for_user("ann"), identity_for_user("bob")
    chained = ChainedEdge(Edge(attacker, attacker, "rewrite", ""), (Edge(attacker, helper, "become", ""),),
                          Edge(helper, CLUSTER_ADMIN_TARGET, "holds", ""), cost=3)
    for cost, first_action in ((3, "become bob"), (1, "rewrite")):
        graph = EscalationGraph()
        graph.add_chained([chained])
        if cost == 1:
            graph.extra_cost.clear()
        graph.add_all([Edge(attacker, helper, "become bob", ""), Edge(helper, CLUSTER_ADMIN_TARGET, "holds", "")])
        first_edges = graph.reverse_search(CLUSTER_ADMIN_TARGET, set())
        assert graph.edges[first_edges[graph.index[attacker]]].action == first_action


def test_a_plain_edge_added_after_a_parallel_chained_edge_is_kept() -> None:
    attacker, helper = identity_for_user("ann"), identity_for_user("bob")
    chained = ChainedEdge(Edge(attacker, attacker, "rewrite", ""), (Edge(attacker, helper, "become", ""),),
                          Edge(helper, CLUSTER_ADMIN_TARGET, "holds", ""), cost=3)
    graph = EscalationGraph()
    graph.add_chained([chained])
    graph.add_all([Edge(attacker, CLUSTER_ADMIN_TARGET, "holds cluster-admin", "")])
    assert [edge.action for edge in graph.edges] == ["rewrite", "holds cluster-admin"]
    first_edges = graph.reverse_search(CLUSTER_ADMIN_TARGET, set())
    assert graph.edges[first_edges[graph.index[attacker]]].action == "holds cluster-admin"


SECOND_REWRITE = "review/second-rewrite.yaml"


def test_a_second_rewrite_only_the_first_makes_reachable(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, SECOND_REWRITE)
    xavier = path_of(result, "user:xavier", CLUSTER_ADMIN)
    # Rewrite r2 (bound to y2); reach y2 by rewriting r1 (bound to y1), becoming y1 and starting a pod as y2.
    assert actions(xavier) == ["escalate ClusterRole r2", "escalate Role n1/r1", "impersonate a ServiceAccount",
                               "holds the rewritten role", "create pods", "holds the rewritten role"]
    assert xavier is not None
    assert [s.as_identity.name for s in xavier.steps][4:] == ["y2", "y2"]
    assert [o.name for o in xavier.steps[0].objects] == ["b2"] and [o.name for o in xavier.steps[1].objects] == ["b1"]
    # yara may rewrite r2 and become y1, but y1's power (r1, not hers to rewrite) never reaches y2.
    assert result.paths(subject="user:yara") == []


def test_graph_sources_stop_once_a_pass_adds_no_chain(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, SECOND_REWRITE)
    chained = [edge for edge in result.graph.edges if isinstance(edge, ChainedEdge)]
    # One chain per (attacker, goal): the second pass finds the first chain again, and it is not added twice.
    pairs = [(edge.source, edge.target) for edge in chained]
    assert len(pairs) == len(set(pairs))
    assert any(isinstance(hop, ChainedEdge) for edge in chained for hop in edge.via)


def test_a_later_pass_replaces_a_chain_with_a_shorter_one(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/second-rewrite-shorter.yaml")
    xavier = path_of(result, "user:xavier", CLUSTER_ADMIN)
    # Not the 7 steps over the impersonation ladder the first pass chained: r1's rewrite makes it 6.
    assert actions(xavier) == ["escalate ClusterRole r2", "escalate Role n1/r1", "impersonate a ServiceAccount",
                               "holds the rewritten role", "create pods", "holds the rewritten role"]
