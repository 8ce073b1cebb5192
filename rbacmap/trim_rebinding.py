"""When a role must not be trimmed in place, and the checks for the new role + rebinding instead.

Some roles cannot be edited in place: the aggregation controller rewrites an aggregated
ClusterRole's rules, the API server reconciles its bootstrap roles (`autoupdate`) on every
restart, and a role that feeds an aggregated ClusterRole would shrink that role too. For
those, trim proposes a new role holding only the used rules and a new binding for each
binding that used the original, and lists the old binding for deletion.

`verify_rebinding` checks both guarantees for such a swap, for every subject and namespace:
the new binding grants nothing the old binding did not grant there (never wider), and every
observed request through the old binding is still allowed through the new one (nothing lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rbacmap.aggregation import SelectorError, selector_matches
from rbacmap.authorizer import effective_subject, rule_allows
from rbacmap.model import (
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    GROUP,
    ROLE,
    ROLE_BINDING,
    SYSTEM_MASTERS,
    Binding,
    BindingKey,
    PolicyRule,
    Request,
    ResourceRequest,
    Role,
    RoleKey,
    Subject,
)
from rbacmap.rule_compaction import TrimGuaranteeError, verify_never_wider

BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
BOOTSTRAP_VALUE = "rbac-defaults"
AUTOUPDATE_ANNOTATION = "rbac.authorization.kubernetes.io/autoupdate"
# Groups the API server allows before RBAC is consulted (the privileged-group authorizer).
BYPASS_GROUPS = frozenset({SYSTEM_MASTERS})
NEW_ROLE_PREFIX = "rbacmap-trimmed-"
NEW_BINDING_SUFFIX = "-trimmed"


def in_place_blockers(role: Role, aggregating: Sequence[Role] = ()) -> tuple[str, ...]:
    """Why an in-place edit of this role would be undone or would cut other roles (empty: safe)."""
    reasons = []
    if role.aggregation_selectors is not None:
        reasons.append("aggregated ClusterRole (aggregationRule): the aggregation controller rewrites its rules, "
                       "so an in-place trim is undone at once")
    autoupdate = role.annotations.get(AUTOUPDATE_ANNOTATION)
    if autoupdate != "false" and (role.labels.get(BOOTSTRAP_LABEL) == BOOTSTRAP_VALUE or autoupdate == "true"):
        reasons.append(f"bootstrap role ({BOOTSTRAP_LABEL}={BOOTSTRAP_VALUE}, {AUTOUPDATE_ANNOTATION} not "
                       "\"false\"): the API server reconciles its rules on every restart")
    feeds = sorted(target.key.name for target in aggregating if _feeds(role, target))
    if feeds:
        reasons.append(f"its rules are aggregated into ClusterRole(s) {', '.join(feeds)}: an in-place trim would "
                       "cut those roles too")
    return tuple(reasons)


def _feeds(role: Role, target: Role) -> bool:
    if role.key.kind != CLUSTER_ROLE or target.key == role.key:
        return False
    try:
        return any(selector_matches(s, role.labels) for s in target.aggregation_selectors or ())
    except SelectorError:
        return False


def bypasses_rbac(subject: Subject) -> bool:
    """Members of system:masters are allowed every request before RBAC is consulted."""
    return subject.kind == GROUP and subject.name in BYPASS_GROUPS


def bypass_only(binding: Binding) -> bool:
    """A binding whose every subject bypasses RBAC: audit usage can never show it is used."""
    return bool(binding.subjects) and all(bypasses_rbac(s) for s in binding.subjects)


def slug(name: str) -> str:
    text = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in name.lower()).strip("-.")
    return text or "role"


def new_role_key(original: RoleKey, namespace: str) -> RoleKey:
    """The replacement: a Role in the binding's namespace, or a ClusterRole for ClusterRoleBindings."""
    name = NEW_ROLE_PREFIX + slug(original.name)
    return RoleKey(ROLE, name, namespace) if namespace else RoleKey(CLUSTER_ROLE, name)


def new_binding_for(old: Binding, role: RoleKey) -> Binding:
    """Same kind, namespace and subjects as `old`, pointing at the new role."""
    return Binding(BindingKey(old.key.kind, old.key.name + NEW_BINDING_SUFFIX, old.key.namespace),
                   RoleKey(role.kind, role.name, ""), old.subjects)


def _subjects(binding: Binding) -> set[Subject]:
    out = set()
    for subject in binding.subjects:
        effective = effective_subject(subject, binding.key.namespace)
        if effective is not None:
            out.add(Subject(effective.kind, effective.name, effective.namespace))
    return out


def _scope_within(new: Binding, old: Binding) -> bool:
    """Every namespace the new binding grants in, the old binding granted in."""
    if old.key.kind == CLUSTER_ROLE_BINDING:
        return True
    return new.key.kind == ROLE_BINDING and new.key.namespace == old.key.namespace


def _in_scope(request: Request, binding: Binding) -> bool:
    if binding.key.kind == CLUSTER_ROLE_BINDING:
        return True
    return isinstance(request, ResourceRequest) and request.namespace == binding.key.namespace


def verify_rebinding(
    new: Binding, new_role: RoleKey, new_rules: Sequence[PolicyRule],
    old: Binding, old_rules: Sequence[PolicyRule], used: Iterable[tuple[Subject, Request]] = (),
) -> None:
    """Raise TrimGuaranteeError unless `new` (bound to new_rules) grants within `old` and keeps every use."""
    where = f"{new.key} replacing {old.key}"
    if new.role_key() != new_role:
        raise TrimGuaranteeError(f"{where}: references {new.role_key()}, not the new role {new_role}")
    if new.key.kind == CLUSTER_ROLE_BINDING and new_role.kind != CLUSTER_ROLE:
        raise TrimGuaranteeError(f"{where}: a ClusterRoleBinding can only reference a ClusterRole")
    if not _scope_within(new, old):
        raise TrimGuaranteeError(f"{where}: grants outside the namespace scope of the binding it replaces")
    extra = _subjects(new) - _subjects(old)
    if extra:
        raise TrimGuaranteeError(f"{where}: adds subject(s) {', '.join(sorted(map(str, extra)))}")
    if new_role.kind == ROLE and any(rule.non_resource_urls for rule in new_rules):
        raise TrimGuaranteeError(f"{where}: a namespaced Role cannot hold nonResourceURLs")
    verify_never_wider(new_rules, old_rules, where)
    subjects = _subjects(new)
    for subject, request in used:
        if Subject(subject.kind, subject.name, subject.namespace) not in subjects:
            raise TrimGuaranteeError(f"{where}: loses {subject}, who used the old binding")
        if not _in_scope(request, new) or not any(rule_allows(request, rule) for rule in new_rules):
            raise TrimGuaranteeError(f"{where}: loses an observed request: {request.describe()}")
