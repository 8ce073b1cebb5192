"""Effective permissions of one subject: every binding -> role -> rule that applies to it.

Reads only the bindings that name the subject (or one of its groups), through the
binding_subjects index, so it stays fast on snapshots with thousands of namespaces.
Matching uses the authorizer's `subject_applies`, so the answer agrees with `can`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rbacmap.authorizer import Grant, subject_applies
from rbacmap.model import (
    GROUP,
    SERVICE_ACCOUNT,
    USER,
    Binding,
    BindingKey,
    Role,
    RoleKey,
    Subject,
    UserInfo,
)
from rbacmap.policy import InMemoryPolicy, SqlitePolicy
from rbacmap.store import Store
from rbacmap.subjects import subject_user_info


@dataclass(frozen=True)
class SubjectPermissions:
    """What a subject may do, each permission with the chain that grants it."""

    subject: Subject
    # The identity used for matching (implicit groups included); None for a Group.
    identity: UserInfo | None
    grants: tuple[Grant, ...]
    # Bindings naming the subject whose role is missing from the snapshot.
    dangling: tuple[Binding, ...]

    def by_namespace(self) -> dict[str, list[Grant]]:
        """Grants keyed by the namespace they hold in ('' = cluster-wide), cluster-wide first."""
        groups: dict[str, list[Grant]] = defaultdict(list)
        for grant in self.grants:
            groups[grant.binding.key.namespace].append(grant)
        return {namespace: groups[namespace] for namespace in sorted(groups)}


def subject_permissions(store: Store, snapshot_id: int, subject: Subject) -> SubjectPermissions:
    """Every rule granted to a User, ServiceAccount (with implicit groups) or Group, read from SQLite."""
    identity = _identity_of(subject)
    bindings = _bindings_naming(store, snapshot_id, subject, identity)
    return _permissions(subject, identity, bindings, SqlitePolicy(store, snapshot_id).role)


class SubjectBindingIndex:
    """Bindings by the (kind, name) of each subject they name: a subject's candidates in one lookup."""

    def __init__(self, bindings: Iterable[Binding]) -> None:
        self._by_subject: dict[tuple[str, str], list[Binding]] = defaultdict(list)
        for binding in bindings:
            for kind, name in dict.fromkeys((s.kind, s.name) for s in binding.subjects):
                self._by_subject[(kind, name)].append(binding)

    def naming(self, subject: Subject, identity: UserInfo | None) -> list[Binding]:
        """Bindings that name the subject or one of its groups, in namespace, kind, name order."""
        found: dict[BindingKey, Binding] = {}
        for kind, name in _candidate_names(subject, identity):
            for binding in self._by_subject.get((kind, name), ()):
                found.setdefault(binding.key, binding)
        return sorted(found.values(), key=lambda b: (b.key.namespace, b.key.kind, b.key.name))


def permissions_in_policy(policy: InMemoryPolicy, index: SubjectBindingIndex, subject: Subject) -> SubjectPermissions:
    """Like subject_permissions, from a snapshot already in memory (same matching, same order)."""
    identity = _identity_of(subject)
    return _permissions(subject, identity, index.naming(subject, identity), policy.role)


def _identity_of(subject: Subject) -> UserInfo | None:
    return None if subject.kind == GROUP else subject_user_info(subject)


def _permissions(subject: Subject, identity: UserInfo | None, bindings: Iterable[Binding],
                 role_of: Callable[[RoleKey], Role | None]) -> SubjectPermissions:
    roles: dict[RoleKey, Role | None] = {}
    grants: list[Grant] = []
    dangling: list[Binding] = []
    for binding in bindings:
        index = _matching_subject(binding, subject, identity)
        if index is None:
            continue
        key = binding.role_key()
        if key not in roles:
            roles[key] = role_of(key)
        role = roles[key]
        if role is None:
            dangling.append(binding)
            continue
        grants.extend(Grant(binding, index, role, rule_index) for rule_index in range(len(role.rules)))
    return SubjectPermissions(subject, identity, tuple(grants), tuple(dangling))


