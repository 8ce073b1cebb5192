"""A hostPath PersistentVolume and a root pod whose claim binds it: the node, from a `baseline` namespace."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN, find_risks
from rbacmap.solver.primitives.hostpath_volume import CONDITION
from tests.solver.helpers import actions, beyond_mounted_secrets, path_of, solve_fixture

FIXTURE = "review/hostpath-volume.yaml"


def test_a_volume_maker_reaches_the_node_from_a_baseline_namespace(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    vera = path_of(result, "user:vera", CLUSTER_ADMIN)
    assert actions(vera) == ["escape to the node", "holds cluster-admin"]
    assert vera is not None
    escape = vera.steps[0]
    assert escape.primitive == "hostpath_volume"
    assert "PersistentVolume with hostPath /" in escape.detail and "create pods in base" in escape.detail
    assert "generic ephemeral volume" in escape.detail
    # Both writes are named: the volume (ClusterRoleBinding) and the pod (RoleBinding).
    assert {(str(g.binding.key), g.rule.resources) for g in escape.grants} == {
        ("ClusterRoleBinding volume-makers", ("persistentvolumes",)),
        ("RoleBinding base/vera", ("persistentvolumeclaims", "pods"))}
    assert [(o.kind, o.name, o.note) for o in escape.objects] == [
        ("Namespace", "base", "pod-security.kubernetes.io/enforce=baseline"),
        ("Pod", "node-agent-x7k2p", "serviceAccountName: node-agent")]  # whose token root on node-1 reads
    assert CONDITION in escape.condition
    assert vera.steps[1].as_identity.name == "node-agent"


def test_no_claim_permission_is_needed(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    # The generic ephemeral volume's claim is created by its controller: pods (pia) or a workload (sam) suffice.
    pia = path_of(result, "user:pia", CLUSTER_ADMIN)
    assert pia is not None and pia.steps[0].primitive == "hostpath_volume"
    sam = path_of(result, "user:sam", CLUSTER_ADMIN)
    assert sam is not None and sam.steps[0].primitive == "hostpath_volume"
    assert "then create statefulsets in base whose pod runs as root" in sam.steps[0].detail


def test_volume_creation_is_a_risk_even_without_a_pod(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, FIXTURE)
    risky = {r.subject.name: r for r in find_risks(store) if r.risk == "create-persistent-volumes" and r.subject}
    assert set(risky) == {"vera", "lena", "sam", "pia", "dee", "node-agent"}  # dee has no path, but the power
    assert str(risky["dee"].grants[0].binding.key) == "ClusterRoleBinding volume-makers"


def test_no_node_from_restricted_nor_without_the_volume_or_a_pod(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    # Restricted makes the pod run as non-root; nora cannot create the volume; dee can start no pod.
    for person in ("lena", "nora", "dee"):
        assert beyond_mounted_secrets(result, f"user:{person}") == [], person
