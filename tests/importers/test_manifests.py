"""`import files`: every input shape, every bad-input case, --strict and dangling bindings."""

from __future__ import annotations

import gzip
import io
import shutil
from pathlib import Path

import pytest

from rbacmap.authorizer import Authorizer
from rbacmap.importers.manifests import (
    Document,
    NothingReadError,
    StrictImportError,
    import_files,
    item_start_lines,
    split_documents,
)
from rbacmap.model import ResourceRequest, UserInfo
from rbacmap.policy import SqlitePolicy
from rbacmap.snapshot_builder import located
from rbacmap.store import ImportError_, Store

BOOTSTRAP_ROLES = Path("/work/shared/data/k8s-bootstrap-rbac/cluster-roles.yaml")


def counts(store: Store, snapshot_id: int, table: str) -> int:
    return int(store.query(f"SELECT count(*) AS n FROM {table} WHERE snapshot_id = ?", [snapshot_id])[0]["n"])


def names(store: Store, snapshot_id: int, table: str) -> list[str]:
    rows = store.query(f"SELECT name FROM {table} WHERE snapshot_id = ? ORDER BY name", [snapshot_id])
    return [row["name"] for row in rows]


# --- input shapes ---------------------------------------------------------------------------


def test_demo_directory_imports_every_file_and_kind(demo_store: Store) -> None:
    snapshot = demo_store.latest_snapshot("demo")
    assert snapshot.status == "complete" and snapshot.error_count == 0
    assert snapshot.object_counts == {
        "CertificateSigningRequest": 1,
        "ClusterRole": 15,
        "ClusterRoleBinding": 7,
        "ConfigMap": 1,  # kube-system/aws-auth, from the .yaml.gz
        "CronJob": 1,
        "DaemonSet": 1,
        "Deployment": 2,
        "MutatingWebhookConfiguration": 1,
        "Namespace": 6,
        "Node": 2,  # from the kind: List .json
        "Pod": 3,
        "Role": 2,
        "RoleBinding": 6,
        "Secret": 2,
        "ServiceAccount": 5,
    }
    assert snapshot.skipped_counts == {"ConfigMap": 1, "Service": 1}
    namespaces = demo_store.query("SELECT name, pss_enforce, pss_warn FROM namespaces ORDER BY name")
    assert {r["name"]: (r["pss_enforce"], r["pss_warn"]) for r in namespaces} == {
        "ci": (None, None),
        "default": (None, None),
        "kube-system": (None, None),
        "monitoring": ("privileged", None),
        "payments": ("restricted", "restricted"),
        "web": ("baseline", "restricted"),
    }


def test_demo_workload_security_facts(demo_store: Store) -> None:
    rows = demo_store.query(
        "SELECT * FROM workloads WHERE namespace = 'monitoring' AND name = 'node-exporter-5kq7z'"
    )
    (pod,) = rows
    assert pod["kind"] == "Pod" and pod["service_account"] == "node-exporter"
    assert pod["node"] == "ip-10-0-1-23.eu-west-1.compute.internal"
    assert (pod["owner_kind"], pod["owner_name"]) == ("DaemonSet", "node-exporter")
    assert pod["privileged"] == 1 and pod["host_pid"] == 1 and pod["host_network"] == 1 and pod["host_ipc"] == 0
    assert pod["host_path_volumes"] == '["/"]'
    cron = demo_store.query("SELECT service_account FROM workloads WHERE kind = 'CronJob'")
    assert cron == [{"service_account": "deployer"}]
    frontend = demo_store.query(
        "SELECT added_capabilities FROM workloads WHERE kind = 'Deployment' AND name = 'frontend'"
    )
    assert frontend == [{"added_capabilities": '["NET_BIND_SERVICE"]'}]


