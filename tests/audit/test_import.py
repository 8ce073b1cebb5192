"""Audit-log import: formats, stage de-duplication, impersonation, groups, bad lines."""

from __future__ import annotations

import gzip
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.importers.audit import NothingReadError, StageDeduplicator, import_audit
from rbacmap.importers.audit_earlier import EarlierImports
from rbacmap.importers.audit_formats import from_k8s_event, parse_gke_method, parse_gke_resource_name
from rbacmap.model import NonResourceRequest, ResourceRequest
from rbacmap.store import Store
from rbacmap.usage import (
    Observation,
    audit_import_errors,
    audit_imports,
    impersonations,
    usage_records,
    user_groups,
)


def _usage(store: Store, cluster: str = "prod") -> dict[tuple[str, str, str], tuple[int, str]]:
    records = usage_records(store, cluster)
    return {(r.username, r.request.describe(), r.decision): (r.count, r.last_seen) for r in records}


def test_k8s_jsonl_counts_each_request_once_and_reports_bad_lines(store: Store, audit_dir: Path) -> None:
    result = import_audit(store, [str(audit_dir / "k8s-audit.jsonl")], "prod")
    assert (result.lines, result.events, result.requests) == (22, 21, 18)
    assert [(e.line, e.message.split(":")[0]) for e in result.errors] == [
        (16, "JSON syntax error"), (17, "not a Kubernetes audit event")]
    assert audit_import_errors(store, result.import_id)[1].describe().endswith("line 17: not a Kubernetes audit "
                                                                                 "event: missing field 'verb'")
    usage = _usage(store)
    sa = "system:serviceaccount:web:deployer"
    # RequestReceived + ResponseComplete of one create: counted once, with the final stage's time.
    assert usage[(sa, "create deployments.apps in namespace web", "allow")] == (1, "2024-05-01T10:00:00.050000Z")
    # A watch logged at ResponseStarted and ResponseComplete: once, verb watch.
    assert usage[(sa, "watch pods in namespace web", "allow")][0] == 1
    assert usage[(sa, "patch deployments/scale.apps 'frontend' in namespace web", "allow")][0] == 1
    assert usage[("alice@example.com", "get pods/log 'web-1' in namespace web", "deny")][0] == 1
    assert usage[("prometheus", "get /metrics", "allow")][0] == 2
    assert ("prometheus", "get /healthz/etcd", "allow") in usage  # query string dropped
    # v1beta1 events (timestamp field) import too; cluster-scoped requests have no namespace.
    assert ("system:serviceaccount:ops:admin-bot", "list nodes cluster-wide", "allow") in usage
    assert result.window.start == "2024-05-01T10:00:00.050000Z"
    assert result.window.end == "2024-05-08T10:00:00.000000Z"


def test_impersonated_user_is_the_acting_user(store: Store, audit_dir: Path) -> None:
    import_audit(store, [str(audit_dir / "k8s-audit.jsonl")], "prod")
    assert ("alice@example.com", "get pods 'web-1' in namespace web", "allow") in _usage(store)
    assert [(r["impersonator"], r["username"]) for r in impersonations(store, "prod")] == [
        ("support-bot", "alice@example.com")]
    assert user_groups(store, "prod")["alice@example.com"] == ("devs", "payments-devs", "system:authenticated")
    # The impersonator's own requests are the checks the API server made before acting as alice: the user and
    # each group asked for (system:authenticated is added by the server, not asked for).
    assert {request for user, request, _ in _usage(store) if user == "support-bot"} == {
        "impersonate users 'alice@example.com' cluster-wide", "impersonate groups 'devs' cluster-wide",
        "impersonate groups 'payments-devs' cluster-wide"}
    assert user_groups(store, "prod")["support-bot"] == ("system:authenticated",)


def test_impersonation_checks_follow_the_api_server() -> None:
    def checks(impersonated: dict[str, object]) -> list[tuple[str, ...]]:
        event = {"verb": "get", "user": {"username": "ops", "groups": ["sre"]}, "impersonatedUser": impersonated,
                 "objectRef": {"resource": "pods", "namespace": "web"}, "auditID": "1"}
        observation = from_k8s_event(event)
        assert observation.impersonator_groups == ("sre",)
        return [key[1:7] for key in observation.impersonation]

    sa = "system:serviceaccount:web:bot"
    # A ServiceAccount: `serviceaccounts` in its namespace; its own groups come with it unasked.
    assert checks({"username": sa, "groups": ["system:serviceaccounts", "system:serviceaccounts:web",
                                              "system:authenticated"]}) == [
        ("impersonate", "", "serviceaccounts", "", "web", "bot")]
    assert checks({"username": sa, "groups": ["ops", "system:authenticated"]}) == [
        ("impersonate", "", "serviceaccounts", "", "web", "bot"), ("impersonate", "", "groups", "", "", "ops")]
    assert checks({"username": "bob", "uid": "42", "extra": {"scopes": ["view", "edit"]}}) == [
        ("impersonate", "", "users", "", "", "bob"), ("impersonate", "authentication.k8s.io", "uids", "", "", "42"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "view"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "", "edit")]
    assert checks({"username": "system:anonymous", "groups": ["system:unauthenticated"]}) == [
        ("impersonate", "", "users", "", "", "system:anonymous")]


