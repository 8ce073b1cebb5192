"""The shared-dev cluster: the fix never takes access from others, and no way in hides behind another name."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.offboard import offboard
from rbacmap.offboard_fix import build_fix, render_fix
from rbacmap.offboard_identity import parse_person
from rbacmap.offboard_report import ClusterReport, Finding
from rbacmap.store import Store
from tests.offboard.conftest import SHARED_CLUSTER, build_shared_store

ALICE = "alice@acme.example"


def report_for(store: Store, line: str = ALICE) -> ClusterReport:
    [person_report] = offboard(store, [parse_person(line)], [SHARED_CLUSTER])
    return person_report.clusters[0]


def fix_text(store: Store, line: str = ALICE) -> str:
    reports = offboard(store, [parse_person(line)], [SHARED_CLUSTER])
    return render_fix(build_fix(store, reports), [line])


def created(report: ClusterReport) -> dict[str, Finding]:
    return {f.location.logical_name(): f for f in report.findings if f.type == "created-object" and f.location}


def test_objects_the_person_created_for_others_are_kept(shared: Store) -> None:
    findings = created(report_for(shared))
    # Only for herself and her own debug ServiceAccount: deleted.
    assert findings["ClusterRoleBinding/alice-debug"].fix and findings["ClusterRole/alice-debug"].fix
    # Named carol too, granted a group, or still granted to that group: no deletion, says why.
    for name, why in [("ClusterRoleBinding/team-view", "it also grants User carol@acme.example"),
                      ("ClusterRoleBinding/team-config-devs", "it also grants Group devs"),
                      ("ClusterRole/team-config", "ClusterRoleBinding team-config-devs grants it"),
                      ("ClusterRole/team-extras", "ClusterRole team-aggregate aggregates its rules"),
                      ("ServiceAccount/tools/ci-runner", "Deployment tools/builds runs as it")]:
        assert not findings[name].fix and not findings[name].remains, name
        assert findings[name].provenance["in_use"] == [why]
    text = fix_text(shared)
    deletions = [line for line in text.splitlines() if line.startswith("#    kubectl delete")]
    assert deletions[-2:] == ["#    kubectl delete clusterrolebinding alice-debug",
                              "#    kubectl delete clusterrole alice-debug"]
    assert not [line for line in deletions if "team-" in line]
    # team-view is rewritten without alice, not deleted.
    [team_view] = [d for d in yaml.safe_load_all(text) if d and d["metadata"]["name"] == "team-view"]
    assert [s["name"] for s in team_view["subjects"]] == ["carol@acme.example"]


def test_a_binding_deleted_whole_is_not_also_rewritten(tmp_path: Path, shared: Store) -> None:
    reports = offboard(shared, [parse_person(ALICE)], [SHARED_CLUSTER])
    [fix] = build_fix(shared, reports)
    rewritten = {(d["kind"], d["metadata"]["name"]) for d in fix.objects}
    assert not rewritten & {(ref.kind, ref.name) for ref in fix.deletions}


def test_a_certificate_the_person_requested_for_another_name_is_their_access(shared: Store) -> None:
    report = report_for(shared)
    [bot] = [i for i in report.identities if i.username == "release-bot"]
    assert bot.shared and bot.groups == ("release-bots",) and "CSR release-bot" in bot.via
    # What the certificate can do is what the person can still do.
    assert any(p.grant["binding"]["name"] == "release-bot" for p in report.permissions)
    [binding] = [f for f in report.findings if f.type == "direct-binding"
                 and f.location is not None and f.location.name == "release-bot"]
    assert binding.remains and binding.provenance["shared"] and not binding.fix
    [certificate] = [f for f in report.findings if f.type == "client-certificate"
                     and f.location is not None and f.location.name == "release-bot"]
    assert "the fix does so" not in certificate.remediation
    assert "not the person's own name" in certificate.remediation
    # dan keeps the release-bot binding: the fix neither deletes nor rewrites it.
    text = fix_text(shared)
    assert "release-bot" not in text.replace("# rbacmap offboard fix for: alice@acme.example", "")


def test_a_roles_fixed_username_is_shared_and_its_binding_kept(shared: Store) -> None:
    line = f"{ALICE} arn:aws:sts::111122223333:assumed-role/ops/alice"
    report = report_for(shared, line)
    [ops] = [i for i in report.identities if i.username == "ops-admin"]
    assert ops.shared
    [binding] = [f for f in report.findings if f.type == "direct-binding"
                 and f.location is not None and f.location.name == "ops-admin"]
    assert binding.remains and not binding.fix and "others use that username too" in binding.message
    text = fix_text(shared, line)
    assert "ops-admin" not in [line.split()[-1] for line in text.splitlines() if "kubectl delete" in line]


def test_the_persons_email_under_an_oidc_prefix_or_in_other_case_is_theirs(shared: Store) -> None:
    report = report_for(shared)
    vias = {i.username: i.via for i in report.identities}
    assert "with the authenticator prefix 'oidc:'" in vias["oidc:alice@acme.example"]
    assert "in other letter case" in vias["Alice@Acme.example"]
    # Someone whose address merely ends like hers is not her.
    assert not {"malice@acme.example", "oidc:malice@acme.example"} & set(vias)
    direct = {f.location.name: f for f in report.findings if f.type == "direct-binding" and f.location}
    assert direct["oidc-admins"].fix and direct["dev-view"].fix and "malice-view" not in direct
    assert any(p.grant["binding"]["name"] == "oidc-admins" for p in report.permissions)
    text = fix_text(shared)
    # oidc-admins keeps carol's OIDC login; dev-view named only alice's other spelling.
    [oidc_admins] = [d for d in yaml.safe_load_all(text) if d and d["metadata"]["name"] == "oidc-admins"]
    assert [s["name"] for s in oidc_admins["subjects"]] == ["oidc:carol@acme.example"]
    assert "#    kubectl delete rolebinding dev-view -n dev" in text


def test_a_certificate_for_another_spelling_of_the_persons_email_is_theirs(shared: Store) -> None:
    report = report_for(shared)
    [certificate] = [i for i in report.identities if "CSR alice-capitals" in i.via]
    assert certificate.username == "ALICE@acme.example" and not certificate.shared
    assert certificate.groups == ("devs",)
    assert "CertificateSigningRequest/alice-capitals" in {
        f.location.logical_name() for f in report.findings if f.type == "client-certificate" and f.location}


def test_the_table_marks_shared_identities(shared_db: Path) -> None:
    result = CliRunner().invoke(cli, ["offboard", "--db", str(shared_db), ALICE])
    assert result.exit_code == 1, result.output
    assert "  release-bot groups release-bots (shared with others: the fix leaves its bindings)  <- " in result.stdout
    assert "  alice@acme.example  <- given username" in result.stdout


def test_a_certificates_signer_decides_whether_it_logs_anyone_in(shared: Store) -> None:
    report = report_for(shared)
    by_csr = {f.provenance.get("csr"): f for f in report.findings if f.provenance.get("csr")}
    # A kubelet client certificate is that node's credentials, held by whoever made its key.
    node = by_csr["alice-node-client"]
    assert node.type == "client-certificate" and node.remains
    assert any(identity.username == "system:node:ip-10-0-0-9" and identity.shared for identity in report.identities)
    # A serving certificate logs nobody in.
    serving = by_csr["alice-node-serving"]
    assert serving.type == "csr-requested" and not serving.remains and "serving certificate" in serving.message
    # A custom signer's certificate counts, with the condition it depends on.
    internal = by_csr["alice-internal"]
    assert internal.type == "client-certificate" and internal.remains
    assert "if the API server trusts signer example.com/internal's CA" in internal.message
    # ... and its name is one of the person's ways in (shared: alice-internal is not her name), with that condition.
    [identity] = [i for i in report.identities if i.username == "alice-internal"]
    assert identity.shared and "if the API server trusts signer example.com/internal's CA" in identity.via
    # A serving certificate's name is no way in.
    assert not [i for i in report.identities if "alice-node-serving" in i.via]


OPS_LINE = f"{ALICE} arn:aws:sts::111122223333:assumed-role/ops/alice"


def test_a_pending_csr_under_a_shared_username_is_reported_not_deleted(shared: Store) -> None:
    report = report_for(shared, OPS_LINE)
    [pending] = [f for f in report.findings if f.provenance.get("csr") == "ops-pending"]
    # Any ops user may have asked for it under the role's username: a human decides.
    assert pending.type == "csr-requested" and pending.remains and not pending.fix
    assert "ops-admin" in pending.message and "others use that username too" in pending.message
    assert "kubectl delete csr ops-pending" not in fix_text(shared, OPS_LINE)


def test_escalation_advice_for_a_shared_username_says_the_fix_leaves_it(shared: Store) -> None:
    report = report_for(shared)
    paths = [f for f in report.findings if f.type == "escalation-path"]
    shared_paths = [f for f in paths if f.provenance["path"]["subject"] == {"kind": "User", "name": "release-bot"}]
    assert shared_paths
    for finding in shared_paths:
        assert "the fix does so" not in finding.remediation
        assert "the fix leaves" in finding.remediation and "release-bot" in finding.remediation
    own = [f for f in paths if f.provenance["path"]["subject"] == {"kind": "User", "name": ALICE}]
    assert all("the fix does so for User subjects" in f.remediation for f in own)


def test_a_rewritten_binding_drops_the_last_applied_configuration(tmp_path: Path) -> None:
    # The importers already drop the annotation (rbacmap.normalize); a store written otherwise may still hold it.
    with build_shared_store(tmp_path / "shared.db") as store:
        [row] = store.query("SELECT annotations FROM bindings WHERE name = 'team-view'")
        assert json.loads(row["annotations"]) == {"team": "platform"}
        last_applied = {"kubectl.kubernetes.io/last-applied-configuration": json.dumps({"subjects": [{"name": ALICE}]}),
                        "team": "platform"}
        store.conn.execute("UPDATE bindings SET annotations = ? WHERE name = 'team-view'", [json.dumps(last_applied)])
        text = fix_text(store)
    [team_view] = [d for d in yaml.safe_load_all(text) if d and d["metadata"]["name"] == "team-view"]
    assert team_view["metadata"]["annotations"] == {"team": "platform"}
    assert ALICE not in yaml.safe_dump(team_view)
