"""GKE: escalations through a Google service account's IAM policy (setIamPolicy, then token creation) and custom
roles that impersonate like the predefined ones."""

from __future__ import annotations

import json
from pathlib import Path

from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

from rbacmap.cloud.model import GCP_PRINCIPAL
from rbacmap.cloud.solver_edges import principal_identity
from rbacmap.importers.gke import GcpEndpoints, import_gke
from rbacmap.importers.manifests import import_files
from rbacmap.solver import SolverResult, solve
from rbacmap.store import Store
from tests.cloud.conftest import serve_google_apis

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
DEPLOYER = "serviceAccount:deployer@acme-prod.iam.gserviceaccount.com"
RELAY = "serviceAccount:relay@acme-prod.iam.gserviceaccount.com"


def _solve(tmp_path: Path) -> SolverResult:
    store = Store(tmp_path / "gke.db")
    import_files(store, [str(FIXTURES / "gke-cluster.yaml")], "web")
    with serve_google_apis(json.loads((FIXTURES / "gke-scenario-sa-escalations.json").read_text())) as server:
        import_gke(store, AuthorizedSession(Credentials(token="test")),  # type: ignore[no-untyped-call]
                   "acme-prod", "europe-west1", "web", "web", endpoints=GcpEndpoints.rooted_at(server.url))
    return solve(store, store.latest_snapshot("web"), use_cache=False)


def _secrets(result: SolverResult, member: str) -> list[str]:
    """The actions of the shortest path of `member` to every namespace's Secrets ([] when none)."""
    paths = result.paths(subject=principal_identity(GCP_PRINCIPAL, member), target="secrets")
    return [step.action for step in paths[0].steps] if paths else []


def test_service_account_admin_grants_itself_token_creation(tmp_path: Path) -> None:
    result = _solve(tmp_path)
    for member in ("user:sam@acme.example", "group:sa-admins@acme.example", "user:pam@acme.example"):
        [path] = result.paths(subject=principal_identity(GCP_PRINCIPAL, member), target="secrets")
        grant, mint = path.steps[0], path.steps[1]
        assert grant.action == ("grant itself roles/iam.serviceAccountTokenCreator on"
                                " deployer@acme-prod.iam.gserviceaccount.com (iam.serviceAccounts.setIamPolicy)")
        assert "add-iam-policy-binding deployer@acme-prod.iam.gserviceaccount.com" in grant.detail
        assert mint.as_identity.name == DEPLOYER and "mints access tokens" in mint.detail
        assert not grant.condition and not mint.condition
    [path] = result.paths(subject=principal_identity(GCP_PRINCIPAL, "user:pam@acme.example"), target="secrets")
    assert "custom role with iam.serviceAccounts.setIamPolicy" in path.steps[0].detail


def test_custom_roles_impersonate_by_permission(tmp_path: Path) -> None:
    result = _solve(tmp_path)
    [path] = result.paths(subject=principal_identity(GCP_PRINCIPAL, "user:cathy@acme.example"), target="secrets")
    mint = path.steps[0]
    assert mint.as_identity.name == DEPLOYER and not mint.condition
    assert "iam.serviceAccounts.getAccessToken" in mint.detail
    assert "gcloud iam roles describe tokenMinter" in mint.detail
    # implicitDelegation: an intermediate link of a delegation chain only, and the chain's delegates are service
    # accounts (generateAccessToken `delegates`: projects/-/serviceAccounts/…): a user holding it reaches nothing.
    assert _secrets(result, "user:dan@acme.example") == []
    [path] = result.paths(subject=principal_identity(GCP_PRINCIPAL, RELAY), target="secrets")
    assert "delegation chain" in path.steps[0].condition
    assert _secrets(result, "user:ivy@acme.example") == []  # iam.serviceAccounts.get: no credential


def test_a_bindings_iam_condition_is_the_steps_condition(tmp_path: Path) -> None:
    result = _solve(tmp_path)
    [path] = result.paths(subject=principal_identity(GCP_PRINCIPAL, "user:olga@acme.example"), target="secrets")
    # rbacmap does not evaluate the CEL (request time, resource names): the step holds only while it does.
    mint = path.steps[0]
    assert mint.as_identity.name == DEPLOYER
    assert "the IAM condition 'until the audit ends' of this binding holds" in mint.condition
    assert 'request.time < timestamp("2026-12-31T00:00:00Z")' in mint.condition
    # tom's binding has no condition: nor has his step.
    [tom] = result.paths(subject=principal_identity(GCP_PRINCIPAL, "user:tom@acme.example"), target="secrets")
    assert not tom.steps[0].condition