def test_demo_other_kinds(demo_store: Store) -> None:
    secret = demo_store.query(
        "SELECT namespace, name, type, service_account FROM secrets WHERE name = 'deployer-token'"
    )
    assert secret == [
        {"namespace": "ci", "name": "deployer-token", "type": "kubernetes.io/service-account-token",
         "service_account": "deployer"}
    ]
    assert demo_store.query("SELECT username, signer_name, issued FROM csrs") == [
        {"username": "dana@example.com", "signer_name": "kubernetes.io/kube-apiserver-client", "issued": 0}
    ]
    assert [r["kind"] for r in demo_store.query("SELECT kind FROM webhooks")] == ["Mutating"]
    (aws_auth,) = demo_store.query("SELECT namespace, name, data FROM config_maps")
    assert (aws_auth["namespace"], aws_auth["name"]) == ("kube-system", "aws-auth")
    assert "system:masters" in aws_auth["data"]
    sa = demo_store.query("SELECT annotations FROM service_accounts WHERE name = 'deployer'")
    assert "arn:aws:iam::111122223333:role/ci-deployer" in sa[0]["annotations"]


def test_multi_document_yaml_with_comments_and_empty_documents(store: Store) -> None:
    text = b"""# Source: chart/templates/sa.yaml
---
---
# Source: chart/templates/empty.yaml
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: a, namespace: x}  # trailing comment
...
---
~
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: b, namespace: x}
"""
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert result.errors == []
    assert names(store, result.snapshot.id, "service_accounts") == ["a", "b"]
    assert result.snapshot.source == "files: -"


def test_document_indexes_count_only_documents_with_content() -> None:
    text = "# header\n---\n# only a comment\n---\nkind: A\n---\n\n---\nkind: B\n"
    documents = list(split_documents("f.yaml", text))
    assert [(d.index, d.line) for d in documents] == [(1, 5), (2, 9)]


def test_typed_list_without_item_kinds(store: Store, fixtures_dir: Path) -> None:
    result = import_files(store, [str(fixtures_dir / "core" / "role-list.json")], "c")
    assert result.errors == []
    rows = store.query("SELECT kind, namespace, name FROM roles ORDER BY name")
    assert rows == [
        {"kind": "Role", "namespace": "team-b", "name": "cm-writer"},
        {"kind": "Role", "namespace": "team-a", "name": "pod-reader"},
    ]


def test_the_same_object_twice_counts_once_and_the_later_one_is_kept_whole(store: Store, fixtures_dir: Path) -> None:
    source = str(fixtures_dir / "core" / "duplicates.yaml")
    result = import_files(store, [source], "c")
    assert result.snapshot.object_counts == {"Pod": 1, "Role": 2, "RoleBinding": 2}
    # The identical Role is no error; the changed binding is, naming where the dropped one was.
    [error] = result.errors
    assert (error.document, error.kind, error.name) == (4, "RoleBinding", "readers")
    assert error.message == (f"RoleBinding ns1/readers again, different from the one in {source} document 2: "
                             "this later one is kept")
    # The earlier binding's second subject does not survive under the later one.
    subjects = store.query("SELECT name FROM binding_subjects WHERE snapshot_id = ? AND binding_name = 'readers'",
                           [result.snapshot.id])
    assert subjects == [{"name": "alice"}]
    authorizer = Authorizer(SqlitePolicy(store, result.snapshot.id))
    get_config = ResourceRequest("get", "configmaps", "ns1")
    assert not authorizer.authorize(UserInfo("mallory", ()), get_config).allowed
    assert authorizer.authorize(UserInfo("alice", ()), get_config).allowed


def test_json_lines_with_a_broken_line(store: Store, fixtures_dir: Path) -> None:
    path = fixtures_dir / "core" / "objects.jsonl"
    result = import_files(store, [str(path)], "c")
    assert names(store, result.snapshot.id, "namespaces") == ["jsonl-a", "jsonl-b"]
    assert counts(store, result.snapshot.id, "bindings") == 1
    (error,) = result.errors
    assert (error.source, error.document, error.line) == (str(path), 4, 5)
    assert "JSON syntax error" in error.message


