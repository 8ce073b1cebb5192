"""EKS import against real boto3 clients: moto (IAM, EKS clusters) and the loopback access server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rbacmap.authorizer import Authorizer
from rbacmap.cloud.k8s_context import K8sContext, ServiceAccountInfo
from rbacmap.cloud.model import ASSUME_ROLE, AWS_PRINCIPAL, CREATE_ACCESS_ENTRY, IRSA, POD_IDENTITY
from rbacmap.cloud.solver_edges import principal_identity
from rbacmap.cloud.store import latest_cloud_graph
from rbacmap.cloud.who_can import cloud_who_can
from rbacmap.importers.eks import EksRawData, import_eks, normalize_eks
from rbacmap.importers.manifests import import_files
from rbacmap.model import ResourceRequest
from rbacmap.policy import SqlitePolicy
from rbacmap.solver import solve
from rbacmap.store import Store
from tests.cloud.conftest import serve_eks_scenario

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
ACCOUNT = "123456789012"


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "eks.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml")], "prod")
    return store


def test_import_records_cluster_and_mappings(store: Store, eks_world: dict[str, Any]) -> None:
    imported = import_eks(store, eks_world["session"], "prod", "prod", region="eu-west-1",
                          endpoint_urls=eks_world["endpoints"])
    assert imported.status == "complete"
    assert imported.details["authentication_mode"] == "API_AND_CONFIG_MAP"
    assert imported.details["oidc_issuer"].startswith("https://oidc.eks.eu-west-1.amazonaws.com/id/")
    graph = latest_cloud_graph(store, "prod")
    assert graph is not None
    entry = [m for m in graph.mappings if m.principal == f"arn:aws:iam::{ACCOUNT}:role/eks-admins"]
    assert [(m.username, m.groups, m.mechanism) for m in entry] == [
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/eks-admins/{{{{SessionName}}}}", ("platform-admins",),
         "eks-access-entry")]
    carol = [m for m in graph.mappings if m.principal.endswith(":user/carol")]
    assert [(m.username, m.groups, m.mechanism) for m in carol] == [("carol", ("payments-readers",), "aws-auth")]
    viewers = [g for g in graph.grants if g.principal.endswith(":role/eks-viewers")]
    assert len(viewers) == 1 and viewers[0].namespaces == ("payments",)
    assert "AmazonEKSViewPolicy" in viewers[0].provenance


def test_assume_role_edges_respect_wildcards_and_explicit_deny(store: Store, eks_world: dict[str, Any]) -> None:
    import_eks(store, eks_world["session"], "prod", "prod", endpoint_urls=eks_world["endpoints"])
    graph = latest_cloud_graph(store, "prod")
    assert graph is not None
    assumes = {(e.source.rsplit("/", 1)[-1], e.target.rsplit("/", 1)[-1]) for e in graph.edges
               if e.mechanism == ASSUME_ROLE}
    assert ("alice", "eks-admins") in assumes  # identity policy eks-* wildcard + account trust
    assert ("bob", "eks-admins") not in assumes  # explicit Deny wins over sts:Assume*
    assert ("carol", "eks-viewers") in assumes  # trust names carol directly
    assert ("alice", "eks-viewers") not in assumes  # eks-* matches, but the trust names only carol
    creators = [e.source for e in graph.edges if e.mechanism == CREATE_ACCESS_ENTRY]
    assert creators == [f"arn:aws:iam::{ACCOUNT}:user/dave"]


def test_service_accounts_to_iam_roles(store: Store, eks_world: dict[str, Any]) -> None:
    imported = import_eks(store, eks_world["session"], "prod", "prod", endpoint_urls=eks_world["endpoints"])
    graph = latest_cloud_graph(store, "prod")
    assert graph is not None
    irsa = {(e.source, e.target.rsplit("/", 1)[-1]) for e in graph.edges if e.mechanism == IRSA}
    # StringEquals lets only payments/api in; StringLike ci:* lets every ci SA in.
    assert irsa == {("payments/api", "payments-s3"), ("ci/builder", "ci-deployer")}
    assert any("payments/worker is annotated" in note for note in imported.notes)
    pod_identity = {(e.source, e.target.rsplit("/", 1)[-1]) for e in graph.edges if e.mechanism == POD_IDENTITY}
    assert pod_identity == {("web/frontend", "web-dynamo")}
    powers = {(p.principal.rsplit("/", 1)[-1], p.power) for p in graph.powers}
    assert ("web-dynamo", "dynamodb:* on *") in powers
    assert ("payments-s3", "s3:GetObject,s3:PutObject on arn:aws:s3:::payments-*/*") in powers


def _import_aws_auth_scenario(tmp_path: Path, moto_url: str) -> Store:
    store = Store(tmp_path / "aws-auth.db")
    import_files(store, [str(FIXTURES / "eks-aws-auth.yaml")], "prod")
    with serve_eks_scenario(moto_url, "eks-scenario-aws-auth.json") as world:
        import_eks(store, world["session"], "prod", "prod", endpoint_urls=world["endpoints"])
    return store


def test_aws_auth_entries_apply_as_aws_iam_authenticator_matches_them(tmp_path: Path, moto_url: str) -> None:
    store = _import_aws_auth_scenario(tmp_path, moto_url)
    graph = latest_cloud_graph(store, "prod")
    assert graph is not None
    by_entry = {m.provenance.split(" (", 1)[0].rsplit(" ", 1)[-1]: m for m in graph.mappings
                if m.mechanism == "aws-auth" and "mapRoles" in m.provenance}
    # A rolearn with a path never matches the caller's canonical ARN: no one gets its system:masters.
    deployer = by_entry["mapRoles[0]"]
    assert deployer.principal == f"arn:aws:iam::{ACCOUNT}:role/ci/deployer" and not deployer.live
    assert "has a path" in deployer.provenance
    # Compared lower-cased: `Shadowed` is role shadowed, whose access entry takes precedence.
    shadowed = by_entry["mapRoles[1]"]
    assert shadowed.principal == f"arn:aws:iam::{ACCOUNT}:role/shadowed" and not shadowed.live
    assert "access entry" in shadowed.provenance
    # The last entry for an ARN is the one kept.
    assert [(m.groups, m.live) for m in (by_entry["mapRoles[2]"], by_entry["mapRoles[3]"])] == [
        (("system:masters",), False), (("viewers",), True)]
    # {{AccountID}} is the caller's account, the role's own.
    assert by_entry["mapRoles[4]"].username == "partner:999988887777:{{SessionName}}"
    # mapAccounts: the principals no entry maps, as their canonical ARN (a role's path dropped), no group.
    accounts = {m.principal.rsplit("/", 1)[-1]: (m.username, m.groups, m.live) for m in graph.mappings
                if "mapAccounts" in m.provenance}
    assert accounts["ops"] == (f"arn:aws:iam::{ACCOUNT}:role/ops", (), True)
    assert accounts["deployer"] == (f"arn:aws:iam::{ACCOUNT}:role/deployer", (), True)
    assert accounts["erin"] == (f"arn:aws:iam::{ACCOUNT}:user/erin", (), True)
    assert accounts["devs"][2] is False  # its access entry wins
    assert "twice" not in accounts and "shadowed" not in accounts  # mapped by mapRoles


def test_aws_auth_and_wildcard_access_scopes_in_who_can_and_paths(tmp_path: Path, moto_url: str) -> None:
    store = _import_aws_auth_scenario(tmp_path, moto_url)
    snapshot = store.latest_snapshot("prod")
    graph = latest_cloud_graph(store, "prod")
    assert graph is not None

    def who(request: ResourceRequest) -> set[tuple[str, str | None]]:
        k8s = Authorizer(SqlitePolicy(store, snapshot.id)).who_can(request)
        return {(a.principal.rsplit(":", 1)[-1], a.namespace) for a in cloud_who_can(graph, request, k8s)}

    everything = who(ResourceRequest("delete", "nodes"))
    assert ("role/ci/deployer", None) not in everything and ("role/shadowed", None) not in everything
    assert ("role/ops", None) in who(ResourceRequest("get", "secrets", "prod-one"))
    create = ResourceRequest("create", "deployments", "dev-one", "apps")
    assert ("role/devs", "dev-one") in who(create)
    assert ("role/devs", "prod-one") not in who(ResourceRequest("create", "deployments", "prod-one", "apps"))
    result = solve(store, snapshot, use_cache=False)
    devs = principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:role/devs")
    assert [p.target.namespace for p in result.paths(subject=devs, target="secrets")] == ["dev-one"]
    deployer = principal_identity(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:role/ci/deployer")
    assert result.paths(subject=deployer, target="cluster-admin") == []


def test_principals_of_other_partitions_keep_irsa_assume_role_and_default_username() -> None:
    # aws-cn / aws-us-gov ARNs: the OIDC provider, the account root and the session ARN are in that partition.
    data = json.loads((FIXTURES / "eks-raw-aws-cn.json").read_text())
    raw = EksRawData(data["cluster"], access_entries=data["access_entries"],
                     authorization_details=data["authorization_details"])
    facts = normalize_eks(raw, K8sContext(1, (ServiceAccountInfo("app", "api"),)))
    edges = {(e.source.rsplit("/", 1)[-1], e.mechanism, e.target.rsplit("/", 1)[-1]) for e in facts.edges}
    assert ("api", IRSA, "api") in edges
    assert ("ursula", ASSUME_ROLE, "admin") in edges
    [admin] = facts.mappings
    assert admin.username == f"arn:aws-cn:sts::{ACCOUNT}:assumed-role/admin/{{{{SessionName}}}}"


def test_access_entry_usernames_by_type() -> None:
    # AWS, "Create access entries": the username EKS sets for each type (a role's path left out).
    data = json.loads((FIXTURES / "eks-raw-node-entries.json").read_text())
    facts = normalize_eks(EksRawData(data["cluster"], access_entries=data["access_entries"]), K8sContext(None))
    assert {m.principal.rsplit("/", 1)[-1]: m.username for m in facts.mappings} == {
        "linux-nodes": "system:node:{{EC2PrivateDNSName}}",
        "windows-nodes": "system:node:{{EC2PrivateDNSName}}",
        "fargate-pods": "system:node:{{SessionName}}",
        "hybrid-nodes": "system:node:{{SessionName}}",
        "dev": f"arn:aws:sts::{ACCOUNT}:assumed-role/dev/{{{{SessionName}}}}",
    }
