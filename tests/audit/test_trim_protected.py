"""Roles an in-place trim would not stick to: new role + rebinding, skipped bypass roles, the verifier."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from rbacmap.authorizer import Authorizer
from rbacmap.importers.audit import import_audit
from rbacmap.importers.manifests import import_files
from rbacmap.model import (
    Binding,
    BindingKey,
    PolicyRule,
    ResourceRequest,
    Role,
    RoleKey,
    Subject,
    UserInfo,
)
from rbacmap.policy import load_policy
from rbacmap.rbac_export import deletions, report_json, trim_manifests, trim_yaml
from rbacmap.rule_compaction import TrimGuaranteeError
from rbacmap.store import Store
from rbacmap.trim import REPLACE, SKIP, TRIM, TrimProposal, TrimReport, select_roles, trim
from rbacmap.trim_rebinding import in_place_blockers, verify_rebinding
from rbacmap.usage import usage_records, usage_window, user_groups

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures" / "trim-protected"
K8S_VERSION = "1.30.0"
USER_ERIN = Subject("User", "erin@example.com", "", "rbac.authorization.k8s.io")


@pytest.fixture
def protected_store(store: Store) -> Store:
    assert import_files(store, [str(FIXTURES / "cluster.yaml")], "p").errors == []
    import_audit(store, [str(FIXTURES / "audit.jsonl")], "p")
    return store


def _report(store: Store) -> TrimReport:
    policy = load_policy(store, store.latest_snapshot("p").id)
    window = usage_window(store, "p")
    return trim(policy, usage_records(store, "p", window), user_groups(store, "p"), window,
                select_roles(policy, include_system=True))


def _proposal(report: TrimReport, key: RoleKey) -> TrimProposal:
    return next(p for p in report.proposals if p.role.key == key)


def test_aggregated_role_gets_new_roles_per_binding_scope_and_rebinding(protected_store: Store) -> None:
    admin = _proposal(_report(protected_store), RoleKey("ClusterRole", "admin"))
    assert admin.action == REPLACE
    assert any("aggregated ClusterRole" in r for r in admin.reasons)
    by_key = {r.key: r for r in admin.replacements}
    assert set(by_key) == {RoleKey("ClusterRole", "rbacmap-trimmed-admin"),
                           RoleKey("Role", "rbacmap-trimmed-admin", "payments"),
                           RoleKey("Role", "rbacmap-trimmed-admin", "web")}
    # RoleBindings to a ClusterRole grant only in their namespace: each gets a Role with its own use.
    web = by_key[RoleKey("Role", "rbacmap-trimmed-admin", "web")]
    assert [t.rule for t in web.rules] == [PolicyRule(("list",), ("",), ("pods",)),
                                           PolicyRule(("create",), ("",), ("pods/exec",))]
    assert [t.from_rules for t in web.rules] == [(1,), (2,)]
    [swap] = web.swaps
    assert str(swap.new.key) == "RoleBinding web/web-admins-trimmed"
    assert str(swap.old.key) == "RoleBinding web/web-admins"
    assert swap.new.role_ref == RoleKey("Role", "rbacmap-trimmed-admin") and swap.new.subjects == (USER_ERIN,)
    cluster = by_key[RoleKey("ClusterRole", "rbacmap-trimmed-admin")]
    assert [t.rule for t in cluster.rules] == [PolicyRule(("list",), ("",), ("secrets",))]
    assert admin.unused_rule_indexes == (0,)


def test_bootstrap_autoupdate_role_is_replaced_not_edited(protected_store: Store) -> None:
    key = RoleKey("Role", "system:controller:bootstrap-signer", "kube-system")
    signer = _proposal(_report(protected_store), key)
    assert signer.action == REPLACE and len(signer.reasons) == 1 and "bootstrap role" in signer.reasons[0]
    [replacement] = signer.replacements
    assert replacement.key == RoleKey("Role", "rbacmap-trimmed-system-controller-bootstrap-signer", "kube-system")
    assert [t.rule for t in replacement.rules] == [PolicyRule(("list",), ("",), ("secrets",))]


def test_role_feeding_an_aggregated_role_is_not_cut_in_place(protected_store: Store) -> None:
    viewer = _proposal(_report(protected_store), RoleKey("ClusterRole", "deploy-viewer"))
    assert viewer.action == REPLACE and viewer.reasons == (
        "its rules are aggregated into ClusterRole(s) admin: an in-place trim would cut those roles too",)


def test_cluster_admin_bound_to_system_masters_is_skipped(protected_store: Store) -> None:
    report = _report(protected_store)
    admin = _proposal(report, RoleKey("ClusterRole", "cluster-admin"))
    assert admin.action == SKIP and "system:masters" in admin.reasons[0]
    assert admin.rules == () and admin.unused_bindings == () and admin.reduction_percent is None
    assert [str(b.key) for b in admin.bypass_bindings] == ["ClusterRoleBinding cluster-admin"]
    assert "cluster-admin" not in {b.key.name for b, _ in deletions(report)}
    assert report_json(report)["roles"][1]["action"] == SKIP


def test_ordinary_role_is_trimmed_in_place(protected_store: Store) -> None:
    reader = _proposal(_report(protected_store), RoleKey("ClusterRole", "team-reader"))
    assert reader.action == TRIM and reader.reasons == () and reader.replacements == ()
    assert reader.trimmed_rules == (PolicyRule(("get",), ("",), ("pods",)),)


def test_yaml_validates_and_applied_policy_keeps_use_and_nothing_more(protected_store: Store, tmp_path: Path) -> None:
    report = _report(protected_store)
    text = trim_yaml(report)
    assert "# kubectl delete rolebinding -n web web-admins  # replaced" in text
    docs = trim_manifests(report)
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        # A copied aggregate-to-* or bootstrapping label would feed the new role back into admin.
        assert set(doc["metadata"]["labels"]) <= {"rbacmap.io/generated", "team"}
    names = {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in docs}
    assert ("ClusterRole", "", "admin") not in names and ("ClusterRole", "", "team-reader") in names
    # "Apply": the original cluster, objects replaced by the YAML, deleted bindings gone.
    deleted = {(b.key.kind, b.key.namespace, b.key.name) for b, _ in deletions(report)}
    originals = [d for d in yaml.safe_load_all((FIXTURES / "cluster.yaml").read_text())
                 if (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) not in names | deleted]
    applied = tmp_path / "applied.yaml"
    applied.write_text(yaml.safe_dump_all(originals + list(yaml.safe_load_all(text))))
    result = import_files(protected_store, [str(applied)], "applied")
    assert result.errors == []
    authorizer = Authorizer(load_policy(protected_store, result.snapshot.id))
    groups = user_groups(protected_store, "p")
    for record in usage_records(protected_store, "p"):
        user = UserInfo.authenticated(record.username, groups.get(record.username, ()))
        assert authorizer.authorize(user, record.request).allowed == (record.decision != "deny"), record
    erin = UserInfo.authenticated("erin@example.com")
    assert not authorizer.authorize(erin, ResourceRequest("delete", "pods", "web", name="web-1")).allowed
    assert not authorizer.authorize(erin, ResourceRequest("list", "pods", "payments")).allowed


# --- the rebinding verifier, fed deliberately wrong proposals ------------------------------

OLD_RULES = (PolicyRule(("get", "list"), ("",), ("pods",)),)
NEW_ROLE = RoleKey("Role", "rbacmap-trimmed-r", "web")
OLD = Binding(BindingKey("RoleBinding", "team", "web"), RoleKey("ClusterRole", "r"), (USER_ERIN,))
GOOD = Binding(BindingKey("RoleBinding", "team-trimmed", "web"), RoleKey("Role", "rbacmap-trimmed-r"), (USER_ERIN,))
USED = [(USER_ERIN, ResourceRequest("list", "pods", "web"))]


def test_rebinding_verifier_accepts_an_honest_swap() -> None:
    verify_rebinding(GOOD, NEW_ROLE, [PolicyRule(("list",), ("",), ("pods",))], OLD, OLD_RULES, USED)


@pytest.mark.parametrize(("new", "new_role", "rules", "message"), [
    (Binding(BindingKey("ClusterRoleBinding", "team-trimmed"), RoleKey("ClusterRole", "rbacmap-trimmed-r"),
             (USER_ERIN,)), RoleKey("ClusterRole", "rbacmap-trimmed-r"), OLD_RULES, "namespace scope"),
    (Binding(BindingKey("RoleBinding", "team-trimmed", "payments"), RoleKey("Role", "rbacmap-trimmed-r"),
             (USER_ERIN,)), RoleKey("Role", "rbacmap-trimmed-r", "payments"), OLD_RULES, "namespace scope"),
    (Binding(GOOD.key, GOOD.role_ref, (USER_ERIN, Subject("Group", "devs"))), NEW_ROLE, OLD_RULES, "adds subject"),
    (GOOD, NEW_ROLE, (PolicyRule(("get", "list", "delete"), ("",), ("pods",)),), "wider"),
    (GOOD, NEW_ROLE, (PolicyRule(("list",), ("",), ("pods",)), PolicyRule(("get",), non_resource_urls=("/x",))),
     "nonResourceURLs"),
    (GOOD, NEW_ROLE, (PolicyRule(("get",), ("",), ("pods",)),), "loses an observed request"),
    (Binding(GOOD.key, RoleKey("Role", "other"), (USER_ERIN,)), NEW_ROLE, OLD_RULES, "not the new role"),
    (Binding(GOOD.key, GOOD.role_ref, (Subject("User", "frank"),)), NEW_ROLE, OLD_RULES, "adds subject"),
])
def test_rebinding_verifier_rejects_a_widened_or_lossy_swap(
    new: Binding, new_role: RoleKey, rules: tuple[PolicyRule, ...], message: str,
) -> None:
    with pytest.raises(TrimGuaranteeError, match=message):
        verify_rebinding(new, new_role, rules, OLD, OLD_RULES, USED)


def test_in_place_blockers_respect_autoupdate_false() -> None:
    labels = {"kubernetes.io/bootstrapping": "rbac-defaults"}
    reconciled = Role(RoleKey("ClusterRole", "view"), OLD_RULES, labels=labels)
    opted_out = Role(RoleKey("ClusterRole", "view"), OLD_RULES, labels=labels,
                     annotations={"rbac.authorization.kubernetes.io/autoupdate": "false"})
    assert len(in_place_blockers(reconciled)) == 1
    assert in_place_blockers(opted_out) == ()
    assert in_place_blockers(Role(RoleKey("ClusterRole", "team"), OLD_RULES)) == ()
