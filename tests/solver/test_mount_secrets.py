"""Starting pods in a namespace reads its Secrets: a pod may mount any Secret of its namespace by name."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import SECRETS, solve
from tests.solver.helpers import actions, path_of, solve_fixture


def test_a_pod_creator_reads_every_secret_of_the_namespace(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "mount-secrets.yaml")
    mia = path_of(result, "user:mia", SECRETS, "vault")
    assert actions(mia) == ["create pods"]
    assert mia is not None and mia.target.namespace == "vault"
    step = mia.steps[0]
    assert step.primitive == "mount_secrets" and "mounts a Secret by name" in step.detail
    grant = step.grants[0]
    assert (str(grant.binding.key), str(grant.role.key)) == ("RoleBinding vault/mia-starts-pods",
                                                             "ClusterRole pod-starter")
    assert "kubectl auth can-i create pods -n vault --as=mia" in step.explanation
    # Only where the RoleBinding is: not in quiet.
    assert path_of(result, "user:mia", SECRETS, "quiet") is None


def test_a_workload_template_rewrite_reads_the_secrets_but_a_pod_patch_does_not(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "mount-secrets.yaml")
    rex = path_of(result, "user:rex", SECRETS, "vault")
    assert actions(rex) == ["patch deployments"]
    assert rex is not None and rex.steps[0].condition == ""  # the Deployment api exists
    # A Job's pod template is immutable, and a running pod's volumes and env cannot change.
    assert path_of(result, "user:jon", SECRETS, "vault") is None
    assert path_of(result, "user:pam", SECRETS, "vault") is None
    # quiet holds no Deployment to patch (the snapshot lists Deployments): nothing to rewrite.
    assert result.paths(subject="user:ned") == []


def test_a_direct_read_keeps_its_proof_and_a_cluster_wide_creator_reads_everywhere(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "mount-secrets.yaml")
    ria = path_of(result, "user:ria", SECRETS, "vault")
    assert actions(ria) == ["read secrets"]
    assert ria is not None and ria.steps[0].primitive == "direct"
    cid = path_of(result, "user:cid", SECRETS, "quiet")
    assert cid is not None and cid.target.namespace is None  # the finding covers every namespace
    assert actions(cid) == ["create deployments"]
    assert str(cid.steps[0].grants[0].binding.key) == "ClusterRoleBinding cid-creates-deployments"


def test_a_debug_container_names_secrets_in_its_env_where_a_pod_runs(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "mount-secrets.yaml")
    dora = path_of(result, "user:dora", SECRETS, "vault")
    assert actions(dora) == ["patch pods/ephemeralcontainers"]
    assert dora is not None
    step = dora.steps[0]
    assert step.primitive == "mount_secrets" and "secretKeyRef" in step.detail
    # A manifest dump has no server version: the 1.33 Node authorizer fix is the step's condition.
    assert "1.33 or later" in dora.conditions[0] and "version is unknown" in dora.conditions[0]
    assert "kubectl auth can-i patch pods --subresource=ephemeralcontainers -n vault --as=dora" in step.explanation
    # No running pod in quiet: no container to add there.
    assert path_of(result, "user:dov", SECRETS, "quiet") is None


def test_a_known_recent_server_needs_no_version_condition(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, "mount-secrets.yaml")
    store.conn.execute("UPDATE snapshots SET server_version = 'v1.33.2-eks-5e0fdde' WHERE id = ?",
                       [result.snapshot.id])
    store.conn.commit()
    dora = path_of(solve(store, store.latest_snapshot(), use_cache=False), "user:dora", SECRETS, "vault")
    assert dora is not None and dora.conditions == []
