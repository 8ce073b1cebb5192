"""Trim existing roles to what their subjects really used, and generate roles from usage alone.

For every observed request that was not denied, the exact authorizer names each binding ->
role -> rule that grants it to the acting user (with the groups the logs saw). A role's use
is the union of those requests over all its bindings; its proposal is `compact(use)`, checked
in code: never wider than the original rules, nothing used lost. Bindings no request went
through in the window are proposed for removal, with the window length stated.

Each proposal has an action: `trim` (rewrite the role in place), `replace` (the role cannot be
edited in place -- aggregated, bootstrap autoupdate, or feeding an aggregated role -- so a new
role per binding scope plus rebinding, see trim_rebinding), `remove-bindings` (no observed use)
or `skip` (bound to groups whose use audit logs cannot show: ones that bypass RBAC, or any group
when some users' requests come from logs that name no groups, as GKE's do).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from rbacmap.authorizer import Authorizer, effective_subject
from rbacmap.model import (
    ALL,
    ALL_SERVICE_ACCOUNTS,
    AUTHENTICATED,
    CLUSTER_ROLE,
    CLUSTER_ROLE_BINDING,
    GROUP,
    ROLE,
    ROLE_BINDING,
    SERVICE_ACCOUNT,
    SERVICE_ACCOUNT_GROUP_PREFIX,
    UNAUTHENTICATED,
    USER,
    Binding,
    BindingKey,
    PolicyRule,
    Request,
    ResourceRequest,
    Role,
    RoleKey,
    Subject,
    UserInfo,
    as_authorized,
)
from rbacmap.policy import InMemoryPolicy
from rbacmap.rule_compaction import (
    Permission,
    compact,
    permission_for,
    permission_in_rule,
    request_of,
    verify_never_wider,
    verify_nothing_lost,
)
from rbacmap.trim_names import NewNames
from rbacmap.trim_rebinding import (
    bypass_only,
    bypasses_rbac,
    in_place_blockers,
    new_binding_for,
    new_role_key,
    verify_rebinding,
)
from rbacmap.usage import UsageRecord, UsageWindow

TRIM = "trim"
REPLACE = "replace"
REMOVE_BINDINGS = "remove-bindings"
SKIP = "skip"

WEAK_WINDOW_DAYS = 7.0
# A rough size of a grant, for the reduction %: verbs x groups x resources (x URLs), a wildcard
# counting as this many entries. It ranks roles; it is not a security measure.
WILDCARD_WEIGHT = 10


@dataclass
class RoleUse:
    """What one role granted in the window: permissions (with the original rules), requests, bindings."""

    permissions: dict[Permission, set[int]] = field(default_factory=dict)
    requests: set[Request] = field(default_factory=set)
    bindings: set[Binding] = field(default_factory=set)
    by_subject: dict[Subject, dict[Permission, set[int]]] = field(default_factory=dict)
    subject_requests: dict[Subject, set[Request]] = field(default_factory=dict)
    subject_bindings: dict[Subject, set[Binding]] = field(default_factory=dict)
    by_binding: dict[Binding, dict[Permission, set[int]]] = field(default_factory=dict)
    binding_uses: dict[Binding, set[tuple[Subject, Request]]] = field(default_factory=dict)
    request_count: int = 0


@dataclass(frozen=True)
class TrimmedRule:
    """A proposed rule and the original rules (indexes) whose use it keeps."""

    rule: PolicyRule
    from_rules: tuple[int, ...]


@dataclass(frozen=True)
class SplitRole:
    """--split: one role per subject, with the bindings that replace the shared one."""

    key: RoleKey
    subject: Subject
    rules: tuple[TrimmedRule, ...]
    rebind: tuple[Binding, ...]  # new bindings (same kind/namespace as the originals, one subject)
    replaces: tuple[Binding, ...]


@dataclass(frozen=True)
class BindingSwap:
    """Apply `new`, then delete `old` (same subjects and scope, pointing at the trimmed role)."""

    new: Binding
    old: Binding


@dataclass(frozen=True)
class RoleReplacement:
    """A new role holding what one binding scope used of a role that cannot be edited in place."""

    key: RoleKey
    rules: tuple[TrimmedRule, ...]
    swaps: tuple[BindingSwap, ...]


@dataclass(frozen=True)
class TrimProposal:
    role: Role
    rules: tuple[TrimmedRule, ...]  # the union of all use (in place for `trim`)
    used_rule_indexes: tuple[int, ...]
    bindings: tuple[Binding, ...]
    unused_bindings: tuple[Binding, ...]  # proposed for deletion: no request went through them
    request_count: int
    splits: tuple[SplitRole, ...] = ()
    notes: tuple[str, ...] = ()
    action: str = TRIM
    reasons: tuple[str, ...] = ()  # why `replace` or `skip` instead of an in-place trim
    replacements: tuple[RoleReplacement, ...] = ()
    bypass_bindings: tuple[Binding, ...] = ()  # left alone: every subject bypasses RBAC

    @property
    def unused_rule_indexes(self) -> tuple[int, ...]:
        return tuple(i for i in range(len(self.role.rules)) if i not in self.used_rule_indexes)

    @property
    def trimmed_rules(self) -> tuple[PolicyRule, ...]:
        return tuple(t.rule for t in self.rules)

    @property
    def unused(self) -> bool:
        """No observed use (or skipped): nothing to write, only bindings to remove or leave."""
        return not self.rules

    @property
    def replaced_bindings(self) -> tuple[Binding, ...]:
        """Old bindings to delete once their replacements (new role + binding, or split) are applied."""
        old = [swap.old for r in self.replacements for swap in r.swaps]
        old += [b for split in self.splits for b in split.replaces]
        return tuple(dict.fromkeys(old))

    @property
    def reduction_percent(self) -> float | None:
        """Grant size cut by the proposed rules; None when no rules are proposed (unused or skipped)."""
        before = grant_size(self.role.rules)
        if self.unused or before == 0:
            return None
        return 100.0 * (1 - grant_size(self.trimmed_rules) / before)


@dataclass(frozen=True)
class TrimReport:
    proposals: tuple[TrimProposal, ...]
    window: UsageWindow
    warnings: tuple[str, ...]

    @property
    def reduction_percent(self) -> float | None:
        """Over the roles that keep rules (trim/replace); unused and skipped roles are counted apart."""
        kept = [p for p in self.proposals if not p.unused]
        before = sum(grant_size(p.role.rules) for p in kept)
        after = sum(grant_size(p.trimmed_rules) for p in kept)
        return None if before == 0 else 100.0 * (1 - after / before)


def grant_size(rules: Iterable[PolicyRule]) -> int:
    """Rough count of permission entries: per rule, verbs x (groups x resources x names + URLs), `*` = 10."""
    def count(values: Sequence[str]) -> int:
        return sum(WILDCARD_WEIGHT if value == ALL or value.startswith("*/") or value.endswith(ALL) else 1
                   for value in values)

    total = 0
    for rule in rules:
        names = len(rule.resource_names) if rule.resource_names else 1
        total += count(rule.verbs) * (count(rule.api_groups) * count(rule.resources) * names
                                      + count(rule.non_resource_urls))
    return total


def user_info_for(username: str, groups: dict[str, tuple[str, ...]]) -> UserInfo:
    return UserInfo.authenticated(username, groups.get(username, ()))


def collect_role_use(
    policy: InMemoryPolicy, records: Iterable[UsageRecord], groups: dict[str, tuple[str, ...]],
    *, narrow_names: bool = False,
) -> dict[RoleKey, RoleUse]:
    """Per role, the observed (not denied) requests it granted, via the exact authorizer."""
    authorizer = Authorizer(policy)
    uses: dict[RoleKey, RoleUse] = defaultdict(RoleUse)
    for record in records:
        if record.decision == "deny":
            continue
        request = as_authorized(record.request)  # a create's logged name is not what RBAC saw
        decision = authorizer.authorize(user_info_for(record.username, groups), request)
        for grant in decision.grants:
            use = uses[grant.role.key]
            permission = permission_for(request, grant.rule, narrow_names)
            use.permissions.setdefault(permission, set()).add(grant.rule_index)
            use.requests.add(request)
            use.bindings.add(grant.binding)
            use.request_count += record.count
            subject = effective_subject(grant.subject, grant.binding.key.namespace) or grant.subject
            use.by_subject.setdefault(subject, {}).setdefault(permission, set()).add(grant.rule_index)
            use.subject_requests.setdefault(subject, set()).add(request)
            use.subject_bindings.setdefault(subject, set()).add(grant.binding)
            use.by_binding.setdefault(grant.binding, {}).setdefault(permission, set()).add(grant.rule_index)
            use.binding_uses.setdefault(grant.binding, set()).add((subject, request))
    return uses


def trimmed_rules(role: Role, permissions: dict[Permission, set[int]], requests: Iterable[Request]) -> tuple[
    TrimmedRule, ...
]:
    """Compact the permissions and check both guarantees (raises TrimGuaranteeError)."""
    rules = compact(permissions)
    verify_never_wider(rules, role.rules, str(role.key))
    verify_nothing_lost(rules, requests, str(role.key))
    out = []
    for rule in rules:
        sources: set[int] = set()
        for permission, indexes in permissions.items():
            if permission_in_rule(permission, rule):
                sources |= indexes
        out.append(TrimmedRule(rule, tuple(sorted(sources))))
    return tuple(out)


def bindings_of(policy: InMemoryPolicy) -> dict[RoleKey, list[Binding]]:
    out: dict[RoleKey, list[Binding]] = defaultdict(list)
    for binding in policy.all_bindings():
        out[binding.role_key()].append(binding)
    return out


def subject_slug(subject: Subject) -> str:
    text = f"{subject.namespace}-{subject.name}" if subject.kind == SERVICE_ACCOUNT else subject.name
    slug = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in text.lower()).strip("-.")
    return slug or subject.kind.lower()


def subject_matches(subject: Subject, wanted: Subject, binding: Binding) -> bool:
    effective = effective_subject(subject, binding.key.namespace)
    return effective is not None and (effective.kind, effective.name, effective.namespace) == (
        wanted.kind, wanted.name, wanted.namespace if wanted.kind == SERVICE_ACCOUNT else "",
    )


def select_roles(
    policy: InMemoryPolicy, *, role_name: str | None = None, namespace: str | None = None,
    subject: Subject | None = None, include_system: bool = False,
) -> list[Role]:
    """Roles to trim: by name (Role in -n NS, else ClusterRole), bound to a subject, or all bound roles."""
    bound = bindings_of(policy)
    chosen = []
    for key in sorted(bound, key=lambda k: (k.kind, k.namespace, k.name)):
        role = policy.role(key)
        if role is None:
            continue
        if role_name is not None:
            if key.name != role_name or (namespace and key.namespace != namespace):
                continue
        elif subject is not None:
            if not any(subject_matches(s, subject, b) for b in bound[key] for s in b.subjects):
                continue
        elif not include_system and key.kind == CLUSTER_ROLE and key.name.startswith("system:"):
            continue
        chosen.append(role)
    return chosen


def trim(
    policy: InMemoryPolicy, records: Iterable[UsageRecord], groups: dict[str, tuple[str, ...]],
    window: UsageWindow, roles: Sequence[Role], *, split: bool = False, narrow_names: bool = False,
    groups_not_logged: Sequence[str] = (),
) -> TrimReport:
    """A proposal per role: trimmed rules (checked), unused rules and bindings, optional per-subject split.

    `groups_not_logged`: users seen in logs that name no groups (`usage.users_with_groups_not_logged`): what
    they did through a group's binding cannot be told apart, so roles bound to groups are skipped.
    """
    uses = collect_role_use(policy, records, groups, narrow_names=narrow_names)
    bound = bindings_of(policy)
    warnings = []
    if window.days < WEAK_WINDOW_DAYS:
        warnings.append(
            f"the audit window is only {window.days:.2f} days ({window.describe()}): weekly or monthly jobs may "
            f"not appear; treat removals as weak evidence (import at least {WEAK_WINDOW_DAYS:.0f} days)"
        )
    aggregating = [r for r in policy.roles.values() if r.aggregation_selectors is not None]
    if groups_not_logged:
        warnings.append(
            f"{len(groups_not_logged)} user(s) were seen only in logs that name no groups (GKE Cloud Logging), "
            "e.g. " + ", ".join(groups_not_logged[:3]) + ": roles bound to groups are left unchanged")
    names = NewNames.taken_by(policy.roles, (binding.key for binding in policy.all_bindings()))
    proposals = [_propose(role, uses.get(role.key, RoleUse()), tuple(bound.get(role.key, [])), window,
                          aggregating, split, names, bool(groups_not_logged))
                 for role in roles]
    return TrimReport(tuple(proposals), window, tuple(warnings))


def _propose(role: Role, use: RoleUse, bindings: tuple[Binding, ...], window: UsageWindow,
             aggregating: Sequence[Role], split: bool, names: NewNames, groups_not_logged: bool = False
             ) -> TrimProposal:
    bypass = tuple(b for b in bindings if bypass_only(b))
    if bypass and len(bypass) == len(bindings):
        reason = ("bound only to group(s) that bypass RBAC (system:masters: allowed before RBAC is consulted), "
                  "so audit logs can never show RBAC use of it; left unchanged")
        return TrimProposal(role, (), (), bindings, (), 0, action=SKIP, reasons=(reason,), bypass_bindings=bypass)
    # A group that bypasses RBAC (system:masters) is no reason: its use never shows, and its bindings are kept anyway.
    unseen = sorted({s.name for b in bindings for s in b.subjects
                     if s.kind == GROUP and not _implied_group(s.name) and not bypasses_rbac(s)})
    if groups_not_logged and unseen:
        # Their members' requests are in the logs, but nothing says they came through the group's binding:
        # trimming or unbinding on that evidence would cut what members really use.
        reason = (f"bound to group(s) {', '.join(unseen)}, and some users' requests come from audit logs that "
                  "name no groups (GKE), so use through these groups cannot be seen; left unchanged")
        used = tuple(sorted({i for indexes in use.permissions.values() for i in indexes}))
        return TrimProposal(role, (), used, bindings, (), use.request_count, action=SKIP, reasons=(reason,),
                            bypass_bindings=bypass)
    rules = trimmed_rules(role, use.permissions, use.requests)
    used_indexes = tuple(sorted({i for indexes in use.permissions.values() for i in indexes}))
    unused_bindings = tuple(b for b in bindings if b not in use.bindings and b not in bypass)
    notes = []
    if bypass:
        notes.append(f"{', '.join(str(b.key) for b in bypass)}: every subject bypasses RBAC (system:masters); "
                     "left unchanged")
    if unused_bindings and rules:
        notes.append(f"{len(unused_bindings)} binding(s) had no request in the {window.days:.1f}-day window: "
                     "proposed for removal")
    blockers = in_place_blockers(role, aggregating)
    proposal = TrimProposal(role, rules, used_indexes, bindings, unused_bindings, use.request_count,
                            reasons=blockers, bypass_bindings=bypass)
    if not rules:
        weak = " (a window this short is weak evidence)" if window.days < WEAK_WINDOW_DAYS else ""
        notes.append(f"no observed use in the {window.days:.1f}-day window{weak}: propose removing its bindings; "
                     "jobs that run less often than the window would not show")
        return replace(proposal, action=REMOVE_BINDINGS, notes=tuple(notes))
    # Splitting a role only one subject uses would just rename it.
    if split and len(use.by_subject) > 1:
        return replace(proposal, action=REPLACE, splits=_split(role, use, names), notes=tuple(notes))
    if blockers:
        return replace(proposal, action=REPLACE, replacements=_replacements(role, use, names), notes=tuple(notes))
    return replace(proposal, action=TRIM, notes=tuple(notes))


def _implied_group(name: str) -> bool:
    """A group the authorizer derives from the username alone (`UserInfo.authenticated`), logged or not."""
    return name in (AUTHENTICATED, UNAUTHENTICATED, ALL_SERVICE_ACCOUNTS) or name.startswith(
        SERVICE_ACCOUNT_GROUP_PREFIX)


def _replacements(role: Role, use: RoleUse, names: NewNames) -> tuple[RoleReplacement, ...]:
    """Per binding scope (cluster, or each RoleBinding namespace): a new role with that scope's use, rebound."""
    by_scope: dict[str, list[Binding]] = defaultdict(list)
    for binding in use.by_binding:
        by_scope[binding.key.namespace if binding.key.kind == ROLE_BINDING else ""].append(binding)
    out = []
    for namespace in sorted(by_scope):
        scoped = sorted(by_scope[namespace], key=lambda b: (b.key.kind, b.key.name))
        permissions: dict[Permission, set[int]] = {}
        for binding in scoped:
            for permission, indexes in use.by_binding[binding].items():
                permissions.setdefault(permission, set()).update(indexes)
        key = names.role(new_role_key(role.key, namespace))
        rules = trimmed_rules(role, permissions, {r for b in scoped for _, r in use.binding_uses[b]})
        swaps = []
        for old in scoped:
            new = new_binding_for(old, key)
            new = replace(new, key=names.binding(new.key))
            verify_rebinding(new, key, [t.rule for t in rules], old, role.rules, use.binding_uses[old])
            swaps.append(BindingSwap(new, old))
        out.append(RoleReplacement(key, rules, tuple(swaps)))
    return tuple(out)