def test_importing_the_same_log_again_counts_nothing_twice(store: Store, audit_dir: Path) -> None:
    log = str(audit_dir / "k8s-audit.jsonl")
    first = import_audit(store, [log], "prod")
    counts = _usage(store)
    again = import_audit(store, [log], "prod")
    assert (again.requests, again.already_imported, again.without_audit_id) == (0, first.requests, 0)
    assert _usage(store) == counts and counts[("prometheus", "get /metrics", "allow")][0] == 2
    assert [(r["requests"], r["already_imported"]) for r in audit_imports(store, "prod")] == [(18, 0), (0, 18)]
    # Only the auditIDs are kept, one row per request counted.
    assert store.query("SELECT count(*) AS n FROM audit_request_ids")[0]["n"] == first.requests
    # Another cluster's imports are another record.
    assert import_audit(store, [log], "staging").requests == first.requests


def _event(audit_id: str | None, stage: str, stamp: str, user: str = "alice") -> str:
    event = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "stage": stage, "verb": "get",
             "user": {"username": user}, "objectRef": {"resource": "pods", "namespace": "web"},
             "responseStatus": {"code": 200}, "requestReceivedTimestamp": stamp, "stageTimestamp": stamp}
    if audit_id is not None:
        event["auditID"] = audit_id
    return json.dumps(event) + "\n"


def test_rotated_logs_count_a_request_cut_between_its_stages_once(store: Store, tmp_path: Path) -> None:
    """The first file ends with a request's RequestReceived (counted then, no final stage in sight); the next
    starts with its ResponseComplete, an hour later than anything imported before."""
    first, second = tmp_path / "audit.log.1", tmp_path / "audit.log"
    first.write_text(_event("a", "ResponseComplete", "2024-05-01T10:00:00Z")
                     + _event("watch", "RequestReceived", "2024-05-01T10:30:00Z"))
    second.write_text(_event("watch", "ResponseComplete", "2024-05-01T11:30:00Z")
                      + _event("b", "ResponseComplete", "2024-05-01T12:00:00Z"))
    assert import_audit(store, [str(first)], "prod").requests == 2
    result = import_audit(store, [str(second)], "prod")
    assert (result.requests, result.already_imported) == (1, 1)
    assert _usage(store)[("alice", "get pods in namespace web", "allow")][0] == 3


