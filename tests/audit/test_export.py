"""Exported YAML: valid against the Kubernetes schemas, round-trips through `import files`."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import yaml

from rbacmap.importers.manifests import import_files
from rbacmap.model import RoleKey
from rbacmap.policy import load_policy
from rbacmap.rbac_export import (
    RBAC_MANAGER_VERSION,
    WINDOW_ANNOTATION,
    rbac_manager_definitions,
    to_yaml,
    trim_diff,
    trim_manifests,
)
from rbacmap.store import Store
from rbacmap.trim import TrimReport, select_roles, trim
from rbacmap.usage import usage_records, usage_window, user_groups

K8S_VERSION = "1.30.0"


def _report(store: Store, split: bool = False) -> TrimReport:
    policy = load_policy(store, store.latest_snapshot("prod").id)
    window = usage_window(store, "prod")
    return trim(policy, usage_records(store, "prod", window), user_groups(store, "prod"), window,
                select_roles(policy), split=split)


def test_yaml_validates_and_round_trips(prod_store: Store, tmp_path: Path) -> None:
    report = _report(prod_store)
    text = to_yaml(trim_manifests(report))
    docs = list(yaml.safe_load_all(text))
    assert {d["kind"] for d in docs} == {"Role", "ClusterRole"}
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        assert doc["metadata"]["annotations"][WINDOW_ANNOTATION].startswith("2024-05-01T10:00:00")
    out = tmp_path / "trimmed.yaml"
    out.write_text(text)
    result = import_files(prod_store, [str(out)], "roundtrip")
    assert result.errors == []
    policy = load_policy(prod_store, result.snapshot.id)
    for proposal in report.proposals:
        if proposal.unused:
            assert policy.role(proposal.role.key) is None  # unused roles are not re-emitted
            continue
        role = policy.role(proposal.role.key)
        assert role is not None and role.rules == proposal.trimmed_rules


def test_split_yaml_has_new_roles_and_bindings(prod_store: Store) -> None:
    docs = trim_manifests(_report(prod_store, split=True))
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Role", "deployer-alice-example.com") in names
    assert ("RoleBinding", "deployer-alice-example.com") in names
    assert ("Role", "deployer") not in names


def test_rbac_manager_definition(prod_store: Store) -> None:
    docs = rbac_manager_definitions(_report(prod_store))
    definition = docs[-1]
    assert definition["apiVersion"] == RBAC_MANAGER_VERSION and definition["kind"] == "RBACDefinition"
    by_name = {b["name"]: b for b in definition["rbacBindings"]}
    assert by_name["user-bob"]["roleBindings"] == [{"clusterRole": "config-editor", "namespace": "web"}]
    assert by_name["serviceaccount-web-deployer"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "deployer", "namespace": "web"}]
    assert "user-carol" not in by_name  # her only binding had no use: rbac-manager drops it


def test_diff_shows_removed_grants(prod_store: Store) -> None:
    diff = trim_diff(_report(prod_store))
    assert "--- a/Role/web/deployer" in diff
    assert "-  - services\n" in diff
    assert RoleKey("Role", "deployer", "web")
