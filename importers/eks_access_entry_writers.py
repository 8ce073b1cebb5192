"""Who can write an EKS access entry with a username and groups of its choosing, and log in with it.

An IAM principal allowed eks:CreateAccessEntry (or eks:UpdateAccessEntry on an existing entry) needs no
access policy: a STANDARD entry names Kubernetes groups and a username, and RBAC then grants whatever it
binds to them. It writes the entry for a principal it can be (itself, or a role it can assume), then logs
in as that principal. The solver turns each such edge into one login per group or username that RBAC binds,
within the names EKS accepts (rbacmap.cloud.access_entry_logins).

Sources (AWS, Amazon EKS User Guide and API Reference):
- "Create access entries" (creating-access-entries.html): an IAM principal can be in one access entry only;
  a STANDARD entry takes a username and group names, both changeable later (UpdateAccessEntry); "Amazon EKS
  doesn't confirm that any Kubernetes RBAC objects that exist on your cluster include any of the group names";
  an entry cannot name a service-linked role (`arn:aws:iam::*:role/aws-service-role/*`); node entry types take
  no groups. The CreateAccessEntry reference: STANDARD entries take every IAM principal type.
- "Change authentication mode to use access entries" (setting-up-access-entries.html): UpdateClusterConfig
  `accessConfig.authenticationMode` moves CONFIG_MAP -> API_AND_CONFIG_MAP (-> API), never back; the first
  keeps aws-auth working, so nothing else breaks.
- "Grant IAM users access to Kubernetes with EKS access entries" (access-entries.html): the platform versions
  that support access entries (`MIN_PLATFORM` below).
- Service Authorization Reference, Amazon EKS: CreateAccessEntry acts on the `cluster` resource,
  UpdateAccessEntry on the `access-entry` one (`ACCESS-ENTRY-ARN` from describe_access_entry); condition keys
  eks:principalArn (supplied here: the principal the entry names), eks:username and eks:kubernetesGroups (not
  known before the attacker picks them: a condition on them is the edge's condition).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from rbacmap.cloud.model import (
    ACCESS_ENTRY_LOGIN,
    ASSUME_ROLE,
    AWS_PRINCIPAL,
    CLOUD_STEP,
    CREATE_ACCESS_ENTRY,
    SWITCH_AUTHENTICATION_MODE,
    UPDATE_ACCESS_ENTRY,
    WRITE_ACCESS_ENTRY,
    CloudEdge,
)
from rbacmap.importers.aws_iam import Evaluation, IamPrincipal, can_assume, evaluate_identity
from rbacmap.model import GROUP, SYSTEM_MASTERS

NOT_EVALUATED = "(condition not evaluated)"
SERVICE_LINKED = ":role/aws-service-role/"
STANDARD = "STANDARD"

# Kubernetes minor version -> the first platform version (eks.N) that supports access entries; later Kubernetes
# versions all do (AWS, "Grant IAM users access to Kubernetes with EKS access entries", Prerequisites).
MIN_PLATFORM = {(1, 30): 2, (1, 29): 1, (1, 28): 6, (1, 27): 10, (1, 26): 11, (1, 25): 12, (1, 24): 15, (1, 23): 17}


@dataclass(frozen=True)
class ExistingEntry:
    arn: str  # accessEntryArn, "" when the API did not say
    kind: str  # STANDARD, EC2_LINUX, …


def access_entries_supported(version: str, platform: str) -> bool | None:
    """Does the cluster's Kubernetes and platform version support access entries (None: not known)?"""
    kube = re.fullmatch(r"(\d+)\.(\d+)", version or "")
    if kube is None:
        return None
    minor = (int(kube[1]), int(kube[2]))
    if minor > max(MIN_PLATFORM):
        return True
    if minor not in MIN_PLATFORM:
        return False
    number = re.fullmatch(r"eks\.(\d+)", platform or "")
    return None if number is None else int(number[1]) >= MIN_PLATFORM[minor]


