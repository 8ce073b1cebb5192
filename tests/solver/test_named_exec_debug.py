"""Exec limited by resourceNames reaches the named pods; a privileged debug container escapes to the node."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN, EXEC, SECRETS
from tests.solver.helpers import actions, beyond_mounted_secrets, path_of, solve_fixture

NAMED_EXEC_DEBUG = "review/named-exec-debug.yaml"


def test_exec_named_in_resource_names_reads_that_pods_token_only(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, NAMED_EXEC_DEBUG)
    nina = path_of(result, "user:nina", SECRETS, "vault")
    assert actions(nina) == ["create pods/exec", "read secrets"]
    assert nina is not None
    step = nina.steps[0]
    assert (step.as_identity.namespace, step.as_identity.name) == ("shop", "api")
    assert [(o.kind, o.namespace, o.name) for o in step.objects] == [("Pod", "shop", "api-0")]
    assert step.grants[0].binding.key.name == "nina-exec-api"
    assert step.grants[0].role.key.name == "exec-api"
    assert "kubectl auth can-i create pods/api-0 --subresource=exec -n shop" in step.explanation
    # Not cart's token (another pod), and not "exec in shop": only one named pod.
    assert path_of(result, "user:nina", SECRETS, "ledger") is None
    assert path_of(result, "user:nina", EXEC, "shop") is None


def test_exec_into_a_named_privileged_pod_reaches_its_node(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, NAMED_EXEC_DEBUG)
    omar = path_of(result, "user:omar", CLUSTER_ADMIN)
    assert actions(omar) == ["escape to the node", "holds cluster-admin"]
    assert omar is not None
    escape = omar.steps[0]
    assert escape.as_identity.name == "boss"
    assert [(o.kind, o.namespace, o.name) for o in escape.objects] == [
        ("Pod", "ops", "agent"), ("Pod", "kube-system", "boss-pod")]
    assert escape.objects[0].note == "privileged"
    # The same named exec into a pod that cannot reach its node: nothing.
    assert result.paths(subject="user:pam") == []


def test_privileged_debug_container_escapes_where_pod_security_allows_it(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, NAMED_EXEC_DEBUG)
    dana = path_of(result, "user:dana", CLUSTER_ADMIN)
    assert actions(dana) == ["escape to the node", "holds cluster-admin"]
    assert dana is not None
    escape = dana.steps[0]
    assert "--profile=sysadmin" in escape.detail
    assert [(o.kind, o.namespace, o.name) for o in escape.objects] == [
        ("Namespace", "", "shop"), ("Pod", "shop", "web-0"), ("Pod", "kube-system", "boss-pod")]
    # locked enforces baseline: a privileged debug container is rejected, only exec there remains.
    assert path_of(result, "user:lena", CLUSTER_ADMIN) is None
    assert [(p.target.kind, p.target.namespace) for p in beyond_mounted_secrets(result, "user:lena")] == [
        ("exec", "locked")]


PENDING_STATIC = "review/pending-static-pods.yaml"


def test_static_and_pending_pods_hold_no_token(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, PENDING_STATIC)
    # cp/default is cluster-admin, but its only pod is static (no token mounted): exec in cp only.
    assert [(p.target.kind, p.target.namespace) for p in result.paths(subject="user:sam")] == [("exec", "cp")]
    # a/strong is cluster-admin, but its pod is pending: exec named or not reaches no token.
    assert result.paths(subject="user:ned") == []
    assert [(p.target.kind, p.target.namespace) for p in result.paths(subject="user:una")] == [("exec", "a")]


def test_no_debug_container_on_a_static_pod(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, PENDING_STATIC)
    # boss runs on cp-1 too, but the only pod of cp there is static: the API server refuses the
    # ephemeral container, so sid never gets root on cp-1.
    assert path_of(result, "user:sid", CLUSTER_ADMIN) is None
    assert [(p.target.kind, p.target.namespace) for p in result.paths(subject="user:sid")] == [("exec", "cp")]


FINISHED = "review/finished-pods.yaml"


def test_finished_pods_hold_no_token(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, FINISHED)
    phases = dict(store.conn.execute("SELECT name, phase FROM workloads WHERE namespace IN ('batch', 'sys')"))
    assert phases == {"migrate-1": "Succeeded", "migrate-2": "Failed", "runner-0": "Running",
                      "agent-n1": "Running", "agent-n2": None, "keeper-0": "Running"}
    # migrator is cluster-admin, but both its pods have finished: exec in batch reaches runner only.
    eve = result.paths(subject="user:eve")
    assert [(p.target.kind, p.target.namespace) for p in eve] == [("exec", "batch")]
    # Exec named into a finished pod (the Failed one privileged): nothing at all.
    assert result.paths(subject="user:fay") == []
    assert result.paths(subject="user:gus") == []


def test_root_on_a_node_finds_no_token_of_its_finished_pods(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FINISHED)
    # Root on n1: migrator's pods there have finished, so no cluster-admin.
    assert path_of(result, "user:hal", CLUSTER_ADMIN) is None
    # Root on n2 (agent-n2 has no status: counted as running) reads keeper's running token.
    ivy = path_of(result, "user:ivy", CLUSTER_ADMIN)
    assert actions(ivy) == ["escape to the node", "holds cluster-admin"]
    assert ivy is not None
    assert [(o.kind, o.namespace, o.name) for o in ivy.steps[0].objects] == [
        ("Pod", "sys", "agent-n2"), ("Pod", "sys", "keeper-0")]


def test_a_privileged_debug_container_in_a_named_pod_is_root_on_its_node(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/named-debug.yaml")
    nia = path_of(result, "user:nia", CLUSTER_ADMIN)
    assert nia is not None and actions(nia) == ["escape to the node", "holds cluster-admin"]
    escape = nia.steps[0]
    assert "on Pod ops/agent (named in resourceNames)" in escape.detail and "root on its node n7" in escape.detail
    assert [o.kind for o in escape.objects][:2] == ["Pod", "Namespace"]  # then the pod on n7 that runs as boss
    # The same name in a restricted namespace: Pod Security refuses the privileged debug container.
    assert path_of(result, "user:ray", CLUSTER_ADMIN) is None
    # A static pod's mirror takes no ephemeral container at all.
    assert path_of(result, "user:ula", CLUSTER_ADMIN) is None
