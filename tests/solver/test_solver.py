"""The fast permission index agrees with the authorizer; JSON shape, explain, cache, CLI, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.authorizer import Authorizer
from rbacmap.cli import cli
from rbacmap.importers.manifests import import_files
from rbacmap.model import ResourceRequest
from rbacmap.solver import CLUSTER_ADMIN, ROLE_HOLDER, solve
from rbacmap.solver.primitives import (
    bind,
    certificates,
    direct,
    exec_attach,
    impersonate,
    nodes_proxy,
    pod_create,
    token_request,
    webhooks,
    workload_update,
)
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES, solve_fixture

ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.yaml") if p.name != "cluster-admin.yaml")
CHECKED = [
    *direct.SECRET_READS, *pod_create.POD_CREATORS, *workload_update.POD_UPDATES, *workload_update.WORKLOAD_UPDATES,
    *exec_attach.EXEC_REQUESTS, *nodes_proxy.NODES_PROXY, *bind.CRB_WRITES, *bind.RB_WRITES,
    impersonate.USERS, impersonate.GROUPS, impersonate.SERVICE_ACCOUNTS, token_request.TOKEN_REQUEST,
    certificates.CREATE, *certificates.APPROVAL, *certificates.APPROVE, *webhooks.MUTATING,
    ResourceRequest("get", "secrets", name="robot-token"), ResourceRequest("bind", "clusterroles", name="cluster-admin",
                                                                           api_group="rbac.authorization.k8s.io"),
]


@pytest.mark.parametrize("fixture", ALL_FIXTURES)
def test_fast_permissions_agree_with_the_authorizer(tmp_path: Path, fixture: str) -> None:
    _, result = solve_fixture(tmp_path, fixture)
    ctx = result.context
    authorizer = Authorizer(ctx.policy)
    namespaces = ["", *ctx.objects.all_namespaces()]
    compared = 0
    for identity in ctx.identities.values():
        if identity.kind == ROLE_HOLDER:
            continue
        permissions = ctx.permissions(identity)
        for template in CHECKED:
            for namespace in namespaces:
                request = ResourceRequest(template.verb, template.resource, namespace, template.api_group,
                                          template.subresource, template.name)
                decision = authorizer.authorize(identity.user_info(), request)
                assert permissions.allows(request) == decision.allowed, (identity, request)
                if not decision.via_system_masters:
                    assert permissions.grants(request) == decision.grants, (identity, request)
                compared += 1
    assert compared > 100


def test_json_shape_and_explain(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "pods.yaml")
    path = result.paths(subject="user:dan", target=CLUSTER_ADMIN)[0]
    data = path.to_json()
    assert data["subject"] == {"kind": "User", "name": "dan"}
    assert data["target"] == {"kind": "cluster-admin", "namespace": None}
    first = data["steps"][0]  # type: ignore[index]
    assert set(first) == {"action", "as", "granted_by", "detail"}
    assert first["as"] == {"kind": "ServiceAccount", "name": "deploy-bot", "namespace": "dev"}
    grant = first["granted_by"]["grants"][0]
    assert (grant["binding"]["name"], grant["role"]["name"], grant["rule_index"]) == ("dan-deployer", "deployer", 0)
    assert grant["rule_text"] == "{apiGroups=apps resources=deployments verbs=create}"
    assert first["granted_by"]["objects"][0]["kind"] == "ServiceAccount"
    explained = path.explain()
    assert len(explained) == 2
    assert "kubectl auth can-i create deployments.apps -n dev --as=dan" in explained[0]
    json.dumps(data)


def test_solve_is_cached_per_snapshot(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, "direct.yaml")
    assert solve(store, result.snapshot) is result
    again = import_files(store, [str(FIXTURES / "cluster-admin.yaml")], "test")
    assert solve(store, again.snapshot) is not result
    assert solve(store, again.snapshot).paths(subject="group:ops") == []


def test_cli_paths_and_risks(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    imported = runner.invoke(cli, ["import", "files", str(FIXTURES / "cluster-admin.yaml"),
                                   str(FIXTURES / "secrets.yaml"), "--db", db, "--cluster", "c"])
    assert imported.exit_code == 0, imported.output
    out = runner.invoke(cli, ["paths", "--db", db, "--subject", "user:rita", "-o", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert [(p["subject"]["name"], p["target"]["kind"]) for p in data] == [("rita", "cluster-admin")]
    table = runner.invoke(cli, ["paths", "--db", db, "--target", "secrets", "-n", "vault"])
    assert "user:rita" in table.output and "user:nell" not in table.output
    explain = runner.invoke(cli, ["paths", "--db", db, "--subject", "user:cami", "--explain"])
    assert "get on secrets there reads it back" in explain.output
    assert "kubectl auth can-i create secrets -n vault --as=cami" in explain.output
    risks = runner.invoke(cli, ["risks", "--db", db, "-o", "json"])
    assert risks.exit_code == 0, risks.output
    assert {r["risk"] for r in json.loads(risks.output)} >= {"legacy-token-secret"}
    bad = runner.invoke(cli, ["paths", "--db", db, "--subject", "sa:nonamespace"])
    assert bad.exit_code == 2


def test_demo_ci_service_account_reaches_cluster_admin(tmp_path: Path) -> None:
    demo = FIXTURES.parent / "demo"
    if not any(demo.glob("*")):
        pytest.skip("fixtures/demo not written yet")
    store = Store(tmp_path / "demo.db")
    snapshot = import_files(store, [str(demo)], "demo").snapshot
    found = solve(store, snapshot).paths(subject="sa:ci/deployer", target=CLUSTER_ADMIN)
    assert [p.target.kind for p in found] == [CLUSTER_ADMIN]
    assert found[0].steps[-1].grants
