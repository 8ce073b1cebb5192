"""`rbacmap risks`: each finding once, under the subject its binding names, and what each risk claims."""

from __future__ import annotations

from pathlib import Path

from rbacmap.solver import find_risks
from tests.solver.helpers import solve_fixture

FIXTURE = "review/risks.yaml"


def test_a_dangling_binding_is_reported_under_the_subjects_it_names(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, FIXTURE)
    dangling = [(r.subject.spec() if r.subject else None, r.detail) for r in find_risks(store)
                if r.risk == "dangling-binding"]
    # Not once more for every ServiceAccount, user and group that is in system:authenticated, each saying
    # the binding "names" it.
    assert dangling == [
        ("group:system:authenticated", "ClusterRoleBinding everyone-legacy names Group system:authenticated but "
         "its ClusterRole 'legacy-reader' does not exist: whoever creates that role grants it"),
        ("sa:apps/worker", "RoleBinding apps/worker-legacy names ServiceAccount apps/worker but its Role 'legacy' "
         "does not exist: whoever creates that role grants it"),
    ]


def test_rules_limited_by_resource_names_count_only_where_the_risk_holds_for_one_object(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, FIXTURE)
    found = {(r.risk, r.subject.spec() if r.subject else None): r for r in find_risks(store)}
    # Listing one named Secret is not listing Secrets cluster-wide.
    assert not [key for key in found if key[0] == "list-secrets-cluster-wide"]
    # Updating one webhook configuration makes it intercept (or block) whatever it likes.
    webhook = found[("webhook-control", "user:pat")]
    assert webhook.severity == "high"
    assert webhook.detail == ("User pat controls the admission webhook configuration(s) policy-guard: can make them "
                              "intercept or block every API write")
    assert [(str(g.binding.key), str(g.role.key), g.rule_index) for g in webhook.grants] == [
        ("ClusterRoleBinding policy-team-webhook", "ClusterRole policy-webhook-editor", 0)]
    # A create limited by resourceNames allows no real create (authorized without a name): no risk at all.
    assert ("webhook-control", "user:installer") not in found
    # nodes/proxy on one node reaches that kubelet's API.
    proxy = found[("nodes-proxy", "user:debugger")]
    assert proxy.detail == ("User debugger talks to the kubelet API (exec, logs, pods) of node(s) node-1 through "
                            "nodes/proxy")
    assert [g.rule.resource_names for g in proxy.grants] == [("node-1",)]


def test_a_legacy_tokens_severity_is_what_its_service_account_may_do(tmp_path: Path) -> None:
    store, _ = solve_fixture(tmp_path, "review/token-owner-power.yaml")
    tokens = {r.objects[0].name: r for r in find_risks(store) if r.risk == "legacy-token-secret"}
    root, deployer, idle = tokens["root-token"], tokens["deployer-token"], tokens["idle-token"]
    assert (root.severity, deployer.severity, idle.severity) == ("high", "medium", "low")
    assert "(which holds cluster-admin)" in root.detail
    assert [str(g.binding.key) for g in root.grants] == ["ClusterRoleBinding root-admin"]
    assert "(which starts pods in apps)" in deployer.detail
    assert [str(g.binding.key) for g in deployer.grants] == ["RoleBinding apps/deployer-starts-pods"]
    assert idle.grants == () and "(which" not in idle.detail
