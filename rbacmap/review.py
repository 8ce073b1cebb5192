"""SubjectAccessReview in, status out: the batch interface of `rbacmap check`.

As the API server does for a SubjectAccessReview, the user and groups are taken exactly as
given: no implicit groups are added (a real request would carry system:authenticated).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from rbacmap.authorizer import Authorizer, Decision
from rbacmap.model import ROLE, SYSTEM_MASTERS, Binding, NonResourceRequest, Request, ResourceRequest, UserInfo


class ReviewError(ValueError):
    pass


def parse_review(raw: Any) -> tuple[UserInfo, Request]:
    """Accept a whole SubjectAccessReview object or just its spec."""
    if not isinstance(raw, dict):
        raise ReviewError("expected a JSON object (a SubjectAccessReview or its spec)")
    spec = raw.get("spec") if "spec" in raw else raw
    if not isinstance(spec, dict):
        raise ReviewError("spec must be an object")
    if "spec" in raw:
        _check_metadata(raw, spec)
    user = _string(spec, "user", "spec")
    _string(spec, "uid", "spec")
    groups = spec.get("groups") or []
    if not isinstance(groups, list) or not all(g is None or isinstance(g, str) for g in groups):
        raise ReviewError("spec.groups must be a list of strings")
    extra = spec.get("extra") or {}
    if not isinstance(extra, dict) or not all(
            value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value))
            for value in extra.values()):
        raise ReviewError("spec.extra must map each key to a list of strings")
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise ReviewError("exactly one of resourceAttributes and nonResourceAttributes must be set")
    if not user and not groups:
        raise ReviewError("at least one of user or groups must be specified")
    info = UserInfo(user, tuple(g or "" for g in groups))
    if resource is not None:
        if not isinstance(resource, dict):
            raise ReviewError("resourceAttributes must be an object")
        where = "spec.resourceAttributes"
        # version is not matched by RBAC, and the selectors only narrow a list (RBAC ignores them), but a
        # server refuses a review whose fields have the wrong type: so does check.
        _string(resource, "version", where)
        for selector in ("fieldSelector", "labelSelector"):
            if resource.get(selector) is not None and not isinstance(resource[selector], dict):
                raise ReviewError(f"{where}.{selector} must be an object")
        return info, ResourceRequest(
            verb=_string(resource, "verb", where),
            resource=_string(resource, "resource", where),
            namespace=_string(resource, "namespace", where),
            api_group=_string(resource, "group", where),
            subresource=_string(resource, "subresource", where),
            name=_string(resource, "name", where),
        )
    if not isinstance(non_resource, dict):
        raise ReviewError("nonResourceAttributes must be an object")
    where = "spec.nonResourceAttributes"
    return info, NonResourceRequest(_string(non_resource, "verb", where), _string(non_resource, "path", where))


def _string(fields: dict[str, Any], key: str, where: str) -> str:
    """A string field ("" when absent or null, as the API server decodes it); any other type is an error,
    as the API server refuses to decode it: converting `["get"]` to "['get']" would answer another question."""
    value = fields.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ReviewError(f"{where}.{key} must be a string, got {type(value).__name__}")
    return value


def _check_metadata(review: dict[str, Any], spec: dict[str, Any]) -> None:
    """What the API server's validation refuses in a review's metadata (authorization validation.go): a
    SubjectAccessReview's must be empty; a LocalSubjectAccessReview's may hold its namespace only, which
    resourceAttributes.namespace must match, and it takes no nonResourceAttributes. Null values and
    managedFields count as empty (`kubectl create --dry-run -o json` writes `creationTimestamp: null`)."""
    metadata = review.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ReviewError("metadata must be an object")
    local = review.get("kind") == "LocalSubjectAccessReview"
    namespace = metadata.get("namespace") or ""
    ignored = {"managedFields", "namespace"} if local else {"managedFields"}
    extra = sorted(key for key, value in metadata.items() if value not in (None, "", {}, []) and key not in ignored)
    if extra:
        allowed = "empty except for namespace" if local else "empty"
        raise ReviewError(f"metadata must be {allowed} (has {', '.join(extra)})")
    if not local:
        return
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict) and (resource.get("namespace") or "") != namespace:
        raise ReviewError(f"spec.resourceAttributes.namespace {resource.get('namespace') or ''!r} must match "
                          f"metadata.namespace {namespace!r}")
    if spec.get("nonResourceAttributes") is not None:
        raise ReviewError("spec.nonResourceAttributes is disallowed on a LocalSubjectAccessReview")


def review_reason(decision: Decision) -> str:
    """The API server's reason, word for word: `RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "z"`.

    Denied, the upstream authorizer gives the errors it met resolving the roles of the bindings that
    name the user (a binding whose role does not exist), else no reason (rbac.go Authorize). A member
    of system:masters is allowed by the privileged-group authorizer, which gives no reason.
    """
    if decision.via_system_masters:
        return ""
    if not decision.grants:
        return f"RBAC: {_aggregate([role_not_found(b) for b in decision.dangling])}" if decision.dangling else ""
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
    )


def review_provenance(decision: Decision) -> dict[str, Any] | None:
    """What allowed the request, down to the rule (rbacmap's, beside the status: the API server names no rule)."""
    if decision.via_system_masters:
        return {"group": SYSTEM_MASTERS, "note": "allowed before RBAC is consulted (privileged group)"}
    if not decision.grants:
        return None
    grant = decision.grants[0]
    return {**grant.to_json(), "rule_text": grant.rule.describe()}


def role_not_found(binding: Binding) -> str:
    """The error of the upstream listers' Get for a binding's missing role (a NotFound StatusError)."""
    resource = "role" if binding.role_ref.kind == ROLE else "clusterrole"
    return f'{resource}.rbac.authorization.k8s.io "{binding.role_ref.name}" not found'


def _aggregate(messages: list[str]) -> str:
    """utilerrors.NewAggregate(errs).Error(): one message as is, several deduplicated in brackets."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


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
    provenance = review_provenance(decision)
    if provenance is not None:
        status["provenance"] = provenance
    return status


def check_lines(authorizer: Authorizer, lines: Iterable[str | bytes]) -> Iterator[dict[str, Any]]:
    """One status per non-blank input line, in order; a malformed line gives an evaluationError.

    Lines may be bytes, decoded one by one: a line that is not UTF-8 is an error of that line
    only (decoding the whole input stopped the batch at the first such byte, answering nothing).
    """
    for number, line in enumerate(lines, start=1):
        if isinstance(line, bytes):
            try:
                line = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield {"allowed": False, "evaluationError": f"line {number}: not UTF-8: {exc}"}
                continue
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte order mark some editors write
        if not line.strip():
            continue
        try:
            raw = json.loads(line, parse_constant=_refuse_constant)
        except (json.JSONDecodeError, ReviewError) as exc:
            yield {"allowed": False, "evaluationError": f"line {number}: invalid JSON: {exc}"}
            continue
        status = review_status(authorizer, raw)
        if "evaluationError" in status:
            status["evaluationError"] = f"line {number}: {status['evaluationError']}"
        yield status


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are Python's extension, not JSON: the API server refuses them.
    raise ReviewError(f"{name} is not JSON")