def test_a_broken_json_document_whose_lines_all_start_with_a_brace_is_one_document(store: Store) -> None:
    text = (b'{"kind": "List", "items": [\n'
            b'{"kind": "Namespace", "metadata": {"name": "a"}},\n'
            b'{"kind": "Namespace", "metadata": {"name": b}},\n'
            b'{"kind": "Namespace", "metadata": {"name": "c"}}]}\n')
    with pytest.raises(NothingReadError) as raised:
        import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    (error,) = raised.value.errors
    assert (error.document, error.line) == (1, 1)
    assert error.message.startswith("JSON syntax error at line 3:")


def test_json_lines_with_a_broken_first_line(store: Store) -> None:
    text = b'{"kind": "Namespace", "metadata": {"name": broken}}\n{"kind": "Namespace", "metadata": {"name": "b"}}\n'
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert [(e.document, e.line) for e in result.errors] == [(1, 1)]
    assert names(store, result.snapshot.id, "namespaces") == ["b"]


def test_json_lines_whose_first_two_lines_are_truncated(store: Store) -> None:
    text = (b'{"kind": "ClusterRole", "metadata": {"na\n'
            b'{"kind": "Role"\n'
            b'{"kind": "ClusterRole", "metadata": {"name": "reader"}, "rules": []}\n'
            b'{"kind": "RoleBinding", "metadata": {"name": "rb", "namespace": "ns"}, "roleRef": '
            b'{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"}, '
            b'"subjects": [{"kind": "User", "name": "u"}]}\n')
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert [(e.document, e.line) for e in result.errors] == [(1, 1), (2, 2)]
    assert result.snapshot.object_counts == {"ClusterRole": 1, "RoleBinding": 1}


def test_a_broken_json_document_with_one_line_items_is_one_document(store: Store) -> None:
    # Its third line parses on its own, but the last one starts with a bracket: not JSON lines.
    text = (b'{"kind": "List", "items": [\n'
            b'{"kind": "Namespace", "metadata": {"name": a}},\n'
            b'{"kind": "Namespace", "metadata": {"name": "b"}}\n'
            b']}\n')
    with pytest.raises(NothingReadError) as raised:
        import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    (error,) = raised.value.errors
    assert error.message.startswith("JSON syntax error at line 2:")


def test_v1beta1_rbac_and_nested_lists(store: Store) -> None:
    text = b"""apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1beta1
  kind: ClusterRoleBinding
  metadata: {name: old}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
  subjects: [{kind: User, name: u}]
- apiVersion: v1
  kind: ServiceAccountList
  items:
  - metadata: {name: nested, namespace: x}
"""
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert result.errors == []
    assert names(store, result.snapshot.id, "bindings") == ["old"]
    assert names(store, result.snapshot.id, "service_accounts") == ["nested"]


def test_gzip_files_and_directories_recursively(store: Store, tmp_path: Path, fixtures_dir: Path) -> None:
    tree = tmp_path / "tree" / "nested" / "deeper"
    tree.mkdir(parents=True)
    source = (fixtures_dir / "demo" / "20-service-accounts.yaml").read_bytes()
    (tree / "sa.yaml.gz").write_bytes(gzip.compress(source))
    shutil.copy(fixtures_dir / "core" / "role-list.json", tmp_path / "tree" / "roles.json")
    (tmp_path / "tree" / "README.md").write_text("not a manifest: ignored\n")
    (tmp_path / "tree" / "notes.txt.gz").write_bytes(gzip.compress(b"ignored too"))
    result = import_files(store, [str(tmp_path / "tree")], "c")
    assert result.errors == []
    assert result.snapshot.object_counts == {"Role": 2, "ServiceAccount": 5}


def test_gzip_file_named_explicitly(store: Store, fixtures_dir: Path) -> None:
    result = import_files(store, [str(fixtures_dir / "demo" / "50-aws-auth.yaml.gz")], "c")
    assert result.snapshot.object_counts == {"ConfigMap": 1}


def test_unknown_kinds_are_counted_and_skipped(store: Store) -> None:
    text = b"kind: Service\nmetadata: {name: s}\n---\napiVersion: x/v1\nkind: Widget\nmetadata: {name: w}\n"
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert result.errors == [] and result.snapshot.skipped_counts == {"Service": 1, "Widget": 1}


