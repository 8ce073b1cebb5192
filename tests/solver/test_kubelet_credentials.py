"""Root on a node holds the kubelet's credentials: whatever RBAC grants system:nodes or system:node:NAME."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import CLUSTER_ADMIN, SECRETS, find_risks
from rbacmap.solver.identity import KUBELET
from tests.solver.helpers import actions, path_of, solve_fixture

GROUP_BOUND = "review/kubelet-credentials.yaml"
ONE_NODE = "review/kubelet-one-node.yaml"


def test_a_pod_escape_holds_what_the_node_group_is_granted(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, GROUP_BOUND)
    opal = path_of(result, "user:opal", SECRETS, "vault")
    assert opal is not None
    assert opal.target.namespace is None  # the legacy node role reads Secrets everywhere
    assert actions(opal) == ["escape to the node", "read secrets"]
    escape, read = opal.steps
    assert escape.as_identity.kind == KUBELET
    assert escape.as_identity.username == f"system:node:{escape.as_identity.name}"
    assert ("Node", escape.as_identity.name) in [(o.kind, o.name) for o in escape.objects]
    assert [grant.binding.key.name for grant in read.grants] == ["legacy-node"]


def test_restricted_pod_security_still_blocks_the_escape(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, GROUP_BOUND)
    assert path_of(result, "user:lou", SECRETS, "vault") is None


def test_only_the_node_whose_user_is_bound_leads_on(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, ONE_NODE)
    bea = path_of(result, "user:bea", CLUSTER_ADMIN)
    assert bea is not None
    assert actions(bea) == ["escape to the node", "holds cluster-admin"]
    assert (bea.steps[0].as_identity.kind, bea.steps[0].as_identity.name) == (KUBELET, "node-b")
    assert "node node-b" in bea.steps[0].detail
    # ada's exec lands on node-a, whose kubelet holds nothing.
    assert path_of(result, "user:ada", CLUSTER_ADMIN) is None
    assert result.paths(subject="user:ada") == []


def test_bindings_to_node_identities_are_a_risk_but_kubeadm_defaults_are_not(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, GROUP_BOUND)
    risks = [risk for risk in find_risks(store) if risk.risk == "node-identity-granted"]
    assert len(risks) == 1
    [risk] = risks
    assert risk.subject is not None and risk.subject.name == "system:nodes"
    assert [obj.name for obj in risk.objects] == ["legacy-node"]
    assert "every kubelet" in risk.detail


def test_kubelets_do_not_show_up_as_subjects(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, ONE_NODE)
    assert all(path.subject.kind != KUBELET for path in result.paths())


def test_node_restriction_refuses_a_kubelet_pod_writes_debug_containers_and_tokens(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/kubelet-node-restriction.yaml")
    assert path_of(result, "user:ada", CLUSTER_ADMIN) is None
    # RBAC alone would allow them: the group's own findings go through the pod create.
    group = path_of(result, "group:system:nodes", CLUSTER_ADMIN)
    assert group is not None and group.steps[0].action == "create pods"


def test_a_kubelet_may_still_create_the_workloads_node_restriction_does_not_judge(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, "review/kubelet-node-restriction.yaml", "review/kubelet-deployments.yaml")
    ada = path_of(result, "user:ada", CLUSTER_ADMIN)
    assert ada is not None
    assert actions(ada) == ["escape to the node", "create deployments", "holds cluster-admin"]
    assert ada.steps[0].as_identity.kind == KUBELET and ada.steps[1].as_identity.name == "boss"


def test_the_node_risk_names_only_bindings_of_the_node_group_itself(tmp_path: Path) -> None:
    bootstrap = sorted((Path(__file__).resolve().parents[2] / "bench" / "data" / "k8s-bootstrap-rbac").glob("*.yaml"))
    store, _ = solve_fixture(tmp_path, GROUP_BOUND, *(str(path) for path in bootstrap), shared=False)
    [risk] = [risk for risk in find_risks(store) if risk.risk == "node-identity-granted"]
    # Not system:basic-user or system:discovery, which system:nodes holds through system:authenticated.
    assert [obj.name for obj in risk.objects] == ["legacy-node"]
