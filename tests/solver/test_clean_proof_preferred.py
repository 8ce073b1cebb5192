"""Of equally short proofs, the one whose steps need no condition is shown (a stronger proof to act on)."""

from __future__ import annotations

from pathlib import Path

from tests.solver.helpers import actions, path_of, solve_fixture


def test_an_unconditional_proof_wins_over_an_equally_short_conditional_one(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/clean-proof-preferred.yaml")
    proof = path_of(result, "sa:kube-system/gc", "cluster-admin")
    assert proof is not None
    assert actions(proof) == ["patch deployments", "bind ClusterRole cluster-admin"]
    assert proof.conditions == []
    # The conditional route is still a real step of the graph: the aws-auth edge exists, it just is not shown.
    assert any(edge.primitive == "aws_auth" for edge in result.graph.edges)