# --- bad input -----------------------------------------------------------------------------


def test_every_bad_document_is_named_and_the_rest_imports(store: Store, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "core" / "bad-inputs.yaml")
    result = import_files(store, [path], "c")
    found = [(e.source, e.document, e.line, e.kind, e.name) for e in result.errors]
    assert found == [
        (path, 2, 12, None, None),  # YAML syntax error (starts line 12, breaks at 18)
        (path, 3, 20, "RoleBinding", "no-roleref"),
        (path, 4, 29, "ClusterRoleBinding", "robot-binding"),
        (path, 5, 38, None, None),  # a list, not an object
        (path, 6, 41, "ServiceAccount", None),  # no metadata.name
    ]
    messages = [e.message for e in result.errors]
    assert messages[0].startswith("YAML syntax error at line 18:")
    assert "roleRef" in messages[1]
    assert "unknown kind 'Robot'" in messages[2]
    assert "expected a mapping" in messages[3]
    assert "metadata.name" in messages[4]
    assert result.errors[1].describe() == (
        f"{path} document 3 (line 20): RoleBinding/no-roleref has no roleRef (kind and name are required)"
    )
    # Everything else is in.
    assert result.snapshot.status == "complete" and result.snapshot.error_count == 5
    assert names(store, result.snapshot.id, "namespaces") == ["good-ns"]
    assert names(store, result.snapshot.id, "service_accounts") == ["good-sa"]
    assert [e.describe() for e in store.import_errors(result.snapshot.id)] == [e.describe() for e in result.errors]


def test_truncated_json_file(store: Store, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "core" / "truncated.json")
    result = import_files(store, [path, str(fixtures_dir / "core" / "role-list.json")], "c")
    (error,) = result.errors
    assert (error.source, error.document, error.line) == (path, 1, 1)
    assert "JSON syntax error" in error.message
    assert result.snapshot.object_counts == {"Role": 2}  # the other file still imports


def test_truncated_yaml_stream_keeps_the_complete_documents(store: Store, fixtures_dir: Path) -> None:
    text = (fixtures_dir / "demo" / "10-team-rbac.yaml").read_bytes()
    cut = text[: text.index(b"name: web-admins") + 40]  # stops inside a key of the third object
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(cut))
    assert names(store, result.snapshot.id, "bindings") == ["dana-view", "payments-devs-edit"]
    (error,) = result.errors
    assert (error.source, error.document, error.line) == ("<stdin>", 3, 34)
    assert error.message.startswith("YAML syntax error at line 41")
    # Cut after a complete line instead: the object parses but lacks its roleRef.
    cut = text[: text.index(b"name: web-admins") + len(b"name: web-admins\n")]
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(cut))
    (error,) = result.errors
    assert (error.document, error.kind, error.name) == (3, "RoleBinding", "web-admins")


def test_list_item_errors_name_the_item(store: Store) -> None:
    text = b"""{"kind": "List", "items": [
  {"kind": "Namespace", "metadata": {"name": "ok"}},
  {"kind": "RoleBinding", "metadata": {"name": "rb", "namespace": "ok"}, "subjects": []},
  "not an object",
  {"kind": "Namespace", "metadata": {"name": "ok2"}}
]}"""
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert [(e.document, e.item, e.line, e.kind, e.name) for e in result.errors] == [
        (1, "items[1]", 3, "RoleBinding", "rb"), (1, "items[2]", 4, None, None)
    ]
    assert names(store, result.snapshot.id, "namespaces") == ["ok", "ok2"]


def test_yaml_list_item_errors_name_the_item_and_its_line(store: Store, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "core" / "list-bad-items.yaml")
    result = import_files(store, [path], "c")
    assert [e.describe() for e in result.errors] == [
        f"{path} document 1 items[1] (line 8): ClusterRole/rules-not-a-list rules must be a list, got a string",
        f"{path} document 1 items[2] (line 13): RoleBinding/no-roleref has no roleRef (kind and name are required)",
        f"{path} document 1 items[3].items[1] (line 20): ServiceAccount metadata must be a mapping",
    ]
    assert result.snapshot.object_counts == {"Namespace": 1, "ServiceAccount": 1}
    # The store keeps where each error is.
    assert store.import_errors(result.snapshot.id) == result.errors