def test_events_without_audit_id_are_counted_and_said_so(store: Store, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    log.write_text(_event(None, "ResponseComplete", "2024-05-01T10:00:00Z")
                   + _event("a", "ResponseComplete", "2024-05-01T10:00:01Z"))
    assert (import_audit(store, [str(log)], "prod").without_audit_id) == 1
    again = import_audit(store, [str(log)], "prod")
    assert (again.requests, again.already_imported, again.without_audit_id) == (1, 1, 1)
    assert _usage(store)[("alice", "get pods in namespace web", "allow")][0] == 3
    assert [r["without_audit_id"] for r in audit_imports(store, "prod")] == [1, 1]


def test_logs_of_another_time_are_not_looked_up(store: Store, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The next day's log shares no request with what was imported: no auditID is looked up in the store."""
    monday, tuesday = tmp_path / "monday.jsonl", tmp_path / "tuesday.jsonl"
    monday.write_text("".join(_event(f"m{i}", "ResponseComplete", f"2024-05-06T1{i}:00:00Z") for i in range(5)))
    tuesday.write_text("".join(_event(f"t{i}", "ResponseComplete", f"2024-05-07T1{i}:00:00Z") for i in range(5)))
    import_audit(store, [str(monday)], "prod")
    looked_up: list[str] = []
    holds = EarlierImports.holds

    def spy(self: EarlierImports, audit_id: str) -> bool:
        looked_up.append(audit_id)
        return holds(self, audit_id)

    monkeypatch.setattr(EarlierImports, "holds", spy)
    assert import_audit(store, [str(tuesday)], "prod").requests == 5
    assert looked_up == []
    assert import_audit(store, [str(monday)], "prod").already_imported == 5
    assert len(looked_up) == 5


def test_report_says_what_was_skipped(tmp_path: Path, fixtures_dir: Path) -> None:
    """The demo: importing its two weeks again leaves erin's 14 list requests at 14."""
    db = str(tmp_path / "demo.db")
    log = str(fixtures_dir / "demo-audit" / "audit.jsonl")
    runner = CliRunner()
    assert runner.invoke(cli, ["import", "files", "--db", db, str(fixtures_dir / "demo"), "--cluster", "demo"]
                         ).exit_code == 0
    first = runner.invoke(cli, ["import", "audit", "--db", db, log, "--cluster", "demo"])
    assert "171 request(s) counted once each" in first.output and "skipped" not in first.output
    again = runner.invoke(cli, ["import", "audit", "--db", db, log, "--cluster", "demo"])
    assert again.exit_code == 0, again.output
    assert "0 request(s) counted once each" in again.output
    assert "skipped: 171 request(s) already imported (an earlier import of demo counted their auditID)" \
        in again.output
    assert "window: no new request" in again.output
    usage = runner.invoke(cli, ["usage", "--db", db, "--user", "erin@example.com", "-o", "json"])
    counts = {u["request"]: u["count"] for u in json.loads(usage.output)["usage"]}
    assert counts["list pods in namespace web"] == 14
    offboard = runner.invoke(cli, ["offboard", "--db", db, "erin@example.com"])
    assert "29 request(s) in the imported audit logs" in offboard.output
    with_no_ids = tmp_path / "no-ids.jsonl"
    with_no_ids.write_text(_event(None, "ResponseComplete", "2026-11-20T10:00:00Z", "erin@example.com"))
    note = runner.invoke(cli, ["import", "audit", "--db", db, str(with_no_ids), "--cluster", "demo"])
    assert "note: 1 request(s) had no auditID: counted, though nothing tells whether an earlier import counted " \
           "them too" in note.output


def test_gzip_directory_and_stdin(store: Store, audit_dir: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    with gzip.open(logs / "audit.log.gz", "wb") as out:
        out.write((audit_dir / "k8s-audit.jsonl").read_bytes())
    shutil.copy(audit_dir / "eventlist.json", logs / "eventlist.json")
    result = import_audit(store, [str(logs)], "gz")
    # The EventList repeats 5 events of the log: same auditIDs, so no request is counted twice.
    assert (result.events, result.requests) == (21 + 5, 18)
    stdin = io.BytesIO((audit_dir / "k8s-audit.jsonl").read_bytes())
    assert import_audit(store, ["-"], "stdin", stdin=stdin).requests == 18


def test_eks_filter_log_events_and_export_task_lines(store: Store, audit_dir: Path) -> None:
    result = import_audit(store, [str(audit_dir / "eks-filter-log-events.json"),
                                  str(audit_dir / "eks-export-task.log")], "eks")
    assert result.requests == 6 + 4
    assert [(Path(e.source).name, e.line) for e in result.errors] == [("eks-export-task.log", 5)]
    usage = _usage(store, "eks")
    assert ("bob", "update configmaps 'app-config' in namespace web", "allow") in usage
    assert ("alice@example.com", "get pods 'web-1' in namespace web", "allow") in usage


def test_gke_entries_map_to_kubernetes_request_attributes(store: Store, audit_dir: Path) -> None:
    result = import_audit(store, [str(audit_dir / "gke-cloud-logging.json")], "gke", fmt="gke")
    assert result.errors == [] and result.requests == 7
    by_request = {(r.username, r.request): r.decision for r in usage_records(store, "gke")}
    alice = "alice@example.com"
    assert by_request[(alice, ResourceRequest("create", "pods", "web", "", "", "web-2"))] == "allow"
    assert by_request[(alice, ResourceRequest("create", "pods", "web", "", "exec", "web-2"))] == "allow"
    assert by_request[("system:serviceaccount:web:deployer",
                       ResourceRequest("update", "deployments", "web", "apps", "", "frontend"))] == "allow"
    denied = ResourceRequest("get", "secrets", "payments", "", "", "ledger-key")
    assert by_request[("bob@example.com", denied)] == "deny"
    # A Namespace is in its own namespace, as the API server authorizes it (a RoleBinding there may allow it).
    assert by_request[(alice, ResourceRequest("get", "namespaces", "payments", "", "", "payments"))] == "allow"
    assert by_request[(alice, ResourceRequest("list", "clusterroles", "", "rbac.authorization.k8s.io"))] == "allow"
    assert by_request[(alice, ResourceRequest("update", "namespaces", "payments", "", "status", "payments"))] \
        == "allow"


def test_gke_helpers() -> None:
    assert parse_gke_method("io.k8s.core.v1.pods.exec.create") == ("core", "pods", "exec", "create")
    assert parse_gke_method("io.k8s.apps.v1beta2.deployments.list") == ("apps", "deployments", "", "list")
    assert parse_gke_method("io.k8s.get") is None
    assert parse_gke_resource_name("core/v1/namespaces/a/pods/p/log", "pods") == ("", "a", "p")
    assert parse_gke_resource_name("core/v1/namespaces/a", "namespaces") == ("", "a", "a")
    assert parse_gke_resource_name("core/v1/namespaces/a/finalize", "namespaces") == ("", "a", "a")
    assert parse_gke_resource_name("core/v1/namespaces", "namespaces") == ("", "", "")


def test_deduplicator_is_bounded_and_falls_back_to_first_stage() -> None:
    counted: list[Observation] = []
    dedup = StageDeduplicator(counted.append, window=2)
    key = ("u", "get", "", "pods", "", "ns", "", "", "unknown")
    for i in range(10):
        dedup.add(Observation(f"id{i}", False, key, f"t{i}", (), ""))  # only RequestReceived seen
    assert len(dedup.pending) + len(dedup.pending_old) <= 4
    dedup.add(Observation("id9", True, key, "final", (), ""))
    dedup.close()
    assert sorted(o.audit_id for o in counted) == [f"id{i}" for i in range(10)]
    assert next(o for o in counted if o.audit_id == "id9").timestamp == "final"


def test_non_resource_request_round_trips(store: Store, audit_dir: Path) -> None:
    import_audit(store, [str(audit_dir / "k8s-audit.jsonl")], "prod")
    assert NonResourceRequest("get", "/metrics") in {r.request for r in usage_records(store, "prod")}


def test_null_verb_or_username_is_a_bad_line_not_a_failed_import(store: Store, audit_dir: Path, tmp_path: Path) -> None:


    good = [json.loads(line) for line in (audit_dir / "k8s-audit.jsonl").read_text().splitlines()[:2]]
    no_verb = {**good[1], "auditID": "no-verb", "verb": None}
    no_user = {**good[1], "auditID": "no-user", "user": {**good[1]["user"], "username": None}}
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in [*good, no_verb, no_user]))
    result = import_audit(store, [str(path)], "prod")
    assert [(e.line, e.message) for e in result.errors] == [
        (3, "not a usable audit event: no verb"),
        (4, "not a usable audit event: no user.username"),
    ]
    assert result.requests == 1  # the good request (two stages) still imports
    assert len(usage_records(store, "prod")) == 1


def test_errors_in_a_document_name_the_item(store: Store, audit_dir: Path, tmp_path: Path) -> None:
    """A whole JSON document starts at one line for all its items: each error says which item (and its jq path)."""
    with pytest.raises(NothingReadError) as raised:  # no item is a usable record: nothing is stored
        import_audit(store, [str(audit_dir / "gke-cloud-logging.json")], "gke", fmt="k8s")
    assert [(e.line, e.message) for e in raised.value.errors] == [
        (1, f"item {n + 1} of the JSON array (.[{n}]): not a Kubernetes audit event: missing field 'verb'")
        for n in range(7)]
    assert "gke-cloud-logging.json line 1: item 3 of the JSON array (.[2]): not a Kubernetes audit event" \
        in raised.value.errors[2].describe()
    assert audit_imports(store, "gke") == []
    eventlist = json.loads((audit_dir / "eventlist.json").read_text())
    del eventlist["items"][1]["verb"]
    eventlist["items"][3] = "not an event"
    pretty = tmp_path / "eventlist.json"
    pretty.write_text("\n" + json.dumps(eventlist, indent=2))
    one_line = tmp_path / "eventlists.jsonl"
    one_line.write_text(json.dumps(eventlist) + "\n")
    for path, line in ((pretty, 2), (one_line, 1)):
        result = import_audit(store, [str(path)], "c")
        assert [(e.line, e.message.split(": ")[0]) for e in result.errors] == [
            (line, "item 2 of the EventList (.items[1])"), (line, "item 4 of the EventList (.items[3])")]
    events = json.loads((audit_dir / "eks-filter-log-events.json").read_text())
    events["events"][0]["message"] = "{not json"
    cloudwatch = tmp_path / "filter-log-events.json"
    cloudwatch.write_text(json.dumps(events, indent=1))
    [error] = import_audit(store, [str(cloudwatch)], "eks", fmt="eks").errors
    assert error.message.startswith("item 1 of the CloudWatch events (.events[0]): CloudWatch message is not JSON")
