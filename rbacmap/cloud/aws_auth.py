"""The `aws-auth` ConfigMap: mapRoles, mapUsers and mapAccounts, as aws-iam-authenticator reads them.

Sources: AWS, "Amazon EKS User Guide - Grant IAM users access to Kubernetes with a ConfigMap",
https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html (rolearn without a path,
username, groups; mapUsers userarn; mapAccounts), and aws-iam-authenticator's README "Full
Configuration Format" and pkg/server/server.go for the username templates (see
rbacmap.cloud.username_templates).

Which entry applies to a caller, per aws-iam-authenticator (pkg/server/server.go `doMapping`,
pkg/mapper/configmap/{configmap,mapper}.go, pkg/config/mapper.go):
- the caller is known by its canonical ARN, lower-cased: an assumed role's session becomes
  `arn:aws:iam::ACCOUNT:role/NAME`, without the role's path (STS does not report it);
- mapRoles is looked up first, then mapUsers, each comparing the entry's ARN lower-cased with
  that canonical ARN; two entries of one section for the same ARN: the last one is kept;
- a rolearn with a path therefore never matches (kubernetes-sigs/aws-iam-authenticator#268;
  AWS, "Create access entries": "ARNs in aws-auth ConfigMap entries, can't include a path");
- only a caller no entry maps falls back to mapAccounts, with its canonical ARN as username
  and no group;
- `{{AccountID}}` renders as the caller's account, the one in the entry's ARN;
- an entry without `username` logs in with an empty username (its template, rendered as is).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import yaml

from rbacmap.cloud.username_templates import ACCOUNT_ID, SESSION_TEMPLATES

__all__ = ["SESSION_TEMPLATES", "AwsAuth", "AwsAuthEntry", "caller_key", "canonical_role_arn", "dead_entries",
           "parse_aws_auth"]


@dataclass(frozen=True)
class AwsAuthEntry:
    key: str  # mapRoles, mapUsers or mapAccounts
    index: int
    arn: str  # role/user ARN, or the account id for mapAccounts
    username: str
    groups: tuple[str, ...]

    def describe(self) -> str:
        return f"aws-auth ConfigMap kube-system/aws-auth {self.key}[{self.index}]"


@dataclass(frozen=True)
class AwsAuth:
    entries: tuple[AwsAuthEntry, ...]
    problems: tuple[str, ...]


def parse_aws_auth(data: Mapping[str, str], account_id: str) -> AwsAuth:
    """Every mapping of the ConfigMap; a bad key or entry is a problem, the rest still counts.

    `{{AccountID}}` becomes the account of the entry's ARN (`account_id` when it names none).
    """
    entries: list[AwsAuthEntry] = []
    problems: list[str] = []
    for key, arn_field in (("mapRoles", "rolearn"), ("mapUsers", "userarn")):
        for index, item in enumerate(_load_list(data, key, problems)):
            if not isinstance(item, Mapping) or not item.get(arn_field):
                problems.append(f"aws-auth {key}[{index}]: entry without {arn_field}, ignored")
                continue
            arn = str(item[arn_field])
            # The caller's account, which is the one in the ARN it is mapped by (a cross-account
            # role renders its own account, not the cluster's). No username is no username: the authenticator
            # renders the entry's (empty) template as is (server.go `renderTemplates`), it does not fall back to
            # the ARN; such a login works through its groups only (kubernetes-sigs/aws-iam-authenticator#289).
            username = str(item.get("username") or "").replace(ACCOUNT_ID, _account_of(arn) or account_id)
            groups = item.get("groups") or []
            if not isinstance(groups, list):
                problems.append(f"aws-auth {key}[{index}]: groups is not a list, ignored")
                groups = []
            entries.append(AwsAuthEntry(key, index, arn, username, tuple(str(g) for g in groups)))
    for index, item in enumerate(_load_list(data, "mapAccounts", problems)):
        entries.append(AwsAuthEntry("mapAccounts", index, str(item), "", ()))
    return AwsAuth(tuple(entries), tuple(problems))


def _load_list(data: Mapping[str, str], key: str, problems: list[str]) -> list[object]:
    text = data.get(key)
    if not text:
        return []
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problems.append(f"aws-auth {key}{where}: not valid YAML ({getattr(exc, 'problem', exc)}), ignored")
        return []
    if not isinstance(value, list):
        problems.append(f"aws-auth {key}: expected a YAML list, got {type(value).__name__}, ignored")
        return []
    return value


def canonical_role_arn(arn: str) -> str:
    """The canonical ARN a role's sessions authenticate with: account and name, any path dropped."""
    prefix, _, resource = arn.partition(":role/")
    if not resource:
        return arn
    return f"{prefix}:role/{resource.rsplit('/', 1)[-1]}"


def caller_key(principal_arn: str) -> str:
    """What aws-iam-authenticator compares aws-auth ARNs with for an IAM principal's requests."""
    return canonical_role_arn(principal_arn).lower()


def dead_entries(entries: Sequence[AwsAuthEntry]) -> dict[tuple[str, int], str]:
    """(section, index) -> why the mapRoles/mapUsers entry never applies to any caller."""
    dead: dict[tuple[str, int], str] = {}
    kept: dict[tuple[str, str], AwsAuthEntry] = {}
    for entry in entries:
        if entry.key == "mapRoles" and canonical_role_arn(entry.arn) != entry.arn:
            dead[(entry.key, entry.index)] = (
                "never matches: its rolearn has a path, and aws-iam-authenticator compares it with the caller's"
                f" canonical ARN, which has none (map {canonical_role_arn(entry.arn)} instead)")
            continue
        if entry.key in ("mapRoles", "mapUsers"):
            key = (entry.key, entry.arn.lower())
            earlier = kept.get(key)
            if earlier is not None:
                dead[(earlier.key, earlier.index)] = f"overridden by {entry.describe()}, the last entry for this ARN"
            kept[key] = entry
    for (section, arn), entry in kept.items():
        role = kept.get(("mapRoles", arn))
        if section == "mapUsers" and role is not None:
            dead[(entry.key, entry.index)] = f"overridden by {role.describe()}: mapRoles is looked up first"
    return dead


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""