def test_json_list_item_without_a_name_is_located(store: Store) -> None:
    # Read whole by the fast JSON path: the item's line comes from composing it again.
    text = b'{"kind": "List", "items": [\n  {"kind": "Namespace", "metadata": {"name": "ok"}},\n' \
           b'\t{"kind": "ClusterRole", "metadata": "oops"}\n]}\n'
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert [e.describe() for e in result.errors] == [
        "<stdin> document 1 items[1] (line 3): ClusterRole metadata must be a mapping"
    ]


def test_list_item_without_a_known_line_still_names_the_item() -> None:
    broken = Document("f.json", 1, 1, '{"items": [{"a": 1}, ', True)
    assert dict(item_start_lines(broken)) == {(0,): 1}  # placed as far as the text goes
    error = located(ImportError_("f.json", "bad", 1, 1, "ClusterRole"), (4,), lambda: item_start_lines(broken))
    assert error.describe() == "f.json document 1 items[4]: ClusterRole bad"


def test_unreadable_and_non_utf8_sources(store: Store, tmp_path: Path, fixtures_dir: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes("kind: Namespace\nmetadata: {name: caf\xe9}\n".encode("latin-1"))
    (tmp_path / "broken.yaml.gz").write_bytes(b"\x1f\x8b" + b"not really gzip")
    bad = [str(tmp_path / "missing.yaml"), str(tmp_path / "latin1.yaml"), str(tmp_path / "broken.yaml.gz")]
    result = import_files(store, [*bad, str(fixtures_dir / "core" / "role-list.json")], "c")
    assert [e.source for e in result.errors] == bad
    # Some inputs failed, one was read: that one is imported and the failures are named.
    assert result.snapshot.status == "complete" and result.snapshot.object_counts == {"Role": 2}


# --- nothing read: the previous snapshot stays ----------------------------------------------


def _nothing_to_read(tmp_path: Path, fixtures_dir: Path, case: str) -> tuple[list[str], bytes]:
    """Paths (and stdin) of an import that reads nothing, as users get it wrong."""
    if case == "typo":
        return [str(fixtures_dir / "dmeo")], b""
    if case == "empty directory":
        (tmp_path / "empty").mkdir()
        return [str(tmp_path / "empty")], b""
    if case == "directory without manifests":
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "README.md").write_text("kind: Namespace\n")
        return [str(tmp_path / "docs")], b""
    if case == "empty stdin":  # a failed `kubectl get ... -o yaml |`
        return ["-"], b""
    if case == "comment-only file":
        (tmp_path / "disabled.yaml").write_text("# Source: chart/templates/disabled.yaml\n---\n")
        return [str(tmp_path / "disabled.yaml")], b""
    assert case == "only broken input"
    return [str(fixtures_dir / "core" / "truncated.json")], b""


@pytest.mark.parametrize("case", ["typo", "empty directory", "directory without manifests", "empty stdin",
                                  "comment-only file", "only broken input"])
def test_nothing_read_keeps_the_previous_snapshot(store: Store, tmp_path: Path, fixtures_dir: Path,
                                                  case: str) -> None:
    first = import_files(store, [str(fixtures_dir / "demo")], "demo").snapshot
    paths, stdin = _nothing_to_read(tmp_path, fixtures_dir, case)
    with pytest.raises(NothingReadError) as raised:
        import_files(store, paths, "demo", stdin=io.BytesIO(stdin))
    named = ["<stdin>" if path == "-" else path for path in paths]
    assert raised.value.inputs == named and str(raised.value).startswith(f"nothing could be read from {named[0]}")
    # Every reason names its input.
    assert raised.value.errors and all(e.source == named[0] for e in raised.value.errors)
    assert store.latest_snapshot("demo").id == first.id
    (failed,) = [s for s in store.snapshots("demo") if s.status == "failed"]
    assert "NothingReadError" in (failed.message or "")
    assert counts(store, failed.id, "import_errors") == 0