def _split(role: Role, use: RoleUse, names: NewNames) -> tuple[SplitRole, ...]:
    out = []
    for subject in sorted(use.by_subject, key=lambda s: (s.kind, s.namespace, s.name)):
        key = names.role(RoleKey(role.key.kind, f"{role.key.name}-{subject_slug(subject)}", role.key.namespace))
        rules = trimmed_rules(role, use.by_subject[subject], use.subject_requests[subject])
        originals = tuple(sorted(use.subject_bindings[subject], key=lambda b: (b.key.kind, b.key.namespace,
                                                                                b.key.name)))
        rebind = tuple(
            Binding(
                names.binding(BindingKey(b.key.kind, f"{b.key.name}-{subject_slug(subject)}", b.key.namespace)),
                RoleKey(key.kind, key.name, ""),
                (subject,),
            )
            for b in originals
        )
        for new, old in zip(rebind, originals, strict=True):
            used = [(s, r) for s, r in use.binding_uses.get(old, ()) if s == subject]
            verify_rebinding(new, new.role_key(), [t.rule for t in rules], old, role.rules, used)
        out.append(SplitRole(key, subject, rules, rebind, originals))
    return tuple(out)


# --- generate: new minimal roles from usage alone (audit2rbac parity) ----------------------


@dataclass(frozen=True)
class GeneratedRole:
    subject: Subject
    key: RoleKey
    rules: tuple[PolicyRule, ...]
    binding: Binding
    request_count: int


