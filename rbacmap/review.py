"""SubjectAccessReview in, status out: the batch interface of `rbacmap check`.

As the API server does for a SubjectAccessReview, the user and groups are taken exactly as
given: no implicit groups are added (a real request would carry system:authenticated).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rbacmap.authorizer import Authorizer, Decision
from rbacmap.model import NonResourceRequest, Request, ResourceRequest, UserInfo


class ReviewError(ValueError):
    pass


def parse_review(raw: Any) -> tuple[UserInfo, Request]:
    """Accept a whole SubjectAccessReview object or just its spec."""
    if not isinstance(raw, dict):
        raise ReviewError("expected a JSON object (a SubjectAccessReview or its spec)")
    spec = raw.get("spec") if "spec" in raw else raw
    if not isinstance(spec, dict):
        raise ReviewError("spec must be an object")
    user = spec.get("user") or ""
    groups = spec.get("groups") or []
    if not isinstance(user, str) or not isinstance(groups, list):
        raise ReviewError("spec.user must be a string and spec.groups a list")
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise ReviewError("exactly one of resourceAttributes and nonResourceAttributes must be set")
    if not user and not groups:
        raise ReviewError("at least one of user or groups must be specified")
    info = UserInfo(user, tuple(str(g) for g in groups))
    if resource is not None:
        if not isinstance(resource, dict):
            raise ReviewError("resourceAttributes must be an object")
        return info, ResourceRequest(
            verb=str(resource.get("verb") or ""),
            resource=str(resource.get("resource") or ""),
            namespace=str(resource.get("namespace") or ""),
            api_group=str(resource.get("group") or ""),
            subresource=str(resource.get("subresource") or ""),
            name=str(resource.get("name") or ""),
        )
    if not isinstance(non_resource, dict):
        raise ReviewError("nonResourceAttributes must be an object")
    return info, NonResourceRequest(str(non_resource.get("verb") or ""), str(non_resource.get("path") or ""))


def review_reason(decision: Decision) -> str:
    """Upstream-style reason: `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`."""
    if decision.via_system_masters:
        return "allowed: member of system:masters"
    if not decision.grants:
        return ""
    grant = decision.grants[0]
    binding = grant.binding.key
    where = f"{binding.name}/{binding.namespace}" if binding.namespace else binding.name
    subject = grant.subject
    subject_name = subject.name
    if subject.kind == "ServiceAccount":
        subject_name = f"{subject.name}/{subject.namespace or binding.namespace}"
    return (
        f'RBAC: allowed by {binding.kind} "{where}" of {grant.binding.role_ref.kind} '
        f'"{grant.binding.role_ref.name}" to {subject.kind} "{subject_name}"'
        f" (rule #{grant.rule_index} {grant.rule.describe()})"
    )


def review_status(authorizer: Authorizer, raw: Any) -> dict[str, Any]:
    try:
        user, request = parse_review(raw)
    except ReviewError as exc:
        return {"allowed": False, "evaluationError": str(exc)}
    decision = authorizer.authorize(user, request, all_grants=False)
    status: dict[str, Any] = {"allowed": decision.allowed}
    reason = review_reason(decision)
    if reason:
        status["reason"] = reason
    return status


def check_lines(authorizer: Authorizer, lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One status per non-blank input line, in order; a malformed line gives an evaluationError."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            yield {"allowed": False, "evaluationError": f"line {number}: invalid JSON: {exc}"}
            continue
        status = review_status(authorizer, raw)
        if "evaluationError" in status:
            status["evaluationError"] = f"line {number}: {status['evaluationError']}"
        yield status
