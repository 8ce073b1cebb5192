"""Each identity's effective rules, indexed once per snapshot (the solver's fast authorizer).

`Authorizer.authorize` scans every binding for every question; the solver asks thousands of
questions, so bindings are indexed by the username and the group they name. The answers are
the same as the authorizer's (same grants, same order): a binding applies through its first
matching subject (`subject_applies`), ClusterRoleBindings come first, then the RoleBindings
of the request's namespace, rules in role order, matched with `rule_allows`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import ClassVar

from rbacmap.authorizer import Grant, effective_subject_key, rule_allows
from rbacmap.model import (
    ALL,
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    CLUSTER_ROLE_BINDING,
    GROUP,
    NODES_GROUP,
    ROLE,
    SERVICE_ACCOUNT,
    SYSTEM_MASTERS,
    UNAUTHENTICATED,
    Binding,
    PolicyRule,
    ResourceRequest,
    Role,
    service_account_username,
)
from rbacmap.policy import InMemoryPolicy
from rbacmap.solver.identity import NODE_USERNAME_PREFIX, Identity, identity_for_group

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


RequestKey = tuple[str, str, str, str, str]
"""What rule matching looks at: verb, resource, api group, subresource, name (never the namespace)."""


def request_key(request: ResourceRequest) -> RequestKey:
    return (request.verb, request.resource, request.api_group, request.subresource, request.name)


_KEYS_OF_LIST: dict[int, tuple[Sequence[ResourceRequest], tuple[RequestKey, ...], int]] = {}
_KEYS_OF_LIST_LIMIT = 512
_KEY_LIST_IDS: dict[tuple[RequestKey, ...], int] = {}


def request_list(requests: Iterable[ResourceRequest]) -> tuple[tuple[RequestKey, ...], int]:
    """Keys of a request list and a small int naming that key list (equal lists, equal ints).

    Memoized by list identity for the primitives' module-level lists: the memo holds each list
    (so its id cannot be reused); a list must not be mutated after it has been asked about.
    Caches keyed by the int hash faster than by the tuple of tuples of strings.
    """
    if isinstance(requests, list | tuple):
        known = _KEYS_OF_LIST.get(id(requests))
        if known is not None and known[0] is requests:
            return known[1], known[2]
        keys = tuple(request_key(request) for request in requests)
        list_id = _KEY_LIST_IDS.setdefault(keys, len(_KEY_LIST_IDS))
        if len(_KEYS_OF_LIST) < _KEYS_OF_LIST_LIMIT:
            _KEYS_OF_LIST[id(requests)] = (requests, keys, list_id)
        return keys, list_id
    keys = tuple(request_key(request) for request in requests)
    return keys, _KEY_LIST_IDS.setdefault(keys, len(_KEY_LIST_IDS))


def single_request(request: ResourceRequest) -> tuple[tuple[RequestKey, ...], int]:
    keys = (request_key(request),)
    return keys, _KEY_LIST_IDS.setdefault(keys, len(_KEY_LIST_IDS))


@dataclass
class RuleMatcher:
    """Which rules of each distinct rule list allow a request (namespace aside), shared per snapshot.

    Roles with identical rules (the same Role stamped into every namespace) share one rule
    list id, so each distinct (rules, request) pair is matched with `rule_allows` once, and
    `allowing(key)` answers "which rule lists allow this, with which rules" for all of them
    at once: an identity whose rule lists are disjoint from it is skipped without a loop.
    """

    _rules_ids: dict[tuple[PolicyRule, ...], int] = field(default_factory=dict)
    _role_ids: dict[int, int] = field(default_factory=dict)
    _roles: list[Role] = field(default_factory=list)  # keeps id(role) keys alive
    _rule_lists: list[tuple[PolicyRule, ...]] = field(default_factory=list)
    _allowing: dict[RequestKey, dict[int, tuple[int, ...]]] = field(default_factory=dict)
    _named: dict[tuple[int, RequestKey], frozenset[str]] = field(default_factory=dict)
    _named_in: dict[tuple[frozenset[int], RequestKey], frozenset[str]] = field(default_factory=dict)
    # (id of the rule-list set an identity holds, request key list id) -> the `allowing` maps that concern them.
    _relevant: dict[tuple[int, int], tuple[dict[int, tuple[int, ...]], ...]] = field(default_factory=dict)
    _held_ids: dict[frozenset[int], int] = field(default_factory=dict)
    _allowed: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)  # see `allowed_by_id`
    # request key list id -> (its keys, rule lists with a rule allowing one of the requests for some name).
    _touching: dict[int, tuple[tuple[RequestKey, ...], set[int]]] = field(default_factory=dict)
    _names_resources: dict[int, bool] = field(default_factory=dict)  # held set id -> any rule with resourceNames
    _verbs: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # rules id -> verb -> indices naming it

    def rules_id(self, role: Role) -> int:
        found = self._role_ids.get(id(role))
        if found is not None:
            return found
        rules_id = self._rules_ids.get(role.rules)
        if rules_id is None:
            rules_id = self._rules_ids[role.rules] = len(self._rule_lists)
            self._rule_lists.append(role.rules)
            for key, allowing in self._allowing.items():  # a rule list added late (virtual roles)
                _match_into(allowing, rules_id, role.rules, *_nameless_request(key), range(len(role.rules)))
            self._relevant.clear()
            self._allowed.clear()
            for keys, touching in self._touching.values():
                if _touches(keys, role.rules):
                    touching.add(rules_id)
        self._role_ids[id(role)] = rules_id
        self._roles.append(role)
        return rules_id

    def allowing(self, key: RequestKey) -> dict[int, tuple[int, ...]]:
        """rule list id -> indices of its rules that allow the request (only lists that allow it)."""
        found = self._allowing.get(key)
        if found is None:
            found = self._allowing[key] = {}
            verb = key[0]
            request, nameless = _nameless_request(key)
            for rules_id in range(len(self._rule_lists)):
                candidates = self._with_verb(rules_id, verb)
                if candidates:
                    _match_into(found, rules_id, self._rule_lists[rules_id], request, nameless, candidates)
        return found

    def _with_verb(self, rules_id: int, verb: str) -> tuple[int, ...]:
        """Indices of the rules of a list that name `verb` or `*`, in order: only those can allow a request
        with that verb (upstream VerbMatches compares exactly), and most rules name neither."""
        by_verb = self._verbs.get(rules_id)
        if by_verb is None:
            by_verb = self._verbs[rules_id] = {}
            for index, rule in enumerate(self._rule_lists[rules_id]):
                for rule_verb in dict.fromkeys(rule.verbs):
                    by_verb.setdefault(rule_verb, []).append(index)
        found = by_verb.get(verb, [])
        everything = by_verb.get(ALL)
        if everything and verb != ALL:
            found = sorted({*found, *everything})
        return tuple(found)

    def held_id(self, held: frozenset[int]) -> int:
        """A small int naming a set of rule list ids (few distinct sets across identities)."""
        return self._held_ids.setdefault(held, len(self._held_ids))

    def relevant_by_id(
        self, held: frozenset[int], held_id: int, keys: tuple[RequestKey, ...], list_id: int
    ) -> tuple[dict[int, tuple[int, ...]], ...]:
        """`relevant`, memoized by the ints naming `held` and `keys`."""
        found = self._relevant.get((held_id, list_id))
        if found is None:
            found = tuple(a for a in map(self.allowing, keys) if not a.keys().isdisjoint(held))
            self._relevant[(held_id, list_id)] = found
        return found

    def allowed_by_id(
        self, held: frozenset[int], held_id: int, keys: tuple[RequestKey, ...], list_id: int
    ) -> frozenset[int]:
        """The rule lists in `held` that allow one of the requests (unnamed), memoized by the ints naming both.

        Whether an identity is allowed one of the requests in a place is then one `isdisjoint`
        with the rule lists it holds there.
        """
        found = self._allowed.get((held_id, list_id))
        if found is None:
            allowings = self.relevant_by_id(held, held_id, keys, list_id)
            found = frozenset(rules_id for allowing in allowings for rules_id in allowing if rules_id in held)
            self._allowed[(held_id, list_id)] = found
        return found

    def may_allow_any(self, held: frozenset[int], keys: tuple[RequestKey, ...], list_id: int) -> bool:
        """Whether a rule list in `held` has a rule allowing one of the requests for some name (names ignored)."""
        found = self._touching.get(list_id)
        if found is None:
            # The unnamed matches are memoized per key (and asked again by `relevant`), so
            # request lists sharing keys share the work; only rules with resourceNames remain.
            touching: set[int] = set()
            for key in keys:
                touching.update(self.allowing(key))
                touching.update(rules_id for rules_id in range(len(self._rule_lists)) if self.named(rules_id, key))
            found = self._touching[list_id] = (keys, touching)
        return not found[1].isdisjoint(held)

    def names_resources(self, held: frozenset[int], held_id: int) -> bool:
        """Whether a rule list in `held` has a rule with resourceNames (most sets have none), memoized."""
        found = self._names_resources.get(held_id)
        if found is None:
            found = self._names_resources[held_id] = any(
                rule.resource_names for rules_id in held for rule in self._rule_lists[rules_id])
        return found

    def named_in(self, held: frozenset[int], key: RequestKey) -> frozenset[str]:
        """`named` over several rule lists (an identity's; few distinct sets), memoized."""
        found = self._named_in.get((held, key))
        if found is None:
            found = self._named_in[(held, key)] = frozenset().union(*(self.named(i, key) for i in held))
        return found

    def named(self, rules_id: int, key: RequestKey) -> frozenset[str]:
        """Names in resourceNames of the rules of a list that allow the request for those names."""
        found = self._named.get((rules_id, key))
        if found is None:
            names: set[str] = set()
            rules = self._rule_lists[rules_id]
            for rule in (rules[index] for index in self._with_verb(rules_id, key[0])):
                if rule.resource_names and rule_allows(_request(key, rule.resource_names[0]), rule):
                    names.update(rule.resource_names)
            found = self._named[(rules_id, key)] = frozenset(names)
        return found


def _request(key: RequestKey, name: str) -> ResourceRequest:
    verb, resource, api_group, subresource, _ = key
    return ResourceRequest(verb, resource, "", api_group, subresource, name)


def _touches(keys: tuple[RequestKey, ...], rules: tuple[PolicyRule, ...]) -> bool:
    """Whether a rule allows one of the requests for some name (resourceNames ignored)."""
    return any(rule_allows(_request(key, rule.resource_names[0] if rule.resource_names else ""), rule)
               for key in keys for rule in rules)


# Verbs whose requests carry no object name (create only on a resource itself, not a subresource).
COLLECTION_VERBS = frozenset({"list", "watch", "deletecollection"})


def names_an_object(key: RequestKey) -> bool:
    """Whether every real request like this one names an object (get, update, exec, bind, ...)."""
    verb, _, _, subresource, _ = key
    return verb not in COLLECTION_VERBS and not (verb == "create" and not subresource)


def _nameless_request(key: RequestKey) -> tuple[ResourceRequest, bool]:
    """The request of a key, and whether the solver asks it nameless although every real one names an object."""
    return _request(key, key[4]), key[4] == "" and names_an_object(key)


def _match_into(allowing: dict[int, tuple[int, ...]], rules_id: int, rules: tuple[PolicyRule, ...],
                request: ResourceRequest, nameless: bool, candidates: Iterable[int]) -> None:
    """Which of the candidate rules allow the request. The solver asks nameless questions ("get any
    Secret"): for requests that always name an object (`nameless`), `resourceNames: [""]` allows none
    of them, so such rules are not counted."""
    indices = tuple(i for i in candidates
                    if rule_allows(request, rules[i]) and not (nameless and rules[i].resource_names))
    if indices:
        allowing[rules_id] = indices


@dataclass
class EffectivePermissions:
    """One identity's applied bindings: cluster-wide ones and per-namespace ones.

    Every question first intersects the rule lists that allow the request with the rule
    lists this identity holds (`_rules_ids`): most answers are "nowhere" without a loop.
    """

    identity: Identity
    system_masters: bool
    matcher: RuleMatcher = field(default_factory=RuleMatcher, repr=False)
    cluster: list[AppliedBinding] = field(default_factory=list)
    namespaced: dict[str, list[AppliedBinding]] = field(default_factory=dict)
    # Hypothetical RoleBindings in every namespace (namespace "*"): namespaced requests only.
    every_namespace: list[AppliedBinding] = field(default_factory=list)
    dangling: list[Binding] = field(default_factory=list)
    _rules_ids: set[int] = field(default_factory=set, repr=False)
    _global_rules_ids: set[int] = field(default_factory=set, repr=False)  # cluster + every namespace
    _namespace_rules: dict[str, set[int]] = field(default_factory=dict, repr=False)  # namespace -> rule lists
    _scopes: dict[int, PermissionScope] = field(default_factory=dict, repr=False)  # by request key list id
    _where: dict[int, tuple[str | None, ...]] = field(default_factory=dict, repr=False)  # by request key list id
    # frozen _rules_ids and its id in the matcher (None: not computed since the last `place`).
    _held: tuple[frozenset[int], int] | None = field(default=None, repr=False)

    def place(self, binding: Binding, subject_index: int, role: Role) -> None:
        """Add a binding that applies to this identity (in snapshot order)."""
        applied = (binding, subject_index, role)
        rules_id = self.matcher.rules_id(role)
        self._rules_ids.add(rules_id)
        self._held = None
        self._scopes = {}
        self._where = {}
        if binding.key.kind == CLUSTER_ROLE_BINDING:
            self.cluster.append(applied)
            self._global_rules_ids.add(rules_id)
        elif binding.key.namespace == EVERY_NAMESPACE:
            self.every_namespace.append(applied)
            self._global_rules_ids.add(rules_id)
        else:
            namespace = binding.key.namespace
            self.namespaced.setdefault(namespace, []).append(applied)
            self._namespace_rules.setdefault(namespace, set()).add(rules_id)

    def place_all(self, applied: Iterable[AppliedBinding]) -> None:
        """`place` for each binding, in order (one loop per identity: ~14k identities per big cluster)."""
        matcher = self.matcher
        role_ids = matcher._role_ids
        rules_ids, global_ids, namespace_rules = self._rules_ids, self._global_rules_ids, self._namespace_rules
        cluster, every_namespace, namespaced = self.cluster, self.every_namespace, self.namespaced
        for entry in applied:
            binding, _, role = entry
            rules_id = role_ids.get(id(role))
            if rules_id is None:
                rules_id = matcher.rules_id(role)
            rules_ids.add(rules_id)
            key = binding.key
            if key.kind == CLUSTER_ROLE_BINDING:
                cluster.append(entry)
                global_ids.add(rules_id)
            elif key.namespace == EVERY_NAMESPACE:
                every_namespace.append(entry)
                global_ids.add(rules_id)
            else:
                namespace = key.namespace
                here = namespaced.get(namespace)
                if here is None:
                    namespaced[namespace] = [entry]
                    namespace_rules[namespace] = {rules_id}
                else:
                    here.append(entry)
                    namespace_rules[namespace].add(rules_id)
        self._held = None
        self._scopes = {}
        self._where = {}

    @classmethod
    def copied(cls, base: EffectivePermissions, identity: Identity, system_masters: bool) -> EffectivePermissions:
        """Another identity's permissions starting from a copy of `base`'s placed bindings.

        `PermissionIndex.for_identity` places the bindings of the groups nearly everyone is in
        once per set of such groups and copies them: ~14k identities would place the same
        handful of ClusterRoleBindings each. Built without `__init__`: its default factories
        would make nine containers only to replace them.
        """
        self = cls.__new__(cls)
        self.identity = identity
        self.system_masters = system_masters
        self.matcher = base.matcher
        self.cluster = base.cluster.copy()
        self.every_namespace = base.every_namespace.copy()
        self.namespaced = {namespace: applied.copy() for namespace, applied in base.namespaced.items()}
        self.dangling = base.dangling.copy()
        self._rules_ids = base._rules_ids.copy()
        self._global_rules_ids = base._global_rules_ids.copy()
        self._namespace_rules = {namespace: ids.copy() for namespace, ids in base._namespace_rules.items()}
        self._held = base._held
        self._scopes = {}
        self._where = {}
        return self

    def held(self) -> tuple[frozenset[int], int]:
        """The rule list ids this identity holds, frozen, and the matcher's int for that set."""
        if self._held is None:
            frozen = frozenset(self._rules_ids)
            self._held = (frozen, self.matcher.held_id(frozen))
        return self._held

    def grants(self, request: ResourceRequest) -> tuple[Grant, ...]:
        """Every grant allowing the request, exactly as `Authorizer.authorize(...).grants`."""
        allowing = self.matcher.allowing(request_key(request))
        allowed = allowing.keys()
        if allowed.isdisjoint(self._rules_ids):
            return ()
        # Each list of bindings is looked at only when one of its rule lists allows the request.
        found: list[Grant] = [] if allowed.isdisjoint(self._global_rules_ids) else self._grants(self.cluster, allowing)
        if request.namespace:
            if self.every_namespace:
                found += self._grants(self.every_namespace, allowing)
            held_here = self._namespace_rules.get(request.namespace)
            if held_here is not None and not allowed.isdisjoint(held_here):
                found += self._grants(self.namespaced[request.namespace], allowing)
        return tuple(found)

    def allows(self, request: ResourceRequest) -> bool:
        return self.system_masters or bool(self.grants(request))

    def scope(self, request: ResourceRequest) -> PermissionScope:
        """Where a namespaced request (its namespace ignored) is allowed.

        For cluster-scoped resources use `grants()` with an empty namespace instead: only
        ClusterRoleBindings count for them.
        """
        keys, list_id = single_request(request)
        found = self._scopes.get(list_id)
        if found is None:
            found = self._scopes[list_id] = self._scope_any(keys, list_id)
        return found

    def scope_any(self, requests: Iterable[ResourceRequest]) -> PermissionScope:
        """Where at least one of the requests is allowed (the first one's grants in each place).

        Allowed everywhere by any request wins (with that request's grants); otherwise each
        namespace gets the grants of the first request allowed there. Cached per request list.
        """
        keys, list_id = request_list(requests)
        found = self._scopes.get(list_id)
        if found is None:
            found = self._scopes[list_id] = self._scope_any(keys, list_id)
        return found

    def where(self, request: ResourceRequest) -> tuple[str | None, ...]:
        """`where_any` of one request: the places of `scope(request)` without their grants."""
        keys, list_id = single_request(request)
        found = self._where.get(list_id)
        if found is None:
            found = self._where[list_id] = self._where_any(keys, list_id)
        return found

    def where_any(self, requests: Sequence[ResourceRequest]) -> tuple[str | None, ...]:
        """The places of `scope_any(requests)` without their grants: (None,) for every namespace, else
        the namespaces, sorted. Edges are made from this; their grants only for the shown ones."""
        keys, list_id = request_list(requests)
        found = self._where.get(list_id)
        if found is None:
            found = self._where[list_id] = self._where_any(keys, list_id)
        return found

    def _where_any(self, keys: tuple[RequestKey, ...], list_id: int) -> tuple[str | None, ...]:
        held, held_id = self.held()
        allowed = self.matcher.allowed_by_id(held, held_id, keys, list_id)
        if not allowed:
            return ()
        if not allowed.isdisjoint(self._global_rules_ids):
            return (None,)  # as `_scope_any`: some ClusterRoleBinding (or every-namespace binding) allows it
        namespace_rules = self._namespace_rules
        if len(namespace_rules) == 1:  # most identities: one namespace
            [(namespace, held_here)] = namespace_rules.items()
            return () if allowed.isdisjoint(held_here) else (namespace,)
        return tuple(namespace for namespace in sorted(namespace_rules)
                     if not allowed.isdisjoint(namespace_rules[namespace]))

    def grants_where(self, requests: Sequence[ResourceRequest], namespace: str | None) -> tuple[Grant, ...]:
        """The grants `scope_any(requests)` gives one of its places (`where_any`'s; None: every namespace).

        Only that place's grants are built: a lazy edge's provenance needs one, and an
        identity bound in many namespaces would otherwise build them for all.
        """
        keys, list_id = request_list(requests)
        held, held_id = self.held()
        allowings = self.matcher.relevant_by_id(held, held_id, keys, list_id)
        if namespace is None:
            for allowing in allowings:
                if not allowing.keys().isdisjoint(self._global_rules_ids):
                    return tuple(self._grants([*self.cluster, *self.every_namespace], allowing))
            return ()
        held_here = self._namespace_rules.get(namespace)
        if held_here is not None:
            for allowing in allowings:  # as `_scope_any`: the first request allowed there gives its grants
                if not allowing.keys().isdisjoint(held_here):
                    return tuple(self._grants(self.namespaced[namespace], allowing))
        return ()

    def _scope_any(self, keys: tuple[RequestKey, ...], list_id: int) -> PermissionScope:
        held, held_id = self.held()
        allowings = self.matcher.relevant_by_id(held, held_id, keys, list_id)
        if not allowings:
            return NOWHERE
        if self._global_rules_ids:
            for allowing in allowings:
                if not allowing.keys().isdisjoint(self._global_rules_ids):
                    # Some ClusterRoleBinding (or every-namespace binding) allows it: everywhere.
                    return PermissionScope(tuple(self._grants([*self.cluster, *self.every_namespace], allowing)), {})
        namespaces: dict[str, tuple[Grant, ...]] = {}
        for namespace in sorted(self._namespace_rules):
            held_here = self._namespace_rules[namespace]
            for allowing in allowings:  # the first request allowed in this namespace gives its grants
                if not allowing.keys().isdisjoint(held_here):
                    namespaces[namespace] = tuple(self._grants(self.namespaced[namespace], allowing))
                    break
        return PermissionScope((), namespaces) if namespaces else NOWHERE

    def class_key(self) -> int:
        """Identities with the same key give the same `may_allow_any` answers (same rule lists held).

        An int (system:masters or not, and the held set's int): it is looked up for every
        identity of every round by each primitive.
        """
        return self.held()[1] * 2 + self.system_masters

    def may_allow_any(self, requests: Sequence[ResourceRequest]) -> bool:
        """Whether a rule it holds could allow one of the requests, for some name, somewhere.

        False means every question about these requests (named or not, in any namespace) is
        answered "nowhere", so a primitive asking only those may skip the identity.
        system:masters members are always looked at (the direct primitive reports them).
        """
        if self.system_masters:
            return True
        keys, list_id = request_list(requests)
        return self.matcher.may_allow_any(self.held()[0], keys, list_id)

    def has_named_rules(self) -> bool:
        """Whether a rule it holds lists resourceNames; False: every `named_resources` answer is empty."""
        held, held_id = self.held()
        return self.matcher.names_resources(held, held_id)

    def named_resources(self, request: ResourceRequest) -> set[str]:
        """Names listed in resourceNames of rules that would allow the request for those names."""
        held, held_id = self.held()
        if not self.matcher.names_resources(held, held_id):
            return set()
        return set(self.matcher.named_in(held, request_key(request)))

    def namespaces_it_may_act_in(self) -> Collection[str] | None:
        """Namespaces where a namespaced permission of this identity could hold; None: any namespace."""
        if self.cluster or self.every_namespace:
            return None
        return self.namespaced.keys()

    def _grants(self, applied: Iterable[AppliedBinding], allowing: dict[int, tuple[int, ...]]) -> list[Grant]:
        role_ids = self.matcher._role_ids  # every applied role went through `place` -> `rules_id`
        return [Grant(binding, subject_index, role, rule_index) for binding, subject_index, role in applied
                for rule_index in allowing.get(role_ids[id(role)], ())]


NOWHERE = PermissionScope()


def node_restriction_refuses(request: ResourceRequest) -> bool:
    """Whether the NodeRestriction admission plugin refuses this request from a node (`system:node:NAME` in
    `system:nodes`) whatever RBAC says (upstream `plugin/pkg/admission/noderestriction`, which judges creates,
    updates and deletes, not connects): a pod create or update (only mirror pods, without a ServiceAccount),
    a write of a pod subresource other than status and eviction (ephemeral containers, binding), and a token
    request for a ServiceAccount (only for the pods bound to that node, whose tokens the node holds anyway)."""
    if request.api_group or request.verb not in ("create", "update", "patch"):
        return False
    if request.resource == "pods":
        return request.subresource not in ("status", "eviction", *CONNECT_SUBRESOURCES)
    return request.resource == "serviceaccounts" and request.subresource == "token"


# Pod subresources reached with CONNECT (RBAC verb create or get): admission plugins judging writes skip them.
CONNECT_SUBRESOURCES = ("exec", "attach", "portforward", "proxy")


class NodeRestrictedPermissions(EffectivePermissions):
    """A node's permissions: its RBAC ones, less the writes NodeRestriction refuses (`node_restriction_refuses`).

    Only the node identities get this class (a kubelet, an EKS node role's login), so the checks cost the
    others nothing. Its `class_key` is its own: identities sharing one must answer alike."""

    def class_key(self) -> int:
        return -1 - super().class_key()

    def grants(self, request: ResourceRequest) -> tuple[Grant, ...]:
        return () if node_restriction_refuses(request) else super().grants(request)

    def scope(self, request: ResourceRequest) -> PermissionScope:
        return NOWHERE if node_restriction_refuses(request) else super().scope(request)

    def where(self, request: ResourceRequest) -> tuple[str | None, ...]:
        return () if node_restriction_refuses(request) else super().where(request)

    def named_resources(self, request: ResourceRequest) -> set[str]:
        return set() if node_restriction_refuses(request) else super().named_resources(request)

    def scope_any(self, requests: Iterable[ResourceRequest]) -> PermissionScope:
        kept = _admitted(requests)
        return super().scope_any(kept) if kept else NOWHERE

    def where_any(self, requests: Sequence[ResourceRequest]) -> tuple[str | None, ...]:
        kept = _admitted(requests)
        return super().where_any(kept) if kept else ()

    def grants_where(self, requests: Sequence[ResourceRequest], namespace: str | None) -> tuple[Grant, ...]:
        kept = _admitted(requests)
        return super().grants_where(kept, namespace) if kept else ()

    def may_allow_any(self, requests: Sequence[ResourceRequest]) -> bool:
        kept = _admitted(requests)
        return bool(kept) and super().may_allow_any(kept)


_ADMITTED: dict[int, tuple[object, tuple[ResourceRequest, ...]]] = {}


def _admitted(requests: Iterable[ResourceRequest]) -> tuple[ResourceRequest, ...]:
    """The requests NodeRestriction lets through, as one tuple per request list (lookups memoize by list)."""
    if isinstance(requests, list | tuple):
        known = _ADMITTED.get(id(requests))
        if known is not None and known[0] is requests:
            return known[1]
        kept = tuple(request for request in requests if not node_restriction_refuses(request))
        if len(_ADMITTED) < _KEYS_OF_LIST_LIMIT:
            _ADMITTED[id(requests)] = (requests, kept)  # holding the list keeps its id from being reused
        return kept
    return tuple(request for request in requests if not node_restriction_refuses(request))


# A binding naming someone, as indexed: (snapshot order, binding, index of the naming subject, role or None).
IndexedBinding = tuple[int, Binding, int, Role | None]


@dataclass
class PermissionIndex:
    """Bindings indexed by the username and group they name, built once per snapshot."""

    # What `for_identity` builds (tests swap in a plain reference implementation).
    permissions_class: ClassVar[type[EffectivePermissions]] = EffectivePermissions

    policy: InMemoryPolicy
    by_username: dict[str, list[IndexedBinding]] = field(default_factory=lambda: defaultdict(list))
    by_group: dict[str, list[IndexedBinding]] = field(default_factory=lambda: defaultdict(list))
    matcher: RuleMatcher = field(default_factory=RuleMatcher)
    _cache: dict[tuple[str, str, str], EffectivePermissions] = field(default_factory=dict)
    # Hypothetical bindings added by the solver (bind / escalate steps, cloud grants), by identity key:
    # a RoleHolder shares its attacker's username, but only it holds the new role.
    _virtual: dict[tuple[str, str, str], list[tuple[Binding, int, Role]]] = field(
        default_factory=lambda: defaultdict(list))
    # Shared groups an identity is in -> their bindings placed once, and the last one's order per list.
    _shared: dict[tuple[str, ...], tuple[EffectivePermissions, dict[str, int]]] = field(default_factory=dict)

    @classmethod
    def build(cls, policy: InMemoryPolicy) -> PermissionIndex:
        index = cls(policy)
        bindings = list(policy.cluster_role_bindings())
        for namespace in policy.role_binding_namespaces():
            bindings += policy.role_bindings(namespace)
        # `policy.role(binding.role_key())` and `effective_subject`, by plain tuples and strings: a
        # RoleKey or Subject per binding (built, hashed and compared in Python) cost more than the rest.
        roles = {(key.kind, key.name, key.namespace): role for key, role in policy.roles.items()}
        by_group, by_username = index.by_group, index.by_username
        for order, binding in enumerate(bindings):
            ref, namespace = binding.role_ref, binding.key.namespace
            role = roles.get((ref.kind, ref.name, namespace if ref.kind == ROLE else ""))
            for subject_index, subject in enumerate(binding.subjects):
                effective = effective_subject_key(subject, namespace)
                if effective is None:
                    continue  # e.g. a ServiceAccount without namespace in a ClusterRoleBinding
                kind, name, sa_namespace = effective
                if kind == GROUP:
                    by_group[name].append((order, binding, subject_index, role))
                elif kind == SERVICE_ACCOUNT:
                    by_username[service_account_username(sa_namespace, name)].append(
                        (order, binding, subject_index, role))
                else:
                    by_username[name].append((order, binding, subject_index, role))
        return index

    def add_virtual_binding(self, identity: Identity, binding: Binding, role: Role, subject_index: int = 0) -> None:
        """Give a hypothetical identity a binding that does not exist (yet) in the snapshot, or an existing
        binding to a role as it will be once rewritten (`subject_index` names the subject that applies)."""
        self._virtual[identity.key].append((binding, subject_index, role))
        self._cache.pop(identity.key, None)

    def for_identity(self, identity: Identity) -> EffectivePermissions:
        key = identity.key
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        # As `identity.user_info()` (username, groups) without building the UserInfo.
        groups = identity.groups
        by_group = self.by_group
        matches = list(self.by_username.get(identity.username or identity.name, ()))
        shared: tuple[str, ...] = ()
        for group in groups:
            found = by_group.get(group)
            if found:
                if group in SHARED_GROUPS:
                    shared += (group,)
                else:
                    matches += found
        permissions = None
        if shared:
            base, last_in = self._shared_base(shared)
            if any(entry[0] <= last_in.get(_list_of(entry), -1) for entry in matches):
                # A binding of its own comes before one of the shared groups' in the same list (or
                # is one of them): merge everything in snapshot order instead.
                for group in shared:
                    matches += by_group[group]
            else:
                permissions = self._class_for(identity).copied(base, identity, SYSTEM_MASTERS in groups)
        if permissions is None:
            permissions = self._class_for(identity)(identity, SYSTEM_MASTERS in groups, self.matcher)
        if matches:
            _place_in_order(permissions, matches)
        for binding, subject_index, role in self._virtual.get(key, ()):
            permissions.place(binding, subject_index, role)
        self._cache[key] = permissions
        return permissions

    def _class_for(self, identity: Identity) -> type[EffectivePermissions]:
        """NodeRestriction judges the requests of a node user (upstream `NodeIdentifier`: the username prefix
        and the group); everyone else gets `permissions_class`."""
        username = identity.username or identity.name
        if username.startswith(NODE_USERNAME_PREFIX) and NODES_GROUP in identity.groups:
            return NodeRestrictedPermissions
        return self.permissions_class

    def _shared_base(self, groups: tuple[str, ...]) -> tuple[EffectivePermissions, dict[str, int]]:
        """The bindings of these shared groups placed once, and the snapshot order of the last one in
        each list they went to (`_list_of`): an identity's own bindings are appended after those."""
        found = self._shared.get(groups)
        if found is None:
            matches = [entry for group in groups for entry in self.by_group[group]]
            holder = identity_for_group(groups[0])
            base = self.permissions_class(holder, False, self.matcher)
            _place_in_order(base, matches)
            last_in: dict[str, int] = {}
            for entry in matches:
                where = _list_of(entry)
                last_in[where] = max(last_in.get(where, -1), entry[0])
            found = self._shared[groups] = (base, last_in)
        return found


_DANGLING = "\0dangling"  # not a namespace name


def _list_of(entry: IndexedBinding) -> str:
    """Which of an identity's ordered lists a binding goes to: '' for ClusterRoleBindings, a RoleBinding's
    namespace, or the dangling bindings (missing role)."""
    _, binding, _, role = entry
    if role is None:
        return _DANGLING
    return "" if binding.key.kind == CLUSTER_ROLE_BINDING else binding.key.namespace


def _place_in_order(permissions: EffectivePermissions, matches: list[IndexedBinding]) -> None:
    """Place the bindings naming an identity in snapshot order, each once (through its first subject
    naming the identity, as the authorizer reports it); those whose role is missing are dangling."""
    if len(matches) > 1:
        matches.sort(key=_ORDER_THEN_SUBJECT)
    applied: list[AppliedBinding] = []
    last = -1
    for order, binding, subject_index, role in matches:
        if order == last:
            continue
        last = order
        if role is None:
            permissions.dangling.append(binding)
        else:
            applied.append((binding, subject_index, role))
    permissions.place_all(applied)


SHARED_GROUPS = frozenset({AUTHENTICATED, ALL_SERVICE_ACCOUNTS, UNAUTHENTICATED})
"""Groups most identities are in: their bindings are placed once per combination (`_shared_base`)."""

_ORDER_THEN_SUBJECT = itemgetter(0, 2)  # snapshot order, then index of the naming subject