def usernames_for(subject: Subject, groups: dict[str, tuple[str, ...]]) -> list[str]:
    """Usernames a subject stands for: itself, or every user the logs saw in the group."""
    if subject.kind == SERVICE_ACCOUNT:
        return [f"system:serviceaccount:{subject.namespace}:{subject.name}"]
    if subject.kind == USER:
        return [subject.name]
    return sorted(user for user, seen in groups.items() if subject.name in seen)


def generate(
    subjects: Sequence[Subject], records: Iterable[UsageRecord], groups: dict[str, tuple[str, ...]],
    *, include_denied: bool = True, narrow_names: bool = False,
) -> list[GeneratedRole]:
    """Roles (per namespace) and a ClusterRole (cluster-scoped, non-resource) allowing each subject's requests."""
    wanted = {user: s for s in subjects for user in usernames_for(s, groups)}
    scoped: dict[tuple[Subject, str], dict[Permission, set[int]]] = defaultdict(dict)
    counts: dict[tuple[Subject, str], int] = defaultdict(int)
    no_rule = PolicyRule()
    for record in records:
        subject = wanted.get(record.username)
        if subject is None or (record.decision == "deny" and not include_denied):
            continue
        namespace = record.request.namespace if isinstance(record.request, ResourceRequest) else ""
        scoped[(subject, namespace)].setdefault(permission_for(record.request, no_rule, narrow_names), set())
        counts[(subject, namespace)] += record.count
    out = []
    names = NewNames()  # two subjects may share a slug (alice@example.com, alice-example.com)
    for (subject, namespace), permissions in sorted(scoped.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        rules = compact(permissions)
        key = names.role(RoleKey(ROLE if namespace else CLUSTER_ROLE, f"rbacmap:{subject_slug(subject)}", namespace))
        verify_nothing_lost(rules, [request_of(p, namespace) for p in permissions], key.name)
        binding_kind = ROLE_BINDING if namespace else CLUSTER_ROLE_BINDING
        binding = Binding(names.binding(BindingKey(binding_kind, key.name, namespace)), RoleKey(key.kind, key.name),
                          (subject,))
        out.append(GeneratedRole(subject, key, rules, binding, counts[(subject, namespace)]))
    return out


