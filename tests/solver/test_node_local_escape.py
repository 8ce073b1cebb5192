"""Exec into a pod that reaches its node: the tokens of the pods on that node, not of every node."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN, SECRETS
from tests.solver.helpers import actions, path_of, solve_fixture

NODE_LOCAL = "review/node-local.yaml"


def test_exec_into_an_escaping_pod_reaches_the_tokens_of_its_own_node_only(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, NODE_LOCAL)
    # boss (cluster-admin) runs on node-2: out of reach from node-1.
    assert path_of(result, "user:tara", CLUSTER_ADMIN) is None
    # reader runs on node-1: its token reads the Secrets of vault.
    tara = path_of(result, "user:tara", SECRETS, "vault")
    assert tara is not None
    assert actions(tara) == ["escape to the node", "read secrets"]
    escape = tara.steps[0]
    assert escape.as_identity.name == "reader"
    assert [(o.kind, o.namespace, o.name) for o in escape.objects] == [
        ("Pod", "tidy", "log-shipper"), ("Pod", "batch", "reader-pod")]
    assert "node node-1" in escape.detail and "node-2" not in escape.detail


def test_a_new_privileged_pod_still_picks_any_node(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, NODE_LOCAL)
    opal = path_of(result, "user:opal", CLUSTER_ADMIN)
    assert opal is not None
    assert actions(opal) == ["escape to the node", "holds cluster-admin"]
    assert opal.steps[0].as_identity.name == "boss"
