"""Cloud principals in the escalation solver: cross-plane paths with cloud provenance."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

from rbacmap.cloud.model import (
    AWS_PRINCIPAL,
    CREATE_ACCESS_ENTRY,
    GCP_PRINCIPAL,
    CloudEdge,
    CloudFacts,
    CloudGraph,
    CloudImport,
    IdentityMapping,
)
from rbacmap.cloud.solver_edges import GCP_KUBERNETES_TOKEN, node_roles, principal_identity
from rbacmap.cloud.store import save_cloud_import
from rbacmap.importers.eks import import_eks
from rbacmap.importers.gke import GcpEndpoints, import_gke
from rbacmap.importers.manifests import import_files
from rbacmap.solver import SolverResult, find_risks, solve
from rbacmap.store import Store
from tests.cloud.conftest import GoogleApiServer, serve_eks_scenario
from tests.solver.helpers import beyond_mounted_secrets

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


def _solve_node_escapes(tmp_path: Path, moto_url: str, scenario_file: str) -> SolverResult:
    store = Store(tmp_path / f"{scenario_file}.db")
    import_files(store, [str(FIXTURES / "eks-cluster.yaml"), str(FIXTURES / "eks-node-escape.yaml")], "prod")
    with serve_eks_scenario(moto_url, scenario_file) as world:
        import_eks(store, world["session"], "prod", "prod", endpoint_urls=world["endpoints"])
    return solve(store, store.latest_snapshot("prod"), use_cache=False)


def test_root_on_a_node_holds_the_node_role_and_what_it_can_do_in_aws(tmp_path: Path, moto_url: str) -> None:
    result = _solve_node_escapes(tmp_path, moto_url, "eks-scenario-node-role.json")
    node_role = f"arn:aws:iam::{ACCOUNT}:role/eks-nodes"
    for user in ("pat", "lee"):  # a privileged pod anywhere; exec into one on ip-10-0-1-1
        [path] = result.paths(subject=f"user:{user}", target="cluster-admin")
        escape, create = path.steps[0], path.steps[1]
        assert escape.action == "escape to the node" and escape.as_identity.name == node_role
        assert "reads the credentials of its node role" in escape.detail and "EC2 instance metadata" in escape.detail
        assert [o.kind for o in escape.objects][-1] == "CloudMapping"
        assert "eks:CreateAccessEntry" in create.detail
    [risk] = [r for r in find_risks(result.context.store, result.snapshot) if r.risk == "node-cloud-credentials"]
    assert risk.subject is not None and risk.subject.name == node_role and risk.severity == "high"
    # The same escapes with a node role that may do nothing in AWS: the pods' tokens only.
    plain = _solve_node_escapes(tmp_path, moto_url, "eks-scenario.json")
    assert plain.paths(subject="user:pat", target="cluster-admin") == []
    assert plain.paths(subject="user:lee", target="cluster-admin") == []


def _solve_gke_node_escapes(tmp_path: Path, scenario_file: str, autopilot: bool = False,
                            escapes: Path = FIXTURES / "gke-node-escape.yaml") -> SolverResult:
    scenario = json.loads((FIXTURES / scenario_file).read_text())
    if autopilot:
        scenario["cluster"]["autopilot"] = {"enabled": True}
    server = GoogleApiServer(scenario)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        store = Store(tmp_path / f"{scenario_file}-{autopilot}.db")
        import_files(store, [str(FIXTURES / "gke-cluster.yaml"), str(escapes)], "web")
        import_gke(store, AuthorizedSession(Credentials(token="test")),  # type: ignore[no-untyped-call]
                   "acme-prod", "europe-west1", "web", "web", endpoints=GcpEndpoints.rooted_at(server.url))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    return solve(store, store.latest_snapshot("web"), use_cache=False)


def test_root_on_a_gke_node_holds_its_node_pool_s_service_account(tmp_path: Path) -> None:
    result = _solve_gke_node_escapes(tmp_path, "gke-scenario-node-pools.json")
    nodes = "serviceAccount:nodes@acme-prod.iam.gserviceaccount.com"
    for user in ("pat", "lee"):  # a privileged pod on a node of pat's choosing; lee's exec on a pool-a node
        [path] = result.paths(subject=f"user:{user}", target="cluster-admin")
        escape = path.steps[0]
        assert escape.action == "escape to the node" and escape.as_identity.name == nodes
        assert "of node pool pool-a reads the token of its service account" in escape.detail
        assert [(o.kind, o.name) for o in escape.objects][-1] == ("NodePool", "pool-a")
        assert "roles/container.admin" in str(path.to_json())
    # lee's step shows the node and the label that puts it in pool-a.
    [lee] = result.paths(subject="user:lee", target="cluster-admin")
    assert ("Node", "gke-web-pool-a-1", "cloud.google.com/gke-nodepool: pool-a") in [
        (o.kind, o.name, o.note) for o in lee.steps[0].objects]
    # pool-b's account holds roles/container.admin too, but its node's token has only the default scopes.
    assert result.paths(subject="user:kim", target="cluster-admin") == []
    # Without node pools in the cloud import: no node credentials at all.
    plain = _solve_gke_node_escapes(tmp_path, "gke-scenario.json")
    assert plain.paths(subject="user:pat", target="cluster-admin") == []


def test_a_userinfo_email_token_is_good_for_the_kubernetes_api_only(tmp_path: Path) -> None:
    result = _solve_gke_node_escapes(tmp_path, "gke-scenario-node-pools.json")
    # ivy's exec lands on a pool-c node: email-only@'s token, scoped to userinfo.email.
    [ivy] = result.paths(subject="user:ivy", target="cluster-admin")
    escape = ivy.steps[0]
    assert escape.as_identity.kind == GCP_KUBERNETES_TOKEN
    assert escape.as_identity.name == "serviceAccount:email-only@acme-prod.iam.gserviceaccount.com"
    assert "(scope userinfo.email: the Kubernetes API only)" in escape.detail
    assert "accepts a token scoped to userinfo.email alone" in escape.condition
    # Its Kubernetes power is the account's IAM role (roles/container.developer creates pods) ...
    assert ivy.steps[1].action == "escape to the node" and "create a privileged pod" in ivy.steps[1].detail
    assert "roles/container.developer" in str(ivy.to_json())
    # ... but not the account's cloud steps: its iam.serviceAccountTokenCreator on nodes@ needs another scope.
    graph = result.graph
    token = graph.index[escape.as_identity]
    assert [graph.edges[e].primitive for e in range(len(graph.edges)) if graph.sources[e] == token
            and graph.edges[e].primitive == "cloud"] == []
    principal = graph.index[principal_identity(GCP_PRINCIPAL, escape.as_identity.name)]
    assert any(graph.sources[e] == principal and graph.edges[e].primitive == "cloud" for e in range(len(graph.edges)))
    assert all(path.subject.kind != GCP_KUBERNETES_TOKEN for path in result.paths())


def test_gke_autopilot_refuses_the_privileged_pod_so_no_node_is_reached(tmp_path: Path) -> None:
    result = _solve_gke_node_escapes(tmp_path, "gke-scenario-node-pools.json", autopilot=True)
    assert beyond_mounted_secrets(result, "user:pat") == []  # no privileged pod, so no node, no node pool account
    # An existing privileged pod (allowed by Autopilot's own list, say) is still root on its node; its
    # account is not counted, as Autopilot nodes are Google's.
    assert result.paths(subject="user:lee", target="cluster-admin") == []


def _mapping(principal: str, username: str, groups: tuple[str, ...], provenance: str = "aws-auth") -> IdentityMapping:
    return IdentityMapping(AWS_PRINCIPAL, f"arn:aws:iam::{ACCOUNT}:role/{principal}", username, groups, "aws-auth",
                           provenance)


def test_node_roles_are_ec2_and_hybrid_nodes_not_fargate() -> None:
    nodes = ("system:bootstrappers", "system:nodes")
    graph = CloudGraph(CloudImport(1, "prod", "eks", "prod", "complete", ""), mappings=(
        _mapping("ec2-nodes", "system:node:{{EC2PrivateDNSName}}", nodes),
        _mapping("windows-nodes", "system:node:{{EC2PrivateDNSName}}", (*nodes, "eks:kube-proxy-windows")),
        _mapping("hybrid-nodes", "system:node:{{SessionName}}", nodes),
        _mapping("fargate-pods", "system:node:{{SessionName}}", (*nodes, "system:node-proxier")),
        _mapping("fargate-entry", "system:node:{{SessionName}}", ("system:nodes",),
                 f"access entry arn:aws:iam::{ACCOUNT}:role/fargate-entry (type FARGATE_LINUX)"),
        _mapping("FARGATE-migrated", "system:node:{{EC2PrivateDNSName}}", ("system:nodes",),
                 f"access entry arn:aws:iam::{ACCOUNT}:role/FARGATE-migrated (type EC2_LINUX)"),
        _mapping("admins", "admin:{{SessionName}}", ("system:masters",)),
    ))
    assert [m.principal.rsplit("/", 1)[1] for m in node_roles(graph)] == [
        "FARGATE-migrated", "ec2-nodes", "hybrid-nodes", "windows-nodes"]


def test_a_node_pool_without_a_node_in_the_snapshot_is_a_condition(tmp_path: Path) -> None:
    text = (FIXTURES / "gke-node-escape.yaml").read_text()
    no_pool_a = tmp_path / "no-pool-a.yaml"
    no_pool_a.write_text("---".join(doc for doc in text.split("---") if "pool-a-1" not in doc))
    result = _solve_gke_node_escapes(tmp_path, "gke-scenario-node-pools.json", escapes=no_pool_a)
    [pat] = result.paths(subject="user:pat", target="cluster-admin")
    assert pat.steps[0].condition.startswith("node pool pool-a has no node in the snapshot")


def test_a_given_node_has_the_node_role_of_its_operating_system(tmp_path: Path) -> None:
    store = Store(tmp_path / "mixed.db")
    imported = import_files(store, [str(FIXTURES / "eks-mixed-nodes.yaml")], "prod")
    linux, windows = (f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in ("linux-nodes", "windows-nodes"))
    facts = CloudFacts(f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod")
    facts.mappings += [
        IdentityMapping(AWS_PRINCIPAL, linux, "system:node:{{EC2PrivateDNSName}}",
                        ("system:bootstrappers", "system:nodes"), "aws-auth", "aws-auth mapRoles[0]"),
        IdentityMapping(AWS_PRINCIPAL, windows, "system:node:{{EC2PrivateDNSName}}", ("system:nodes",),
                        "access-entry", f"access entry {windows} (type EC2_WINDOWS)")]
    # Only the Windows role may map itself to cluster-admin.
    facts.edges.append(CloudEdge(AWS_PRINCIPAL, windows, "Group", "system:masters", CREATE_ACCESS_ENTRY, "policy"))
    save_cloud_import(store, "prod", "eks", facts)
    result = solve(store, imported.snapshot, use_cache=False)
    [win] = result.paths(subject="user:win", target="cluster-admin")
    assert win.steps[0].as_identity.name == windows
    assert win.steps[0].condition.endswith("runs with the cluster's only node role for its operating system")
    assert result.paths(subject="user:lin", target="cluster-admin") == []  # its node has the harmless role


def test_import_eks_reads_managed_node_groups_and_their_roles(tmp_path: Path, moto_url: str) -> None:
    result = _solve_node_escapes(tmp_path, moto_url, "eks-scenario-node-role.json")
    graph = result.context.memo["cloud_graph"]
    assert graph.cloud_import.details["node_groups"] == [
        {"name": "general", "node_role": f"arn:aws:iam::{ACCOUNT}:role/eks-nodes"}]
    assert not [note for note in graph.cloud_import.notes if "node groups" in note]


def _solve_node_groups(tmp_path: Path, *, with_groups: bool) -> SolverResult:
    store = Store(tmp_path / f"groups-{with_groups}.db")
    imported = import_files(store, [str(FIXTURES / "eks-node-groups.yaml")], "prod")
    general, ops = (f"arn:aws:iam::{ACCOUNT}:role/{name}" for name in ("general-nodes", "ops/ops-nodes"))
    facts = CloudFacts(f"arn:aws:eks:eu-west-1:{ACCOUNT}:cluster/prod")
    if with_groups:
        facts.details["node_groups"] = [{"name": "general", "node_role": general}, {"name": "ops", "node_role": ops}]
    node = ("system:bootstrappers", "system:nodes")
    facts.mappings += [  # two Linux node roles: the operating system does not tell them apart
        IdentityMapping(AWS_PRINCIPAL, general, "system:node:{{EC2PrivateDNSName}}", node, "aws-auth",
                        "aws-auth mapRoles[0]"),
        IdentityMapping(AWS_PRINCIPAL, ops, "system:node:{{EC2PrivateDNSName}}", node, "aws-auth",
                        "aws-auth mapRoles[1]")]
    facts.edges.append(CloudEdge(AWS_PRINCIPAL, ops, "Group", "system:masters", CREATE_ACCESS_ENTRY, "policy"))
    save_cloud_import(store, "prod", "eks", facts)
    return solve(store, imported.snapshot, use_cache=False)


def test_a_node_of_a_managed_node_group_has_its_group_s_role(tmp_path: Path) -> None:
    result = _solve_node_groups(tmp_path, with_groups=True)
    [oz] = result.paths(subject="user:oz", target="cluster-admin")
    escape = oz.steps[0]
    assert escape.as_identity.name == f"arn:aws:iam::{ACCOUNT}:role/ops/ops-nodes" and escape.condition == ""
    assert [(o.kind, o.name) for o in escape.objects][-3:] == [
        ("Node", "ip-10-0-3-3.ec2.internal"), ("NodeGroup", "ops"), ("CloudMapping", "aws-auth")]
    assert result.paths(subject="user:gus", target="cluster-admin") == []  # the general group's role is harmless
    # Without the node groups, two Linux roles: which one a given node has is unknown, and none is claimed.
    unknown = _solve_node_groups(tmp_path, with_groups=False)
    assert unknown.paths(subject="user:oz", target="cluster-admin") == []
