"""Small helpers the primitives share: where a permission holds, and which request proves it."""

from __future__ import annotations

from collections.abc import Sequence

from rbacmap.authorizer import Grant, rule_allows
from rbacmap.model import ResourceRequest
from rbacmap.solver.permissions import PermissionScope


def places(scope: PermissionScope) -> list[tuple[str | None, tuple[Grant, ...]]]:
    """(namespace or None for every namespace, grants), sorted, for each place the scope covers."""
    if scope.everywhere:
        return [(None, scope.everywhere)]
    return sorted(scope.namespaces.items())


def proving_request(
    grants: tuple[Grant, ...], candidates: Sequence[ResourceRequest], namespace: str | None
) -> ResourceRequest:
    """The first candidate request the first grant allows, placed in `namespace` (for kubectl)."""
    for candidate in candidates:
        if any(rule_allows(candidate, grant.rule) for grant in grants[:1]):
            return in_namespace(candidate, namespace)
    return in_namespace(candidates[0], namespace)


def in_namespace(request: ResourceRequest, namespace: str | None, name: str | None = None) -> ResourceRequest:
    return ResourceRequest(
        request.verb, request.resource, namespace or "", request.api_group, request.subresource,
        request.name if name is None else name,
    )


def where(namespace: str | None) -> str:
    return f" in {namespace}" if namespace else " in every namespace"
