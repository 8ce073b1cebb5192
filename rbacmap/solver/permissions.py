"""Each identity's effective rules, indexed once per snapshot (the solver's fast authorizer).

`Authorizer.authorize` scans every binding for every question; the solver asks thousands of
questions, so bindings are indexed by the username and the group they name. The answers are
the same as the authorizer's (same grants, same order): a binding applies through its first
matching subject (`subject_applies`), ClusterRoleBindings come first, then the RoleBindings
of the request's namespace, rules in role order, matched with `rule_allows`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from rbacmap.authorizer import Grant, effective_subject, rule_allows
from rbacmap.model import (
    ALL,
    CLUSTER_ROLE_BINDING,
    GROUP,
    SERVICE_ACCOUNT,
    SYSTEM_MASTERS,
    Binding,
    PolicyRule,
    ResourceRequest,
    Role,
    service_account_username,
)
from rbacmap.policy import InMemoryPolicy
from rbacmap.solver.identity import Identity

# A binding as it applies to one identity: (binding, index of its first matching subject, role).
AppliedBinding = tuple[Binding, int, Role]

EVERY_NAMESPACE = "*"
"""Namespace of a hypothetical RoleBinding that exists in every namespace."""

CLUSTER_ADMIN_REQUEST = ResourceRequest(ALL, ALL, "", ALL)
"""Allowed only by a rule with verbs, apiGroups and resources all `*` and no resourceNames."""


@dataclass(frozen=True)
class PermissionScope:
    """Where a permission holds: everywhere (ClusterRoleBindings) and/or in some namespaces."""

    everywhere: tuple[Grant, ...] = ()
    namespaces: dict[str, tuple[Grant, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.everywhere or self.namespaces)

    def in_namespace(self, namespace: str) -> tuple[Grant, ...]:
        return self.everywhere or self.namespaces.get(namespace, ())


@dataclass
class RuleMatcher:
    """Memoizes which rules of a rule list allow a request (namespace aside), shared per snapshot.

    Roles with identical rules (the same Role stamped into every namespace) share one entry,
    so each distinct (rules, request) pair is matched with `rule_allows` once.
    """

    _rules_ids: dict[tuple[PolicyRule, ...], int] = field(default_factory=dict)
    _role_ids: dict[int, int] = field(default_factory=dict)
    _roles: list[Role] = field(default_factory=list)  # keeps id(role) keys alive
    _allowed: dict[tuple[int, str, str, str, str, str], tuple[int, ...]] = field(default_factory=dict)

    def allowed(self, role: Role, request: ResourceRequest) -> tuple[int, ...]:
        rules_id = self._role_ids.get(id(role))
        if rules_id is None:
            rules_id = self._rules_ids.setdefault(role.rules, len(self._rules_ids))
            self._role_ids[id(role)] = rules_id
            self._roles.append(role)
        key = (rules_id, request.verb, request.resource, request.api_group, request.subresource, request.name)
        found = self._allowed.get(key)
        if found is None:
            found = tuple(i for i, rule in enumerate(role.rules) if rule_allows(request, rule))
            self._allowed[key] = found
        return found


@dataclass
class EffectivePermissions:
    """One identity's applied bindings: cluster-wide ones and per-namespace ones."""

    identity: Identity
    system_masters: bool
    matcher: RuleMatcher = field(default_factory=RuleMatcher, repr=False)
    cluster: list[AppliedBinding] = field(default_factory=list)
    namespaced: dict[str, list[AppliedBinding]] = field(default_factory=dict)
    # Hypothetical RoleBindings in every namespace (namespace "*"): namespaced requests only.
    every_namespace: list[AppliedBinding] = field(default_factory=list)
    dangling: list[Binding] = field(default_factory=list)

    def grants(self, request: ResourceRequest) -> tuple[Grant, ...]:
        """Every grant allowing the request, exactly as `Authorizer.authorize(...).grants`."""
        found = list(_grants(self.cluster, request, self.matcher))
        if request.namespace:
            found += _grants(self.every_namespace, request, self.matcher)
            found += _grants(self.namespaced.get(request.namespace, ()), request, self.matcher)
        return tuple(found)

    def allows(self, request: ResourceRequest) -> bool:
        return self.system_masters or bool(self.grants(request))

    def scope(self, request: ResourceRequest) -> PermissionScope:
        """Where a namespaced request (its namespace ignored) is allowed.

        For cluster-scoped resources use `grants()` with an empty namespace instead: only
        ClusterRoleBindings count for them.
        """
        everywhere = tuple(_grants([*self.cluster, *self.every_namespace], request, self.matcher))
        namespaces: dict[str, tuple[Grant, ...]] = {}
        if not everywhere:
            for namespace, applied in self.namespaced.items():
                grants = tuple(_grants(applied, request, self.matcher))
                if grants:
                    namespaces[namespace] = grants
        return PermissionScope(everywhere, namespaces)

    def scope_any(self, requests: Iterable[ResourceRequest]) -> PermissionScope:
        """Where at least one of the requests is allowed (the first one's grants in each place)."""
        everywhere: tuple[Grant, ...] = ()
        namespaces: dict[str, tuple[Grant, ...]] = {}
        for request in requests:
            scope = self.scope(request)
            if scope.everywhere:
                return PermissionScope(scope.everywhere, {})
            for namespace, grants in scope.namespaces.items():
                namespaces.setdefault(namespace, grants)
        return PermissionScope(everywhere, namespaces)

    def named_resources(self, request: ResourceRequest) -> set[str]:
        """Names listed in resourceNames of rules that would allow the request for those names."""
        names: set[str] = set()
        for _, _, role in self._all_applied():
            for rule in role.rules:
                if not rule.resource_names:
                    continue
                named = ResourceRequest(
                    request.verb, request.resource, "", request.api_group, request.subresource, rule.resource_names[0]
                )
                if rule_allows(named, rule):
                    names.update(rule.resource_names)
        return names

    def candidate_namespaces(self, all_namespaces: list[str]) -> list[str]:
        """Namespaces where a namespaced permission of this identity could hold."""
        if self.cluster or self.every_namespace:
            return all_namespaces
        return sorted(self.namespaced)

    def _all_applied(self) -> Iterator[AppliedBinding]:
        yield from self.cluster
        yield from self.every_namespace
        for applied in self.namespaced.values():
            yield from applied


