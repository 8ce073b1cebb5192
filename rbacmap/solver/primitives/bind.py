"""Primitive 11: write a (Cluster)RoleBinding AND hold `bind` on the role -> that role's power.

Without `bind` the API server only lets you bind what you already hold, so that is no
path. resourceNames on the `bind` rule limit which roles. A binding's roleRef is immutable:
with `create` any role can be bound, but with only `update`/`patch` an identity can merely
add itself to a binding that already exists (resourceNames limiting which), so only the
roles of existing bindings are reachable that way. When any role may be bound,
the candidates are the roles with a `*`/`*`/`*` rule (if the snapshot has one, it is the
strongest choice), else every role. The power gained is modelled as a hypothetical
identity, a `RoleHolder` of the role in that scope, bound by a binding that does not exist
yet; the other primitives then run on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rbacmap.authorizer import Grant, rule_allows
from rbacmap.model import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    ROLE,
    ROLE_BINDING,
    USER,
    Binding,
    BindingKey,
    PolicyRule,
    ResourceRequest,
    Role,
    Subject,
)
from rbacmap.normalize import RBAC_GROUP
from rbacmap.solver.context import SolverContext
from rbacmap.solver.edges import Edge
from rbacmap.solver.identity import ROLE_HOLDER, Identity, identity_for_role_holder
from rbacmap.solver.kubectl import sentence
from rbacmap.solver.permissions import CLUSTER_ADMIN_REQUEST, EVERY_NAMESPACE, EffectivePermissions
from rbacmap.solver.primitives.scopes import in_namespace, places
from rbacmap.solver.targets import CLUSTER_ADMIN_TARGET

MODIFY_VERBS = ("update", "patch")
CRB_CREATE = ResourceRequest("create", "clusterrolebindings", api_group=RBAC_GROUP)
RB_CREATE = [ResourceRequest("create", "rolebindings", api_group=RBAC_GROUP)]
RB_MODIFY = [ResourceRequest(verb, "rolebindings", api_group=RBAC_GROUP) for verb in MODIFY_VERBS]
# Every binding write this primitive asks about (the permission-index agreement test checks them all).
CRB_WRITES = [CRB_CREATE, *(ResourceRequest(v, "clusterrolebindings", api_group=RBAC_GROUP) for v in MODIFY_VERBS)]
RB_WRITES = [*RB_CREATE, *RB_MODIFY]
ASKED = [*CRB_WRITES, *RB_WRITES]  # every edge needs a binding write


_FULL_POWER: dict[int, tuple[Role, bool]] = {}  # id(role) -> (role, answer); holds the role so the id stays its own
_FULL_POWER_LIMIT = 200_000


def is_full_power(role: Role) -> bool:
    """Whether a rule of the role allows everything (asked for every candidate role of every binder: memoized)."""
    known = _FULL_POWER.get(id(role))
    if known is not None and known[0] is role:
        return known[1]
    answer = any(rule_allows(CLUSTER_ADMIN_REQUEST, rule) for rule in role.rules)
    if len(_FULL_POWER) >= _FULL_POWER_LIMIT:
        _FULL_POWER.clear()
    _FULL_POWER[id(role)] = (role, answer)
    return answer


def hold_role(
    ctx: SolverContext, attacker: Identity, role: Role, scope: str, existing: Binding | None = None,
) -> Identity:
    """`attacker` plus `role` in `scope` ('' cluster-wide, '*' every namespace, or a namespace), through a
    binding it creates, or through the `existing` binding once it has added itself as its last subject."""
    label = str(role.key) if existing is None else f"{role.key} through {existing.key}"
    holder = identity_for_role_holder(label, scope, attacker)
    known = holder.key in ctx.identities
    holder = ctx.add_identity(holder)
    if not known:
        itself = Subject(USER, holder.user_info().name)
        if existing is None:
            kind = CLUSTER_ROLE_BINDING if scope == "" else ROLE_BINDING
            binding = Binding(BindingKey(kind, f"<new binding of {role.key.name}>", scope), role.key, (itself,))
        else:
            binding = Binding(existing.key, existing.role_ref, (*existing.subjects, itself))
        ctx.permission_index.add_virtual_binding(holder, binding, role, len(binding.subjects) - 1)
    return holder


def hold_rewritten_role(ctx: SolverContext, attacker: Identity, binding: Binding, subject_index: int,
                        role: Role) -> Identity:
    """`attacker` once the role an existing binding grants it has been rewritten to allow everything: the same
    binding (through the same subject) and the same role, whose only rule is then `*`/`*`/`*`."""
    rewritten = Role(role.key, (PolicyRule(("*",), ("*",), ("*",)),))
    # Named after the binding too: two bindings may grant the same role, and each holder shows its own.
    holder = identity_for_role_holder(f"{role.key} rewritten to */*/* through {binding.key}", binding.key.namespace,
                                      attacker)
    known = holder.key in ctx.identities
    holder = ctx.add_identity(holder)
    if not known:
        ctx.permission_index.add_virtual_binding(holder, binding, rewritten, subject_index)
    return holder


def bind(ctx: SolverContext) -> Iterator[Edge]:
    cluster_roles = ctx.roles_in("")
    candidates = _Candidates(ctx)
    for identity, permissions in ctx.frontier_permissions(ASKED):
        if identity.kind == ROLE_HOLDER or not permissions.may_allow_any(BIND_REQUESTS):
            continue  # every edge here needs `bind` on some role (for some name, somewhere)
        create = permissions.grants(CRB_CREATE)
        if create:
            for role, bind_grants in _bindable(permissions, candidates.of(cluster_roles, CLUSTER_ROLE), CLUSTER_ROLE,
                                               "", candidates):
                yield _edge(ctx, identity, role, "", create, bind_grants)
        else:
            yield from _join_existing(ctx, identity, permissions, ctx.policy.cluster_role_bindings(), "")
        creatable = dict(places(permissions.scope_any(RB_CREATE)))
        for namespace, write in creatable.items():
            for kind in (CLUSTER_ROLE, ROLE):
                for role, bind_grants in _bindable(permissions, candidates.in_namespace(namespace, kind), kind,
                                                   namespace, candidates):
                    yield _edge(ctx, identity, role, namespace or EVERY_NAMESPACE, write, bind_grants)
        if None not in creatable:
            for namespace in _modifiable_namespaces(ctx, permissions, creatable):
                yield from _join_existing(ctx, identity, permissions, ctx.policy.role_bindings(namespace), namespace)


def _modifiable_namespaces(
    ctx: SolverContext, permissions: EffectivePermissions, creatable: dict[str | None, tuple[Grant, ...]]
) -> list[str]:
    """Namespaces (without create) where an existing RoleBinding might be updated or patched."""
    unnamed = places(permissions.scope_any(RB_MODIFY))
    if any(namespace is None for namespace, _ in unnamed):
        candidates = set(ctx.policy.role_binding_namespaces())
    else:
        candidates = {namespace for namespace, _ in unnamed if namespace is not None}
    names: set[str] = set()
    for request in RB_MODIFY:
        names |= permissions.named_resources(request)
    if names:
        for namespace in ctx.policy.role_binding_namespaces():
            if any(b.key.name in names for b in ctx.policy.role_bindings(namespace)):
                candidates.add(namespace)
    return sorted(candidates - {ns for ns in creatable if ns is not None})


def _join_existing(
    ctx: SolverContext, identity: Identity, permissions: EffectivePermissions, bindings: Iterable[Binding],
    namespace: str,
) -> Iterator[Edge]:
    """Update/patch an existing binding to add itself: its role (roleRef cannot change), if `bind` allows it."""
    resource = "clusterrolebindings" if namespace == "" else "rolebindings"
    unnamed = [ResourceRequest(verb, resource, namespace, RBAC_GROUP) for verb in MODIFY_VERBS]
    # A binding no resourceNames list is written with exactly the grants of the unnamed request.
    unnamed_write = next((g for g in map(permissions.grants, unnamed) if g), ())
    names: set[str] = set()
    for request in unnamed:
        names |= permissions.named_resources(request)
    if not unnamed_write:
        # Only rules with resourceNames can allow the write: look at those bindings alone.
        if not names:
            return
        bindings = [binding for binding in bindings if binding.key.name in names]
    memo: dict[tuple[str, str | None, str], tuple[Grant, ...]] = {}  # many bindings share a role
    # resourceNames [""] allows the unnamed request but no binding (each has a name): then the
    # unnamed grants stand for none, and every binding is asked by its name.
    exact = "" in names
    for binding in bindings:
        name = binding.key.name
        if exact or name in names:
            requests = (ResourceRequest(verb, resource, namespace, RBAC_GROUP, "", name) for verb in MODIFY_VERBS)
            write = next((g for g in map(permissions.grants, requests) if g), ())
        else:
            write = unnamed_write
        if not write:
            continue
        role = ctx.policy.role(binding.role_key())
        if role is None:
            continue
        bind_resource = "clusterroles" if role.key.kind == CLUSTER_ROLE else "roles"
        bind_grants = _bind_grants(permissions, bind_resource, namespace, role.key.name, memo)
        if bind_grants:
            yield _edge(ctx, identity, role, namespace, write, bind_grants, existing=binding)


class _Candidates:
    """The roles of each kind one may bind in a place, and the full-power ones among them.

    Built once per `bind` call and shared by every identity of the round (each used to filter
    the snapshot's ClusterRoles again).
    """

    def __init__(self, ctx: SolverContext) -> None:
        self.ctx = ctx
        self._of: dict[tuple[int, str], tuple[list[Role], list[Role]]] = {}  # (id(roles), kind) -> (roles, kind's)
        self._in: dict[tuple[str | None, str], list[Role]] = {}
        self._strongest: dict[int, tuple[list[Role], list[Role]]] = {}  # id(candidates) -> (candidates, strongest)

    def of(self, roles: list[Role], kind: str) -> list[Role]:
        found = self._of.get((id(roles), kind))
        if found is None or found[0] is not roles:
            found = self._of[(id(roles), kind)] = (roles, [r for r in roles if r.key.kind == kind])
        return found[1]

    def in_namespace(self, namespace: str | None, kind: str) -> list[Role]:
        """The ClusterRoles, plus the namespace's Roles, of `kind` (None: every namespace, ClusterRoles only)."""
        found = self._in.get((namespace, kind))
        if found is None:
            found = self.of(self.ctx.roles_in(""), kind)
            if namespace is not None:
                found = found + self.of(self.ctx.roles_in(namespace), kind)
            self._in[(namespace, kind)] = found
        return found

    def strongest(self, candidates: list[Role]) -> list[Role]:
        found = self._strongest.get(id(candidates))
        if found is None or found[0] is not candidates:
            found = self._strongest[id(candidates)] = (candidates, [r for r in candidates if is_full_power(r)])
        return found[1]


def _bindable(
    permissions: EffectivePermissions, candidates: list[Role], kind: str, namespace: str | None,
    memos: _Candidates,
) -> Iterator[tuple[Role, tuple[Grant, ...]]]:
    """`candidates` (the roles of `kind` bindable in the place) that `bind` allows, with its grants."""
    resource = "clusterroles" if kind == CLUSTER_ROLE else "roles"
    if not candidates:
        return
    memo: dict[tuple[str, str | None, str], tuple[Grant, ...]] = {}
    if _bind_grants(permissions, resource, namespace, "", memo):
        candidates = memos.strongest(candidates) or candidates
    else:
        names = permissions.named_resources(BIND_ANY[resource])
        if not names:
            return
        candidates = [r for r in candidates if r.key.name in names]
    for role in sorted(candidates, key=lambda r: (r.key.namespace, r.key.name)):
        grants = _bind_grants(permissions, resource, namespace, role.key.name, memo)
        if grants:
            yield role, grants


BIND_ANY = {resource: ResourceRequest("bind", resource, api_group=RBAC_GROUP) for resource in ("roles", "clusterroles")}
BIND_REQUESTS = list(BIND_ANY.values())


def _bind_grants(
    permissions: EffectivePermissions, resource: str, namespace: str | None, name: str,
    memo: dict[tuple[str, str | None, str], tuple[Grant, ...]] | None = None,
) -> tuple[Grant, ...]:
    if name:
        named = permissions.named_resources(BIND_ANY[resource])
        if name not in named and "" not in named:
            name = ""  # no resourceNames list names the role: exactly the grants of the unnamed request
    if memo is None:
        return _bind_grants_of(permissions, resource, namespace, name)
    found = memo.get((resource, namespace, name))
    if found is None:
        found = memo[(resource, namespace, name)] = _bind_grants_of(permissions, resource, namespace, name)
    return found


def _bind_grants_of(
    permissions: EffectivePermissions, resource: str, namespace: str | None, name: str
) -> tuple[Grant, ...]:
    request = ResourceRequest("bind", resource, namespace or "", RBAC_GROUP, "", name)
    if namespace is None:  # a RoleBinding in every namespace needs `bind` everywhere
        return permissions.scope(request).everywhere
    return permissions.grants(request)


def _edge(
    ctx: SolverContext, identity: Identity, role: Role, scope: str, write: tuple[Grant, ...], bind: tuple[Grant, ...],
    existing: Binding | None = None,
) -> Edge:
    binding_kind = "clusterrolebinding" if scope == "" else "rolebinding"
    where = "cluster-wide" if scope == "" else "in every namespace" if scope == EVERY_NAMESPACE else f"in {scope}"
    request = in_namespace(ResourceRequest("bind", "clusterroles" if role.key.kind == CLUSTER_ROLE else "roles",
                                           api_group=RBAC_GROUP), scope if scope not in ("", "*") else None,
                           role.key.name)
    detail = f"create a {binding_kind} {where} binding {role.key} to itself (has `bind` on it)"
    if existing is not None:
        detail = f"add itself to the existing {existing.key} of {role.key} (roleRef is immutable; has `bind` on it)"
    grants = tuple(dict.fromkeys(write + bind))  # one rule often allows both the write and bind: listed once
    explain = sentence(identity, request, grants, f"it can {detail}")
    if scope == "" and is_full_power(role):
        return Edge(identity, CLUSTER_ADMIN_TARGET, f"bind {role.key}", detail, grants=grants,
                    explain=explain, primitive="bind")
    return Edge(identity, hold_role(ctx, identity, role, scope, existing), f"bind {role.key}", detail,
                grants=grants, explain=explain, primitive="bind")