def _matching_subject(binding: Binding, subject: Subject, identity: UserInfo | None) -> int | None:
    for index, candidate in enumerate(binding.subjects):
        if identity is None:
            if candidate.kind == GROUP and candidate.name == subject.name:
                return index
        elif subject_applies(identity, candidate, binding.key.namespace):
            return index
    return None


def _candidate_names(subject: Subject, identity: UserInfo | None) -> list[tuple[str, str]]:
    """(kind, name) pairs a binding must name to possibly apply to the subject."""
    groups = [subject.name] if identity is None else list(identity.groups)
    names = [(GROUP, group) for group in groups]
    if subject.kind in (USER, SERVICE_ACCOUNT):
        names.append((subject.kind, subject.name))
    return names


def _bindings_naming(store: Store, snapshot_id: int, subject: Subject, identity: UserInfo | None) -> list[Binding]:
    """The candidate bindings with their subjects, in two queries whatever their number."""
    pairs = _candidate_names(subject, identity)
    match = " OR ".join("(kind = ? AND name = ?)" for _ in pairs)
    keys = (f"SELECT DISTINCT binding_kind, binding_namespace, binding_name FROM binding_subjects"
            f" WHERE snapshot_id = ? AND ({match})")
    params: list[object] = [snapshot_id, *(value for pair in pairs for value in pair)]
    return _load_bindings(store, snapshot_id, keys, params, "b.namespace, b.kind, b.name")


def _load_bindings(store: Store, snapshot_id: int, keys_sql: str, params: list[object], order: str) -> list[Binding]:
    """Bindings whose (kind, namespace, name) the `keys_sql` subquery yields, each with its subjects in order."""
    join = (f"JOIN ({keys_sql}) k ON k.binding_kind = b.kind AND k.binding_namespace = b.namespace"
            " AND k.binding_name = b.name")
    rows = store.query(f"SELECT b.* FROM bindings b {join} WHERE b.snapshot_id = ? ORDER BY {order}",
                       [*params, snapshot_id])
    subjects: dict[tuple[str, str, str], list[Subject]] = defaultdict(list)
    for s in store.query(
        f"SELECT s.* FROM binding_subjects s JOIN ({keys_sql}) k ON k.binding_kind = s.binding_kind"
        " AND k.binding_namespace = s.binding_namespace AND k.binding_name = s.binding_name"
        " WHERE s.snapshot_id = ? ORDER BY s.subject_index",
        [*params, snapshot_id],
    ):
        subjects[(s["binding_kind"], s["binding_namespace"], s["binding_name"])].append(
            Subject(s["kind"], s["name"], s["namespace"], s["api_group"]))
    return [
        Binding(BindingKey(row["kind"], row["name"], row["namespace"]), RoleKey(row["role_kind"], row["role_name"], ""),
                tuple(subjects[(row["kind"], row["namespace"], row["name"])]))
        for row in rows
    ]


def load_binding(store: Store, snapshot_id: int, kind: str, namespace: str, name: str) -> Binding | None:
    """One binding with its subjects in order, or None when the snapshot lacks it."""
    keys = ("SELECT ? AS binding_kind, ? AS binding_namespace, ? AS binding_name")
    found = _load_bindings(store, snapshot_id, keys, [kind, namespace, name], "b.name")
    return found[0] if found else None


def bindings_of_role(store: Store, snapshot_id: int, role: RoleKey) -> list[Binding]:
    """The bindings that grant a role (a Role only from its own namespace), in two queries."""
    keys = ("SELECT kind AS binding_kind, namespace AS binding_namespace, name AS binding_name FROM bindings"
            " WHERE snapshot_id = ? AND role_kind = ? AND role_name = ?")
    params: list[object] = [snapshot_id, role.kind, role.name]
    if role.namespace:
        keys += " AND namespace = ?"
        params.append(role.namespace)
    return _load_bindings(store, snapshot_id, keys, params, "b.kind, b.namespace, b.name")


def bindings_by_role(bindings: Iterable[Binding]) -> dict[RoleKey, list[Binding]]:
    """The bindings granting each role, ordered as bindings_of_role orders them."""
    out: dict[RoleKey, list[Binding]] = defaultdict(list)
    for binding in sorted(bindings, key=lambda b: (b.key.kind, b.key.namespace, b.key.name)):
        out[binding.role_key()].append(binding)
    return dict(out)
