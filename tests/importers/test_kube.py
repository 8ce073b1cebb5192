"""`import kube` against a loopback API server, with the real kubernetes client and kubeconfig loader."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.commands.import_kube import ProgressPrinter
from rbacmap.importers.kube import AdmissionConfigError, KubeImportFailed, KubeNothingReadable
from rbacmap.importers.kube_auth import KubeconfigError, resolve_targets
from rbacmap.importers.kube_fetch import KubeFetcher, ProgressEvent, RetryPolicy, TableRefused, secret_table_rows
from rbacmap.importers.kube_kinds import KINDS, PARTIAL_METADATA_LIST, TABLE
from rbacmap.importers.manifests import import_files
from rbacmap.schema import SNAPSHOT_TABLES
from rbacmap.store import Store
from tests.importers import fake_apiserver as fake


@pytest.fixture
def kubeconfig(server: Any, tmp_path: Path) -> Path:
    path: Path = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "kubeconfig", prod=server.url)
    return path


def _fixture_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for obj in fake.load_fixture_objects():
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] != "aws-auth":
            continue  # only kube-system/aws-auth is fetched
        counts[obj["kind"]] = counts.get(obj["kind"], 0) + 1
    return counts


def _table_rows(store: Store, snapshot_id: int) -> dict[str, list[tuple[Any, ...]]]:
    content = {}
    for table in SNAPSHOT_TABLES:
        if table == "import_errors" or table not in store.db.table_names():
            continue
        rows = store.query(f"SELECT * FROM {table} WHERE snapshot_id = ?", [snapshot_id])
        content[table] = sorted(tuple((k, v) for k, v in row.items() if k != "snapshot_id") for row in rows)
    return content


def test_every_kind_lands_in_the_snapshot_with_pagination(store: Store, server: Any, kubeconfig: Path) -> None:
    result = fake.import_from(store, kubeconfig, page_size=2)

    snapshot = result.snapshot
    assert snapshot.cluster == "prod-eks"  # the context's cluster name
    assert snapshot.object_counts == _fixture_counts()
    assert snapshot.incomplete_kinds == []
    assert (snapshot.server_version, snapshot.platform) == ("v1.29.3-eks-ae9a62a", "EKS")
    pod_pages = [r for r in server.requests if r.path == "/api/v1/pods"]
    assert len(pod_pages) == 2 and "continue" in pod_pages[1].query and pod_pages[0].query["limit"] == ["2"]
    assert all(r.headers["authorization"] == f"Bearer {fake.TOKEN}" for r in server.requests)
    # The aggregated ClusterRole got its rules from the labelled one, as with `import files`.
    rules = store.query("SELECT resources, aggregated_from FROM rules WHERE snapshot_id = ? AND role_name = ?",
                        [snapshot.id, "monitoring"])
    assert rules == [{"resources": '["pods","nodes"]', "aggregated_from": "monitoring-pods"}]
    [aws_auth] = store.query("SELECT namespace, name FROM config_maps WHERE snapshot_id = ?", [snapshot.id])
    assert aws_auth == {"namespace": "kube-system", "name": "aws-auth"}
    assert [r.path for r in server.requests if "configmaps" in r.path] == [
        "/api/v1/namespaces/kube-system/configmaps/aws-auth"
    ]


def test_expired_continue_token_restarts_the_list(store: Store, server: Any, kubeconfig: Path) -> None:
    server.behaviour.expire_continue["pods"] = 1

    result = fake.import_from(store, kubeconfig, page_size=2)

    pods = store.query("SELECT namespace, name FROM workloads WHERE kind = 'Pod' AND snapshot_id = ?",
                       [result.snapshot.id])
    assert len(pods) == 3  # no page lost, none doubled
    [pod_report] = [k for k in result.kinds if k.kind == "Pod"]
    assert pod_report.restarts == 1
    queries = [r.query for r in server.requests if r.path == "/api/v1/pods"]
    # first page, 410 on its continue, then the list again from the start and to its end
    assert ["continue" in q for q in queries] == [False, True, False, True]


def test_continue_always_expiring_falls_back_to_one_full_list(store: Store, server: Any, kubeconfig: Path) -> None:
    server.behaviour.expire_continue["pods"] = 99

    result = fake.import_from(store, kubeconfig, page_size=2)

    assert result.snapshot.object_counts["Pod"] == 3
    last = [r.query for r in server.requests if r.path == "/api/v1/pods"][-1]
    assert "limit" not in last and "continue" not in last


def test_forbidden_kind_imports_the_rest_and_every_answer_warns(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    server.behaviour.forbidden.add("rolebindings")

    result = fake.import_from(store, kubeconfig)

    assert result.snapshot.incomplete_kinds == ["RoleBinding"]
    assert "RoleBinding" not in result.snapshot.object_counts
    assert result.snapshot.object_counts["ClusterRoleBinding"] == 2
    [report] = [k for k in result.kinds if k.kind == "RoleBinding"]
    assert report.status == "forbidden" and "cannot list resource" in (report.message or "")
    store.close()
    answer = CliRunner().invoke(cli, ["can", "--db", str(tmp_path / "rbacmap.db"), "alice@example.com", "create",
                                      "pods/exec", "-n", "payments"])
    assert answer.exit_code == 1  # denied: the binding that would allow it was not readable
    assert "is incomplete: the importer could not read RoleBinding" in answer.stderr


def test_5xx_is_retried_with_backoff(store: Store, server: Any, kubeconfig: Path) -> None:
    server.behaviour.unavailable["clusterroles"] = 2

    result = fake.import_from(store, kubeconfig)

    assert result.snapshot.object_counts["ClusterRole"] == 4
    assert len([r for r in server.requests if r.path.endswith("/clusterroles")]) == 3 + 1  # 2 x 503, 2 pages


@pytest.mark.parametrize(("status", "cap", "waits"), [(429, 30.0, [1.0, 1.0]), (503, 0.25, [0.25, 0.25])])
def test_retry_after_is_honoured_up_to_the_cap(
    server: Any, kubeconfig: Path, status: int, cap: float, waits: list[float]
) -> None:
    server.behaviour.retry_after = "1"
    getattr(server.behaviour, "throttled" if status == 429 else "unavailable")["clusterroles"] = 2
    slept: list[float] = []
    [target] = resolve_targets(str(kubeconfig))
    retry = RetryPolicy(attempts=3, backoff=0.01, max_retry_after=cap, timeout=5.0)
    fetcher = KubeFetcher(target.api_client, page_size=10, retry=retry, sleep=slept.append)

    [cluster_roles] = [k for k in KINDS if k.kind == "ClusterRole"]
    result = fetcher.fetch(cluster_roles)
    target.api_client.close()

    assert result.status == "ok" and len(result.items) == 4 and result.requests == 3
    assert slept == waits  # the server's Retry-After (capped), not the 0.01 s backoff


def test_throttling_without_retry_after_backs_off_exponentially(server: Any, kubeconfig: Path) -> None:
    server.behaviour.throttled["clusterroles"] = 2
    slept: list[float] = []
    [target] = resolve_targets(str(kubeconfig))
    fetcher = KubeFetcher(target.api_client, retry=RetryPolicy(attempts=3, backoff=0.5), sleep=slept.append)

    [cluster_roles] = [k for k in KINDS if k.kind == "ClusterRole"]
    result = fetcher.fetch(cluster_roles)
    target.api_client.close()

    assert result.status == "ok" and slept == [0.5, 1.0]


def test_lasting_failure_fails_the_import_and_keeps_the_previous_latest(
    store: Store, server: Any, kubeconfig: Path
) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    server.behaviour.unavailable["roles"] = 99

    with pytest.raises(KubeImportFailed, match="Role: GET /apis/rbac.authorization.k8s.io/v1/roles: gave up after 3"):
        fake.import_from(store, kubeconfig)

    assert store.latest_snapshot("prod-eks").id == first.id
    assert [s.status for s in store.snapshots("prod-eks")] == ["complete", "failed"]


def test_slow_endpoint_times_out_and_fails_clearly(store: Store, server: Any, kubeconfig: Path) -> None:
    server.behaviour.slow["nodes"] = 1.0
    retry = RetryPolicy(attempts=2, backoff=0.01, timeout=0.2)

    with pytest.raises(KubeImportFailed, match=r"Node: .*gave up after 2 attempts: .*[Tt]imed? ?out"):
        fake.import_from(store, kubeconfig, retry=retry)


def _assert_no_secret_value_stored(store: Store, tmp_path: Path) -> None:
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file() and p.name != "kubeconfig")
    for value in fake.SECRET_VALUES:
        assert value.encode() not in stored, value


def _secret_types(store: Store, snapshot_id: int) -> list[dict[str, Any]]:
    return store.query("SELECT name, type, service_account FROM secrets WHERE snapshot_id = ? ORDER BY name",
                       [snapshot_id])


def test_secret_values_are_never_requested_nor_stored(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    # The fixture Secrets hold data and a last-applied annotation embedding it (see the next test).

    result = fake.import_from(store, kubeconfig, dump_dir=tmp_path / "dump", page_size=2)

    secret_requests = [r for r in server.requests if "secrets" in r.path]
    assert len(secret_requests) == 2  # 3 Secrets, 2 a page: one paginated Table list, nothing else
    assert all(r.headers["accept"] == TABLE and r.query["includeObject"] == ["Metadata"] for r in secret_requests)
    assert "continue" in secret_requests[1].query
    # Every type comes from the Table's Type cell, not only the legacy SA tokens'.
    assert _secret_types(store, result.snapshot.id) == [
        {"name": "db-password", "type": "Opaque", "service_account": None},
        {"name": "deployer-token", "type": "kubernetes.io/service-account-token", "service_account": "deployer"},
        {"name": "registry", "type": "kubernetes.io/dockerconfigjson", "service_account": None},
    ]
    _assert_no_secret_value_stored(store, tmp_path)


def test_server_refusing_tables_gets_metadata_only_secret_lists(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    server.behaviour.refuse_table = True

    result = fake.import_from(store, kubeconfig, dump_dir=tmp_path / "dump")

    secret_requests = [r for r in server.requests if "secrets" in r.path]
    assert secret_requests[0].headers["accept"] == TABLE  # answered 406
    assert all(r.headers["accept"] == PARTIAL_METADATA_LIST for r in secret_requests[1:])
    assert any(r.query.get("fieldSelector") == ["type=kubernetes.io/service-account-token"] for r in secret_requests)
    assert _secret_types(store, result.snapshot.id) == [
        {"name": "db-password", "type": "unknown", "service_account": None},
        {"name": "deployer-token", "type": "kubernetes.io/service-account-token", "service_account": "deployer"},
        {"name": "registry", "type": "unknown", "service_account": None},
    ]
    _assert_no_secret_value_stored(store, tmp_path)


def test_a_table_row_holding_a_whole_object_is_refused_not_read() -> None:
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "db-password"}, "data": {"k": "dg=="}}
    page = {"kind": "Table", "columnDefinitions": [{"name": "Name"}, {"name": "Type"}],
            "rows": [{"cells": ["db-password", "Opaque"], "object": secret}]}

    with pytest.raises(TableRefused, match="holds 'Secret'"):
        secret_table_rows(page)
    with pytest.raises(TableRefused, match="'SecretList', not a Table"):
        secret_table_rows({"kind": "SecretList", "items": [secret]})


def test_the_fake_server_would_leak_data_to_a_careless_client(server: Any) -> None:
    # Guards the tests above: without a metadata-only header, or with a Table asking for whole
    # objects, the values do come back.
    auth = {"Authorization": f"Bearer {fake.TOKEN}"}
    for path, headers in [("/api/v1/secrets", auth),
                          ("/api/v1/secrets?includeObject=Object", auth | {"Accept": TABLE})]:
        request = urllib.request.Request(server.url + path, headers=headers)
        with urllib.request.urlopen(request) as response:  # noqa: S310 - loopback test server
            body = response.read().decode()
        assert "REItUEFTU1dPUkQtVkFMVUU=" in body and "LAST-APPLIED-PLAINTEXT-SECRET" in body, path


def test_saved_dump_reads_back_to_the_same_snapshot(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    live = fake.import_from(store, kubeconfig, dump_dir=tmp_path / "dump")
    offline = import_files(store, [str(tmp_path / "dump")], "from-dump")

    assert offline.errors == []
    assert offline.snapshot.object_counts == live.snapshot.object_counts
    assert _table_rows(store, offline.snapshot.id) == _table_rows(store, live.snapshot.id)
    assert sorted(p.name for p in (tmp_path / "dump").iterdir())[:3] == [
        "certificatesigningrequests.certificates.k8s.io.json", "clusterrolebindings.rbac.authorization.k8s.io.json",
        "clusterroles.rbac.authorization.k8s.io.json",
    ]


def test_group_version_not_served_is_skipped_not_incomplete(store: Store, tmp_path: Path) -> None:
    objects = [o for o in fake.load_fixture_objects() if o["apiVersion"] != "batch/v1"]
    with fake.FakeApiServer(objects) as old_server:
        config = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "kubeconfig", prod=old_server.url)
        result = fake.import_from(store, config)
        assert not [r for r in old_server.requests if "/apis/batch/" in r.path]
    assert result.snapshot.incomplete_kinds == []
    assert {k.kind: k.status for k in result.kinds}["CronJob"] == "not served"


def test_cli_imports_every_context_of_a_two_file_kubeconfig(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake.FakeApiServer(git_version="v1.30.2-gke.1587003") as staging:
        prod_file = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "prod.yaml", prod=server.url)
        staging_file = fake.render_kubeconfig("kubeconfig-staging.yaml", tmp_path / "staging.yaml",
                                              staging=staging.url)
        monkeypatch.setenv("KUBECONFIG", f"{prod_file}:{staging_file}")
        db = str(tmp_path / "rbacmap.db")
        answer = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--all-contexts", "--page-size", "3"])
        only_staging = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--context", "staging"])

    assert answer.exit_code == 0, answer.output
    assert "prod-admin: snapshot 1 of cluster prod-eks (v1.29.3-eks-ae9a62a, EKS)" in answer.stdout
    assert "staging: snapshot 2 of cluster staging-gke (v1.30.2-gke.1587003, GKE)" in answer.stdout
    assert "prod-admin: Role: 1 (ok)" in answer.stderr  # progress as log lines when not a terminal
    assert only_staging.exit_code == 0 and "snapshot 3 of cluster staging-gke" in only_staging.stdout
    with Store(db) as store:
        assert [(c["name"], c["snapshots"]) for c in store.clusters()] == [("prod-eks", 1), ("staging-gke", 2)]


def test_cli_reports_a_failed_cluster_and_exits_1(server: Any, kubeconfig: Path, tmp_path: Path) -> None:
    server.behaviour.unavailable["nodes"] = 99
    db = str(tmp_path / "rbacmap.db")

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(kubeconfig),
                                      "--retries", "1", "--cluster", "prod"])

    assert answer.exit_code == 1
    assert "prod-admin: import of cluster prod FAILED" in answer.stderr and "Node: GET /api/v1/nodes" in answer.stderr


def test_unknown_context_and_missing_kubeconfig_are_clear_errors(kubeconfig: Path, tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="no context 'nope' .*known: prod-admin"):
        resolve_targets(str(kubeconfig), context="nope")
    with pytest.raises(KubeconfigError, match="no kubeconfig found"):
        resolve_targets(None, environ={"KUBECONFIG": str(tmp_path / "absent")})
    # In a pod (service host set, no kubeconfig) the pod's service account is used.
    with pytest.raises(KubeconfigError, match="in-cluster config: Service token file does not exist"):
        resolve_targets(None, environ={"KUBECONFIG": str(tmp_path / "absent"), "KUBERNETES_SERVICE_HOST": "10.0.0.1",
                                       "KUBERNETES_SERVICE_PORT": "443"})


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    terminal = _Terminal()
    printer = ProgressPrinter(terminal, "prod-admin")

    printer(ProgressEvent("Pod", 500, False))
    printer(ProgressEvent("Pod", 730, True))
    printer.close()

    shown = terminal.getvalue()
    assert "\n" not in shown and shown.count("\r") == 4  # two updates, then the line is cleared
    assert "prod-admin: 1 kinds done, 730 objects; Pod 730" in shown


def test_cli_adds_the_admission_configuration_the_api_does_not_serve(
    server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    config = tmp_path / "admission.yaml"
    config.write_text("apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n"
                      "- name: PodSecurity\n  configuration:\n    defaults: {enforce: restricted}\n"
                      "    exemptions: {namespaces: [kube-system]}\n")
    # Beside a configuration, another object is an error but the configuration is still read.
    sneaky = tmp_path / "sneaky.yaml"
    sneaky.write_text("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
                      "defaults: {enforce: restricted}\nexemptions: {namespaces: [kube-system]}\n---\n"
                      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: evil}\n"
                      "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n"
                      "subjects: [{kind: User, name: mallory}]\n")
    db, dump = str(tmp_path / "rbacmap.db"), tmp_path / "dump"

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(kubeconfig),
                                      "--admission-config", str(config), "--admission-config", str(sneaky),
                                      "--save-dump", str(dump)])

    assert answer.exit_code == 0, answer.output
    assert f"error: {sneaky} document 2 (line 6): ClusterRoleBinding not read from this file" in answer.stderr
    with Store(db) as store:
        [row] = store.query("SELECT kind, default_enforce, exempt_namespaces FROM pod_security_config")
        assert row == {"kind": "AdmissionConfiguration", "default_enforce": "restricted",
                       "exempt_namespaces": '["kube-system"]'}
        assert store.query("SELECT count(*) AS n FROM roles")[0]["n"] > 0  # the live objects are there too
        assert store.query("SELECT name FROM bindings WHERE name = 'evil'") == []
        # The dump carries the configuration, so a re-import of it has it too.
        again = import_files(store, [str(dump)], "from-dump")
        [row] = store.query("SELECT default_enforce, exempt_namespaces FROM pod_security_config WHERE snapshot_id = ?",
                            [again.snapshot.id])
        assert row == {"default_enforce": "restricted", "exempt_namespaces": '["kube-system"]'}


def test_cli_admission_config_must_exist_and_fits_one_cluster(kubeconfig: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "rbacmap.db")
    missing = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(kubeconfig),
                                       "--admission-config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    (tmp_path / "a.yaml").write_text("kind: PodSecurityConfiguration\n")
    every = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(kubeconfig),
                                     "--all-contexts", "--admission-config", str(tmp_path / "a.yaml")])
    assert every.exit_code == 2 and "one API server's file" in every.output


@pytest.mark.parametrize(("content", "expected"), [
    ("", "holds no AdmissionConfiguration or PodSecurityConfiguration"),
    ("# nothing here yet\n", "holds no AdmissionConfiguration or PodSecurityConfiguration"),
    ("kind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n configuration: {}\n",
     "document 1 (line 1): YAML syntax error at line 4"),
    ("apiVersion: v1\nkind: Config\nclusters: []\n", "holds no AdmissionConfiguration or PodSecurityConfiguration"),
])
def test_cli_an_unusable_admission_config_fails_before_fetching(
    server: Any, kubeconfig: Path, tmp_path: Path, content: str, expected: str
) -> None:
    db = str(tmp_path / "rbacmap.db")
    first = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(kubeconfig), "--cluster", "c"])
    assert first.exit_code == 0, first.output
    config = tmp_path / "admission.yaml"
    config.write_text(content)

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--kubeconfig", str(kubeconfig), "--cluster", "c",
                                      "--admission-config", str(config)])

    assert answer.exit_code == 1
    assert f"error: {config}" in answer.stderr and expected in answer.stderr
    assert f"FAILED: no admission configuration could be read from {config}, nothing imported" in answer.stderr
    with Store(db) as store:
        # Refused before anything was fetched or written: no second snapshot, not even a failed one.
        assert [(s.id, s.status) for s in store.snapshots("c")] == [(1, "complete")]


def test_an_invalid_admission_config_fails_the_import_and_keeps_the_previous_latest(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    config = tmp_path / "pod-security.yaml"
    config.write_text("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
                      "defaults: {enforce: strictest}\n")
    with pytest.raises(AdmissionConfigError) as raised:
        fake.import_from(store, kubeconfig, extra_files=[str(config)])
    (error,) = raised.value.errors
    assert error.source == str(config) and "strictest" in error.message
    assert store.latest_snapshot("prod-eks").id == first.id
    assert [s.status for s in store.snapshots("prod-eks")] == ["complete", "failed"]


def test_admission_policies_are_imported_and_older_servers_without_them_are_not_a_failure(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    result = fake.import_from(store, kubeconfig)
    rows = store.query("SELECT kind, name FROM admission_policies WHERE snapshot_id = ? ORDER BY kind",
                       [result.snapshot.id])
    assert rows == [{"kind": "Binding", "name": "no-privileged-pods-everywhere"},
                    {"kind": "Policy", "name": "no-privileged-pods"}]
    # Before 1.30 admissionregistration.k8s.io/v1 is served, but not these resources: 404, not a failed import.
    server.behaviour.not_served = {"validatingadmissionpolicies", "validatingadmissionpolicybindings"}
    older = fake.import_from(store, kubeconfig)
    statuses = {k.kind: k.status for k in older.kinds}
    assert statuses["ValidatingAdmissionPolicy"] == statuses["ValidatingAdmissionPolicyBinding"] == "not served"
    assert older.snapshot.incomplete_kinds == []
    assert store.latest_snapshot().id == older.snapshot.id
    assert store.query("SELECT name FROM admission_policies WHERE snapshot_id = ?", [older.snapshot.id]) == []
    # Any other 404 still fails the import, and the last good snapshot stays the latest.
    server.behaviour.not_served = {"rolebindings"}
    with pytest.raises(KubeImportFailed):
        fake.import_from(store, kubeconfig)
    assert store.latest_snapshot().id == older.snapshot.id


def test_a_dump_into_an_earlier_dump_keeps_nothing_stale_and_reads_back_what_it_lacks(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "dump"
    config = tmp_path / "pod-security.yaml"
    config.write_text("apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\n"
                      "defaults: {enforce: restricted}\n")
    fake.import_from(store, kubeconfig, dump_dir=dump, extra_files=[str(config)])
    (dump / "roles.rbac.authorization.k8s.io.json").chmod(0o644)  # as another tool may have left it
    # The next import into the same directory cannot read RoleBindings and has no admission configuration.
    server.behaviour.forbidden.add("rolebindings")

    live = fake.import_from(store, kubeconfig, dump_dir=dump)
    offline = import_files(store, [str(dump)], "from-dump")

    assert not (dump / "rolebindings.rbac.authorization.k8s.io.json").exists()
    assert not (dump / "podsecurityconfiguration.json").exists()
    assert "RoleBinding: forbidden (GET /apis/rbac.authorization.k8s.io/v1/rolebindings: 403" in (
        dump / "dump-info.txt").read_text()
    # Read back, the dump is what the live import was: RoleBindings unknown, not absent.
    assert offline.errors == []
    assert live.snapshot.incomplete_kinds == offline.snapshot.incomplete_kinds == ["RoleBinding"]
    assert offline.snapshot.object_counts == live.snapshot.object_counts
    assert _table_rows(store, offline.snapshot.id) == _table_rows(store, live.snapshot.id)
    assert {oct(p.stat().st_mode & 0o777) for p in dump.iterdir()} == {"0o600"}
    # The info file named on its own (a shell glob of the dump) does the same, and is no manifest error.
    globbed = import_files(store, sorted(str(p) for p in dump.iterdir()), "globbed")
    assert globbed.errors == [] and globbed.snapshot.incomplete_kinds == ["RoleBinding"]


def _exec_kubeconfig(path: Path, server_url: str, plugin_code: str) -> Path:
    """A kubeconfig whose user gets credentials from an exec plugin (as aws eks get-token, gke-gcloud-auth-plugin)."""
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                     "args": ["-c", plugin_code], "interactiveMode": "Never"}}
    config = {"apiVersion": "v1", "kind": "Config", "current-context": "prod-admin",
              "clusters": [{"name": "prod-eks", "cluster": {"server": server_url}}],
              "contexts": [{"name": "prod-admin", "context": {"cluster": "prod-eks", "user": "sso"}}],
              "users": [{"name": "sso", "user": user}]}
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_exec_plugin_token_is_used(store: Store, server: Any, tmp_path: Path) -> None:
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": fake.TOKEN, "expirationTimestamp": "2999-01-01T00:00:00Z"}}
    kubeconfig = _exec_kubeconfig(tmp_path / "kubeconfig", server.url, f"print({json.dumps(credential)!r})")

    result = fake.import_from(store, kubeconfig)

    assert result.snapshot.object_counts == _fixture_counts() and result.snapshot.incomplete_kinds == []


def test_a_failed_exec_plugin_fails_the_import_instead_of_an_empty_anonymous_snapshot(
    store: Store, server: Any, kubeconfig: Path, tmp_path: Path
) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    # The client logs a failing plugin and sends no credentials; the API server (anonymous auth on, its default)
    # takes the requests as system:anonymous and forbids every list.
    server.behaviour.anonymous = True
    expired = _exec_kubeconfig(tmp_path / "expired", server.url,
                               "import sys; sys.exit('error: the SSO session has expired')")

    with pytest.raises(KubeNothingReadable, match='system:anonymous: no credentials were sent .*User "system:anon'):
        fake.import_from(store, expired)

    assert store.latest_snapshot("prod-eks").id == first.id
    assert [s.status for s in store.snapshots("prod-eks")] == ["complete", "failed"]


def test_credentials_that_may_read_nothing_fail_the_import(store: Store, server: Any, kubeconfig: Path) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    server.behaviour.forbidden = {k.plural for k in KINDS}

    with pytest.raises(KubeImportFailed, match="every kind was forbidden: the credentials grant no read access"):
        fake.import_from(store, kubeconfig)

    assert store.latest_snapshot("prod-eks").id == first.id


def test_cli_all_contexts_imports_the_others_when_one_context_cannot_be_loaded(
    server: Any, kubeconfig: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A decommissioned cluster whose client certificate was deleted: the client cannot even build its client.
    stale = {"apiVersion": "v1", "kind": "Config",
             "clusters": [{"name": "old", "cluster": {"server": "https://127.0.0.1:1"}}],
             "contexts": [{"name": "old-admin", "context": {"cluster": "old", "user": "old-admin"}}],
             "users": [{"name": "old-admin", "user": {"client-certificate": str(tmp_path / "gone.crt"),
                                                      "client-key": str(tmp_path / "gone.key")}}]}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(stale))
    monkeypatch.setenv("KUBECONFIG", f"{kubeconfig}:{tmp_path / 'old.yaml'}")
    db = str(tmp_path / "rbacmap.db")

    answer = CliRunner().invoke(cli, ["import", "kube", "--db", db, "--all-contexts"])

    assert answer.exit_code == 1, answer.output
    assert "prod-admin: snapshot 1 of cluster prod-eks" in answer.stdout
    assert "old-admin: import FAILED, nothing imported: cannot read context 'old-admin'" in answer.stderr
    assert "gone.crt" in answer.stderr
    with Store(db) as store:
        assert [(c["name"], c["snapshots"]) for c in store.clusters()] == [("prod-eks", 1)]


def test_ctrl_c_during_the_fetch_stops_the_running_lists_and_keeps_the_latest(
    store: Store, server: Any, kubeconfig: Path
) -> None:
    first = fake.import_from(store, kubeconfig).snapshot
    for n in range(30):
        server.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"team-{n:02}"}})
    server.behaviour.latency = 0.05
    sent_at_interrupt: list[int] = []

    def press_ctrl_c(event: ProgressEvent) -> None:
        if not sent_at_interrupt:
            sent_at_interrupt.append(len(server.requests))
            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT: it wakes the main thread waiting on the pool

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        fake.import_from(store, kubeconfig, page_size=1, on_progress=press_ctrl_c)
    stopped_after = time.monotonic() - started
    time.sleep(0.3)  # anything still listing would go on sending requests

    # The lists running when Ctrl-C came (concurrency 4) end at their next request: no 33-page Namespace list.
    assert len(server.requests) - sent_at_interrupt[0] <= 8
    assert stopped_after < 5.0
    assert store.latest_snapshot("prod-eks").id == first.id
    assert [s.status for s in store.snapshots("prod-eks")] == ["complete"]  # nothing was written yet


def test_a_timeout_of_0_is_refused_not_taken_as_no_timeout(kubeconfig: Path, tmp_path: Path) -> None:
    answer = CliRunner().invoke(cli, ["import", "kube", "--db", str(tmp_path / "rbacmap.db"), "--kubeconfig",
                                      str(kubeconfig), "--timeout", "0"])

    assert answer.exit_code == 2 and "Invalid value for '--timeout'" in answer.output
    with pytest.raises(ValueError, match="timeout must be more than 0 seconds"):
        RetryPolicy(timeout=0)


def test_cli_all_contexts_exits_2_when_no_context_can_be_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = {"apiVersion": "v1", "kind": "Config", "current-context": "old-admin",
             "clusters": [{"name": "old", "cluster": {"server": "https://127.0.0.1:1"}}],
             "contexts": [{"name": "old-admin", "context": {"cluster": "old", "user": "old-admin"}}],
             "users": [{"name": "old-admin", "user": {"client-certificate": str(tmp_path / "gone.crt"),
                                                      "client-key": str(tmp_path / "gone.key")}}]}
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(stale))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "old.yaml"))
    answer = CliRunner().invoke(cli, ["import", "kube", "--db", str(tmp_path / "rbacmap.db"), "--all-contexts"])
    # Nothing could start: an error (2), not "a cluster's import failed" (1).
    assert answer.exit_code == 2, answer.output
    assert "old-admin: import FAILED, nothing imported" in answer.stderr
