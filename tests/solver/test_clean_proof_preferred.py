"""Of equally short proofs, the one whose steps need no condition is shown (a stronger proof to act on)."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver.edges import ChainedEdge, Edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET
from tests.solver.helpers import actions, path_of, solve_fixture


def test_an_unconditional_proof_wins_over_an_equally_short_conditional_one(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/clean-proof-preferred.yaml")
    proof = path_of(result, "sa:kube-system/gc", "cluster-admin")
    assert proof is not None
    assert actions(proof) == ["patch deployments", "bind ClusterRole cluster-admin"]
    assert proof.conditions == []
    # The conditional route is still a real step of the graph: the aws-auth edge exists, it just is not shown.
    assert any(edge.primitive == "aws_auth" for edge in result.graph.edges)


def test_a_chain_is_conditional_when_any_of_its_steps_is() -> None:
    attacker, holder = Identity("User", "mallory"), Identity("ServiceAccount", "ci", "team")
    rewrite = Edge(attacker, holder, "update roles", "rewrite the role bound to team/ci", primitive="escalate_others")
    become = Edge(holder, CLUSTER_ADMIN_TARGET, "holds cluster-admin", "", primitive="direct")
    webhook = Edge(holder, CLUSTER_ADMIN_TARGET, "create mutatingwebhookconfigurations", "",
                   condition="needs a reachable webhook endpoint", primitive="webhooks")
    assert not ChainedEdge(rewrite, (), become, 2).known_conditional
    # The search charges a chain as one edge: a condition on its last step must count, or it could win a tie
    # against a proof without one.
    assert ChainedEdge(rewrite, (), webhook, 2).known_conditional
    assert ChainedEdge(rewrite, (webhook,), become, 3).known_conditional
