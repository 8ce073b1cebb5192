"""Minimal rules from observed requests, and the checks that a trimmed role is never wider.

A `Permission` is one observed request reduced to what a rule grants: verb, API group,
`resource[/subresource]` and a resource name (or any name). `compact` writes the smallest
set of rules a person would write that allows exactly those permissions, merging verbs,
resources, names and groups only when the merged product adds nothing unobserved.

`verify_never_wider` proves rule containment symbolically (including `*`, `*/sub` and
`prefix*` URLs) and raises `TrimGuaranteeError` if a trimmed rule allows anything the
original rules do not; `verify_nothing_lost` re-checks every observed request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rbacmap.authorizer import rule_allows
from rbacmap.model import ALL, NonResourceRequest, PolicyRule, Request, ResourceRequest

# Verbs whose requests carry the object's name, so a resourceNames restriction is honoured (impersonate:
# the user, group or ServiceAccount acted as). create/list/watch/deletecollection requests carry no name:
# resourceNames would deny them.
NAMED_VERBS = frozenset({"get", "update", "patch", "delete", "impersonate"})
_VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")


class TrimGuaranteeError(AssertionError):
    """A trimmed rule set broke a guarantee (never wider / nothing used lost): a bug, never shipped."""


@dataclass(frozen=True, order=True)
class Permission:
    """What one request needs from a rule; name None means any name, path set for non-resource URLs."""

    verb: str
    api_group: str = ""
    resource: str = ""  # `resource` or `resource/subresource`
    name: str | None = None
    path: str = ""


def permission_for(request: Request, granting_rule: PolicyRule, narrow_names: bool = False) -> Permission:
    """The permission a request used under a rule: keep its name when the rule lists names (or narrowing)."""
    if isinstance(request, NonResourceRequest):
        return Permission(request.verb, path=request.path)
    combined = request.resource + ("/" + request.subresource if request.subresource else "")
    keep_name = bool(granting_rule.resource_names) or (
        narrow_names and request.verb in NAMED_VERBS and bool(request.name)
    )
    return Permission(request.verb, request.api_group, combined, request.name if keep_name else None)


def sort_verbs(verbs: Iterable[str]) -> list[str]:
    order = {verb: i for i, verb in enumerate(_VERB_ORDER)}
    return sorted(set(verbs), key=lambda v: (order.get(v, len(order)), v))


def compact(permissions: Iterable[Permission]) -> tuple[PolicyRule, ...]:
    """The fewest rules, as a person writes them, whose allowed set is exactly these permissions."""
    by_resource: dict[tuple[str, str], dict[str, set[str] | None]] = defaultdict(dict)
    by_path: dict[str, set[str]] = defaultdict(set)
    for permission in permissions:
        if permission.path:
            by_path[permission.path].add(permission.verb)
            continue
        names_by_verb = by_resource[(permission.api_group, permission.resource)]
        if permission.name is None:
            names_by_verb[permission.verb] = None  # any name subsumes named uses of the same verb
        elif permission.verb not in names_by_verb:
            names_by_verb[permission.verb] = {permission.name}
        elif (known := names_by_verb[permission.verb]) is not None:
            known.add(permission.name)

    # (verbs, names) -> group -> resources: merge resources that share verbs and names.
    blocks: dict[tuple[frozenset[str], tuple[str, ...]], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (group, resource), verb_names in by_resource.items():
        any_name = frozenset(v for v, names in verb_names.items() if names is None)
        if any_name:
            blocks[(any_name, ())][group].add(resource)
        named: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for verb, names in verb_names.items():
            if names is not None:
                named[tuple(sorted(names))].add(verb)
        for names_key, named_verbs in named.items():
            blocks[(frozenset(named_verbs), names_key)][group].add(resource)

    rules: list[PolicyRule] = []
    for (block_verbs, block_names), groups in blocks.items():
        # Groups with identical resource sets share one rule (the product stays exact).
        by_resources: dict[frozenset[str], list[str]] = defaultdict(list)
        for group, resources in groups.items():
            by_resources[frozenset(resources)].append(group)
        for resource_set, group_list in by_resources.items():
            rules.append(PolicyRule(tuple(sort_verbs(block_verbs)), tuple(sorted(group_list)),
                                    tuple(sorted(resource_set)), block_names))
    paths_by_verbs: dict[frozenset[str], list[str]] = defaultdict(list)
    for path, path_verbs in by_path.items():
        paths_by_verbs[frozenset(path_verbs)].append(path)
    for url_verbs, paths in paths_by_verbs.items():
        rules.append(PolicyRule(tuple(sort_verbs(url_verbs)), non_resource_urls=tuple(sorted(paths))))
    return tuple(sorted(rules, key=_rule_order))


def _rule_order(rule: PolicyRule) -> tuple[object, ...]:
    return (bool(rule.non_resource_urls), rule.api_groups, rule.resources, rule.resource_names, rule.verbs)


# --- containment: is every request a rule allows also allowed by the originals? -------------


def _verb_within(verb: str, rule: PolicyRule) -> bool:
    return ALL in rule.verbs or (verb != ALL and verb in rule.verbs)


def _group_within(group: str, rule: PolicyRule) -> bool:
    return ALL in rule.api_groups or (group != ALL and group in rule.api_groups)


def _resource_within(resource: str, rule: PolicyRule) -> bool:
    """`resource` as a rule entry (`pods`, `pods/log`, `*/log`, `*`): is every match also matched by rule?"""
    if ALL in rule.resources:
        return True
    if resource == ALL:
        return False
    if resource in rule.resources:
        return True
    if resource.startswith("*/"):
        return False  # `*/log` covers every resource's log: only `*` or `*/log` itself contain it
    _, slash, subresource = resource.partition("/")
    return bool(slash) and ("*/" + subresource) in rule.resources


def _name_within(name: str | None, rule: PolicyRule) -> bool:
    return not rule.resource_names or (name is not None and name in rule.resource_names)


def _url_within(url: str, rule: PolicyRule) -> bool:
    prefix = url.rstrip(ALL) if url.endswith(ALL) else url
    for rule_url in rule.non_resource_urls:
        if rule_url in (ALL, url):
            return True
        if rule_url.endswith(ALL) and prefix.startswith(rule_url.rstrip(ALL)):
            return True
    return False


def uncovered(candidate: PolicyRule, originals: Sequence[PolicyRule]) -> list[str]:
    """Parts of `candidate` no original rule allows (empty: the candidate is never wider)."""
    problems = []
    names: Sequence[str | None] = candidate.resource_names or [None]
    for verb in candidate.verbs:
        for group in candidate.api_groups:
            for resource in candidate.resources:
                for name in names:
                    if not any(
                        _verb_within(verb, o) and _group_within(group, o) and _resource_within(resource, o)
                        and _name_within(name, o)
                        for o in originals
                    ):
                        what = f"{verb} {resource}" + (f".{group}" if group else "") + (f" {name!r}" if name else "")
                        problems.append(what)
        for url in candidate.non_resource_urls:
            if not any(_verb_within(verb, o) and _url_within(url, o) for o in originals):
                problems.append(f"{verb} {url}")
    return problems


def verify_never_wider(trimmed: Sequence[PolicyRule], originals: Sequence[PolicyRule], role: str) -> None:
    """Raise TrimGuaranteeError unless every request a trimmed rule allows, an original rule allowed."""
    for index, rule in enumerate(trimmed):
        problems = uncovered(rule, originals)
        if problems:
            raise TrimGuaranteeError(
                f"{role}: trimmed rule #{index} {rule.describe()} is wider than the original: {', '.join(problems)}"
            )


def verify_nothing_lost(trimmed: Sequence[PolicyRule], used: Iterable[Request], role: str) -> None:
    """Raise TrimGuaranteeError if an observed request the original granted is not allowed any more."""
    for request in used:
        if not any(rule_allows(request, rule) for rule in trimmed):
            raise TrimGuaranteeError(f"{role}: trimmed rules lose an observed request: {request.describe()}")


def permission_in_rule(permission: Permission, rule: PolicyRule) -> bool:
    """Whether a rule allows everything the permission stands for."""
    if permission.path:
        return _verb_within(permission.verb, rule) and _url_within(permission.path, rule)
    return (
        _verb_within(permission.verb, rule) and _group_within(permission.api_group, rule)
        and _resource_within(permission.resource, rule) and _name_within(permission.name, rule)
    )


def request_of(permission: Permission, namespace: str = "") -> Request:
    """A concrete request using this permission (for checks and examples)."""
    if permission.path:
        return NonResourceRequest(permission.verb, permission.path)
    resource, _, subresource = permission.resource.partition("/")
    return ResourceRequest(permission.verb, resource, namespace, permission.api_group, subresource,
                           permission.name or "")
