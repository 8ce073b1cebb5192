"""`import kube` when things go wrong: malformed answers, awkward context names, an unreadable aws-auth
off EKS, one context failing among several, and servers or credential plugins that never finish.

Driven through the real kubernetes client against the loopback API server."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.importers.dump_info import INFO_FILE
from rbacmap.importers.kube import KubeImportFailed, KubeNothingReadable, import_kube
from rbacmap.importers.kube_auth import resolve_targets
from rbacmap.importers.kube_dump import context_folders
from rbacmap.importers.kube_fetch import RetryPolicy
from rbacmap.importers.manifests import import_files
from rbacmap.store import Store
from tests.importers import fake_apiserver as fake

EKS_ARN = "arn:aws:eks:eu-west-1:111122223333:cluster/prod"


@pytest.fixture
def kubeconfig(server: Any, tmp_path: Path) -> Path:
    path: Path = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "kubeconfig", prod=server.url)
    return path


def _kubeconfig(path: Path, contexts: dict[str, str], user: dict[str, Any] | None = None) -> Path:
    """A kubeconfig with one context per name, each to its own cluster entry at the given URL."""
    config = {"apiVersion": "v1", "kind": "Config", "current-context": next(iter(contexts)),
              "clusters": [{"name": f"cluster-{n}", "cluster": {"server": url}}
                           for n, url in enumerate(contexts.values())],
              "contexts": [{"name": name, "context": {"cluster": f"cluster-{n}", "user": "importer"}}
                           for n, name in enumerate(contexts)],
              "users": [{"name": "importer", "user": user or {"token": fake.TOKEN}}]}
    path.write_text(yaml.safe_dump(config))
    return path


# --- 1. malformed answers ----------------------------------------------------------------------

RBAC_LIST = "GET /apis/rbac.authorization.k8s.io/v1/clusterroles"


def _first_row(mangle: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    return lambda page: page | {"rows": [mangle(page["rows"][0]), *page["rows"][1:]]}


@pytest.mark.parametrize(("plural", "mangle", "expected"), [
    ("clusterroles", lambda page: [page], f"ClusterRole: {RBAC_LIST}: the answer is a JSON array, not an object"),
    ("clusterroles", lambda page: "ok", f"ClusterRole: {RBAC_LIST}: the answer is a JSON string, not an object"),
    ("clusterroles", lambda page: page | {"items": [page["items"][0], 42]},
     f"ClusterRole: {RBAC_LIST}: items\\[1\\] is a JSON number, not an object"),
    ("clusterroles", lambda page: page | {"items": {"a": 1}}, f"ClusterRole: {RBAC_LIST}: items is a JSON object, not"),
    ("clusterroles", lambda page: page | {"metadata": ["continue"]},
     f"ClusterRole: {RBAC_LIST}: metadata is a JSON array, not an object"),
    ("secrets", lambda page: page | {"rows": ["db-password"]}, "Secret: GET /api/v1/secrets: rows\\[0\\] is a JSON"),
    ("secrets", _first_row(lambda row: row | {"object": [1]}), "Secret: .*: rows\\[0\\].object is a JSON array"),
    ("secrets", _first_row(lambda row: row | {"cells": "x"}), "Secret: .*: rows\\[0\\].cells is a JSON string"),
    ("secrets", lambda page: page | {"columnDefinitions": [None]}, "Secret: .*: columnDefinitions\\[0\\] is null"),
    ("configmaps", lambda obj: [obj],
     "ConfigMap: GET /api/v1/namespaces/kube-system/configmaps/aws-auth: the answer is a JSON array"),
])
def test_a_malformed_answer_fails_the_import_naming_the_kind_and_keeps_the_latest(
    store: Store, server: Any, kubeconfig: Path, plural: str, mangle: Callable[[Any], Any], expected: str
) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    server.behaviour.mangle[plural] = mangle

    with pytest.raises(KubeImportFailed, match=expected):
        fake.import_from(store, kubeconfig)

    assert store.latest_snapshot("prod-eks").id == first.id
    assert [s.status for s in store.snapshots("prod-eks")] == ["complete", "failed"]


def test_a_malformed_secret_annotation_map_fails_secrets_instead_of_a_traceback(
    store: Store, server: Any, kubeconfig: Path
) -> None:
    server.behaviour.refuse_table = True  # partial metadata lists: the annotations are read to drop secret-bearing ones
    server.behaviour.mangle["secrets"] = lambda page: page | {
        "items": [{"metadata": {"name": "x", "annotations": ["a"]}}]}

    with pytest.raises(KubeImportFailed, match=r"Secret: .*items\[0\].metadata.annotations is a JSON array"):
        fake.import_from(store, kubeconfig)


def test_malformed_version_or_discovery_is_unknown_not_a_crash(store: Store, server: Any, kubeconfig: Path) -> None:
    server.behaviour.mangle["/version"] = lambda body: ["v1.29.3-eks-ae9a62a"]
    server.behaviour.mangle["/apis"] = lambda body: body | {"groups": ["rbac.authorization.k8s.io"]}

    result = fake.import_from(store, kubeconfig)

    # Version unknown; discovery unreadable, so every kind is listed, as when /apis is forbidden.
    assert (result.snapshot.server_version, result.snapshot.platform) == (None, None)
    assert result.snapshot.incomplete_kinds == [] and result.snapshot.object_counts["ClusterRole"] == 4


def test_410_during_the_final_full_list_fails_the_kind_cleanly(store: Store, server: Any, kubeconfig: Path) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    # A proxy that pages even a list asked for without a limit, and continue tokens that always expire.
    server.behaviour.page_without_limit = 2
    server.behaviour.expire_continue["pods"] = 99

    with pytest.raises(KubeImportFailed, match=r"Pod: GET /api/v1/pods: 410 .*even the full list without a limit"):
        fake.import_from(store, kubeconfig)

    assert store.latest_snapshot("prod-eks").id == first.id


def test_cli_a_malformed_answer_is_a_failed_cluster_not_a_traceback(
    server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    server.behaviour.mangle["rolebindings"] = lambda page: page | {"items": ["rb"]}

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", str(tmp_path / "rbacmap.db"),
                                      "--kubeconfig", str(kubeconfig)])

    assert answer.exit_code == 1 and isinstance(answer.exception, SystemExit), answer.output
    assert "prod-admin: import of cluster prod-eks FAILED" in answer.stderr
    assert "RoleBinding: GET /apis/rbac.authorization.k8s.io/v1/rolebindings: items[0] is a JSON string" in (
        answer.stderr)


# --- 2. dump folders of --all-contexts ---------------------------------------------------------

def test_context_folders_are_one_safe_unique_segment_each() -> None:
    names = [EKS_ARN, "arn:aws:eks:eu-west-1:111122223333:cluster:prod", "prod", "staging", "Staging", "..", "",
             "a/../..", "x" * 300]

    folders = context_folders(names)

    assert folders["prod"] == "prod"  # a safe name is kept as it is
    assert folders["staging"].startswith("staging-") and folders["Staging"].startswith("Staging-")
    assert folders[EKS_ARN].startswith("arn_aws_eks_eu-west-1_111122223333_cluster_prod-")
    assert len({f.casefold() for f in folders.values()}) == len(names)  # unique, even on a case-insensitive disk
    for folder in folders.values():
        assert folder not in ("", ".", "..") and "/" not in folder and "\\" not in folder and len(folder) <= 100
        assert all(c.isalnum() or c in "._-" for c in folder)
    assert context_folders(names) == folders  # the same folder on every run


def test_cli_all_contexts_dumps_each_context_into_one_safe_folder(
    server: Any, tmp_path: Path
) -> None:
    twin = "arn:aws:eks:eu-west-1:111122223333:cluster:prod"  # sanitises like EKS_ARN
    config = _kubeconfig(tmp_path / "kubeconfig", {EKS_ARN: server.url, twin: server.url})
    dump = tmp_path / "dump"

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", str(tmp_path / "rbacmap.db"), "--kubeconfig",
                                      str(config), "--all-contexts", "--save-dump", str(dump)])

    assert answer.exit_code == 0, answer.output
    folders = sorted(p for p in dump.iterdir())
    assert len(folders) == 2 and all((p / INFO_FILE).is_file() for p in folders)  # nothing nested, none shared
    for name, folder in context_folders([EKS_ARN, twin]).items():
        assert f"{name}: snapshot" in answer.stdout
        assert f"dump written to {dump / folder}" in answer.stdout


# --- 3. aws-auth off EKS -----------------------------------------------------------------------

def test_an_unreadable_aws_auth_off_eks_does_not_make_the_snapshot_incomplete(
    store: Store, tmp_path: Path
) -> None:
    with fake.FakeApiServer(git_version="v1.30.2-gke.1587003") as gke:
        gke.behaviour.forbidden.add("configmaps")
        config = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "kubeconfig", prod=gke.url)
        result = fake.import_from(store, config, dump_dir=tmp_path / "dump")

    assert result.snapshot.incomplete_kinds == []
    [report] = [k for k in result.kinds if k.kind == "ConfigMap"]
    assert report.status == "not needed" and "only EKS reads kube-system/aws-auth" in (report.message or "")
    # Read back, the dump is as complete as the live snapshot.
    assert import_files(store, [str(tmp_path / "dump")], "from-dump").snapshot.incomplete_kinds == []


def test_an_unreadable_aws_auth_stays_a_gap_on_eks_or_where_it_was_seen(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    server.behaviour.forbidden.add("configmaps")
    assert fake.import_from(store, kubeconfig).snapshot.incomplete_kinds == ["ConfigMap"]  # EKS: strict

    # Not EKS by its version (AKS names none), but the previous snapshot of the cluster held aws-auth.
    with fake.FakeApiServer(git_version="v1.29.4") as aks:
        config = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "aks", prod=aks.url)
        assert fake.import_from(store, config, cluster="aks").snapshot.incomplete_kinds == []
        aks.behaviour.forbidden.add("configmaps")
        assert fake.import_from(store, config, cluster="aks").snapshot.incomplete_kinds == ["ConfigMap"]
        # Nor can the platform be told without a version.
        aks.behaviour.mangle["/version"] = lambda body: {}
        assert fake.import_from(store, config, cluster="other").snapshot.incomplete_kinds == ["ConfigMap"]


def test_a_missing_aws_auth_is_absent_not_incomplete(store: Store, tmp_path: Path) -> None:
    objects = [o for o in fake.load_fixture_objects() if o["kind"] != "ConfigMap"]
    with fake.FakeApiServer(objects) as eks:
        config = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "kubeconfig", prod=eks.url)
        result = fake.import_from(store, config)

    assert result.snapshot.incomplete_kinds == [] and "ConfigMap" not in result.snapshot.object_counts


# --- 4. one context failing among several ------------------------------------------------------

def test_cli_an_unexpected_error_in_one_context_spares_the_others(server: Any, tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", {"prod": server.url, "staging": server.url})
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "prod").write_text("a file where prod's dump folder would go\n")
    db = str(tmp_path / "rbacmap.db")

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(config), "--all-contexts",
                                      "--save-dump", str(dump)])

    assert answer.exit_code == 1 and isinstance(answer.exception, SystemExit), answer.output
    assert "prod: import of cluster cluster-0 FAILED: FileExistsError" in answer.stderr
    assert "staging: snapshot 1 of cluster cluster-1" in answer.stdout
    with Store(db) as store:
        assert [(c["name"], c["snapshots"]) for c in store.clusters()] == [("cluster-1", 1)]


# --- 5. servers and credential plugins that never finish ---------------------------------------

def test_a_server_dripping_its_answer_is_timed_out_as_a_whole(store: Store, server: Any, kubeconfig: Path) -> None:
    server.behaviour.drip["nodes"] = 0.01  # each byte well within the timeout, the answer far beyond it
    retry = RetryPolicy(attempts=2, backoff=0.01, timeout=0.5)

    started = time.monotonic()
    with pytest.raises(KubeImportFailed, match=r"Node: .*2 attempts: timed out, no complete answer within 0.5 s"):
        fake.import_from(store, kubeconfig, retry=retry)

    assert time.monotonic() - started < 5.0


def test_a_hanging_exec_plugin_is_stopped_after_its_timeout(store: Store, server: Any, tmp_path: Path) -> None:
    pid_file = tmp_path / "plugin.pid"
    plugin = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    config = _kubeconfig(tmp_path / "kubeconfig", {"prod": server.url}, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable, "args": ["-c", plugin],
        "interactiveMode": "Never"}})
    server.behaviour.anonymous = True  # no credentials: the requests go as system:anonymous

    started = time.monotonic()
    [target] = resolve_targets(str(config), exec_timeout=1.0)
    try:
        with pytest.raises(KubeNothingReadable, match="system:anonymous: no credentials were sent"):
            import_kube(store, target.api_client, target.cluster)
    finally:
        target.api_client.close()

    assert time.monotonic() - started < 10.0
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # stopped, not left running
        os.kill(pid, 0)


def test_an_exec_plugin_within_its_timeout_gives_its_token(store: Store, server: Any, tmp_path: Path) -> None:
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": fake.TOKEN}}
    plugin = f"import sys; sys.stderr.write('note\\n'); print({json.dumps(credential)!r})"
    config = _kubeconfig(tmp_path / "kubeconfig", {"prod": server.url}, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable, "args": ["-c", plugin],
        "interactiveMode": "Never"}})

    result = fake.import_from(store, config)

    assert result.snapshot.incomplete_kinds == [] and result.snapshot.object_counts["ClusterRole"] == 4


def test_cli_exec_timeout_stops_a_hanging_plugin_and_says_so(
    server: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _kubeconfig(tmp_path / "kubeconfig", {"prod": server.url}, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
        "args": ["-c", "import time; time.sleep(60)"], "interactiveMode": "Never"}})
    server.behaviour.anonymous = True

    started = time.monotonic()
    answer = CliRunner().invoke(cli, ["import", "kube", "--db", str(tmp_path / "rbacmap.db"), "--kubeconfig",
                                      str(config), "--exec-timeout", "0.5"])

    assert answer.exit_code == 1 and time.monotonic() - started < 10.0, answer.output
    # The client logs the failed plugin's stderr (on the terminal when nothing else handles logging).
    assert "exec: process returned 124. exec plugin" in caplog.text
    assert "gave no credentials within 0.5 s and was stopped" in caplog.text
    assert "prod: import of cluster cluster-0 FAILED: the API server took the requests as system:anonymous" in (
        answer.stderr)


def test_an_exec_plugin_runs_in_the_kubeconfig_folder_as_without_the_time_limit(
    store: Store, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client runs a plugin in the folder of the kubeconfig (relative paths in an entry are read from there,
    # as kubectl does): a plugin script named relative to it still runs when rbacmap runs from elsewhere.
    folder = tmp_path / "kube"
    folder.mkdir()
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": fake.TOKEN}}
    (folder / "token-plugin.py").write_text(f"print({json.dumps(credential)!r})\n")
    config = _kubeconfig(folder / "config", {"prod": server.url}, user={"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
        "args": ["token-plugin.py"], "interactiveMode": "Never"}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = fake.import_from(store, config)

    assert result.snapshot.incomplete_kinds == [] and result.snapshot.object_counts["ClusterRole"] == 4
