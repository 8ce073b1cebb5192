"""IAM policy evaluation for the questions rbacmap asks: who can assume a role, who holds an action.

A reduced version of the AWS evaluation logic: explicit Deny wins, then an Allow from the
trust policy (naming the principal) or from identity policies (when the trust policy
delegates to the account). Supported: Action/NotAction, Resource/NotResource, Principal
(`*`, ARNs, account ids, `AWS`/`Federated`/`Service`), and the String*/Arn* condition
operators with `IfExists` and `ForAnyValue:`/`ForAllValues:`. A condition rbacmap cannot
evaluate makes an Allow count (with a note) and a Deny not count: answers err towards
showing access, never towards hiding it. That includes a condition on a key rbacmap does not
know the value of (sts:ExternalId, sts:RoleSessionName, aws:PrincipalTag/…, aws:SourceIp):
rbacmap only supplies aws:PrincipalArn and, for IRSA, the token's `sub`/`aud`, so a missing
key means "unknown", not "absent from the request". Permission boundaries and SCPs are not
evaluated.

IRSA trust policies follow the EKS user guide, "Assign IAM roles to Kubernetes service
accounts" (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html):
Principal `Federated: arn:PARTITION:iam::ACCOUNT:oidc-provider/ISSUER_HOST` (the role's own account), Action
sts:AssumeRoleWithWebIdentity, and `StringEquals` (exact) or `StringLike` (`*`/`?` wildcards)
on `ISSUER_HOST:sub` = `system:serviceaccount:NAMESPACE:NAME` and `ISSUER_HOST:aud` =
`sts.amazonaws.com`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

ALLOW = "Allow"
DENY = "Deny"

Document = Mapping[str, Any]


@dataclass(frozen=True)
class NamedPolicy:
    """A policy document and where it comes from (for provenance)."""

    name: str
    document: Document = field(hash=False, compare=False)


@dataclass(frozen=True)
class IamPrincipal:
    """An IAM user or role with every identity policy that applies to it (groups' included)."""

    arn: str
    kind: str  # "user" or "role"
    policies: tuple[NamedPolicy, ...] = ()
    trust_policy: Document | None = field(default=None, hash=False, compare=False)

    @property
    def account(self) -> str:
        return account_of(self.arn)


@dataclass(frozen=True)
class Evaluation:
    """Whether a request is allowed, and the statements that decided it."""

    allowed: bool
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        return "; ".join(self.reasons)


def account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def partition_of(arn: str) -> str:
    """`aws`, `aws-cn`, `aws-us-gov`, …: ARNs a policy names are in the partition of what they name."""
    parts = arn.split(":")
    return parts[1] if len(parts) > 5 and parts[1] else "aws"


def parse_document(raw: Any) -> Document:
    """Policy documents come as dicts, JSON strings or URL-encoded JSON (IAM's wire format)."""
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str):
        text = raw if raw.lstrip().startswith("{") else unquote(raw)
        parsed = json.loads(text)
        if isinstance(parsed, dict):
            return parsed
    raise ValueError(f"not a policy document: {str(raw)[:80]!r}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(document: Document) -> list[Mapping[str, Any]]:
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: `*` any run of characters, `?` one character."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(wildcard_match(p, action, ignore_case=True) for p in _as_list(statement["NotAction"]))
    return any(wildcard_match(p, action, ignore_case=True) for p in _as_list(statement.get("Action")))


def resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(p, resource) for p in _as_list(statement["NotResource"]))
    if "Resource" not in statement:  # trust policies name no resource
        return True
    return any(wildcard_match(p, resource) for p in _as_list(statement["Resource"]))


# --- conditions ------------------------------------------------------------------------------

def _equals(pattern: str, value: str) -> bool:
    return pattern == value


def _equals_ignore_case(pattern: str, value: str) -> bool:
    return pattern.lower() == value.lower()


def _like(pattern: str, value: str) -> bool:
    return wildcard_match(pattern, value)


