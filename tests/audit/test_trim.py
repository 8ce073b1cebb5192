"""Trim proposals on the fixture cluster, and the guarantees checked in code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.model import PolicyRule, ResourceRequest, RoleKey, Subject
from rbacmap.policy import load_policy
from rbacmap.rule_compaction import (
    Permission,
    TrimGuaranteeError,
    compact,
    uncovered,
    verify_never_wider,
    verify_nothing_lost,
)
from rbacmap.store import Store
from rbacmap.trim import REMOVE_BINDINGS, SKIP, TRIM, TrimReport, generate, select_roles, trim
from rbacmap.usage import (
    UsageRecord,
    parse_duration,
    usage_records,
    usage_window,
    user_groups,
    users_with_groups_not_logged,
)


def _report(store: Store, **kwargs: object) -> TrimReport:
    policy = load_policy(store, store.latest_snapshot("prod").id)
    window = usage_window(store, "prod")
    return trim(policy, usage_records(store, "prod", window), user_groups(store, "prod"), window,
                select_roles(policy), **kwargs)  # type: ignore[arg-type]


def _proposal(report: TrimReport, key: RoleKey):  # type: ignore[no-untyped-def]
    return next(p for p in report.proposals if p.role.key == key)


def test_deployer_role_keeps_exactly_what_its_subjects_used(prod_store: Store) -> None:
    report = _report(prod_store)
    deployer = _proposal(report, RoleKey("Role", "deployer", "web"))
    assert [t.rule.to_dict() for t in deployer.rules] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "create"]},
        {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["patch"]},
    ]
    # Provenance: the apps rules come from original rule #1 (apps */*), secrets from #2.
    assert [t.from_rules for t in deployer.rules] == [(0,), (2,), (1,), (1,)]
    assert deployer.unused_bindings == ()


def test_names_kept_under_resource_names_and_denied_requests_ignored(prod_store: Store) -> None:
    report = _report(prod_store)
    editor = _proposal(report, RoleKey("ClusterRole", "config-editor"))
    assert editor.trimmed_rules == (PolicyRule(("get", "update"), ("",), ("configmaps",), ("app-config",)),)
    reader = _proposal(report, RoleKey("ClusterRole", "pod-reader"))
    # alice's denied pods/log in web is not use; her allowed group use in payments is.
    assert reader.trimmed_rules == (PolicyRule(("list",), ("",), ("pods",)), PolicyRule(("get",), ("",), ("pods/log",)))
    assert reader.unused_rule_indexes == (1,)
    metrics = _proposal(report, RoleKey("ClusterRole", "metrics-viewer"))
    assert metrics.trimmed_rules == (PolicyRule(("get",), non_resource_urls=("/healthz/etcd", "/metrics")),)


def test_unused_bindings_proposed_for_removal_with_window(prod_store: Store) -> None:
    report = _report(prod_store)
    ledger = _proposal(report, RoleKey("Role", "ledger-admin", "payments"))
    assert ledger.unused and [str(b.key) for b in ledger.unused_bindings] == ["RoleBinding payments/ledger-admin"]
    # No use: the honest proposal is to remove the binding, not a 100% "reduction" to an empty role.
    assert ledger.action == REMOVE_BINDINGS and ledger.reduction_percent is None
    assert any("no observed use in the 7.0-day window" in note for note in ledger.notes)
    assert any("weak evidence" in w for w in report.warnings)  # 7 days minus 50 ms


def test_impersonation_is_use_of_the_impersonators_role(prod_store: Store) -> None:
    # support-bot acted as alice (and her groups) in the log: the API server authorized those `impersonate`
    # requests through impersonate-users, so trimming must keep them, not propose removing the binding.
    report = _report(prod_store)
    impersonate = _proposal(report, RoleKey("ClusterRole", "impersonate-users"))
    assert impersonate.action == TRIM and impersonate.unused_bindings == ()
    assert impersonate.trimmed_rules == (PolicyRule(("impersonate",), ("",), ("groups", "users")),)
    narrowed = _proposal(_report(prod_store, narrow_names=True), RoleKey("ClusterRole", "impersonate-users"))
    assert narrowed.trimmed_rules == (
        PolicyRule(("impersonate",), ("",), ("groups",), ("devs", "payments-devs")),
        PolicyRule(("impersonate",), ("",), ("users",), ("alice@example.com",)),
    )


def test_gke_namespace_requests_are_use_of_a_rolebinding_in_that_namespace(store: Store, audit_dir: Path) -> None:
    # GKE logs `get namespaces payments` as resourceName core/v1/namespaces/payments. The API server authorized
    # it in namespace payments, where alice's RoleBinding allows it: that binding was used, not idle.
    assert import_files(store, [str(audit_dir / "gke-cluster.yaml")], "gke").errors == []
    import_audit(store, [str(audit_dir / "gke-cloud-logging.json")], "gke", fmt="gke")
    policy = load_policy(store, store.latest_snapshot("gke").id)
    window = usage_window(store, "gke")
    report = trim(policy, usage_records(store, "gke", window), user_groups(store, "gke"), window,
                  select_roles(policy))
    keeper = _proposal(report, RoleKey("ClusterRole", "namespace-keeper"))
    assert keeper.action == TRIM and keeper.unused_bindings == ()
    assert keeper.trimmed_rules == (PolicyRule(("get",), ("",), ("namespaces",)),
                                    PolicyRule(("update",), ("",), ("namespaces/status",)))


def test_gke_logs_name_no_groups_so_a_group_bound_role_is_left_unchanged(
    store: Store, audit_dir: Path, tmp_path: Path
) -> None:
    # alice created a pod in web; GKE's entry does not say whether she is in devs@example.com, whose binding
    # allows it. Proposing to delete that binding as unused (what trim did) could cut what she really uses.
    db = tmp_path / "gke.db"
    with Store(db) as gke:
        assert import_files(gke, [str(audit_dir / "gke-cluster.yaml")], "gke").errors == []
        import_audit(gke, [str(audit_dir / "gke-cloud-logging.json")], "gke", fmt="gke")
        window = usage_window(gke, "gke")
        assert "alice@example.com" in users_with_groups_not_logged(gke, "gke", window)
        assert user_groups(gke, "gke") == {}  # the marker is never a group of anyone's
        policy = load_policy(gke, gke.latest_snapshot("gke").id)
        report = trim(policy, usage_records(gke, "gke", window), user_groups(gke, "gke"), window,
                      select_roles(policy), groups_not_logged=users_with_groups_not_logged(gke, "gke", window))
    starter = _proposal(report, RoleKey("ClusterRole", "pod-starter"))
    assert starter.action == SKIP and starter.unused_bindings == ()
    assert "devs@example.com" in starter.reasons[0] and "name no groups" in starter.reasons[0]
    assert any("name no groups" in warning for warning in report.warnings)
    # A role bound to users only is still trimmed: their own bindings' use is seen.
    assert _proposal(report, RoleKey("ClusterRole", "namespace-keeper")).action == TRIM
    # system:masters bypasses RBAC whatever the logs say: no reason to skip; alice's use trims the role, and the
    # break-glass binding is kept (not proposed for removal).
    operator = _proposal(report, RoleKey("ClusterRole", "web-operator"))
    assert operator.action == TRIM and operator.unused_bindings == ()
    assert operator.trimmed_rules == (PolicyRule(("create",), ("",), ("pods",)),)
    result = CliRunner().invoke(cli, ["trim", "--db", str(db), "--all", "-o", "json"])
    assert result.exit_code == 0, result.output
    assert "roles bound to groups are left unchanged" in result.stderr
    table = CliRunner().invoke(cli, ["trim", "--db", str(db), "--all"]).stdout
    assert "ClusterRole pod-starter: skip (groups not logged)" in table
    assert "devs-start-pods" not in json.dumps(json.loads(result.stdout).get("delete_bindings", []))


def test_a_create_is_credited_to_the_rules_that_allowed_it_without_a_name(store: Store, audit_dir: Path) -> None:
    # The audit event names the Secret dave created, but the API server authorized the create without a name:
    # only creator's rule allowed it. named-creator's `create` with resourceNames never can, and nobody used it.
    fixtures = audit_dir.parent / "trim-names"
    assert import_files(store, [str(fixtures / "cluster.yaml")], "names").errors == []
    import_audit(store, [str(fixtures / "audit.jsonl")], "names")
    policy = load_policy(store, store.latest_snapshot("names").id)
    window = usage_window(store, "names")
    report = trim(policy, usage_records(store, "names", window), user_groups(store, "names"), window,
                  select_roles(policy))
    creator = _proposal(report, RoleKey("Role", "creator", "web"))
    assert creator.action == TRIM and creator.trimmed_rules == (PolicyRule(("create",), ("",), ("secrets",)),)
    named = _proposal(report, RoleKey("Role", "named-creator", "web"))
    assert named.action == REMOVE_BINDINGS and named.used_rule_indexes == ()
    assert [str(b.key) for b in named.unused_bindings] == ["RoleBinding web/named-creator"]


def test_since_cuts_the_window(prod_store: Store) -> None:
    window = usage_window(prod_store, "prod", parse_duration("2d"))
    assert window.start == "2024-05-06T10:00:00.000000Z"
    users = {r.username for r in usage_records(prod_store, "prod", window)}
    assert users == {"system:serviceaccount:ops:admin-bot"}


def test_split_one_role_per_subject(prod_store: Store) -> None:
    deployer = _proposal(_report(prod_store, split=True), RoleKey("Role", "deployer", "web"))
    by_subject = {s.subject: s for s in deployer.splits}
    alice = by_subject[Subject("User", "alice@example.com", "", "rbac.authorization.k8s.io")]
    assert [t.rule for t in alice.rules] == [PolicyRule(("get",), ("",), ("pods",))]
    assert alice.key == RoleKey("Role", "deployer-alice-example.com", "web")
    assert [str(b.key) for b in alice.rebind] == ["RoleBinding web/deployer-alice-example.com"]
    sa = by_subject[Subject("ServiceAccount", "deployer", "web")]
    assert PolicyRule(("list", "watch"), ("",), ("pods",)) in [t.rule for t in sa.rules]


def test_verifier_rejects_wider_rules() -> None:
    original = (PolicyRule(("get", "list"), ("",), ("pods", "*/log")), PolicyRule(("get",), ("",), ("configmaps",),
                                                                                  ("a",)))
    verify_never_wider([PolicyRule(("get",), ("",), ("pods", "deployments/log", "*/log"))], original, "r")
    verify_never_wider([PolicyRule(("get",), ("",), ("configmaps",), ("a",))], original, "r")
    for wider in (
        PolicyRule(("get",), ("",), ("configmaps",)),  # names dropped
        PolicyRule(("*",), ("",), ("pods",)),
        PolicyRule(("get",), ("*",), ("pods",)),
        PolicyRule(("get",), ("",), ("*",)),
        PolicyRule(("get",), ("",), ("pods/exec",)),
        PolicyRule(("get",), ("",), ("configmaps",), ("a", "b")),
    ):
        with pytest.raises(TrimGuaranteeError):
            verify_never_wider([wider], original, "r")
    urls = (PolicyRule(("get",), non_resource_urls=("/healthz*",)),)
    assert uncovered(PolicyRule(("get",), non_resource_urls=("/healthz/etcd", "/healthz/a*")), urls) == []
    assert uncovered(PolicyRule(("get",), non_resource_urls=("/health*",)), urls) == ["get /health*"]
    with pytest.raises(TrimGuaranteeError):
        verify_nothing_lost([PolicyRule(("get",), ("",), ("pods",))], [ResourceRequest("list", "pods", "a")], "r")


def test_compaction_merges_like_a_person_and_stays_exact() -> None:
    rules = compact([
        Permission("get", "", "pods"), Permission("list", "", "pods"),
        Permission("get", "", "services"), Permission("list", "", "services"),
        Permission("get", "", "secrets", "a"), Permission("update", "", "secrets", "a"),
        Permission("get", "", "secrets", "b"), Permission("update", "", "secrets", "b"),
        Permission("get", "", "configmaps", "x"), Permission("get", "", "configmaps"),
    ])
    assert rules == (
        PolicyRule(("get",), ("",), ("configmaps",)),
        PolicyRule(("get", "list"), ("",), ("pods", "services")),
        PolicyRule(("get", "update"), ("",), ("secrets",), ("a", "b")),
    )


def test_generate_minimal_roles_for_several_subjects(prod_store: Store) -> None:
    generated = generate([Subject("ServiceAccount", "deployer", "web"), Subject("Group", "payments-devs")],
                         usage_records(prod_store, "prod"), user_groups(prod_store, "prod"))
    keys = {str(g.key): g.rules for g in generated}
    assert keys["Role web/rbacmap:web-deployer"][0] == PolicyRule(("list", "watch"), ("",), ("pods",))
    # The group's members (alice) include her denied request: generate is for granting what was needed.
    assert keys["Role web/rbacmap:payments-devs"] == (PolicyRule(("get",), ("",), ("pods", "pods/log")),)


def test_a_report_never_writes_two_objects_of_one_name_nor_over_one_the_cluster_has(
    store: Store, audit_dir: Path, tmp_path: Path
) -> None:
    # ClusterRole app and Role web/app are both replaced in web: each replacement would be Role
    # web/rbacmap-trimmed-app, which carol's binding already uses. kubectl apply would write one over the other.
    fixtures = audit_dir.parent / "trim-collide"
    db = str(tmp_path / "collide.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["import", "files", "--db", db, "--cluster", "c", str(fixtures / "cluster.yaml")]
                         ).exit_code == 0
    assert runner.invoke(cli, ["import", "audit", "--db", db, "--cluster", "c", str(fixtures / "audit.jsonl")]
                         ).exit_code == 0
    result = runner.invoke(cli, ["trim", "--db", db, "--all", "-o", "yaml"])
    assert result.exit_code == 0, result.output
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    written = [(doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]) for doc in documents]
    assert len(written) == len(set(written))
    roles = {name: doc for doc in documents if doc["kind"] == "Role" for name in [doc["metadata"]["name"]]}
    assert roles["rbacmap-trimmed-app-2"]["rules"][0]["resources"] == ["pods"]
    assert roles["rbacmap-trimmed-app-3"]["rules"][0]["resources"] == ["configmaps"]
    assert roles["rbacmap-trimmed-app"]["rules"][0]["resources"] == ["secrets"]  # carol's, trimmed in place
    bindings = {doc["metadata"]["name"]: doc["roleRef"]["name"] for doc in documents if doc["kind"] == "RoleBinding"}
    assert bindings == {"app-cluster-trimmed": "rbacmap-trimmed-app-2", "app-local-trimmed-2": "rbacmap-trimmed-app-3"}


def test_generate_gives_subjects_whose_names_slug_alike_roles_of_their_own() -> None:
    reads = [UsageRecord(user, ResourceRequest("get", "pods", "web"), "allow", 1, "", "")
             for user in ("alice@example.com", "alice-example.com")]
    generated = generate([Subject("User", "alice@example.com"), Subject("User", "alice-example.com")], reads, {})
    assert sorted(g.key.name for g in generated) == ["rbacmap:alice-example.com", "rbacmap:alice-example.com-2"]
    assert sorted(g.binding.key.name for g in generated) == ["rbacmap:alice-example.com", "rbacmap:alice-example.com-2"]
    assert all(g.binding.role_ref.name == g.key.name and g.binding.subjects == (g.subject,) for g in generated)
