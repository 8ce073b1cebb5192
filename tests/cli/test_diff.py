"""`rbacmap diff` between two imports of fixtures/kube/objects.yaml, the second one edited."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from rbacmap.cli import cli
from rbacmap.diff import PathChange, diff_snapshots, solver_path_differ, two_latest
from rbacmap.importers.manifests import import_files
from rbacmap.store import Snapshot, Store

RBAC = "rbac.authorization.k8s.io"
OBJECTS = Path(__file__).resolve().parents[2] / "fixtures" / "kube" / "objects.yaml"


def _objects() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(OBJECTS.read_text()) if doc]


def _find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _drifted() -> list[dict[str, Any]]:
    """The fixture cluster after a week of changes."""
    objects = _objects()
    deployer = _find(objects, "Role", "deployer")
    deployer["rules"] = [deployer["rules"][1], deployer["rules"][0],  # reordered: no change
                         {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    _find(objects, "RoleBinding", "deployer")["subjects"].append(
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob@example.com"})
    objects.remove(_find(objects, "RoleBinding", "read-secrets"))
    _find(objects, "ServiceAccount", "deployer")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] = (
        "arn:aws:iam::111122223333:role/ci-admin")
    objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": "ci-admin"},
                    "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
                    "subjects": [{"kind": "ServiceAccount", "name": "deployer", "namespace": "ci"}]})
    return objects


def _import(store: Store, tmp_path: Path, objects: list[dict[str, Any]], name: str) -> Snapshot:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    result = import_files(store, [str(path)], "prod")
    assert result.errors == []
    snapshot: Snapshot = result.snapshot
    return snapshot


def _diff(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["diff", "--db", str(db), *args])


@pytest.fixture
def drifted_db(store: Store, tmp_path: Path) -> Path:
    _import(store, tmp_path, _objects(), "before")
    _import(store, tmp_path, _drifted(), "after")
    return Path(store.path)


def test_identical_snapshots_exit_0(store: Store, tmp_path: Path) -> None:
    _import(store, tmp_path, _objects(), "one")
    _import(store, tmp_path, _objects(), "two")

    answer = _diff(Path(store.path), "--no-paths")

    assert answer.exit_code == 0, answer.output
    assert answer.stdout.splitlines()[-1] == "identical"


def test_drift_is_listed_with_rules_subjects_and_service_accounts(drifted_db: Path) -> None:
    answer = _diff(drifted_db, "--no-paths")

    assert answer.exit_code == 1, answer.output
    lines = answer.stdout.splitlines()
    assert lines[0].startswith("snapshot 1 (prod, ") and " -> snapshot 2 (prod, " in lines[0]
    body = "\n".join(lines[1:])
    assert """roles:
  ~ changed Role payments/deployer
      + {apiGroups="" resources=secrets verbs=get}
bindings:
  + added ClusterRoleBinding ci-admin
      role: - -> ClusterRole cluster-admin
      + ServiceAccount ci/deployer
  ~ changed RoleBinding payments/deployer
      + User bob@example.com
  - removed RoleBinding payments/read-secrets
      role: ClusterRole secret-reader -> -
      - Group payments-oncall
service accounts:
  ~ changed ServiceAccount ci/deployer
      annotation eks.amazonaws.com/role-arn: arn:aws:iam::111122223333:role/ci-deployer -> \
