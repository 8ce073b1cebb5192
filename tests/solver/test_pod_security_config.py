"""The API server's PodSecurity configuration: the default level of unlabelled namespaces, and exemptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from rbacmap.importers.manifests import NothingReadError, import_files
from rbacmap.pod_security_config import (
    PodSecurityConfig,
    parse_admission_configuration,
    parse_pod_security_configuration,
)
from rbacmap.solver import CLUSTER_ADMIN, EXEC, find_risks, solve
from rbacmap.store import Store
from tests.solver.helpers import FIXTURES, actions, beyond_mounted_secrets, path_of, solve_fixture

CONFIG = "review/pod-security-config.yaml"


def test_the_configured_default_blocks_unlabelled_namespaces(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, CONFIG)
    [row] = store.query("SELECT * FROM pod_security_config")
    assert PodSecurityConfig.from_row(row) == PodSecurityConfig(
        "AdmissionConfiguration", "baseline", "latest",
        ("ci-bot", "system:serviceaccount:kube-system:job-controller",
         "system:serviceaccount:kube-system:statefulset-controller"),
        ("tools",), ("gvisor",))
    # apps has no label: the default baseline rejects ann's privileged pod, and dee's Deployment's pods
    # (created by the ReplicaSet controller, which is not exempt).
    assert beyond_mounted_secrets(result, "user:ann") == []
    assert beyond_mounted_secrets(result, "user:dee") == []
    # A privileged debug container in apps is rejected too: exec there only.
    assert [(p.target.kind, p.target.namespace) for p in beyond_mounted_secrets(result, "user:eve")] == [(EXEC, "apps")]


def test_an_exempt_namespace_admits_privileged_pods_whatever_its_label(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, CONFIG)
    ben = path_of(result, "user:ben", CLUSTER_ADMIN)
    assert actions(ben) == ["escape to the node", "holds cluster-admin"]
    assert ben is not None
    enabler = ben.steps[0].objects[0]
    assert (enabler.kind, enabler.name) == ("AdmissionConfiguration", "PodSecurity")
    assert enabler.note.startswith("exemptions.namespaces lists tools")
    assert ben.steps[0].grants[0].binding.key.name == "tool-pods"


def test_exempt_usernames_admit_their_own_pods_and_a_controller_s(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, CONFIG)
    bot = path_of(result, "user:ci-bot", CLUSTER_ADMIN)
    assert actions(bot) == ["escape to the node", "holds cluster-admin"]
    assert bot is not None
    assert bot.steps[0].objects[0].note.startswith("exemptions.usernames lists ci-bot")
    # cal creates Jobs; the Job controller, whose username is exempt, creates their pods.
    cal = path_of(result, "user:cal", CLUSTER_ADMIN)
    assert cal is not None
    assert "create jobs in apps" in cal.steps[0].detail
    assert cal.steps[0].objects[0].note.startswith(
        "exemptions.usernames lists system:serviceaccount:kube-system:job-controller, which creates the pods of a Job")


def test_updating_a_workload_whose_pods_an_exempt_controller_creates(tmp_path: Path) -> None:
    _, result = solve_fixture(tmp_path, CONFIG)
    # The StatefulSet controller creates db's pods; Pod Security judges them, and exempts it.
    sol = path_of(result, "user:sol", CLUSTER_ADMIN)
    assert sol is not None
    assert sol.steps[0].detail.startswith("patch statefulsets in apps: a privileged pod template")
    assert "statefulset-controller, which creates the pods of a StatefulSet" in sol.steps[0].objects[0].note
    # A CronJob's pods come from its Job, whose controller is exempt: cy (update cronjobs only) is shown that.
    cy = path_of(result, "user:cy", CLUSTER_ADMIN)
    assert cy is not None
    assert cy.steps[0].detail.startswith("update cronjobs in apps")
    assert "job-controller, which creates the pods of a CronJob" in cy.steps[0].objects[0].note


def test_without_the_configuration_the_upstream_default_privileged_is_assumed(tmp_path: Path) -> None:
    text = (FIXTURES / CONFIG).read_text()
    without = tmp_path / "no-config.yaml"
    without.write_text(text[text.index("---") + 4:])  # every document but the AdmissionConfiguration
    store = Store(tmp_path / "solver.db")
    imported = import_files(store, [str(FIXTURES / "cluster-admin.yaml"), str(without)], "test")
    result = solve(store, imported.snapshot)
    ann = path_of(result, "user:ann", CLUSTER_ADMIN)
    assert ann is not None
    assert "assumed privileged" in ann.steps[0].objects[0].note
    assert path_of(result, "user:dee", CLUSTER_ADMIN) is not None


def test_parsing_defaults_and_refusals() -> None:
    assert parse_pod_security_configuration({}) == PodSecurityConfig()  # upstream defaults: privileged, latest
    assert parse_admission_configuration({"plugins": [{"name": "EventRateLimit", "path": "x.yaml"}]}) is None
    with pytest.raises(ValueError, match="configuration file /etc/k8s/psa.yaml cannot be read: import that file"):
        parse_admission_configuration({"plugins": [{"name": "PodSecurity", "path": "/etc/k8s/psa.yaml"}]})
    with pytest.raises(ValueError, match="defaults.enforce 'strict' is not a Pod Security level"):
        parse_pod_security_configuration({"defaults": {"enforce": "strict"}})
    with pytest.raises(ValueError, match="exemptions.usernames must be a list of strings"):
        parse_pod_security_configuration({"exemptions": {"usernames": "ci-bot"}})


def test_a_bad_configuration_is_an_import_error_naming_its_document(tmp_path: Path) -> None:
    bad = tmp_path / "admission.yaml"
    bad.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n"
                   "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
                   "defaults: {enforce: Baseline}\n")
    store = Store(tmp_path / "solver.db")
    imported = import_files(store, [str(bad)], "test")
    [error] = imported.errors
    assert error.document == 2 and error.line == 5
    assert "defaults.enforce 'Baseline' is not a Pod Security level" in error.describe()
    assert store.query("SELECT name FROM namespaces") == [{"name": "ok"}]
    assert store.query("SELECT * FROM pod_security_config") == []


ADMISSION_WITH_PATH = """apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  path: psa/podsecurity.yaml
"""
POD_SECURITY = """apiVersion: pod-security.admission.config.k8s.io/v1
kind: PodSecurityConfiguration
defaults: {enforce: restricted}
exemptions: {namespaces: [kube-system]}
"""


def test_a_plugin_configuration_in_its_own_file_is_read_relative_to_the_admission_configuration(
    tmp_path: Path,
) -> None:
    (tmp_path / "psa").mkdir()
    (tmp_path / "psa" / "podsecurity.yaml").write_text(POD_SECURITY)
    (tmp_path / "admission.yaml").write_text(ADMISSION_WITH_PATH)
    store = Store(tmp_path / "solver.db")
    # The AdmissionConfiguration alone, then with the file it names (the same configuration twice: fine).
    for files in (["admission.yaml"], ["admission.yaml", "psa/podsecurity.yaml"]):
        imported = import_files(store, [str(tmp_path / name) for name in files], "test")
        assert imported.errors == []
        [row] = store.query("SELECT * FROM pod_security_config WHERE snapshot_id = ?", [imported.snapshot.id])
        assert (row["default_enforce"], row["exempt_namespaces"]) == ("restricted", '["kube-system"]')
    # The file it names is missing: an error naming the path, and no configuration (nor, as nothing
    # else was read, a snapshot).
    (tmp_path / "psa" / "podsecurity.yaml").unlink()
    with pytest.raises(NothingReadError) as raised:
        import_files(store, [str(tmp_path / "admission.yaml")], "test")
    [error] = raised.value.errors
    assert "configuration file psa/podsecurity.yaml cannot be read" in error.describe()


def test_a_second_different_configuration_is_an_error_and_the_first_is_kept(tmp_path: Path) -> None:
    two = tmp_path / "two.yaml"
    two.write_text(POD_SECURITY + "---\n" + POD_SECURITY.replace("restricted", "baseline"))
    store = Store(tmp_path / "solver.db")
    imported = import_files(store, [str(two)], "test")
    [error] = imported.errors
    assert error.document == 2
    assert f"the one from {two} document 1 is kept" in error.describe()
    assert [r["default_enforce"] for r in store.query("SELECT * FROM pod_security_config")] == ["restricted"]


def test_risks_list_the_exemptions(tmp_path: Path) -> None:
    store, result = solve_fixture(tmp_path, CONFIG)
    found = {(r.risk, r.subject.name if r.subject else None, r.namespace): r
             for r in find_risks(store, result.snapshot) if r.risk.startswith("pod-security-exempt")}
    assert set(found) == {("pod-security-exempt-user", "ci-bot", None),
                          ("pod-security-exempt-user", None, None),  # the two controllers: not in the snapshot
                          ("pod-security-exempt-namespace", None, "tools"),
                          ("pod-security-exempt-runtime-class", None, None)}  # gvisor: no such RuntimeClass
    controllers = [r.detail for r in find_risks(store, result.snapshot) if r.risk == "pod-security-exempt-user"
                   and "job-controller" in r.detail]
    assert controllers == ["exemptions.usernames lists system:serviceaccount:kube-system:job-controller: the pods "
                           "it creates skip Pod Security in every namespace; it creates the pods of every Job, "
                           "CronJob, so their writers' pods skip it too"]
    assert found[("pod-security-exempt-user", "ci-bot", None)].objects[0].kind == "AdmissionConfiguration"
