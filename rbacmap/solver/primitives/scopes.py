"""Small helpers the primitives share: where a permission holds, and which request proves it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from rbacmap.authorizer import Grant, rule_allows
from rbacmap.model import PolicyRule, ResourceRequest
from rbacmap.solver.admission import in_pod_condition
from rbacmap.solver.context import ClusterObjects, PodFacts, SolverContext
from rbacmap.solver.edges import POD_SERVICE_ACCOUNTS_POOL, Edge, Pool, lazy_edge
from rbacmap.solver.identity import Identity
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import EffectivePermissions, PermissionScope
from rbacmap.solver.targets import exec_target

# (identity, its permissions, namespace or None for every namespace, token?) -> the full edge
InPodDescriber = Callable[[ClusterObjects, Identity, EffectivePermissions, str | None, bool], Edge]


def in_pod_edges(
    ctx: SolverContext, requests: list[ResourceRequest], primitive: str, describe: InPodDescriber,
    token_read: str, request_condition: Callable[[ResourceRequest], str] | None = None,
    unconditional: list[ResourceRequest] | None = None,
) -> Iterator[Edge]:
    """Edges of a primitive that runs code inside existing pods wherever one of `requests` is allowed:
    the exec target there, and the ServiceAccounts of the pods running there (their mounted tokens).

    Where resourceNames limit the requests to named pods, each existing named pod gives its own
    ServiceAccount's token (`token_read` says how), but no exec target: commands in a few named
    pods are not "exec in the namespace". `request_condition` adds what the proving request itself needs
    (a `get` on pods/exec: a server before 1.35) to a named pod's edge. `unconditional`: when given, the
    requests that prove a step with no such condition; an edge where none of them is allowed is marked
    conditional (`lazy_edge`), so that an equally short proof without a condition wins.
    """
    for identity, permissions in ctx.frontier_permissions(requests):
        places = permissions.where_any(requests)
        clean = permissions.where_any(unconditional) if unconditional is not None else [None]
        for namespace in places:
            conditional = None not in clean and namespace not in clean
            yield lazy_edge(identity, exec_target(namespace), primitive,
                            partial(describe, ctx.objects, identity, permissions, namespace, False), conditional)
            yield lazy_edge(identity, Pool.of(POD_SERVICE_ACCOUNTS_POOL, namespace or "*"), primitive,
                            partial(describe, ctx.objects, identity, permissions, namespace, True), conditional)
        for named in pods_reached_by_name(ctx.objects, permissions, requests, places):
            pod, request = named.pod, named.request
            if ctx.objects.token_mounted(pod):
                action = f"{request.verb} pods/{request.subresource}"
                yield Edge(
                    identity, ctx.identity_for_service_account(pod.namespace, pod.service_account), action,
                    f"{action} on pod {pod.namespace}/{pod.name} (named in resourceNames): read its mounted "
                    "ServiceAccount token", grants=named.grants,
                    objects=(pod.ref(f"serviceAccountName: {pod.service_account}"),),
                    explain=sentence(identity, request, named.grants, token_read), primitive=primitive,
                    condition="; ".join(c for c in (
                        request_condition(request) if request_condition is not None else "",
                        in_pod_condition(ctx.objects, pod.namespace, request.subresource)) if c),
                )


@dataclass(frozen=True)
class NamedPod:
    """An existing pod that a rule's resourceNames name, with the request and grants that reach it."""

    pod: PodFacts
    request: ResourceRequest
    grants: tuple[Grant, ...]


def pods_reached_by_name(
    objects: ClusterObjects, permissions: EffectivePermissions, requests: Sequence[ResourceRequest],
    covered: Collection[str | None],
) -> list[NamedPod]:
    """Existing pods that one of `requests` (on a pods subresource) reaches only through resourceNames.

    `covered` are the places where any pod is reached already (`where_any(requests)`); a pod
    there needs no edge of its own. Each pod comes with the first request allowed on it.
    """
    if None in covered or not permissions.has_named_rules():
        return []
    names = names_in_rules(permissions, requests)
    found = []
    for pod in objects.pods_named(names, permissions.namespaces_it_may_act_in()) if names else ():
        if pod.namespace in covered or pod.node is None:  # the API server refuses exec on a pod not yet scheduled
            continue
        allowed = first_allowed(permissions, requests, pod.namespace, pod.name)
        if allowed is not None:
            found.append(NamedPod(pod, *allowed))
    return found


def names_in_rules(permissions: EffectivePermissions, requests: Sequence[ResourceRequest]) -> set[str]:
    """The names resourceNames list in rules that would allow one of the requests for those names."""
    names: set[str] = set()
    for request in requests:
        names |= permissions.named_resources(request)
    return names