_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": _equals,
    "StringEqualsIgnoreCase": _equals_ignore_case,
    "StringLike": _like,
    "ArnEquals": _equals,
    "ArnLike": _like,
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def condition_matches(condition: Mapping[str, Any] | None, context: Mapping[str, str]) -> bool | None:
    """True/False when every operator and key is understood; None when one cannot be evaluated.

    A definite False wins over an unknown part (the statement cannot apply whatever the rest says).
    """
    unknown = False
    for raw_operator, clauses in (condition or {}).items():
        operator = raw_operator.split(":", 1)[1] if ":" in raw_operator else raw_operator
        # `…IfExists` only differs when the key is absent, which rbacmap cannot tell from unknown.
        operator = operator.removesuffix("IfExists")
        negated = operator in _NEGATED
        test = _POSITIVE.get(_NEGATED.get(operator, operator))
        if test is None or not isinstance(clauses, Mapping):
            unknown = True
            continue
        for key, patterns in clauses.items():
            value = _lookup(context, key)
            if value is None:
                unknown = True  # rbacmap does not know this key's value in the real request
                continue
            hit = any(test(str(p), value) for p in _as_list(patterns))
            if hit == negated:
                return False
    return None if unknown else True


def _lookup(context: Mapping[str, str], key: str) -> str | None:
    lowered = key.lower()  # condition keys are case-insensitive
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def describe_statement(policy: str, index: int, statement: Mapping[str, Any]) -> str:
    sid = statement.get("Sid")
    label = f"{policy} statement #{index}" + (f" ({sid})" if sid else "")
    parts = [str(statement.get("Effect"))]
    if "Action" in statement or "NotAction" in statement:
        key = "Action" if "Action" in statement else "NotAction"
        parts.append(f"{key}={','.join(map(str, _as_list(statement[key])))}")
    if "Resource" in statement or "NotResource" in statement:
        key = "Resource" if "Resource" in statement else "NotResource"
        parts.append(f"{key}={','.join(map(str, _as_list(statement[key])))}")
    if statement.get("Condition"):
        parts.append(f"Condition={json.dumps(statement['Condition'], sort_keys=True)}")
    return f"{label}: " + " ".join(parts)


# --- identity policies -----------------------------------------------------------------------


def evaluate_identity(
    principal: IamPrincipal, action: str, resource: str, context: Mapping[str, str] | None = None
) -> Evaluation:
    """Do the principal's identity policies allow the action on the resource (explicit Deny wins)?"""
    allows: list[str] = []
    for policy in principal.policies:
        for index, statement in enumerate(statements(policy.document)):
            if not (action_matches(statement, action) and resource_matches(statement, resource)):
                continue
            verdict = condition_matches(statement.get("Condition"), context or {})
            text = describe_statement(policy.name, index, statement)
            if statement.get("Effect") == DENY and verdict is True:
                return Evaluation(False, (f"explicit Deny: {text}",))
            if statement.get("Effect") == ALLOW and verdict is not False:
                allows.append(text + (" (condition not evaluated)" if verdict is None else ""))
    return Evaluation(bool(allows), tuple(allows))


# --- trust policies --------------------------------------------------------------------------


def principal_named(statement: Mapping[str, Any], principal_arn: str) -> str | None:
    """How a trust statement names an AWS principal: 'direct', 'account', 'anyone' or None."""
    principal = statement.get("Principal")
    if principal == "*":
        return "anyone"
    if not isinstance(principal, Mapping):
        return None
    account = account_of(principal_arn)
    root = f"arn:{partition_of(principal_arn)}:iam::{account}:root"
    how = None
    for entry in _as_list(principal.get("AWS")):
        entry = str(entry)
        if entry == "*":
            how = how or "anyone"
        elif entry == principal_arn:
            return "direct"
        elif entry in (account, root):
            how = "account"
    return how