def _grants(applied: Iterable[AppliedBinding], request: ResourceRequest, matcher: RuleMatcher) -> Iterator[Grant]:
    for binding, subject_index, role in applied:
        for rule_index in matcher.allowed(role, request):
            yield Grant(binding, subject_index, role, rule_index)


@dataclass
class PermissionIndex:
    """Bindings indexed by the username and group they name, built once per snapshot."""

    policy: InMemoryPolicy
    by_username: dict[str, list[tuple[Binding, int]]] = field(default_factory=lambda: defaultdict(list))
    by_group: dict[str, list[tuple[Binding, int]]] = field(default_factory=lambda: defaultdict(list))
    _order: dict[int, int] = field(default_factory=dict)
    matcher: RuleMatcher = field(default_factory=RuleMatcher)
    _cache: dict[tuple[str, str, str], EffectivePermissions] = field(default_factory=dict)
    # Hypothetical bindings added by the solver (bind / escalate steps), by username.
    _virtual: dict[str, list[tuple[Binding, Role]]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, policy: InMemoryPolicy) -> PermissionIndex:
        index = cls(policy)
        order = 0
        bindings = list(policy.cluster_role_bindings())
        for namespace in policy.role_binding_namespaces():
            bindings += policy.role_bindings(namespace)
        for binding in bindings:
            index._order[id(binding)] = order
            order += 1
            for subject_index, subject in enumerate(binding.subjects):
                effective = effective_subject(subject, binding.key.namespace)
                if effective is None:
                    continue  # e.g. a ServiceAccount without namespace in a ClusterRoleBinding
                if effective.kind == GROUP:
                    index.by_group[effective.name].append((binding, subject_index))
                elif effective.kind == SERVICE_ACCOUNT:
                    username = service_account_username(effective.namespace, effective.name)
                    index.by_username[username].append((binding, subject_index))
                else:
                    index.by_username[effective.name].append((binding, subject_index))
        return index

    def add_virtual_binding(self, identity: Identity, binding: Binding, role: Role) -> None:
        """Give a hypothetical identity a binding that does not exist (yet) in the snapshot."""
        self._virtual[identity.user_info().name].append((binding, role))
        self._cache.pop(identity.key, None)

    def for_identity(self, identity: Identity) -> EffectivePermissions:
        cached = self._cache.get(identity.key)
        if cached is not None:
            return cached
        user = identity.user_info()
        first_subject: dict[int, tuple[Binding, int]] = {}
        matches = list(self.by_username.get(user.name, ()))
        for group in user.groups:
            matches += self.by_group.get(group, ())
        for binding, subject_index in matches:
            known = first_subject.get(id(binding))
            if known is None or subject_index < known[1]:
                first_subject[id(binding)] = (binding, subject_index)
        permissions = EffectivePermissions(identity, SYSTEM_MASTERS in user.groups, self.matcher)
        for binding, subject_index in sorted(first_subject.values(), key=lambda m: self._order[id(m[0])]):
            role = self.policy.role(binding.role_key())
            if role is None:
                permissions.dangling.append(binding)
            else:
                _place(permissions, binding, subject_index, role)
        for binding, role in self._virtual.get(user.name, ()):
            _place(permissions, binding, 0, role)
        self._cache[identity.key] = permissions
        return permissions


def _place(permissions: EffectivePermissions, binding: Binding, subject_index: int, role: Role) -> None:
    if binding.key.kind == CLUSTER_ROLE_BINDING:
        permissions.cluster.append((binding, subject_index, role))
    elif binding.key.namespace == EVERY_NAMESPACE:
        permissions.every_namespace.append((binding, subject_index, role))
    else:
        permissions.namespaced.setdefault(binding.key.namespace, []).append((binding, subject_index, role))
