"""GKE import through a real google-auth AuthorizedSession against the loopback Google API server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

from rbacmap.authorizer import Authorizer
from rbacmap.cloud.model import IMPERSONATE, WORKLOAD_IDENTITY
from rbacmap.cloud.store import latest_cloud_graph
from rbacmap.cloud.who_can import cloud_who_can
from rbacmap.importers.gke import GcpEndpoints, GkeApiError, import_gke
from rbacmap.importers.manifests import import_files
from rbacmap.model import ResourceRequest
from rbacmap.policy import SqlitePolicy
from rbacmap.store import Store
from tests.cloud.conftest import serve_google_apis

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "gke.db")
    import_files(store, [str(FIXTURES / "gke-cluster.yaml")], "web")
    return store


def session(token: str = "test") -> AuthorizedSession:
    return AuthorizedSession(Credentials(token=token))  # type: ignore[no-untyped-call]


def run_import(store: Store, server: Any) -> Any:
    return import_gke(store, session(), "acme-prod", "europe-west1", "web", "web",
                      endpoints=GcpEndpoints.rooted_at(server.url))


def who_can(store: Store, request: ResourceRequest) -> dict[str, str]:
    snapshot = store.latest_snapshot("web")
    answers = Authorizer(SqlitePolicy(store, snapshot.id)).who_can(request)
    graph = latest_cloud_graph(store, "web")
    assert graph is not None
    return {a.principal: a.describe() for a in cloud_who_can(graph, request, answers)}


def test_group_member_reaches_secrets_through_custom_role(store: Store, gke_world: Any) -> None:
    imported = run_import(store, gke_world)
    assert imported.details["workload_pool"] == "acme-prod.svc.id.goog"
    assert "GET /v1/projects/acme-prod/serviceAccounts?pageToken=p2" in gke_world.calls
    allowed = who_can(store, ResourceRequest("get", "secrets", "payments"))
    assert "container.secrets.get" in allowed["group:payments-oncall@acme.example"]
    assert "projects/acme-prod/roles/secretReader" in allowed["group:payments-oncall@acme.example"]
    # Negative twins: a custom role without secrets, and the predefined viewer role.
    assert "group:interns@acme.example" not in allowed
    assert "user:viola@acme.example" not in allowed
    # The interns' role does reach pods.
    assert "group:interns@acme.example" in who_can(store, ResourceRequest("list", "pods", "payments"))


def test_workload_identity_and_impersonation(store: Store, gke_world: Any) -> None:
    imported = run_import(store, gke_world)
    graph = latest_cloud_graph(store, "web")
    assert graph is not None
    wi = {(e.source, e.target) for e in graph.edges if e.mechanism == WORKLOAD_IDENTITY}
    assert wi == {("ci/deployer", "serviceAccount:deployer@acme-prod.iam.gserviceaccount.com"),
                  ("ops/backup", "serviceAccount:backup@acme-prod.iam.gserviceaccount.com")}
    assert {(e.source, e.target) for e in graph.edges if e.mechanism == IMPERSONATE} == {
        ("user:tom@acme.example", "serviceAccount:deployer@acme-prod.iam.gserviceaccount.com")}
    # web/frontend is annotated but not bound: a note, no edge.
    assert any("web/frontend is annotated" in note for note in imported.notes)
    allowed = who_can(store, ResourceRequest("create", "pods", "payments", subresource="exec"))
    assert "ci/deployer" in allowed and "roles/container.developer" in allowed["ci/deployer"]
    assert "user:tom@acme.example" in allowed
    assert "ops/backup" not in allowed and "web/frontend" not in allowed
    backup_powers = [p.power for p in graph.powers if p.principal.startswith("serviceAccount:backup@")]
    assert backup_powers == ["roles/storage.admin"]


def test_failures_are_recorded_and_answer_nothing(store: Store, gke_world: Any) -> None:
    # A 401 makes google-auth try to refresh, which static credentials cannot do.
    with pytest.raises(RefreshError):
        import_gke(store, session("wrong"), "acme-prod", "europe-west1", "web", "web",
                   endpoints=GcpEndpoints.rooted_at(gke_world.url))
    with pytest.raises(GkeApiError, match="HTTP 404"):
        import_gke(store, session(), "acme-prod", "europe-west1", "nope", "web",
                   endpoints=GcpEndpoints.rooted_at(gke_world.url))
    assert latest_cloud_graph(store, "web") is None
    rows = store.query("SELECT status, message FROM cloud_imports ORDER BY id")
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert "RefreshError" in rows[0]["message"] and "clusters/nope" in rows[1]["message"]


def test_project_editors_can_become_every_service_account(store: Store) -> None:
    # roles/editor holds iam.serviceAccountKeys.create and iam.serviceAccounts.actAs on the project's accounts.
    scenario = json.loads((FIXTURES / "gke-scenario.json").read_text())
    scenario["project_policy"]["bindings"].append({"role": "roles/editor", "members": ["user:eddie@acme.example"]})
    with serve_google_apis(scenario) as server:
        run_import(store, server)
    graph = latest_cloud_graph(store, "web")
    assert graph is not None
    editor = {e.target for e in graph.edges if e.mechanism == IMPERSONATE and e.source == "user:eddie@acme.example"}
    assert editor == {"serviceAccount:deployer@acme-prod.iam.gserviceaccount.com",
                      "serviceAccount:backup@acme-prod.iam.gserviceaccount.com"}


def test_bindings_of_deleted_principals_grant_nothing(store: Store) -> None:
    # IAM keeps them as deleted:KIND:EMAIL?uid=ID until removed; no one holds what they grant.
    scenario = json.loads((FIXTURES / "gke-scenario.json").read_text())
    gone = "deleted:user:gone@acme.example?uid=123456789012345678901"
    scenario["project_policy"]["bindings"].append({"role": "roles/container.admin", "members": [gone]})
    scenario["service_accounts"][0]["policy"]["bindings"].append(
        {"role": "roles/iam.serviceAccountTokenCreator", "members": [gone]})
    with serve_google_apis(scenario) as server:
        run_import(store, server)
    assert gone not in who_can(store, ResourceRequest("get", "secrets", "payments"))
    graph = latest_cloud_graph(store, "web")
    assert graph is not None
    assert not [e for e in graph.edges if e.source == gone]
    [grant] = [g for g in graph.grants if g.principal == gone]
    assert not grant.live and "deleted principal" in grant.provenance
