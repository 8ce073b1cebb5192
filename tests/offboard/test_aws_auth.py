"""aws-auth as aws-iam-authenticator applies it, without a cloud import: paths, partitions, mapAccounts, templates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rbacmap.cloud.model import AWS_PRINCIPAL, CloudFacts, CloudGrant, IdentityMapping
from rbacmap.cloud.store import save_cloud_import
from rbacmap.importers.manifests import import_files
from rbacmap.model import PolicyRule
from rbacmap.offboard import offboard
from rbacmap.offboard_identity import canonical_arn, parse_person
from rbacmap.offboard_report import ClusterReport
from rbacmap.store import Store
from tests.offboard.conftest import FIXTURES

CLUSTER = "aws-auth-dev"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store(tmp_path_factory.mktemp("aws-auth") / "db") as store:
        assert import_files(store, [str(FIXTURES / "aws-auth")], CLUSTER).errors == []
        yield store


def report_for(store: Store, line: str) -> ClusterReport:
    [person_report] = offboard(store, [parse_person(line)], [CLUSTER])
    return person_report.clusters[0]


def bindings(report: ClusterReport) -> dict[str, bool]:
    """Binding name -> whether the fix has a step for it."""
    return {f.location.name: bool(f.fix) for f in report.findings
            if f.type in ("direct-binding", "group-binding") and f.location}


def test_canonical_arn_is_the_authenticators() -> None:
    # aws-iam-authenticator pkg/arn Canonicalize: IAM users and roles as they are, partition kept; an assumed role's
    # session becomes its role (STS reports no path). A role given directly is compared as its sessions are.
    assert canonical_arn("arn:aws:iam::111122223333:user/eng/bob") == "arn:aws:iam::111122223333:user/eng/bob"
    assert canonical_arn("arn:aws-cn:iam::111122223333:user/bob") == "arn:aws-cn:iam::111122223333:user/bob"
    assert canonical_arn("arn:aws-us-gov:sts::111122223333:assumed-role/dev/dave") == \
        "arn:aws-us-gov:iam::111122223333:role/dev"
    assert canonical_arn("arn:aws:iam::111122223333:role/team/admin") == "arn:aws:iam::111122223333:role/admin"
    assert parse_person("arn:aws-cn:sts::111122223333:assumed-role/dev/dave").assumed_roles() == (
        ("arn:aws-cn:iam::111122223333:role/dev", "dave"),)


def test_a_mapping_without_username_logs_in_with_its_groups_only(store: Store) -> None:
    report = report_for(store, "arn:aws-cn:iam::111122223333:user/eng/bob")
    [mapping] = [f for f in report.findings if f.type == "aws-auth-mapping"]
    assert mapping.fix and mapping.provenance["entry"]["userarn"] == "arn:aws-cn:iam::111122223333:user/eng/bob"
    assert "no username" in mapping.message
    [identity] = report.identities
    assert not identity.username and identity.groups == ("eng",)
    assert bindings(report) == {"eng-view": False}
    # Another partition is another principal.
    assert not [f for f in report_for(store, "arn:aws:iam::111122223333:user/eng/bob").findings
                if f.type == "aws-auth-mapping"]


def test_a_user_arn_keeps_its_path(store: Store) -> None:
    # mapUsers[1] names user/carol; the caller's canonical ARN is user/eng/carol: no match.
    report = report_for(store, "arn:aws:iam::111122223333:user/eng/carol")
    assert not [f for f in report.findings if f.type == "aws-auth-mapping"] and not report.identities


def test_a_rolearn_with_a_path_never_matches(store: Store) -> None:
    report = report_for(store, "arn:aws:sts::111122223333:assumed-role/admin/alice")
    assert not [f for f in report.findings if f.type in ("aws-auth-mapping", "system-masters")]
    assert all("system:masters" not in i.groups for i in report.identities)


def test_map_accounts_logs_a_principal_in_as_its_arn(store: Store) -> None:
    report = report_for(store, "arn:aws:iam::444455556666:user/ops/erin")
    [identity] = report.identities
    assert identity.username == "arn:aws:iam::444455556666:user/ops/erin" and identity.groups == ()
    assert "mapAccounts[0]" in identity.via and not identity.shared
    assert bindings(report) == {"erin-edit": True}
    [mapping] = [f for f in report.findings if f.type == "aws-auth-mapping"]
    assert mapping.provenance["section"] == "mapAccounts" and "444455556666" in mapping.remediation


def test_rendered_group_templates_are_the_persons_groups(store: Store) -> None:
    report = report_for(store, "arn:aws:sts::111122223333:assumed-role/dev/dave")
    [identity] = [i for i in report.identities if i.username == "dev:dave"]
    assert identity.groups == ("team:dave",)
    assert bindings(report) == {"team-dave": False}
    assert any(p.scope == "dev-one" for p in report.permissions)
    # Without the session, the template is every group it can render to that a binding names.
    report = report_for(store, "arn:aws:iam::111122223333:role/dev")
    assert "team-dave" in bindings(report)


def test_cloud_group_templates_and_wildcard_scopes(tmp_path: Path) -> None:
    role = "arn:aws:iam::111122223333:role/dev-sso"
    facts = CloudFacts("arn:aws:eks:eu-west-1:111122223333:cluster/dev")
    facts.mappings.append(IdentityMapping(AWS_PRINCIPAL, role, "sso:{{SessionName}}", ("team:{{SessionName}}",),
                                          "eks-access-entry", f"access entry {role} (type STANDARD)"))
    facts.grants.append(CloudGrant(AWS_PRINCIPAL, role, ("dev-*",),
                                   (PolicyRule(verbs=("get",), api_groups=("",), resources=("configmaps",)),),
                                   "eks-access-policy", f"access policy AmazonEKSViewPolicy on access entry {role}"))
    with Store(tmp_path / "db") as store:
        assert import_files(store, [str(FIXTURES / "aws-auth")], CLUSTER).errors == []
        save_cloud_import(store, CLUSTER, "eks", facts)
        report = report_for(store, "arn:aws:sts::111122223333:assumed-role/dev-sso/dave")
    [identity] = [i for i in report.identities if i.username == "sso:dave"]
    assert identity.groups == ("team:dave",)
    assert "team-dave" in bindings(report)
    [grant] = [f for f in report.findings if f.type == "cloud-grant"]
    assert grant.provenance["covered_namespaces"] == ["dev-one"] and "dev-one" in grant.message
    scopes = {p.scope for p in report.permissions if p.grant.get("mechanism") == "eks-access-policy"}
    assert scopes == {"dev-one"}