def _entry_arn(cluster_arn: str, principal_arn: str) -> str:
    """The ARN an access entry of the principal would get (IAM matches policy resources against it); the UUID
    of an entry not yet created is unknown, so a placeholder stands for it."""
    prefix, _, name = cluster_arn.partition(":cluster/")
    parts = principal_arn.split(":")
    kind, _, path = (parts[5] if len(parts) > 5 else "").partition("/")
    return (f"{prefix}:access-entry/{name}/{kind}/{parts[4] if len(parts) > 5 else ''}/{path.rsplit('/', 1)[-1]}"
            "/00000000-0000-0000-0000-000000000000")


def _write_entry(writer: IamPrincipal, principal: str, existing: Mapping[str, ExistingEntry],
                 cluster_arn: str) -> tuple[str, Evaluation] | None:
    """(mechanism, verdict) when `writer` may give `principal`'s access entry a username and groups."""
    if SERVICE_LINKED in principal:
        return None
    context = {"aws:PrincipalArn": writer.arn, "eks:principalArn": principal}
    entry = existing.get(principal)
    if entry is None:
        verdict = evaluate_identity(writer, WRITE_ACCESS_ENTRY, cluster_arn, context)
        return (WRITE_ACCESS_ENTRY, verdict) if verdict.allowed else None
    if entry.kind != STANDARD:
        return None  # node entries take no groups, and their type cannot change
    verdict = evaluate_identity(writer, UPDATE_ACCESS_ENTRY, entry.arn or _entry_arn(cluster_arn, principal), context)
    return (UPDATE_ACCESS_ENTRY, verdict) if verdict.allowed else None


def _condition(verdicts: list[Evaluation], what: str = "the chosen username and groups") -> str:
    """The caveat of a step whose IAM Allow has a condition rbacmap could not evaluate ('' when none has)."""
    if any(NOT_EVALUATED in reason for verdict in verdicts for reason in verdict.reasons):
        return f"the IAM conditions rbacmap does not evaluate (eks:username, eks:kubernetesGroups, …) allow {what}"
    return ""


def cluster_admin_policy_arn(cluster_arn: str) -> str:
    """AmazonEKSClusterAdminPolicy's ARN in the cluster's partition."""
    partition = cluster_arn.split(":")[1] if cluster_arn.count(":") > 1 else "aws"
    return f"arn:{partition or 'aws'}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"


def policy_edges(writer: IamPrincipal, cluster_arn: str, source: tuple[str, str]) -> Iterator[CloudEdge]:
    """Holders of eks:CreateAccessEntry + eks:AssociateAccessPolicy can map themselves to cluster-admin.

    The request's condition keys are known here, so IAM sees them (Service Authorization Reference, Amazon EKS):
    eks:principalArn is the writer's own ARN on both calls; AssociateAccessPolicy names
    AmazonEKSClusterAdminPolicy (eks:policyArn) at cluster scope (eks:accessScope). Without them, a statement
    limited to another principal or to a weaker policy was "not evaluated", so allowed, and the edge to
    system:masters had no condition."""
    entry_arn = _entry_arn(cluster_arn, writer.arn)  # the writer's own entry, the one it creates
    context = {"aws:PrincipalArn": writer.arn, "eks:principalArn": writer.arn}
    associate_context = {**context, "eks:policyArn": cluster_admin_policy_arn(cluster_arn),
                         "eks:accessScope": "cluster"}
    create = evaluate_identity(writer, "eks:CreateAccessEntry", cluster_arn, context)
    associate = evaluate_identity(writer, "eks:AssociateAccessPolicy", cluster_arn, associate_context)
    if not associate.allowed:
        associate = evaluate_identity(writer, "eks:AssociateAccessPolicy", entry_arn, associate_context)
    if create.allowed and associate.allowed:
        yield CloudEdge(
            *source, GROUP, SYSTEM_MASTERS, CREATE_ACCESS_ENTRY,
            f"can create an access entry and associate AmazonEKSClusterAdminPolicy: {create.describe()};"
            f" {associate.describe()}",
            _condition([create, associate], "its own access entry with AmazonEKSClusterAdminPolicy"))