def first_allowed(permissions: EffectivePermissions, requests: Sequence[ResourceRequest], namespace: str | None,
                  name: str | None = None) -> tuple[ResourceRequest, tuple[Grant, ...]] | None:
    """The first of the requests allowed in the namespace (on the named object, with `name`), with its grants."""
    for request in requests:
        placed = in_namespace(request, namespace, name)
        grants = permissions.grants(placed)
        if grants:
            return placed, grants
    return None


def places(scope: PermissionScope) -> list[tuple[str | None, tuple[Grant, ...]]]:
    """(namespace or None for every namespace, grants), sorted, for each place the scope covers."""
    if scope.everywhere:
        return [(None, scope.everywhere)]
    return sorted(scope.namespaces.items())


def grants_in(
    permissions: EffectivePermissions, requests: Sequence[ResourceRequest], namespace: str | None,
) -> tuple[Grant, ...]:
    """`grants_where` of a place, or where it has none there (a ClusterRoleBinding allows it and the place is
    one namespace of it), the grants of the first request allowed in that namespace."""
    grants = permissions.grants_where(requests, namespace)
    if grants or namespace is None:
        return grants
    return next((found for found in (permissions.grants(in_namespace(r, namespace)) for r in requests) if found), ())


def proving_request(
    grants: tuple[Grant, ...], candidates: Sequence[ResourceRequest], namespace: str | None
) -> ResourceRequest:
    """The first candidate request the first grant allows, placed in `namespace` (for kubectl)."""
    chosen = candidates[0]
    if grants:
        chosen = _first_allowed(grants[0].rule, candidates)
    # The chosen candidates are module-level requests: the placed copy is shared per namespace.
    known = _PLACED.get((id(chosen), namespace))
    if known is not None and known[0] is chosen:
        return known[1]
    placed = in_namespace(chosen, namespace)
    if len(_PLACED) >= _FIRST_ALLOWED_LIMIT:
        _PLACED.clear()
    _PLACED[(id(chosen), namespace)] = (chosen, placed)
    return placed


# (id(request), namespace) -> (request, the request placed there); holds the request so its id stays its own.
_PLACED: dict[tuple[int, str | None], tuple[ResourceRequest, ResourceRequest]] = {}


# (id(rule), id(candidates)) -> (rule, candidates, the first candidate the rule allows). The same
# few rules and module-level request lists come back for thousands of identities; the entry
# holds both objects, so their ids cannot be reused while it exists.
_FIRST_ALLOWED: dict[tuple[int, int], tuple[PolicyRule, Sequence[ResourceRequest], ResourceRequest]] = {}
_FIRST_ALLOWED_LIMIT = 100_000


def _first_allowed(rule: PolicyRule, candidates: Sequence[ResourceRequest]) -> ResourceRequest:
    known = _FIRST_ALLOWED.get((id(rule), id(candidates)))
    if known is not None and known[0] is rule and known[1] is candidates:
        return known[2]
    chosen = next((candidate for candidate in candidates if rule_allows(candidate, rule)), candidates[0])
    if len(_FIRST_ALLOWED) >= _FIRST_ALLOWED_LIMIT:
        _FIRST_ALLOWED.clear()
    _FIRST_ALLOWED[(id(rule), id(candidates))] = (rule, candidates, chosen)
    return chosen


def in_namespace(request: ResourceRequest, namespace: str | None, name: str | None = None) -> ResourceRequest:
    return ResourceRequest(
        request.verb, request.resource, namespace or "", request.api_group, request.subresource,
        request.name if name is None else name,
    )


def where(namespace: str | None) -> str:
    return f" in {namespace}" if namespace else " in every namespace"


@dataclass(frozen=True)
class NamedServiceAccount:
    """A ServiceAccount that a rule's resourceNames name, with the request and grants that allow it."""

    namespace: str
    name: str
    request: ResourceRequest
    grants: tuple[Grant, ...]


def service_accounts_reached(
    objects: ClusterObjects, permissions: EffectivePermissions, request: ResourceRequest
) -> tuple[tuple[str | None, ...], list[NamedServiceAccount]]:
    """Which ServiceAccounts `request` (on serviceaccounts) reaches: whole namespaces, then named ones.

    First the places where any name is allowed (as `places`, without grants: those are
    `permissions.grants_where([request], namespace)`); then, unless that is every
    namespace, each existing ServiceAccount elsewhere that resourceNames allow by name.
    """
    unrestricted = permissions.where(request)
    if None in unrestricted:
        return unrestricted, []
    covered = set(unrestricted)
    names = permissions.named_resources(request)
    if not names:
        return unrestricted, []
    named = []
    for namespace, name in objects.service_accounts_named(names, permissions.namespaces_it_may_act_in()):
        if namespace not in covered:
            named_request = in_namespace(request, namespace, name)
            grants = permissions.grants(named_request)
            if grants:
                named.append(NamedServiceAccount(namespace, name, named_request, grants))
    return unrestricted, named
