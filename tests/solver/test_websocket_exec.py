"""`get` on pods/exec: a WebSocket exec, which the API server authorizes as `get` before 1.35 only.

From 1.35 the feature gate AuthorizePodWebsocketUpgradeCreatePermission (beta, on by default,
kubernetes pkg/features/kube_features.go) asks for `create` on the upgrade too.
"""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import SolverResult, solve
from rbacmap.store import Store
from tests.solver.helpers import actions, path_of, solve_fixture

FIXTURE = "review/websocket-exec.yaml"


def _with_version(store: Store, result: SolverResult, version: str) -> SolverResult:
    store.conn.execute("UPDATE snapshots SET server_version = ? WHERE id = ?", [version, result.snapshot.id])
    store.conn.commit()
    return solve(store, store.latest_snapshot(), use_cache=False)


def test_get_exec_on_an_unknown_server_says_it_needs_a_server_before_1_35(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    getter = path_of(result, "user:getter", "cluster-admin")
    assert actions(getter) == ["get pods/exec", "holds cluster-admin"]
    assert getter is not None and "1.35" in getter.conditions[0]
    assert "AuthorizePodWebsocketUpgradeCreatePermission" in getter.conditions[0]
    exec_finding = path_of(result, "user:getter", "exec", "apps")
    assert exec_finding is not None and "1.35" in exec_finding.conditions[0]
    # Named in resourceNames: the pod's node through it (node_escape), with the same condition.
    agent = path_of(result, "user:agent-getter", "cluster-admin")
    assert agent is not None and agent.steps[0].primitive == "node_escape"
    assert "1.35" in agent.conditions[0]
    creator = path_of(result, "user:creator", "cluster-admin")
    assert actions(creator) == ["create pods/exec", "holds cluster-admin"]
    assert creator is not None and creator.conditions == []


def test_get_exec_before_1_35_needs_no_condition(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, FIXTURE)
    older = _with_version(store, result, "v1.34.2")
    getter = path_of(older, "user:getter", "cluster-admin")
    assert getter is not None and getter.conditions == []


def test_get_exec_runs_nothing_from_1_35(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, FIXTURE)
    newer = _with_version(store, result, "v1.35.0-gke.1200")
    assert newer.paths(subject="user:getter") == []
    assert newer.paths(subject="user:agent-getter") == []
    creator = path_of(newer, "user:creator", "cluster-admin")
    assert actions(creator) == ["create pods/exec", "holds cluster-admin"]