def access_entry_writer_edges(
    principals: Mapping[str, IamPrincipal], existing: Mapping[str, ExistingEntry], cluster_arn: str, mode: str,
    platform_support: bool | None,
) -> Iterator[CloudEdge]:
    """Edges writer -> (its own entry login), or writer -> step -> (assumed role's entry login); in CONFIG_MAP
    mode, behind a first step that switches the cluster to API_AND_CONFIG_MAP (when the writer may)."""
    for writer in principals.values():
        source: tuple[str, str] = (AWS_PRINCIPAL, writer.arn)
        switch: CloudEdge | None = None
        if mode == "CONFIG_MAP":
            switch = _switch_edge(writer, cluster_arn, platform_support)
            if switch is None:
                continue
            source = (CLOUD_STEP, switch.target)
        own = _write_entry(writer, writer.arn, existing, cluster_arn)
        # API modes: the policy path is made before (importers.eks), in its historical order.
        found = list(policy_edges(writer, cluster_arn, source)) if switch is not None else []
        if own is not None:
            mechanism, verdict = own
            found.append(CloudEdge(*source, ACCESS_ENTRY_LOGIN, writer.arn, mechanism,
                                   f"{mechanism} for its own ARN {writer.arn}: {verdict.describe()}",
                                   _condition([verdict])))
        else:
            found += _through_roles(writer, principals, existing, cluster_arn, source)
        if found and switch is not None:
            yield switch
        yield from found


def _through_roles(writer: IamPrincipal, principals: Mapping[str, IamPrincipal], existing: Mapping[str, ExistingEntry],
                   cluster_arn: str, source: tuple[str, str]) -> Iterator[CloudEdge]:
    """The writer cannot write its own entry (it has one, and no update right; or IAM names other principals):
    it writes the entry of a role it can assume, then assumes it."""
    for role in principals.values():
        if role.kind != "role" or role.arn == writer.arn:
            continue
        write = _write_entry(writer, role.arn, existing, cluster_arn)
        if write is None:
            continue
        assume = can_assume(writer, role)
        if not assume.allowed:
            continue
        mechanism, verdict = write
        step = f"access entry of {role.arn} written by {writer.arn}"
        yield CloudEdge(*source, CLOUD_STEP, step, mechanism, f"{mechanism} for role {role.arn}: {verdict.describe()}",
                        _condition([verdict]))
        yield CloudEdge(CLOUD_STEP, step, ACCESS_ENTRY_LOGIN, role.arn, ASSUME_ROLE, assume.describe(),
                        _condition([assume]))


def _switch_edge(writer: IamPrincipal, cluster_arn: str, platform_support: bool | None) -> CloudEdge | None:
    """writer -> (writer, the cluster now in API_AND_CONFIG_MAP mode), when IAM allows eks:UpdateClusterConfig."""
    if platform_support is False:
        return None
    verdict = evaluate_identity(writer, SWITCH_AUTHENTICATION_MODE, cluster_arn, {"aws:PrincipalArn": writer.arn})
    if not verdict.allowed:
        return None
    conditions = [c for c in (
        _condition([verdict], "the authentication mode change"),
        "" if platform_support else "the cluster's platform version supports access entries (describe-cluster"
        " reports none rbacmap can compare with AWS's table)") if c]
    return CloudEdge(AWS_PRINCIPAL, writer.arn, CLOUD_STEP, f"{writer.arn} after switching the cluster to"
                     " API_AND_CONFIG_MAP", SWITCH_AUTHENTICATION_MODE,
                     f"eks:UpdateClusterConfig accessConfig.authenticationMode=API_AND_CONFIG_MAP (CONFIG_MAP today;"
                     f" aws-auth keeps working): {verdict.describe()}", "; ".join(conditions))