def test_an_empty_list_is_read_and_imported_as_such(store: Store) -> None:
    # `kubectl get roles -A -o json` in a cluster without Roles: an answer, not a failure.
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(b'{"kind": "List", "items": []}'))
    assert result.errors == [] and result.snapshot.object_counts == {}
    assert store.latest_snapshot("c").id == result.snapshot.id


def test_an_empty_input_among_good_ones_is_named(store: Store, tmp_path: Path, fixtures_dir: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "also-empty.yaml").write_text("")  # found in a directory: not an error
    paths = [str(tmp_path / "empty.yaml"), str(tmp_path / "dir"), str(fixtures_dir / "core" / "role-list.json")]
    result = import_files(store, paths, "c")
    assert [e.describe() for e in result.errors] == [f"{tmp_path / 'empty.yaml'}: no document in this input"]
    assert result.snapshot.object_counts == {"Role": 2}


def test_wrong_shaped_fields_are_bad_input_not_a_crash(store: Store) -> None:
    text = b"""kind: Role
metadata: {name: r, namespace: x}
rules: "everything"
---
kind: Pod
metadata: {name: p, namespace: x}
spec: {containers: "nope", volumes: [{hostPath: "/"}]}
---
kind: ClusterRole
metadata: {name: agg}
aggregationRule: {clusterRoleSelectors: [{matchExpressions: [{key: a, operator: Gt}]}]}
"""
    result = import_files(store, [str(BOOTSTRAP_ROLES), "-"], "c", stdin=io.BytesIO(text))
    assert result.snapshot.status == "complete"
    assert [(e.kind, e.name) for e in result.errors] == [("Role", "r"), ("Pod", "p"), ("ClusterRole", "agg")]
    assert "operator 'Gt'" in result.errors[2].message
    # One bad aggregationRule does not stop the others: admin is still aggregated.
    admin_rules = store.query("SELECT count(*) AS n FROM rules WHERE role_name = 'admin'")[0]["n"]
    assert admin_rules > 10


def test_malformed_fields_are_reported_not_converted(store: Store, fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "core" / "malformed-fields.yaml")
    result = import_files(store, [path], "c")
    assert [(e.source, e.document, e.kind, e.name, e.message) for e in result.errors] == [
        (path, 1, "ClusterRole", "api-groups-a-string", "rule #0: apiGroups must be a list of strings, got a string"),
        (path, 2, "ClusterRole", "api-group-null", "rule #0: apiGroups[0] must be a string, got null"),
        (path, 3, "ClusterRole", "resource-a-number", "rule #0: resources[0] must be a string, got a number"),
        (path, 4, "Role", "verbs-a-string", "rule #0: verbs must be a list of strings, got a string"),
        (path, 5, "ClusterRole", "odd-names-and-urls", "rule #0: resourceNames[0] must be a string, got a list"),
        (path, 6, "ServiceAccount", None, "metadata.name must be a string, got a list"),
        (path, 7, "ServiceAccount", "builder", "metadata.namespace must be a string, got a mapping"),
        (path, 8, "RoleBinding", "subjects-a-string", "subjects must be a list, got a string"),
        (path, 9, "RoleBinding", "subject-name-a-list", "subject #0 name must be a string, got a list"),
        (path, 10, "ClusterRoleBinding", "role-ref-name-a-list", "roleRef.name must be a string, got a list"),
        (path, 11, "ClusterRole", "selectors-a-string",
         "aggregationRule.clusterRoleSelectors must be a list, got a string"),
        (path, 12, "ClusterRole", "selector-label-a-list",
         "aggregationRule.clusterRoleSelectors[0]: matchLabels must map strings to strings, got a string: a list"),
        (path, 13, "ClusterRole", "selector-values-a-string",
         "aggregationRule.clusterRoleSelectors[0]: matchExpressions values must be a list of strings, got a string"),
    ]
    # Only the well-formed objects are stored: no rule that silently matches nothing (or "None", "1").
    assert result.snapshot.object_counts == {"ClusterRole": 1, "ServiceAccount": 1}
    assert store.query("SELECT role_name, api_groups, resources FROM rules") == [
        {"role_name": "well-formed", "api_groups": '[""]', "resources": '["pods"]'}
    ]
    assert names(store, result.snapshot.id, "service_accounts") == ["well-formed"]


