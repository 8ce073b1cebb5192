"""The `aws-auth` ConfigMap: mapRoles, mapUsers and mapAccounts, as aws-iam-authenticator reads them.

Sources: AWS, "Amazon EKS User Guide - Grant IAM users access to Kubernetes with a ConfigMap",
https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html (rolearn without a path,
username, groups; mapUsers userarn; mapAccounts), and aws-iam-authenticator's README "Full
Configuration Format" and pkg/server/server.go for the username templates (see
rbacmap.cloud.username_templates) and for path-less role matching (canonical ARN).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from rbacmap.cloud.username_templates import ACCOUNT_ID, SESSION_TEMPLATES

__all__ = ["SESSION_TEMPLATES", "AwsAuth", "AwsAuthEntry", "canonical_role_arn", "parse_aws_auth"]


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
    """Every mapping of the ConfigMap; a bad key or entry is a problem, the rest still counts."""
    entries: list[AwsAuthEntry] = []
    problems: list[str] = []
    for key, arn_field in (("mapRoles", "rolearn"), ("mapUsers", "userarn")):
        for index, item in enumerate(_load_list(data, key, problems)):
            if not isinstance(item, Mapping) or not item.get(arn_field):
                problems.append(f"aws-auth {key}[{index}]: entry without {arn_field}, ignored")
                continue
            arn = str(item[arn_field])
            username = str(item.get("username") or arn).replace(ACCOUNT_ID, account_id)
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
    """aws-iam-authenticator matches roles by account and name: drop any path."""
    prefix, _, resource = arn.partition(":role/")
    if not resource:
        return arn
    return f"{prefix}:role/{resource.rsplit('/', 1)[-1]}"
