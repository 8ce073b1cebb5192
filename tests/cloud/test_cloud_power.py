"""cloud-power: what a compromised pod's ServiceAccount can become in the cloud, and with what power."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

from rbacmap.cli import cli
from rbacmap.cloud.k8s_context import load_k8s_context
from rbacmap.cloud.model import (
    AWS_PRINCIPAL,
    GCP_PRINCIPAL,
    GKE,
    IMPERSONATE,
    IRSA,
    K8S_SERVICE_ACCOUNT,
    POD_IDENTITY,
    WORKLOAD_IDENTITY,
)
from rbacmap.cloud.pod_power import (
    ADMITTED,
    ADMITTED_NOT_ANNOTATED,
    DIRECT_GRANT,
    NOT_ADMITTED,
    PodCloudPower,
    PodCloudPowerReport,
    cloud_power_of_workloads,
)
from rbacmap.cloud.store import save_cloud_import
from rbacmap.importers.eks import import_eks
from rbacmap.importers.gke import GcpEndpoints, GkeRawData, import_gke, normalize_gke
from rbacmap.importers.manifests import import_files
from rbacmap.store import Store
from tests.cloud.conftest import serve_eks_scenario, serve_google_apis

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
ROLE = "arn:aws:iam::123456789012:role/"


def eks_store(tmp_path: Path, eks_world: dict[str, Any]) -> Store:
    store = Store(tmp_path / "eks.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml"), str(FIXTURES / "eks-workloads.yaml")], "prod")
    import_eks(store, eks_world["session"], "prod", "prod", endpoint_urls=eks_world["endpoints"])
    return store


def gke_store(tmp_path: Path, gke_world: Any) -> Store:
    store = Store(tmp_path / "gke.db")
    import_files(store, [str(FIXTURES / "gke-cluster.yaml"), str(FIXTURES / "gke-workloads.yaml")], "web")
    import_gke(store, AuthorizedSession(Credentials(token="test")),  # type: ignore[no-untyped-call]
               "acme-prod", "europe-west1", "web", "web", endpoints=GcpEndpoints.rooted_at(gke_world.url))
    return store


def rows_of(report: PodCloudPowerReport, service_account: str) -> list[PodCloudPower]:
    return [r for r in report.rows if r.service_account == service_account]


@pytest.fixture()
def pod_admin_world(moto_url: str) -> Iterator[dict[str, Any]]:
    """eks-pod-admin-scenario.json live: a CI role that can assume the cluster-admin role."""
    with serve_eks_scenario(moto_url, "eks-pod-admin-scenario.json") as world:
        yield world


def test_irsa_and_pod_identity_give_the_roles_powers_with_provenance(
    tmp_path: Path, eks_world: dict[str, Any]
) -> None:
    report = cloud_power_of_workloads(eks_store(tmp_path, eks_world), "prod")
    assert report.provider == "eks" and report.notes == ()

    [api] = rows_of(report, "payments/api")
    assert (api.identity_kind, api.identity, api.mechanism, api.status) == (
        AWS_PRINCIPAL, ROLE + "payments-s3", IRSA, ADMITTED)
    assert api.provenance[0] == f"annotation eks.amazonaws.com/role-arn: {ROLE}payments-s3"
    assert "trust policy of" in api.provenance[1] and "system:serviceaccount:payments:api" in api.provenance[1]
    assert [p.power for p in api.powers] == ["s3:GetObject,s3:PutObject on arn:aws:s3:::payments-*/*"]
    assert "inline policy s3" in api.powers[0].provenance
    assert [w.describe() for w in api.workloads] == [
        "Pod payments/api-7d9f8-abcde on ip-10-0-1-17.eu-west-1.compute.internal"]
    assert api.cluster_admin is None and api.cluster_access == ()

    [frontend] = rows_of(report, "web/frontend")
    assert (frontend.identity, frontend.mechanism, frontend.status) == (ROLE + "web-dynamo", POD_IDENTITY, ADMITTED)
    assert frontend.provenance == ("pod identity association a-0123456789abcdef0",)
    assert [p.power for p in frontend.powers] == ["dynamodb:* on *"]

    # StringLike system:serviceaccount:ci:* admits ci/builder although nothing annotates it.
    [builder] = rows_of(report, "ci/builder")
    assert (builder.identity, builder.status) == (ROLE + "ci-deployer", ADMITTED_NOT_ANNOTATED)
    assert "StringLike" in builder.provenance[0]
    assert [w.describe() for w in builder.workloads] == ["Job ci/build-1234"]


def test_annotation_the_trust_policy_does_not_admit_gives_nothing(tmp_path: Path, eks_world: dict[str, Any]) -> None:
    report = cloud_power_of_workloads(eks_store(tmp_path, eks_world), "prod", namespace="payments")
    assert {r.service_account for r in report.rows} == {"payments/api", "payments/worker"}
    # Same annotation as payments/api, but the trust's StringEquals sub names only payments:api.
    [worker] = rows_of(report, "payments/worker")
    assert (worker.identity, worker.mechanism, worker.status) == (ROLE + "payments-s3", IRSA, NOT_ADMITTED)
    assert worker.provenance[0] == f"annotation eks.amazonaws.com/role-arn: {ROLE}payments-s3"
    assert "trust policy does not let it assume the role" in worker.provenance[1]
    assert worker.powers == () and worker.cluster_admin is None
    assert [w.describe() for w in worker.workloads] == ["Deployment payments/worker"]


def test_compromised_ci_pod_reaches_cluster_admin_through_a_role_chain(
    tmp_path: Path, pod_admin_world: dict[str, Any]
) -> None:
    store = Store(tmp_path / "admin.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml"), str(FIXTURES / "eks-workloads.yaml")], "prod")
    import_eks(store, pod_admin_world["session"], "prod", "prod", endpoint_urls=pod_admin_world["endpoints"])
    rows = rows_of(cloud_power_of_workloads(store, "prod"), "ci/builder")
    assert [(r.identity, r.mechanism) for r in rows] == [
        (ROLE + "ci-deployer", IRSA), (ROLE + "eks-admins", "sts:AssumeRole")]
    deployer, admins = rows
    assert deployer.cluster_admin is not None
    assert "-[sts:AssumeRole]-> " + ROLE + "eks-admins" in deployer.cluster_admin
    assert "ClusterRoleBinding platform-admins" in deployer.cluster_admin
    assert "ecr:PutImage,sts:AssumeRole on *" in [p.power for p in deployer.powers]
    assert admins.status == ADMITTED_NOT_ANNOTATED and len(admins.provenance) == 2
    assert any("groups [platform-admins]" in a and "access entry" in a for a in admins.cluster_access)
    assert admins.cluster_admin is not None and "platform-admins" in admins.cluster_admin

    # Nothing in the payments namespace climbs back (and no cluster-admin through the annotation alone).
    payments = cloud_power_of_workloads(store, "prod", namespace="payments").rows
    assert [(r.service_account, r.status, r.cluster_admin) for r in payments] == [
        ("payments/api", NOT_ADMITTED, None), ("payments/worker", NOT_ADMITTED, None)]
    # payments-s3 does not exist in this account: the row says no imported trust policy admits it.
    assert "no trust policy of " + ROLE + "payments-s3 in the imported IAM data" in payments[0].provenance[1]


def test_workload_identity_ksa_to_gsa_and_its_project_roles(tmp_path: Path, gke_world: Any) -> None:
    report = cloud_power_of_workloads(gke_store(tmp_path, gke_world), "web")
    deployer_gsa = "serviceAccount:deployer@acme-prod.iam.gserviceaccount.com"
    [deployer] = rows_of(report, "ci/deployer")
    assert (deployer.identity_kind, deployer.identity, deployer.mechanism, deployer.status) == (
        GCP_PRINCIPAL, deployer_gsa, WORKLOAD_IDENTITY, ADMITTED)
    assert "roles/iam.workloadIdentityUser for serviceAccount:acme-prod.svc.id.goog[ci/deployer]" in (
        deployer.provenance[1])
    assert [p.power for p in deployer.powers] == ["roles/container.developer"]
    assert any(a.startswith("project acme-prod IAM policy: roles/container.developer") for a in deployer.cluster_access)
    assert deployer.cluster_admin is None
    assert [w.describe() for w in deployer.workloads] == ["Pod ci/deployer-runner-0 on gke-web-pool-1-a1b2c3d4-x9z8"]

    [backup] = rows_of(report, "ops/backup")
    assert [p.power for p in backup.powers] == ["roles/storage.admin"] and backup.workloads == ()

    # web/frontend is annotated with the deployer GSA, but no workloadIdentityUser binding names it.
    [frontend] = rows_of(report, "web/frontend")
    assert (frontend.identity, frontend.status, frontend.powers) == (deployer_gsa, NOT_ADMITTED, ())
    assert "no workloadIdentityUser binding" in frontend.provenance[1]


def test_cloud_power_command(tmp_path: Path, gke_world: Any) -> None:
    gke_store(tmp_path, gke_world).close()
    db = str(tmp_path / "gke.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["cloud-power", "--db", db, "-n", "web", "-o", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(r["service_account"], r["status"]) for r in data["rows"]] == [("web/frontend", NOT_ADMITTED)]
    result = runner.invoke(cli, ["cloud-power", "--db", db])
    assert result.exit_code == 0, result.output
    assert "ci/deployer -> serviceAccount:deployer@acme-prod.iam.gserviceaccount.com (admitted):" in result.output
    assert "    power roles/container.developer  [project acme-prod IAM policy" in result.output
    assert "used by Pod web/frontend-6f7d8-qwert on gke-web-pool-1-a1b2c3d4-k2l3" in result.output


def test_cluster_without_cloud_import_says_so(tmp_path: Path) -> None:
    store = Store(tmp_path / "k8s.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml")], "prod")
    report = cloud_power_of_workloads(store, "prod")
    assert report.rows == () and "has no complete cloud import" in report.notes[0]


def test_direct_principal_grant_to_a_ksa_and_a_stale_cloud_import(tmp_path: Path) -> None:
    scenario = json.loads((FIXTURES / "gke-scenario.json").read_text())
    member = ("principal://iam.googleapis.com/projects/104/locations/global/workloadIdentityPools/"
              "acme-prod.svc.id.goog/subject/ns/ops/sa/backup")
    scenario["project_policy"]["bindings"].append({"role": "roles/secretmanager.secretAccessor", "members": [member]})
    raw = GkeRawData("acme-prod", scenario["cluster"], scenario["project_policy"], scenario["service_accounts"],
                     {a["email"]: a["policy"] for a in scenario["service_accounts"]})
    store = Store(tmp_path / "direct.db")
    import_files(store, [str(FIXTURES / "gke-cluster.yaml")], "web")
    save_cloud_import(store, "web", GKE, normalize_gke(raw, load_k8s_context(store, "web")))

    rows = rows_of(cloud_power_of_workloads(store, "web"), "ops/backup")
    assert [(r.identity_kind, r.mechanism) for r in rows] == [
        (K8S_SERVICE_ACCOUNT, DIRECT_GRANT), (GCP_PRINCIPAL, WORKLOAD_IDENTITY)]
    direct = rows[0]
    assert direct.status == ADMITTED and [p.power for p in direct.powers] == ["roles/secretmanager.secretAccessor"]
    assert direct.provenance == (f"project acme-prod IAM policy: roles/secretmanager.secretAccessor for {member}",)

    # A newer snapshot: annotations may have changed since the cloud import read them.
    import_files(store, [str(FIXTURES / "gke-cluster.yaml")], "web")
    notes = cloud_power_of_workloads(store, "web").notes
    assert notes and "read the service accounts of snapshot 1, not the latest (2)" in notes[0]


def test_a_ksa_allowed_to_mint_tokens_for_a_gsa_becomes_it(tmp_path: Path) -> None:
    # The KSA's federated token is its principal:// member: with roles/iam.serviceAccountTokenCreator on the
    # backup GSA it mints that GSA's tokens itself, no workloadIdentityUser binding needed.
    scenario = json.loads((FIXTURES / "gke-scenario.json").read_text())
    backup = next(a for a in scenario["service_accounts"] if a["email"].startswith("backup@"))
    backup["policy"]["bindings"].append({"role": "roles/iam.serviceAccountTokenCreator", "members": [
        "principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/"
        "acme-prod.svc.id.goog/subject/ns/web/sa/frontend"]})
    with serve_google_apis(scenario) as server:
        report = cloud_power_of_workloads(gke_store(tmp_path, server), "web")
    [row] = [r for r in rows_of(report, "web/frontend") if r.identity.startswith("serviceAccount:backup@")]
    assert (row.mechanism, row.status) == (IMPERSONATE, ADMITTED_NOT_ANNOTATED)
    assert [p.power for p in row.powers] == ["roles/storage.admin"]
