"""ValidatingAdmissionPolicies that judge a privileged pod: the step stays, with a condition naming them."""

from __future__ import annotations

from pathlib import Path

from rbacmap.importers.manifests import import_files
from rbacmap.solver import EXEC, SolverResult
from rbacmap.solver.admission import pod_policies
from rbacmap.solver.context import ClusterObjects
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES, path_of, solve_fixture

FIXTURE = "review/admission-policies.yaml"


def _escape_conditions(result: SolverResult, user: str) -> set[str]:
    graph = result.graph
    return {edge.condition for e, edge in enumerate(graph.edges)
            if edge.primitive == "node_escape" and graph.nodes[graph.sources[e]].name == user}


def test_a_bound_denying_policy_is_the_escape_s_condition(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    # prod matches the binding's namespaceSelector; the Warn-only binding and the one to a missing policy
    # never reject; host-paths excludes pods named node-debugger, a name a new pod may take; payments-only
    # selects labels a new pod leaves out.
    assert _escape_conditions(result, "pia") == {
        "ValidatingAdmissionPolicy no-privileged (binding no-privileged-prod) judges this pod (its CEL validations "
        "may reject a privileged pod: check them)"}
    # scratch is outside the binding's namespaceSelector.
    assert _escape_conditions(result, "sam") == {""}


def test_a_debug_container_cannot_dodge_by_name_or_labels(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE)
    [condition] = _escape_conditions(result, "dex")
    assert "host-paths (binding host-paths)" in condition
    assert "no-privileged (binding no-privileged-prod)" in condition
    assert "payments-only (binding payments-only)" in condition
    assert "no-privileged-warn" not in condition and "ghost" not in condition


def _objects(binding_spec: dict[str, object], *, policy_match: dict[str, object] | None = None,
             unlisted: bool = False) -> ClusterObjects:
    rules = [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}]
    return ClusterObjects(
        namespaces={"apps": {"name": "apps", "labels": '{"tier": "apps"}', "pss_enforce": None}},
        admission_policies=[
            {"kind": "Policy", "name": "p", "spec": {"matchConstraints": policy_match or {"resourceRules": rules}}},
            {"kind": "Binding", "name": "b", "spec": {"policyName": "p", **binding_spec}},
        ], admission_policies_unlisted=unlisted)


def test_policy_and_binding_matching_follows_upstream() -> None:
    assert pod_policies(_objects({"validationActions": ["Deny"]}), "apps") == ["p (binding b)"]
    assert pod_policies(_objects({}), "apps") == ["p (binding b)"]  # v1alpha1: no actions, denies
    assert pod_policies(_objects({"validationActions": ["Audit"]}), "apps") == []
    # The binding's matchResources narrow the policy's: both must match.
    narrowed = {"matchResources": {"namespaceSelector": {"matchLabels": {"tier": "db"}}}}
    assert pod_policies(_objects(narrowed), "apps") == []
    # A namespace without a Namespace object: a selector on other labels may select it.
    assert pod_policies(_objects(narrowed), "unknown") == ["p (binding b)"]
    # Binding resourceRules for another resource: not this pod.
    other = {"matchResources": {"resourceRules": [{"apiGroups": ["apps"], "apiVersions": ["v1"],
                                                    "operations": ["CREATE"], "resources": ["deployments"]}]}}
    assert pod_policies(_objects(other), "apps") == []
    # A rule limited by resourceNames: a new pod picks another name; an existing pod may be named.
    named = {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["*"],
                                "resources": ["pods/*"], "resourceNames": ["web"]}]}
    assert pod_policies(_objects({}, policy_match=named), "apps") == []
    assert pod_policies(_objects({}, policy_match=named), "apps", "UPDATE", "ephemeralcontainers",
                        labels_chosen=False, name_chosen=False) == ["p (binding b)"]
    # An unnamed exclusion excludes every pod; only matchConstraints without resourceRules match nothing.
    excluded = {"resourceRules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["*"],
                                   "resources": ["*"]}],
                "excludeResourceRules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                                          "resources": ["pods"]}]}
    assert pod_policies(_objects({}, policy_match=excluded), "apps") == []
    assert pod_policies(_objects({}, policy_match={"namespaceSelector": {}}), "apps") == []


def test_a_binding_without_policy_name_is_an_import_error_naming_its_document(tmp_path: Path) -> None:
    bad = tmp_path / "policies.yaml"
    bad.write_text((FIXTURES / FIXTURE).read_text() + "\n---\napiVersion: admissionregistration.k8s.io/v1\n"
                   "kind: ValidatingAdmissionPolicyBinding\nmetadata: {name: unnamed}\nspec: {validationActions: "
                   "[Deny]}\n")
    store = Store(tmp_path / "p.db")
    result = import_files(store, [str(bad)], "test")
    [error] = result.errors
    assert error.source == str(bad) and error.document is not None and error.name == "unnamed"
    assert "policyName" in error.message
    kept = store.query("SELECT kind, name FROM admission_policies WHERE snapshot_id = ? ORDER BY kind, name",
                       [result.snapshot.id])
    assert [row["name"] for row in kept] == ["ghost", "host-paths", "no-privileged-prod", "no-privileged-warn",
                                             "payments-only", "host-paths", "no-privileged", "payments-only"]


def test_a_binding_to_a_policy_the_import_could_not_list_may_judge() -> None:
    objects = _objects({"policyName": "unseen"}, unlisted=True)
    assert pod_policies(objects, "apps") == ["unseen (binding b; the policy itself could not be listed)"]
    assert pod_policies(_objects({"policyName": "unseen"}), "apps") == []
    # Its binding must still deny, and match.
    assert pod_policies(_objects({"policyName": "unseen", "validationActions": ["Audit"]}, unlisted=True),
                        "apps") == []
    elsewhere = {"namespaceSelector": {"matchLabels": {"tier": "db"}}}
    assert pod_policies(_objects({"policyName": "unseen", "matchResources": elsewhere}, unlisted=True), "apps") == []


def test_a_workload_s_pods_are_named_by_their_controller_and_the_workload_is_judged_too(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE, "review/admission-policies-workloads.yaml")
    [condition] = _escape_conditions(result, "dana")
    # host-paths excludes pods named node-debugger: dana's Deployment cannot name its pods so.
    assert "host-paths (binding host-paths)" in condition
    # deploy-guard judges the Deployment itself.
    assert "deploy-guard (binding deploy-guard)" in condition


def test_exec_and_debug_steps_name_what_judges_them_where_it_does(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, FIXTURE, "review/admission-exec.yaml")
    no_exec = ("ValidatingAdmissionPolicy no-exec (binding no-exec-prod) judges CONNECT pods/exec (it may refuse it: "
               "check its rules)")
    eli = path_of(result, "user:eli", EXEC, "prod")
    assert eli is not None and eli.steps[0].condition == no_exec  # not web-exec: its objectSelector never matches
    flo = path_of(result, "user:flo", EXEC)
    assert flo is not None and flo.target.namespace is None
    assert flo.steps[0].condition == no_exec.replace("pods/exec", "pods/exec in namespaces prod")
    gil = path_of(result, "user:gil", EXEC, "scratch")
    assert gil is not None and gil.steps[0].condition.startswith(
        "validating admission webhook debug-guard/ephemeral.debug-guard.example.com judges UPDATE "
        "pods/ephemeralcontainers")
    # dex's debug containers in prod: no-privileged judges them (UPDATE pods/ephemeralcontainers) there.
    dex = path_of(result, "user:dex", EXEC, "prod")
    assert dex is not None and "no-privileged (binding no-privileged-prod)" in dex.steps[0].condition
