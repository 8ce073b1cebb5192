"""The realistic cluster (fixtures/solver/realistic over the upstream bootstrap roles): components' RBAC as their
charts and install manifests ship it. Pins the headline findings, their provenance, and what is no finding, as
publicly known of each component (Argo CD's application-controller and Flux's kustomize-controller hold
cluster-admin, ingress-nginx reads every Secret, cert-manager's controller creates pods anywhere, ...)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbacmap.solver import EscalationPath, SolverResult, find_risks
from rbacmap.store import Store
from tests.solver.helpers import actions, path_of, solve_fixture

BOOTSTRAP = Path(__file__).resolve().parents[2] / "bench" / "data" / "k8s-bootstrap-rbac"
ADMIN = "cluster-admin"


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, SolverResult]:
    return solve_fixture(tmp_path_factory.mktemp("realistic"), str(BOOTSTRAP), "realistic", shared=False)


def _bindings(path: EscalationPath | None, step: int = 0) -> list[str]:
    assert path is not None
    return [str(grant.binding.key) for grant in path.steps[step].grants]


def test_gitops_controllers_hold_cluster_admin(solved: tuple[Store, SolverResult]) -> None:
    _, result = solved
    argocd = path_of(result, "sa:argocd/argocd-application-controller", ADMIN)
    assert actions(argocd) == ["holds cluster-admin"]
    assert _bindings(argocd) == ["ClusterRoleBinding argocd-application-controller"]
    for name in ("kustomize-controller", "helm-controller"):
        flux = path_of(result, f"sa:flux-system/{name}", ADMIN)
        assert actions(flux) == ["holds cluster-admin"]
        assert _bindings(flux) == ["ClusterRoleBinding cluster-reconciler-flux-system"]


def test_flux_controllers_request_tokens_anywhere(solved: tuple[Store, SolverResult]) -> None:
    # crd-controller grants serviceaccounts/token create cluster-wide (object-level workload identity).
    _, result = solved
    for name in ("source-controller", "notification-controller"):
        path = path_of(result, f"sa:flux-system/{name}", ADMIN)
        assert path is not None and len(path.steps) == 2
        assert path.steps[0].primitive == "token_request"
        assert _bindings(path) == ["ClusterRoleBinding crd-controller-flux-system"]


def test_controllers_that_start_pods_anywhere_reach_cluster_admin(solved: tuple[Store, SolverResult]) -> None:
    _, result = solved
    cert_manager = path_of(result, "sa:cert-manager/cert-manager", ADMIN)
    assert actions(cert_manager)[0] == "create pods"  # the HTTP01 solver rule
    assert _bindings(cert_manager) == ["ClusterRoleBinding cert-manager-controller-challenges"]
    operator = path_of(result, "sa:monitoring/prometheus-operator", ADMIN)
    assert operator is not None and operator.steps[0].action.endswith("statefulsets")
    assert _bindings(operator) == ["ClusterRoleBinding prometheus-operator"]
    external = path_of(result, "sa:external-secrets/external-secrets", ADMIN)
    assert external is not None and len(external.steps) == 2


def test_secret_readers(solved: tuple[Store, SolverResult]) -> None:
    _, result = solved
    nginx = path_of(result, "sa:ingress-nginx/ingress-nginx", "secrets")
    assert nginx is not None and nginx.target.namespace is None
    assert actions(nginx) == ["read secrets"] and _bindings(nginx) == ["ClusterRoleBinding ingress-nginx"]
    assert path_of(result, "sa:ingress-nginx/ingress-nginx", ADMIN) is None
    # The admission job's ServiceAccount may create and get Secrets in ingress-nginx: a token of the controller.
    admission = path_of(result, "sa:ingress-nginx/ingress-nginx-admission", "secrets")
    assert actions(admission) == ["mint a token Secret", "read secrets"]


def test_of_equally_short_proofs_the_one_without_a_condition_is_shown(solved: tuple[Store, SolverResult]) -> None:
    _, result = solved
    # kyverno's admission controller reaches cluster-admin in two steps three ways: its own mutating webhook
    # (needs a reachable endpoint), `get pods/exec` (a WebSocket exec: only before 1.35) and `get nodes/proxy`
    # (the kubelet's exec). The last needs no condition, so that is the proof shown.
    for subject in ("sa:kyverno/kyverno-admission-controller", "sa:kube-system/namespace-controller"):
        proof = path_of(result, subject, ADMIN)
        assert proof is not None and actions(proof)[0] == "get nodes/proxy", subject
        assert proof.conditions == [], subject
    # The webhook route is still in the graph, with its rule traced to the aggregated ClusterRole.
    [webhook] = [edge for edge in result.graph.edges if edge.primitive == "webhooks"
                 and edge.source.name == "kyverno-admission-controller"]
    assert webhook.condition and "webhook endpoint" in webhook.condition
    assert webhook.grants[0].aggregated_from == "kyverno:admission-controller:core"


def test_no_finding_where_the_real_component_has_none(solved: tuple[Store, SolverResult]) -> None:
    _, result = solved
    for subject in ("sa:kube-system/metrics-server", "sa:kube-system/coredns", "sa:kube-system/kube-proxy",
                    "sa:kube-system/aws-load-balancer-controller",
                    "sa:kube-system/cluster-autoscaler-aws-cluster-autoscaler", "sa:argocd/argocd-repo-server",
                    "user:carol@example.com", "group:ops", "group:system:authenticated",
                    "group:system:unauthenticated", "group:system:serviceaccounts"):
        assert result.paths(subject=subject) == [], subject
    # cert-manager's webhook may create Secrets but get only its own CA Secret, which exists: nothing to mint.
    assert result.paths(subject="sa:cert-manager/cert-manager-webhook") == []
    # A namespace admin of a restricted namespace: its Secrets and exec there, nothing beyond.
    alice = {(p.target.kind, p.target.namespace) for p in result.paths(subject="user:alice@example.com")}
    assert alice == {("exec", "team-a"), ("secrets", "team-a")}


def test_every_step_is_traceable(solved: tuple[Store, SolverResult]) -> None:
    _, result = solved
    graph = result.graph
    pairs = list(zip(graph.sources, graph.edge_targets, strict=True))
    assert len(set(pairs)) == len(pairs)
    for path in result.paths():
        for step in path.steps:
            assert step.grants or step.objects, (str(path.subject), step.action)


def test_risks(solved: tuple[Store, SolverResult]) -> None:
    store, result = solved
    found = {(risk.risk, str(risk.subject)) for risk in find_risks(store, result.snapshot)}
    assert ("evict-and-patch-nodes", "ServiceAccount kube-system/cluster-autoscaler-aws-cluster-autoscaler") in found
    assert ("list-secrets-cluster-wide", "ServiceAccount ingress-nginx/ingress-nginx") in found
    assert ("webhook-control", "ServiceAccount cert-manager/cert-manager-cainjector") in found
    assert not any(subject == "ServiceAccount kube-system/metrics-server" for _, subject in found)
