"""EKS access entries written with a username and groups of one's choosing (no access policy), and the switch of
a CONFIG_MAP cluster's authentication mode that makes them count."""

from __future__ import annotations

from pathlib import Path

from rbacmap.cloud.model import AWS_PRINCIPAL
from rbacmap.cloud.solver_edges import principal_identity
from rbacmap.importers.eks import import_eks
from rbacmap.importers.manifests import import_files
from rbacmap.solver import SolverResult, solve
from rbacmap.store import Store
from tests.cloud.conftest import serve_eks_scenario

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
ACCOUNT = "123456789012"
SCENARIO = "eks-scenario-entry-writers.json"


def _solve(tmp_path: Path, moto_url: str, mode: str | None = None) -> SolverResult:
    store = Store(tmp_path / f"writers-{mode}.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml")], "prod")
    with serve_eks_scenario(moto_url, SCENARIO, mode) as world:
        import_eks(store, world["session"], "prod", "prod", endpoint_urls=world["endpoints"])
    return solve(store, store.latest_snapshot("prod"), use_cache=False)


def _user(name: str) -> object:
    return principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:user/{name}")


def test_create_access_entry_alone_reaches_a_bound_group(tmp_path: Path, moto_url: str) -> None:
    result = _solve(tmp_path, moto_url)
    [path] = result.paths(subject=_user("erin"), target="cluster-admin")
    step, holds = path.steps
    assert step.action == (f"create an EKS access entry for arn:aws:iam::{ACCOUNT}:user/erin"
                           f" (kubernetesGroups [platform-admins]) and log in as arn:aws:iam::{ACCOUNT}:user/erin")
    assert "eks:CreateAccessEntry" in step.detail and "erin" in step.detail and not step.condition
    assert step.as_identity.groups == ("platform-admins", "system:authenticated")
    assert holds.action == "holds cluster-admin"
    # system:masters is a group EKS refuses in kubernetesGroups: only RBAC's groups are reached.
    assert all("system:masters" not in str(p.to_json()) for p in result.paths(subject=_user("erin")))


def test_update_access_entry_of_an_assumable_role(tmp_path: Path, moto_url: str) -> None:
    result = _solve(tmp_path, moto_url)
    [path] = result.paths(subject=_user("frank"), target="cluster-admin")
    update, assume, _ = path.steps
    role = f"arn:aws:iam::{ACCOUNT}:role/eks-viewers"
    assert update.action.startswith(f"update the EKS access entry of {role}")
    assert "eks:UpdateAccessEntry" in update.detail
    assert assume.action.startswith(f"assume {role} and log in") and "trust policy" in assume.detail
    assert assume.as_identity.name == f"arn:aws:sts::{ACCOUNT}:assumed-role/eks-viewers/{{{{SessionName}}}}"
    # gina's CreateAccessEntry names (eks:principalArn) only a role she cannot assume.
    assert result.paths(subject=_user("gina")) == []


def test_config_map_cluster_is_switched_then_entries_written(tmp_path: Path, moto_url: str) -> None:
    result = _solve(tmp_path, moto_url, "CONFIG_MAP")
    [path] = result.paths(subject=_user("hank"), target="cluster-admin")
    switch, create, _ = path.steps
    assert "API_AND_CONFIG_MAP" in switch.action and "eks:UpdateClusterConfig" in switch.detail
    assert not switch.condition  # 1.29 eks.7 supports access entries
    assert "kubernetesGroups [platform-admins]" in create.action
    # Without eks:UpdateClusterConfig an access entry is dead in CONFIG_MAP mode.
    assert result.paths(subject=_user("erin")) == []


def test_access_policy_path_evaluates_the_entry_condition_keys(tmp_path: Path, moto_url: str) -> None:
    """CreateAccessEntry + AssociateAccessPolicy reaches cluster-admin only when IAM allows them for the principal's
    own entry (eks:principalArn) and for AmazonEKSClusterAdminPolicy at cluster scope (eks:policyArn,
    eks:accessScope): those keys are known, so they are evaluated, not waved through as "not evaluated"."""
    result = _solve(tmp_path, moto_url)
    # ivan's rights name (eks:principalArn) only a role he cannot assume.
    assert result.paths(subject=_user("ivan")) == []
    # judy may associate AmazonEKSViewPolicy only: her way in is the access entry's groups, not cluster-admin's policy.
    paths = result.paths(subject=_user("judy"))
    assert paths and all("AmazonEKSClusterAdminPolicy" not in step.action for p in paths for step in p.steps)
