"""Cloud principals in the escalation solver: cross-plane paths with cloud provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

from rbacmap.cloud.model import AWS_PRINCIPAL, GCP_PRINCIPAL
from rbacmap.cloud.solver_edges import principal_identity
from rbacmap.importers.eks import import_eks
from rbacmap.importers.gke import GcpEndpoints, import_gke
from rbacmap.importers.manifests import import_files
from rbacmap.solver import solve
from rbacmap.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
ACCOUNT = "123456789012"


def test_iam_user_reaches_cluster_admin_only_through_assume_role(tmp_path: Path, eks_world: dict[str, Any]) -> None:
    store = Store(tmp_path / "solver.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml")], "prod")
    import_eks(store, eks_world["session"], "prod", "prod", endpoint_urls=eks_world["endpoints"])
    result = solve(store, store.latest_snapshot("prod"), use_cache=False)

    alice = principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:user/alice")
    paths = result.paths(subject=alice, target="cluster-admin")
    assert len(paths) == 1
    text = str(paths[0].to_json()["steps"])
    assert "sts:AssumeRole" in text and "access entry" in text and "platform-admins" in text
    bob = principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert result.paths(subject=bob) == []  # explicit Deny: no path at all
    dave = principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:user/dave")
    assert "CreateAccessEntry" in str(result.paths(subject=dave, target="cluster-admin")[0].to_json())


def test_google_group_reaches_secrets_and_ksa_through_gsa(tmp_path: Path, gke_world: Any) -> None:
    store = Store(tmp_path / "solver.db")
    import_files(store, [str(FIXTURES / "gke-cluster.yaml")], "web")
    import_gke(store, AuthorizedSession(Credentials(token="test")),  # type: ignore[no-untyped-call]
               "acme-prod", "europe-west1", "web", "web", endpoints=GcpEndpoints.rooted_at(gke_world.url))
    result = solve(store, store.latest_snapshot("web"), use_cache=False)
    oncall = principal_identity(GCP_PRINCIPAL, "group:payments-oncall@acme.example")
    paths = result.paths(subject=oncall, target="secrets", namespace="payments")
    assert paths and "roles/secretReader" in str(paths[0].to_json())
    interns = principal_identity(GCP_PRINCIPAL, "group:interns@acme.example")
    assert result.paths(subject=interns, target="secrets") == []
    ksa = result.paths(subject="sa:ci/deployer", target="secrets", namespace="payments")
    assert ksa and "gke-workload-identity" in str(ksa[0].to_json())


def test_cloud_principal_specs_select_paths(tmp_path: Path, eks_world: dict[str, Any]) -> None:
    store = Store(tmp_path / "spec.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml")], "prod")
    import_eks(store, eks_world["session"], "prod", "prod", endpoint_urls=eks_world["endpoints"])
    result = solve(store, store.latest_snapshot("prod"), use_cache=False)
    alice = principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:user/alice")
    by_spec = result.paths(subject=alice.spec(), target="cluster-admin")
    assert [p.subject for p in by_spec] == [alice]
