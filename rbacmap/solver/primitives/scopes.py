"""Small helpers the primitives share: where a permission holds, and which request proves it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from rbacmap.authorizer import Grant, rule_allows
from rbacmap.model import PolicyRule, ResourceRequest
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
    if grants:
        rule = grants[0].rule
        for candidate in candidates:
            if _rule_allows(rule, candidate):
                return in_namespace(candidate, namespace)
    return in_namespace(candidates[0], namespace)


@lru_cache(maxsize=4096)
def _rule_allows(rule: PolicyRule, request: ResourceRequest) -> bool:
    # The same few rules and request lists come back for thousands of identities.
    return rule_allows(request, rule)


def in_namespace(request: ResourceRequest, namespace: str | None, name: str | None = None) -> ResourceRequest:
    return ResourceRequest(
        request.verb, request.resource, namespace or "", request.api_group, request.subresource,
        request.name if name is None else name,
    )


def where(namespace: str | None) -> str:
    return f" in {namespace}" if namespace else " in every namespace"
