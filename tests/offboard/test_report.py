"""The report for Acme's departed engineers: provenance of every way in, and every artifact left."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from rbacmap.offboard import offboard, system_masters_findings
from rbacmap.offboard_context import Resolution
from rbacmap.offboard_identity import Identity, parse_person
from rbacmap.offboard_report import ClusterReport, Finding
from rbacmap.store import Store

CLUSTER = "prod-eks"
ALICE = "alice@acme.example"
ALICE_LINE = (
    f"{ALICE}, arn:aws:iam::111122223333:user/alice arn:aws:sts::111122223333:assumed-role/platform-admin/alice"
)
Builder = Callable[..., Store]


def report_for(store: Store, line: str, groups: tuple[str, ...] = ()) -> ClusterReport:
    [person_report] = offboard(store, [parse_person(line, groups)], [CLUSTER])
    return person_report.clusters[0]


def of_type(report: ClusterReport, kind: str) -> dict[str, Finding]:
    return {f.location.logical_name() if f.location else "-": f for f in report.findings if f.type == kind}


def test_direct_bindings_name_the_subject_and_whether_others_remain(acme: Store) -> None:
    report = report_for(acme, ALICE_LINE)
    direct = of_type(report, "direct-binding")
    assert set(direct) == {"RoleBinding/payments/alice-payments-edit", "RoleBinding/web/web-deployers"}
    shared = direct["RoleBinding/web/web-deployers"].provenance
    assert shared["subjects"] == [{"index": 0, "kind": "User", "name": ALICE}]
    assert shared["other_subjects"] == 1
    assert direct["RoleBinding/payments/alice-payments-edit"].provenance["other_subjects"] == 0


def test_group_access_says_how_membership_is_known_and_who_else_is_in(acme: Store) -> None:
    groups = of_type(report_for(acme, ALICE_LINE), "group-binding")
    oncall = groups["ClusterRoleBinding/oncall-debug"]
    vias = {m["via"] for m in oncall.provenance["membership"]}
    assert "client certificate issued for CSR alice-laptop" in vias
    assert any(v.startswith("audit log") for v in vias)
    assert oncall.provenance["other_members"] == [{"username": "carol@acme.example", "source": "audit log"}]
    assert "identity provider" in oncall.message
    # The IAM role session (mapRoles) and the IAM user (mapUsers) bring their own groups.
    assert "ClusterRoleBinding/platform-operators" in groups
    assert groups["ClusterRoleBinding/eks-readers"].provenance["other_members"][0]["username"] == "frank"
    # Nobody is "in" system:authenticated for offboarding purposes.
    assert "ClusterRoleBinding/system:basic-user" not in groups


def test_aws_auth_entries_for_the_iam_user_and_the_role_session(acme: Store) -> None:
    report = report_for(acme, ALICE_LINE)
    entries = [f for f in report.findings if f.type == "aws-auth-mapping"]
    by_section = {f.provenance["section"]: f for f in entries}
    assert by_section["mapUsers"].provenance["index"] == 0
    assert by_section["mapRoles"].provenance["identity"]["username"] == "platform:alice"
    assert [s.action for s in by_section["mapUsers"].fix][0] == "aws-auth-remove"
    # A shared role mapping is not deleted: the fix is on the IAM side.
    assert all(s.action == "command" for s in by_section["mapRoles"].fix)


def test_client_certificate_cannot_be_revoked_and_has_a_lifetime(acme: Store) -> None:
    [cert] = of_type(report_for(acme, ALICE_LINE), "client-certificate").values()
    assert "cannot be revoked" in cert.message
    assert cert.provenance["lifetime_seconds"] == 7776000
    assert cert.provenance["certificate_subject"] == {"common_name": ALICE, "organizations": ["acme:oncall"]}
    assert cert.provenance["expires_at_estimate"].startswith("2026-05-30T09:00:00")


def test_artifacts_left_behind_come_from_the_audit_log(acme: Store) -> None:
    report = report_for(acme, ALICE_LINE)
    created = of_type(report, "created-object")
    assert set(created) == {"ClusterRoleBinding/debug-alice", "ServiceAccount/tools/debugger"}
    assert created["ClusterRoleBinding/debug-alice"].provenance["created_by"]["request"].startswith(
        "create clusterrolebindings.rbac.authorization.k8s.io 'debug-alice'")
    tokens = of_type(report, "token-secret")
    assert set(tokens) == {"Secret/tools/debugger-token", "Secret/tools/ci-token"}
    assert "created" in tokens["Secret/tools/debugger-token"].message
    assert "read" in tokens["Secret/tools/ci-token"].message
    [request] = of_type(report, "token-request").values()
    assert request.provenance["default_lifetime_seconds"] == 3600 and request.remains
    [workload] = of_type(report, "created-workload").values()
    assert workload.location is not None and workload.location.logical_name() == "Deployment/tools/debug-shell"
    assert "cluster-admin" in workload.message  # the debugger SA is bound to cluster-admin
    [seen] = of_type(report, "last-seen").values()
    assert seen.provenance["last_seen"].startswith("2026-03-10T17:30:00") and not seen.remains


def test_escalation_paths_carry_a_proof(acme: Store) -> None:
    report = report_for(acme, ALICE_LINE)
    assert report.sources["solver"]
    paths = [f for f in report.findings if f.type == "escalation-path"]
    targets = {(f.provenance["path"]["subject"]["name"], f.provenance["path"]["target"]["kind"]) for f in paths}
    # platform-admins may patch deployments, and debug-shell runs as the cluster-admin debugger SA.
    assert ("platform-admins", "cluster-admin") in targets
    assert all(f.provenance["proof"] for f in paths)


def test_permissions_are_grouped_by_scope_with_their_grant(acme: Store) -> None:
    report = report_for(acme, ALICE_LINE)
    scopes = report.to_json()["permissions"]
    assert set(scopes) == {"cluster-wide", "payments", "web"}
    [payments_pods] = [p for p in scopes["payments"] if "pods" in p["rule"]]
    assert payments_pods["grant"]["binding"] == {"kind": "RoleBinding", "namespace": "payments",
                                                 "name": "alice-payments-edit"}
    assert payments_pods["grant"]["rule_index"] == 0


def test_a_person_with_nothing_left(acme: Store) -> None:
    report = report_for(acme, "dave@acme.example")
    assert not report.remains
    assert [f.type for f in report.findings] == ["last-seen"]
    assert report.permissions == ()


def test_without_audit_logs_groups_come_from_the_certificate_and_the_group_option(
    tmp_path: Path, build_acme: Builder
) -> None:
    with build_acme(tmp_path / "no-audit.db", audit=False) as store:
        report = report_for(store, ALICE, groups=("payments-oncall",))
        assert report.sources["audit"] is False
        assert not of_type(report, "created-object")  # artifacts need the audit log
        assert "ClusterRoleBinding/oncall-debug" in of_type(report, "group-binding")
        assert report.identities[0].groups == ("payments-oncall",)


@pytest.mark.parametrize("line", ["user:alice@acme.example", "alice@acme.example"])
def test_gcp_member_resolves_to_the_same_username(acme: Store, line: str) -> None:
    report = report_for(acme, line)
    assert "RoleBinding/payments/alice-payments-edit" in of_type(report, "direct-binding")


def test_cloud_import_adds_role_trust_access_entries_and_grants(tmp_path: Path, build_acme: Builder) -> None:
    with build_acme(tmp_path / "cloud.db", cloud=True) as store:
        report = report_for(store, ALICE_LINE)
    assert report.sources["cloud"]
    [trust] = of_type(report, "iam-role-trust").values()
    assert trust.provenance["principal"] == "arn:aws:iam::111122223333:role/eks-break-glass"
    assert "trust policy" in trust.provenance["chain"][0]
    mappings = {f.provenance["principal"]: f for f in report.findings if f.type == "cloud-mapping"}
    own = mappings["arn:aws:iam::111122223333:user/alice"]
    assert own.fix[0].command.startswith("aws eks delete-access-entry --cluster-name prod-eks --principal-arn "
                                         "arn:aws:iam::111122223333:user/alice")
    assert mappings["arn:aws:iam::111122223333:role/eks-break-glass"].provenance["via"]
    # Reached through the role: the break-glass group's cluster-admin binding.
    assert "ClusterRoleBinding/break-glass" in of_type(report, "group-binding")
    [grant] = of_type(report, "cloud-grant").values()
    assert grant.provenance["namespaces"] == ["payments"]
    # The aws-auth mapUsers entry is reported once (by the snapshot), not again from the cloud import.
    assert len([f for f in report.findings if f.type == "aws-auth-mapping"]) == 2


def test_gke_project_roles_and_impersonation_become_gcloud_steps(tmp_path: Path, build_acme: Builder) -> None:
    with build_acme(tmp_path / "gke.db", cloud=True, cluster="gke-prod") as store:
        [person_report] = offboard(store, [parse_person("user:alice@acme.example")], ["gke-prod"])
    report = person_report.clusters[0]
    assert report.sources["cloud"]
    [grant] = of_type(report, "cloud-grant").values()
    assert grant.location is not None and grant.location.logical_name() == "IAMBinding/user:alice@acme.example"
    assert grant.fix[0].command == ("gcloud projects remove-iam-policy-binding acme-prod "
                                    "--member=user:alice@acme.example --role=roles/container.developer")
    [trust] = of_type(report, "iam-role-trust").values()
    assert trust.provenance["principal"] == "serviceAccount:deployer@acme-prod.iam.gserviceaccount.com"
    assert trust.fix[0].command == (
        "gcloud iam service-accounts remove-iam-policy-binding deployer@acme-prod.iam.gserviceaccount.com "
        "--member=user:alice@acme.example --role=roles/iam.serviceAccountTokenCreator")
    usernames = {i.username for i in report.identities}
    assert "deployer@acme-prod.iam.gserviceaccount.com" in usernames
    # The Google account logs in as its email, which the RBAC bindings name directly.
    assert "RoleBinding/payments/alice-payments-edit" in of_type(report, "direct-binding")


def test_access_entry_of_a_role_the_person_assumed_is_not_deleted(tmp_path: Path, build_acme: Builder) -> None:
    # Given as a session of the break-glass role: the role's access entry serves everyone who may assume it.
    with build_acme(tmp_path / "cloud.db", cloud=True) as store:
        report = report_for(store, f"{ALICE} arn:aws:sts::111122223333:assumed-role/eks-break-glass/alice")
    mappings = {f.provenance["principal"]: f for f in report.findings if f.type == "cloud-mapping"}
    role = mappings["arn:aws:iam::111122223333:role/eks-break-glass"]
    commands = [step.command for step in role.fix]
    assert not any("delete-access-entry" in command for command in commands)
    assert commands[0] == "aws iam get-role --role-name eks-break-glass --query Role.AssumeRolePolicyDocument"
    assert "stop the person from assuming it" in role.remediation
    # The access entry's username template names the session: the person's own username through the role.
    assert "break-glass:alice" in {i.username for i in report.identities}


def test_system_masters_points_at_the_object_that_grants_it_or_at_nothing() -> None:
    sources = ["audit", "CertificateSigningRequest/alice-laptop", "ConfigMap/kube-system/aws-auth",
               "eks-access-entry/arn:aws:iam::111122223333:role/admin"]
    resolution = Resolution([Identity(ALICE, ("system:masters",), "x", source) for source in sources])
    locations = [f.location.logical_name() if f.location else None for f in system_masters_findings(resolution)]
    assert locations == [None, "CertificateSigningRequest/alice-laptop", "ConfigMap/kube-system/aws-auth", None]
