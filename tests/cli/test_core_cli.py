"""The core commands end to end through click: import files, clusters, snapshots, can, who-can, check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from rbacmap.authorizer import Decision
from rbacmap.cli import cli
from rbacmap.model import Binding, BindingKey, RoleKey, Subject
from rbacmap.review import review_reason


@pytest.fixture
def db(tmp_path: Path, fixtures_dir: Path) -> str:
    path = str(tmp_path / "cli.db")
    result = run(path, "import", "files", str(fixtures_dir / "demo"), "--cluster", "demo")
    assert result.exit_code == 0, result.output
    return path


def run(db_path: str, *args: str, input: str | bytes | None = None) -> Result:
    return CliRunner().invoke(cli, [*args[:2], "--db", db_path, *args[2:]] if args[0] == "import"
                              else [args[0], "--db", db_path, *args[1:]], input=input)


# --- import files, clusters, snapshots ------------------------------------------------------


def test_import_summary(tmp_path: Path, fixtures_dir: Path) -> None:
    result = run(str(tmp_path / "x.db"), "import", "files", str(fixtures_dir / "core" / "bad-inputs.yaml"))
    assert result.exit_code == 0
    assert "snapshot 1 of cluster default: imported 1 Namespace, 1 ServiceAccount" in result.stdout
    assert "rejected: 5 document(s)/object(s) with errors" in result.stdout
    assert "bad-inputs.yaml document 3 (line 20): RoleBinding/no-roleref has no roleRef" in result.stderr


def test_import_strict_exits_1_and_commits_nothing(tmp_path: Path, fixtures_dir: Path) -> None:
    db_path = str(tmp_path / "x.db")
    result = run(db_path, "import", "files", "--strict", str(fixtures_dir / "core" / "bad-inputs.yaml"))
    assert result.exit_code == 1
    assert "--strict: 5 error(s); nothing was imported" in result.stderr
    clusters = run(db_path, "clusters", "-o", "json")
    assert json.loads(clusters.stdout)[0]["latest"] is None


def test_import_of_nothing_exits_2_and_keeps_the_latest_snapshot(db: str, fixtures_dir: Path) -> None:
    result = run(db, "import", "files", str(fixtures_dir / "dmeo"), "--cluster", "demo")
    assert result.exit_code == 2
    assert f"error: {fixtures_dir / 'dmeo'}: cannot read:" in result.stderr
    assert (f"error: nothing could be read from {fixtures_dir / 'dmeo'} (1 error(s)): nothing was imported; "
            "the latest snapshot of cluster demo is still 1") in result.stderr
    assert "snapshot 2" not in result.stdout
    empty_pipe = run(db, "import", "files", "-", "--cluster", "demo", input=b"")
    assert empty_pipe.exit_code == 2 and "<stdin>: no document in this input" in empty_pipe.stderr
    clusters = json.loads(run(db, "clusters", "-o", "json").stdout)
    assert [(c["name"], c["latest"]) for c in clusters] == [("demo", 1)]
    who = run(db, "who-can", "get", "secrets", "-n", "payments")
    assert who.exit_code == 0 and "cluster-admin" in who.stdout


def test_import_from_stdin(tmp_path: Path, fixtures_dir: Path) -> None:
    text = (fixtures_dir / "demo" / "20-service-accounts.yaml").read_bytes()
    result = run(str(tmp_path / "x.db"), "import", "files", "-", "--cluster", "piped", input=text)
    assert result.exit_code == 0
    assert "imported 5 ServiceAccount" in result.stdout


def test_clusters_and_snapshots(db: str, fixtures_dir: Path) -> None:
    run(db, "import", "files", str(fixtures_dir / "core" / "role-list.json"), "--cluster", "other")
    clusters = json.loads(run(db, "clusters", "-o", "json").stdout)
    assert [(c["name"], c["latest"]) for c in clusters] == [("demo", 1), ("other", 2)]
    table = run(db, "snapshots").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "CLUSTER", "STATUS", "STARTED"]
    assert table[1].split()[:3] == ["1", "demo", "complete"]
    # With two clusters, a question must name one.
    ambiguous = run(db, "can", "dana@example.com", "get", "pods", "-n", "payments")
    assert ambiguous.exit_code != 0 and "choose one with --cluster" in ambiguous.output


def test_snapshots_keep(db: str, fixtures_dir: Path) -> None:
    for _ in range(2):
        run(db, "import", "files", str(fixtures_dir / "demo"), "--cluster", "demo")
    result = run(db, "snapshots", "--keep", "1")
    assert result.exit_code == 0 and result.stdout.strip() == "pruned 2 snapshot(s) of demo: 1, 2"
    assert [s["id"] for s in json.loads(run(db, "snapshots", "-o", "json").stdout)] == [3]
    assert run(db, "snapshots", "--keep", "0").exit_code != 0


# --- can ----------------------------------------------------------------------------------


def test_can_yes_with_provenance(db: str) -> None:
    result = run(db, "can", "dana@example.com", "get", "secrets", "-n", "payments", "--group", "payments-devs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "yes"
    assert lines[1] == (
        "  dana@example.com (groups: payments-devs, system:authenticated) -> get secrets in namespace payments"
    )
    assert lines[2].startswith("  allowed by RoleBinding payments/payments-devs-edit -> ClusterRole edit rule #")
    assert lines[2].endswith("(aggregated from ClusterRole system:aggregate-to-edit)")


def test_can_no_exits_1(db: str) -> None:
    result = run(db, "can", "dana@example.com", "get", "secrets", "-n", "payments")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == "no"


def test_can_service_account_forms_and_resource_names(db: str) -> None:
    for user in ("system:serviceaccount:web:frontend", "sa:web/frontend"):
        assert run(db, "can", user, "get", "configmaps", "web-config", "-n", "web").exit_code == 0
        assert run(db, "can", user, "get", "configmaps", "other", "-n", "web").exit_code == 1
        assert run(db, "can", user, "list", "configmaps", "-n", "web").exit_code == 1  # nameless


def test_can_warns_that_a_create_is_never_authorized_with_a_name(tmp_path: Path, fixtures_dir: Path) -> None:
    db_path = str(tmp_path / "x.db")
    run(db_path, "import", "files", str(fixtures_dir / "core" / "named-create.yaml"))
    named = run(db_path, "can", "alice", "create", "configmaps", "app-config", "-n", "ns1")
    # Answered as a SubjectAccessReview naming the object would be, with the note that a real create has no name.
    assert named.exit_code == 0
    assert "asked without the name, the answer is no" in named.stdout
    assert "without the name" not in run(db_path, "can", "alice", "get", "configmaps", "app-config", "-n", "ns1").stdout
    assert "without the name" not in run(db_path, "can", "bob", "create", "configmaps", "x", "-n", "ns1").stdout
    # A subresource's create carries the object's name (kubectl exec web-0): resourceNames do limit it.
    exec_named = run(db_path, "can", "carl", "create", "pods/exec", "web-0", "-n", "ns1")
    assert exec_named.exit_code == 0 and "without the name" not in exec_named.stdout


def test_can_groups_of_service_accounts_and_subresources(db: str) -> None:
    # Every ci SA can exec into web pods through the Group system:serviceaccounts:ci.
    result = run(db, "can", "sa:ci/anything", "create", "pods/exec", "-n", "web")
    assert result.exit_code == 0 and "RoleBinding web/ci-smoke-tests" in result.stdout
    assert run(db, "can", "sa:ci/anything", "create", "pods/exec", "-n", "payments").exit_code == 1
    # */scale for the deployer, in any group.
    assert run(db, "can", "sa:ci/deployer", "patch", "deployments/scale", "-n", "web").exit_code == 0
    assert run(db, "can", "sa:ci/deployer", "get", "deployments/status", "-n", "web").exit_code == 1


def test_can_non_resource_path(db: str) -> None:
    assert run(db, "can", "sa:monitoring/prometheus", "get", "--path", "/metrics/cadvisor").exit_code == 0
    assert run(db, "can", "sa:monitoring/prometheus", "get", "/metrics").exit_code == 0
    assert run(db, "can", "dana@example.com", "get", "--path", "/metrics").exit_code == 1
    assert run(db, "can", "dana@example.com", "get", "--path", "/version").exit_code == 0
    assert run(db, "can", "system:anonymous", "get", "--path", "/api").exit_code == 1


def test_can_system_masters_and_dangling(db: str) -> None:
    result = run(db, "can", "root", "delete", "nodes", "--group", "system:masters")
    assert result.exit_code == 0 and "member of system:masters" in result.stdout
    frank = run(db, "can", "frank@example.com", "get", "pods", "-n", "web")
    assert frank.exit_code == 1
    assert "RoleBinding web/legacy-deployer names this user but its Role 'deployer' does not exist" in frank.stdout


def test_can_cluster_scoped_resource_ignores_namespace(db: str) -> None:
    # The CI deployer's RoleBinding-free power is cluster-wide; a namespace on nodes is meaningless.
    result = run(db, "can", "sa:monitoring/prometheus", "list", "nodes", "-n", "web")
    assert result.exit_code == 0 and "list nodes cluster-wide" in result.stdout


def test_can_named_namespace_is_asked_in_that_namespace(db: str) -> None:
    # The API server's RequestInfo sets the namespace of /api/v1/namespaces/web (and its
    # status, finalize) to "web", so RoleBindings in web apply: view (bound to erin by
    # web/web-admins through admin) grants `get namespaces` for that very namespace.
    result = run(db, "can", "erin@example.com", "get", "namespaces", "web", "-n", "payments")
    assert result.exit_code == 0, result.output
    assert "get namespaces 'web' in namespace web" in result.stdout
    assert "RoleBinding web/web-admins" in result.stdout
    assert run(db, "can", "erin@example.com", "get", "namespaces/status", "web").exit_code == 0
    assert run(db, "can", "erin@example.com", "get", "namespaces", "payments").exit_code == 1
    # Listing namespaces is cluster-wide: no RoleBinding applies.
    assert run(db, "can", "erin@example.com", "list", "namespaces", "-n", "web").exit_code == 1
    data = json.loads(run(db, "who-can", "get", "namespaces", "web", "-o", "json").stdout)
    assert ("erin@example.com", "web") in {(s["subject"]["name"], s["where"]) for s in data["subjects"]}


def test_can_usage_errors(db: str) -> None:
    assert run(db, "can", "sa:broken", "get", "pods").exit_code == 2
    assert run(db, "can", "group:devs", "get", "pods").exit_code == 2
    assert run(db, "can", "alice", "get").exit_code == 2


# --- who-can ------------------------------------------------------------------------------


def test_who_can_table(db: str) -> None:
    result = run(db, "who-can", "get", "secrets", "-n", "payments")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "who can get secrets in namespace payments (snapshot 1 of demo):"
    assert lines[1].split() == ["KIND", "SUBJECT", "WHERE", "BINDING", "ROLE", "RULE"]
    body = "\n".join(lines[2:])
    assert "ServiceAccount  ci/deployer" in body
    assert "payments-devs" in body and "(aggregated from system:aggregate-to-edit)" in body
    assert "dana@example.com" not in body  # view has no secrets
    assert "backup" not in body


def test_who_can_json(db: str) -> None:
    result = run(db, "who-can", "create", "pods/exec", "-A", "-o", "json")
    data = json.loads(result.stdout)
    assert data["request"] == "create pods/exec in any namespace" and data["snapshot"] == 1
    subjects = {(s["subject"]["kind"], s["subject"]["name"], s["where"]) for s in data["subjects"]}
    assert ("Group", "system:serviceaccounts:ci", "web") in subjects
    assert ("User", "erin@example.com", "web") in subjects
    assert ("Group", "payments-devs", "payments") in subjects
    erin = next(s for s in data["subjects"] if s["subject"]["name"] == "erin@example.com")
    assert erin["binding"] == "RoleBinding web/web-admins" and erin["role"] == "ClusterRole admin"
    assert erin["aggregated_from"] == "edit <- system:aggregate-to-edit"  # admin selects edit, which has it


@pytest.mark.parametrize(
    ("args", "question"),
    [
        (["list", "secrets", "-A"], "list secrets in any namespace"),
        (["list", "secrets", "-n", "payments"], "list secrets in namespace payments"),
        (["list", "secrets"], "list secrets cluster-wide"),
        (["list", "nodes", "-A"], "list nodes cluster-wide"),  # cluster-scoped: -A changes nothing
    ],
)
def test_who_can_json_and_table_describe_the_same_question(db: str, args: list[str], question: str) -> None:
    table = run(db, "who-can", *args)
    data = json.loads(run(db, "who-can", *args, "-o", "json").stdout)

    assert table.stdout.splitlines()[0] == f"who can {question} (snapshot 1 of demo):"
    assert data["request"] == question


def test_who_can_yaml_and_cluster_scoped_all_namespaces(db: str) -> None:
    data = yaml.safe_load(run(db, "who-can", "list", "nodes", "-A", "-o", "yaml").stdout)
    assert {s["where"] for s in data["subjects"]} == {"cluster-wide"}
    names = {s["subject"]["name"] for s in data["subjects"]}
    assert names == {"system:masters", "prometheus"}


# --- check ----------------------------------------------------------------------------------


def test_check_jsonl(db: str, tmp_path: Path) -> None:
    lines = [
        {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
         "spec": {"user": "dana@example.com", "groups": ["payments-devs", "system:authenticated"],
                  "resourceAttributes": {"namespace": "payments", "verb": "get", "resource": "secrets"}}},
        {"user": "dana@example.com", "groups": ["system:authenticated"],
         "resourceAttributes": {"namespace": "payments", "verb": "get", "resource": "secrets"}},
        "not json {",
        {"user": "system:serviceaccount:ci:deployer",
         "resourceAttributes": {"verb": "create", "group": "rbac.authorization.k8s.io",
                                "resource": "clusterrolebindings"}},
        {"user": "x", "nonResourceAttributes": {"path": "/version", "verb": "get"}, "groups": ["system:authenticated"]},
        {"spec": {"user": "x"}},
        {"groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}},
    ]
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n\n"
    requests = tmp_path / "reviews.jsonl"
    requests.write_text(text)
    result = run(db, "check", "--requests", str(requests))
    assert result.exit_code == 0
    statuses = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(statuses) == 7
    assert statuses[0]["allowed"] is True
    # Word for word the API server's reason (scripts compare them); the rule is rbacmap's, beside it.
    assert statuses[0]["reason"] == (
        'RBAC: allowed by RoleBinding "payments-devs-edit/payments" of ClusterRole "edit" to Group "payments-devs"'
    )
    provenance = statuses[0]["provenance"]
    assert provenance["binding"] == {"kind": "RoleBinding", "namespace": "payments", "name": "payments-devs-edit"}
    assert isinstance(provenance["rule_index"], int) and provenance["rule_text"].startswith("{")
    assert statuses[1] == {"allowed": False}
    assert statuses[2]["allowed"] is False and statuses[2]["evaluationError"].startswith("line 3: invalid JSON")
    assert statuses[3]["allowed"] is True
    assert 'to ServiceAccount "deployer/ci"' in statuses[3]["reason"]
    assert statuses[4]["allowed"] is True
    assert statuses[5]["allowed"] is False and "line 6" in statuses[5]["evaluationError"]
    # The privileged-group authorizer allows system:masters with no reason at all.
    assert statuses[6] == {"allowed": True, "provenance": {
        "group": "system:masters", "note": "allowed before RBAC is consulted (privileged group)"}}


def test_check_from_stdin(db: str) -> None:
    line = json.dumps({"user": "erin@example.com", "resourceAttributes": {"namespace": "web", "verb": "delete",
                                                                         "resource": "rolebindings",
                                                                         "group": "rbac.authorization.k8s.io"}})
    result = run(db, "check", "--requests", "-", input=line + "\n")
    assert json.loads(result.stdout)["allowed"] is True


def test_check_denial_names_the_missing_role_as_upstream(db: str) -> None:
    # RoleBinding web/legacy-deployer names frank but its Role does not exist: the upstream RBAC
    # authorizer denies with the lister's NotFound error as reason (rbac.go Authorize).
    line = json.dumps({"user": "frank@example.com", "groups": ["system:authenticated"],
                       "resourceAttributes": {"namespace": "web", "verb": "create", "group": "apps",
                                              "resource": "deployments"}})
    result = run(db, "check", "--requests", "-", input=line + "\n")
    assert json.loads(result.stdout) == {
        "allowed": False, "reason": 'RBAC: role.rbac.authorization.k8s.io "deployer" not found'}
    # Cluster-wide, RoleBindings are not consulted: no error, no reason.
    cluster_wide = json.dumps({"user": "frank@example.com", "resourceAttributes": {"verb": "list", "resource": "pods"}})
    assert json.loads(run(db, "check", "--requests", "-", input=cluster_wide + "\n").stdout) == {"allowed": False}


def test_review_reason_aggregates_errors_as_upstream() -> None:
    def dangling(kind: str, name: str, role_kind: str, role: str, namespace: str = "") -> Binding:
        return Binding(BindingKey(kind, name, namespace), RoleKey(role_kind, role), (Subject("User", "u"),))

    missing = dangling("ClusterRoleBinding", "a", "ClusterRole", "gone")
    twice = Decision(False, dangling=(missing, dangling("ClusterRoleBinding", "b", "ClusterRole", "gone")))
    assert review_reason(twice) == 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    both = Decision(False, dangling=(missing, dangling("RoleBinding", "c", "Role", "gone", "ns")))
    assert review_reason(both) == ('RBAC: [clusterrole.rbac.authorization.k8s.io "gone" not found, '
                                   'role.rbac.authorization.k8s.io "gone" not found]')


def test_check_refuses_fields_of_the_wrong_type(db: str) -> None:
    # The API server refuses to decode such a review; converting ["get"] to "['get']" answered another question.
    specs = [
        {"user": "dana@example.com", "resourceAttributes": {"namespace": "payments", "verb": ["get"],
                                                            "resource": "secrets"}},
        {"user": "dana@example.com", "groups": ["payments-devs", 7],
         "resourceAttributes": {"namespace": "payments", "verb": "get", "resource": "secrets"}},
        {"user": "x", "groups": ["system:authenticated"],
         "nonResourceAttributes": {"path": ["/version"], "verb": "get"}},
        {"user": "dana@example.com", "extra": {"scopes": "all"},
         "resourceAttributes": {"namespace": "payments", "verb": "get", "resource": "secrets"}},
        {"user": "dana@example.com", "groups": ["payments-devs", None], "uid": None,
         "resourceAttributes": {"namespace": "payments", "verb": "get", "resource": "secrets", "name": None,
                                "fieldSelector": {"rawSelector": "type=Opaque"},
                                "labelSelector": {"requirements": [{"key": "a", "operator": "Exists"}]}}},
    ]
    result = run(db, "check", "--requests", "-", input="".join(json.dumps(s) + "\n" for s in specs))
    statuses = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s.get("evaluationError") for s in statuses] == [
        "line 1: spec.resourceAttributes.verb must be a string, got list",
        "line 2: spec.groups must be a list of strings",
        "line 3: spec.nonResourceAttributes.path must be a string, got list",
        "line 4: spec.extra must map each key to a list of strings",
        None,
    ]
    assert statuses[4]["allowed"] is True


def test_check_answers_the_lines_around_one_that_is_not_utf8(db: str, tmp_path: Path) -> None:
    line = json.dumps({"user": "erin@example.com", "resourceAttributes": {
        "namespace": "web", "verb": "delete", "resource": "rolebindings", "group": "rbac.authorization.k8s.io"}})
    requests = tmp_path / "reviews.jsonl"
    # A byte order mark, a line in Latin-1, a NaN (Python's JSON extension, not JSON), a CRLF line end.
    requests.write_bytes(b"\xef\xbb\xbf" + line.encode() + b"\n" + line.replace("erin", "\u00e9rin").encode("latin-1")
                         + b"\n" + line[:-1].encode() + b', "x": NaN}\n' + line.encode() + b"\r\n")
    result = run(db, "check", "--requests", str(requests))
    assert result.exit_code == 0, result.output
    statuses = [json.loads(text) for text in result.stdout.splitlines()]
    assert [s["allowed"] for s in statuses] == [True, False, False, True]
    assert statuses[1]["evaluationError"].startswith("line 2: not UTF-8: 'utf-8' codec can't decode byte 0xe9")
    assert statuses[2]["evaluationError"] == "line 3: invalid JSON: NaN is not JSON"


def test_answers_from_a_snapshot_with_rejected_input_say_so(tmp_path: Path, fixtures_dir: Path) -> None:
    db_path = str(tmp_path / "x.db")
    run(db_path, "import", "files", str(fixtures_dir / "core" / "bad-inputs.yaml"))
    for question in (["who-can", "get", "secrets"], ["can", "alice", "get", "pods"], ["paths"], ["risks"]):
        result = run(db_path, *question)
        warning = "warning: the import of snapshot 1 of default rejected 5 document(s)/object(s)"
        assert warning in result.stderr, question
    clean = str(tmp_path / "clean.db")
    run(clean, "import", "files", str(fixtures_dir / "demo"))
    assert "rejected" not in run(clean, "who-can", "get", "secrets").stderr


def test_who_can_lists_grants_limited_to_named_objects_apart(tmp_path: Path, fixtures_dir: Path) -> None:
    db_path = str(tmp_path / "x.db")
    run(db_path, "import", "files", str(fixtures_dir / "core" / "named-create.yaml"))
    table = run(db_path, "who-can", "get", "configmaps", "-n", "ns1")
    # No one may get an unnamed configmap (the API server's answer), but alice may get app-config: said apart.
    assert "also allowed, but only on the objects resourceNames list" in table.stdout
    assert "alice" in table.stdout.split("also allowed")[1] and "app-config" in table.stdout
    data = json.loads(run(db_path, "who-can", "get", "configmaps", "-n", "ns1", "-o", "json").stdout)
    # dina may get any configmap there (config-reader): her named-only grant is not repeated apart.
    assert [s["subject"]["name"] for s in data["subjects"]] == ["system:masters", "dina"]
    assert [(s["subject"]["name"], s["names"], s["binding"]) for s in data["named_only"]] == [
        ("alice", ["app-config"], "RoleBinding ns1/named")]
    exec_data = json.loads(run(db_path, "who-can", "create", "pods/exec", "-n", "ns1", "-o", "json").stdout)
    assert [(s["subject"]["name"], s["names"]) for s in exec_data["named_only"]] == [("carl", ["web-0"])]
    # A create never carries a name: nothing to list apart.
    assert json.loads(run(db_path, "who-can", "create", "configmaps", "-n", "ns1", "-o", "json").stdout)[
        "named_only"] == []


def test_a_resource_of_unknown_group_is_asked_in_the_core_group_with_a_note(db: str) -> None:
    widgets = run(db, "can", "alice", "get", "widgets", "-n", "web")
    assert "note: rbacmap does not know the API group of widgets: asked in the core group" in widgets.stderr
    assert "get widgets in namespace web" in widgets.stdout
    for explicit in (["widgets.example.com"], ["widgets", "--api-group", "example.com"], ["deployments"], ["users"],
                     ["signers"]):
        assert "note:" not in run(db, "can", "alice", "get", *explicit, "-n", "web").stderr, explicit
    assert "does not know the API group" in run(db, "who-can", "get", "widgets").stderr
    # signers are certificates.k8s.io's, cluster-wide, as the API server's CSR approval asks about them.
    assert "approve signers.certificates.k8s.io 'kubernetes.io/kube-apiserver-client' cluster-wide" in run(
        db, "can", "alice", "approve", "signers", "kubernetes.io/kube-apiserver-client").stdout


def test_check_refuses_reviews_the_api_server_would_refuse(db: str, tmp_path: Path) -> None:
    get_pods = {"verb": "get", "resource": "pods", "namespace": "payments"}
    reviews = [
        # kubectl create --dry-run -o json writes creationTimestamp: null: still empty metadata.
        {"kind": "SubjectAccessReview", "metadata": {"creationTimestamp": None},
         "spec": {"user": "alice@example.com", "resourceAttributes": get_pods}},
        {"kind": "SubjectAccessReview", "metadata": {"name": "x"},
         "spec": {"user": "alice@example.com", "resourceAttributes": get_pods}},
        {"kind": "LocalSubjectAccessReview", "metadata": {"namespace": "payments"},
         "spec": {"user": "alice@example.com", "resourceAttributes": get_pods}},
        {"kind": "LocalSubjectAccessReview", "metadata": {"namespace": "web"},
         "spec": {"user": "alice@example.com", "resourceAttributes": get_pods}},
        {"kind": "LocalSubjectAccessReview", "metadata": {"namespace": "web"},
         "spec": {"user": "alice@example.com", "nonResourceAttributes": {"verb": "get", "path": "/healthz"}}},
    ]
    requests = tmp_path / "reviews.jsonl"
    requests.write_text("".join(json.dumps(review) + "\n" for review in reviews))
    result = run(db, "check", "--requests", str(requests))
    assert result.exit_code == 0, result.output
    statuses = [json.loads(line) for line in result.stdout.splitlines()]
    assert "evaluationError" not in statuses[0] and "evaluationError" not in statuses[2]
    assert statuses[1]["evaluationError"] == "line 2: metadata must be empty (has name)"
    assert statuses[3]["evaluationError"] == ("line 4: spec.resourceAttributes.namespace 'payments' must match "
                                              "metadata.namespace 'web'")
    assert statuses[4]["evaluationError"] == ("line 5: spec.nonResourceAttributes is disallowed on a "
                                              "LocalSubjectAccessReview")