def can_assume(principal: IamPrincipal, role: IamPrincipal, action: str = "sts:AssumeRole") -> Evaluation:
    """May `principal` call sts:AssumeRole on `role`, per its trust policy and the caller's identity policies?

    Same-account rules: a trust statement naming the principal's ARN is enough on its own;
    one naming the account (or `*`) needs an identity-policy Allow too. An explicit Deny in
    either policy wins.
    """
    trust = role.trust_policy or {}
    trusted: list[tuple[str, str]] = []
    for index, statement in enumerate(statements(trust)):
        if not action_matches(statement, action):
            continue
        how = principal_named(statement, principal.arn)
        if how is None:
            continue
        verdict = condition_matches(statement.get("Condition"), {"aws:PrincipalArn": principal.arn})
        text = describe_statement(f"trust policy of {role.arn}", index, statement)
        if statement.get("Effect") == DENY and verdict is True:
            return Evaluation(False, (f"explicit Deny: {text}",))
        if statement.get("Effect") == ALLOW and verdict is not False:
            trusted.append((how, text + (" (condition not evaluated)" if verdict is None else "")))
    if not trusted:
        return Evaluation(False, (f"trust policy of {role.arn} does not name {principal.arn}",))
    identity = evaluate_identity(principal, action, role.arn, {"aws:PrincipalArn": principal.arn})
    if not identity.allowed and identity.reasons:  # explicit Deny
        return identity
    direct = [text for how, text in trusted if how == "direct"]
    if direct and principal.account == role.account:
        return Evaluation(True, (direct[0], *identity.reasons))
    if identity.allowed:
        return Evaluation(True, (trusted[0][1], *identity.reasons))
    return Evaluation(False, (f"{trusted[0][1]}, but no identity policy of {principal.arn} allows {action}",))


def oidc_provider_host(issuer: str) -> str:
    return issuer.removeprefix("https://").rstrip("/")


def web_identity_allows(role: IamPrincipal, provider_arn: str, provider_host: str, subject: str) -> Evaluation:
    """May a token of `subject` (system:serviceaccount:NS:NAME) from this OIDC provider assume the role?"""
    context = {f"{provider_host}:sub": subject, f"{provider_host}:aud": "sts.amazonaws.com"}
    allows: list[str] = []
    for index, statement in enumerate(statements(role.trust_policy or {})):
        if not action_matches(statement, "sts:AssumeRoleWithWebIdentity"):
            continue
        principal = statement.get("Principal")
        federated = _as_list(principal.get("Federated")) if isinstance(principal, Mapping) else []
        if principal != "*" and provider_arn not in federated:
            continue
        verdict = condition_matches(statement.get("Condition"), context)
        text = describe_statement(f"trust policy of {role.arn}", index, statement)
        if statement.get("Effect") == DENY and verdict is True:
            return Evaluation(False, (f"explicit Deny: {text}",))
        if statement.get("Effect") == ALLOW and verdict is not False:
            if not _mentions_key(statement.get("Condition"), f"{provider_host}:sub"):
                text += " (no `sub` condition: every service account of the cluster can assume it)"
            allows.append(text + (" (condition not evaluated)" if verdict is None else ""))
    return Evaluation(bool(allows), tuple(allows))


def _mentions_key(condition: Any, key: str) -> bool:
    if not isinstance(condition, Mapping):
        return False
    return any(isinstance(c, Mapping) and any(k.lower() == key.lower() for k in c) for c in condition.values())


def allowed_actions(principal: IamPrincipal) -> Iterable[tuple[str, str]]:
    """(action on resource, statement text) for every Allow statement: the principal's cloud power."""
    for policy in principal.policies:
        for index, statement in enumerate(statements(policy.document)):
            if statement.get("Effect") != ALLOW:
                continue
            key = "Action" if "Action" in statement else "NotAction"
            actions = ",".join(map(str, _as_list(statement.get(key))))
            resources = ",".join(map(str, _as_list(statement.get("Resource", statement.get("NotResource")))))
            power = f"{'NOT ' if key == 'NotAction' else ''}{actions} on {resources or '*'}"
            yield power, describe_statement(policy.name, index, statement)