def test_a_malformed_field_in_a_list_item_names_the_item(store: Store) -> None:
    text = b"""kind: List
items:
- kind: ClusterRole
  metadata: {name: fine}
- kind: ClusterRole
  metadata: {name: nulls}
  rules: [{apiGroups: [null], resources: [pods], verbs: [get]}]
"""
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text))
    assert [e.describe() for e in result.errors] == [
        "<stdin> document 1 items[1] (line 5): ClusterRole/nulls rule #0: apiGroups[0] must be a string, got null"
    ]


# --- strict and dangling -------------------------------------------------------------------


def test_strict_commits_nothing(store: Store, fixtures_dir: Path) -> None:
    first = import_files(store, [str(fixtures_dir / "core" / "role-list.json")], "c")
    with pytest.raises(StrictImportError) as raised:
        import_files(store, [str(fixtures_dir / "core" / "bad-inputs.yaml")], "c", strict=True)
    assert len(raised.value.errors) == 5
    assert store.latest_snapshot("c").id == first.snapshot.id
    failed = [s for s in store.snapshots("c") if s.status == "failed"]
    assert len(failed) == 1 and "StrictImportError" in (failed[0].message or "")
    for table in ("namespaces", "service_accounts", "import_errors", "roles"):
        assert counts(store, failed[0].id, table) == 0


def test_strict_without_errors_commits(store: Store, fixtures_dir: Path) -> None:
    result = import_files(store, [str(fixtures_dir / "core" / "role-list.json")], "c", strict=True)
    assert store.latest_snapshot("c").id == result.snapshot.id


def test_dangling_binding_is_imported_and_flagged(demo_store: Store) -> None:
    rows = demo_store.query("SELECT namespace, name, role_kind, role_name FROM bindings WHERE dangling = 1")
    assert rows == [{"namespace": "web", "name": "legacy-deployer", "role_kind": "Role", "role_name": "deployer"}]
    subjects = demo_store.query("SELECT kind, name FROM binding_subjects WHERE binding_name = 'legacy-deployer'")
    assert subjects == [{"kind": "User", "name": "frank@example.com"}]


def test_the_same_dump_read_twice_in_one_import_counts_every_object_once(store: Store, fixtures_dir: Path) -> None:
    demo = str(fixtures_dir / "demo")
    once = import_files(store, [demo], "once").snapshot.object_counts
    twice = import_files(store, [demo, demo], "twice").snapshot.object_counts
    # Namespaces, ServiceAccounts, Secrets, Nodes and ConfigMaps replace their rows when read again; their counts
    # in the summary must not double either (roles, bindings, pods and workloads already counted once).
    assert {"Namespace", "ServiceAccount", "Secret", "ConfigMap"} <= set(once)
    assert twice == once


def test_json_lines_whose_strings_hold_line_separators_are_one_object_a_line(store: Store) -> None:
    # JSON allows U+2028, U+2029 and U+0085 raw inside strings; str.splitlines would cut the object there.
    text = ('{"kind": "Namespace", "metadata": {"name": "a", "annotations": {"note": "x\u2028y\x85z"}}}\n'
            '{"kind": "Namespace", "metadata": {"name": broken}}\n'
            '{"kind": "Namespace", "metadata": {"name": "c", "annotations": {"note": "p\u2029q"}}}\r\n')
    result = import_files(store, ["-"], "c", stdin=io.BytesIO(text.encode()))
    assert names(store, result.snapshot.id, "namespaces") == ["a", "c"]
    assert [(e.document, e.line) for e in result.errors] == [(2, 2)]