arn:aws:iam::111122223333:role/ci-admin""" in body
    assert lines[-1] == "changed: 1 role(s), 3 binding(s), 1 service account(s)"


def test_the_same_rbac_written_differently_is_identical(store: Store) -> None:
    # Label and selector key order, the order of a rule's verbs/groups/resources/names and of the
    # selectors, a Role's labels, resourceVersions and a defaulted ServiceAccount namespace written
    # out change nothing the API server authorizes.
    noise = OBJECTS.parents[1] / "diff"
    for name in ("noise-before.yaml", "noise-after.yaml"):
        assert import_files(store, [str(noise / name)], "prod").errors == []

    answer = _diff(Path(store.path), "--no-paths")

    assert answer.exit_code == 0, answer.output
    assert answer.stdout.splitlines()[-1] == "identical"


def test_aggregation_labels_and_service_account_subjects_still_differ(store: Store, tmp_path: Path) -> None:
    noise = OBJECTS.parents[1] / "diff"
    objects = [doc for doc in yaml.safe_load_all((noise / "noise-before.yaml").read_text()) if doc]
    import_files(store, [str(noise / "noise-before.yaml")], "prod")
    _find(objects, "ClusterRole", "app-reader")["metadata"]["labels"]["rbac.example.com/aggregate-to-readers"] = "no"
    _find(objects, "RoleBinding", "deployer")["subjects"][0]["namespace"] = "other"
    _import(store, tmp_path, objects, "after")

    answer = _diff(Path(store.path), "--no-paths")

    assert answer.exit_code == 1
    assert """  ~ changed ClusterRole app-reader
      labels: {"app.kubernetes.io/name":"app","rbac.example.com/aggregate-to-readers":"true"} -> \
{"app.kubernetes.io/name":"app","rbac.example.com/aggregate-to-readers":"no"}""" in answer.stdout
    assert "      + ServiceAccount other/builder\n      - ServiceAccount ci/builder" in answer.stdout
    # readers lost the rules it aggregated from app-reader.
    assert '  ~ changed ClusterRole readers\n      - {apiGroups="" resources=configmaps' in answer.stdout


def test_json_output_and_explicit_snapshot_ids(drifted_db: Path) -> None:
    answer = _diff(drifted_db, "2", "1", "-o", "json", "--no-paths")  # reversed: the drift undone

    assert answer.exit_code == 1
    data = json.loads(answer.stdout)
    assert (data["old"]["id"], data["new"]["id"], data["identical"]) == (2, 1, False)
    role = data["roles"][0]
    assert (role["kind"], role["name"], role["change"]) == ("Role", "deployer", "changed")
    assert role["members_removed"] == ['{apiGroups="" resources=secrets verbs=get}']
    assert [(b["name"], b["change"]) for b in data["bindings"]] == [
        ("ci-admin", "removed"), ("deployer", "changed"), ("read-secrets", "added")]
    assert data["escalation_paths_note"] == "escalation paths not compared (skipped)"


def test_usage_errors(drifted_db: Path, store: Store) -> None:
    assert _diff(drifted_db, "1").exit_code == 2  # OLD without NEW
    assert "no snapshot with id 9" in _diff(drifted_db, "1", "9").output


def test_snapshots_of_another_cluster_or_a_failed_import_are_refused(drifted_db: Path, store: Store,
                                                                      tmp_path: Path) -> None:
    # Snapshot ids are numbered across clusters: 3 is staging's, a typo away from prod's 2.
    assert import_files(store, [str(OBJECTS)], "staging").errors == []
    with pytest.raises(RuntimeError), store.write_snapshot("prod", "test"):
        raise RuntimeError("interrupted")  # recorded as snapshot 4, failed, holding nothing

    across = _diff(drifted_db, "1", "3", "--no-paths")
    assert across.exit_code == 2
    assert ("snapshot 1 is of cluster 'prod' and snapshot 3 of 'staging': their differences are not drift "
            "(pass --across-clusters to compare two clusters)") in across.output
    wrong_cluster = _diff(drifted_db, "--cluster", "staging", "1", "2", "--no-paths")
    assert wrong_cluster.exit_code == 2 and "snapshot 1 is of cluster 'prod', not 'staging'" in wrong_cluster.output
    failed = _diff(drifted_db, "1", "4", "--no-paths")
    assert failed.exit_code == 2
    assert "snapshot 4 of prod is failed, not complete: it holds no objects to compare" in failed.output
    # Asked for, two clusters are compared: the same objects in both.
    assert _diff(drifted_db, "1", "3", "--no-paths", "--across-clusters").exit_code == 0
    assert _diff(drifted_db, "--cluster", "prod", "1", "2", "--no-paths").exit_code == 1


def test_needs_two_complete_snapshots(store: Store, tmp_path: Path) -> None:
    _import(store, tmp_path, _objects(), "only")

    answer = _diff(Path(store.path))

    assert answer.exit_code == 2 and "has 1 complete snapshot(s); a diff needs two" in answer.output


def test_incomplete_snapshot_warns(drifted_db: Path, store: Store) -> None:
    store.conn.execute("UPDATE snapshots SET incomplete_kinds = '[\"RoleBinding\"]' WHERE id = 2")

    answer = _diff(drifted_db, "--no-paths")

    assert "snapshot 2 of prod is incomplete: the importer could not read RoleBinding" in answer.stderr


def test_path_differ_extension_point(drifted_db: Path, store: Store) -> None:
    def differ(store: Store, old: Snapshot, new: Snapshot) -> list[PathChange]:
        return [PathChange("sa:ci/deployer", "cluster-admin", "gained", f"bound in {new.id}, not in {old.id}")]

    result = diff_snapshots(store, *two_latest(store, "prod"), path_differ=differ)

    assert result.paths == (PathChange("sa:ci/deployer", "cluster-admin", "gained", "bound in 2, not in 1"),)
    assert result.paths_note is None


def test_solver_paths_gained(drifted_db: Path, store: Store) -> None:
    if solver_path_differ() is None:
        pytest.skip("rbacmap.solver does not export solve() yet")

    result = diff_snapshots(store, *two_latest(store, "prod"))

    gained = {(p.subject, p.target) for p in result.paths if p.change == "gained"}
    assert ("sa:ci/deployer", "cluster-admin") in gained


def _loosened(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fixture cluster after its admission control was loosened (RBAC untouched)."""
    objects = [o for o in objects if o["kind"] != "ValidatingAdmissionPolicyBinding"]
    _find(objects, "Namespace", "payments")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "privileged"
    _find(objects, "ValidatingWebhookConfiguration", "policy-guard")["webhooks"][0]["failurePolicy"] = "Fail"
    objects += [
        {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
         "defaults": {"enforce": "baseline"}, "exemptions": {"usernames": ["ci-bot"], "runtimeClasses": ["nvidia"]}},
        {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"},
    ]
    return objects


def test_admission_control_changes_are_listed_without_any_rbac_change(store: Store, tmp_path: Path) -> None:
    _import(store, tmp_path, _objects(), "before")
    _import(store, tmp_path, _loosened(_objects()), "after")

    answer = _diff(Path(store.path), "--no-paths")

    assert answer.exit_code == 1, answer.output
    body = answer.stdout
    assert "roles:" not in body and "bindings:" not in body
    assert """admission control:
  + added PodSecurityConfiguration PodSecurity
      defaults.enforce: - -> baseline
      defaults.enforce-version: - -> latest
      + exempt RuntimeClass nvidia
      + exempt username ci-bot
  ~ changed Namespace payments
      label pod-security.kubernetes.io/enforce: restricted -> privileged
  - removed ValidatingAdmissionPolicyBinding no-privileged-pods-everywhere
      spec.policyName: no-privileged-pods -> -
      spec.validationActions: ["Deny"] -> -
  ~ changed ValidatingWebhookConfiguration policy-guard
      webhook pods.policy-guard.example.com failurePolicy: Ignore -> Fail
  + added RuntimeClass nvidia""" in body
    assert "  + added RuntimeClass nvidia\n      handler: - -> nvidia" in body
    assert body.splitlines()[-1] == "changed: 5 admission object(s)"
    data = json.loads(_diff(Path(store.path), "--no-paths", "-o", "json").stdout)
    assert [(c["kind"], c["name"], c["change"]) for c in data["admission"]] == [
        ("PodSecurityConfiguration", "PodSecurity", "added"), ("Namespace", "payments", "changed"),
        ("ValidatingAdmissionPolicyBinding", "no-privileged-pods-everywhere", "removed"),
        ("ValidatingWebhookConfiguration", "policy-guard", "changed"), ("RuntimeClass", "nvidia", "added")]


def test_admission_changes_that_mean_nothing_and_snapshots_older_than_their_recording(
    store: Store, tmp_path: Path
) -> None:
    config = {"apiVersion": "pod-security.admission.config.k8s.io/v1", "kind": "PodSecurityConfiguration",
              "defaults": {"enforce": "baseline"}, "exemptions": {"usernames": ["a", "b"]}}
    wrapped = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AdmissionConfiguration", "plugins": [
        {"name": "PodSecurity", "configuration": {**config, "exemptions": {"usernames": ["b", "a"]}}}]}
    _import(store, tmp_path, [*_objects(), config], "before")
    _import(store, tmp_path, [*_objects(), wrapped], "after")  # same meaning: other document, other order
    assert _diff(Path(store.path), "--no-paths").exit_code == 0
    # A RuntimeClass's nodeSelector is compared.
    runtime_class = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
                     "handler": "nvidia"}
    _import(store, tmp_path, [*_objects(), runtime_class], "rc")
    _import(store, tmp_path, [*_objects(), {**runtime_class, "scheduling": {"nodeSelector": {"gpu": "true"}}}], "sel")
    answer = _diff(Path(store.path), "--no-paths")
    assert "      scheduling.nodeSelector: - -> {\"gpu\":\"true\"}" in answer.stdout
    # A snapshot taken before the DB recorded admission policies holds none: not "added", not compared.
    old, new = two_latest(store, "prod")
    store.conn.execute("DELETE FROM admission_policies WHERE snapshot_id = ?", [old.id])
    assert [c.change for c in diff_snapshots(store, old, new, compare_paths=False).admission
            if c.kind.startswith("ValidatingAdmissionPolicy")] == ["added", "added"]
    store.conn.execute("UPDATE schema_version SET applied_at = '2999-01-01T00:00:00+00:00' WHERE version = 14")
    result = diff_snapshots(store, old, new, compare_paths=False)
    assert not [c for c in result.admission if c.kind.startswith("ValidatingAdmissionPolicy")]
    assert result.admission_notes[0].startswith("admission policies not compared: snapshot")
    # Across migration 16, RuntimeClass handlers are compared but their nodeSelectors are not, and a note says so.
    store.conn.execute("UPDATE schema_version SET applied_at = '2999-01-01T00:00:00+00:00' WHERE version = 16")
    notes = diff_snapshots(store, old, new, compare_paths=False).admission_notes
    assert any(note.startswith("RuntimeClass nodeSelectors not compared") for note in notes)
