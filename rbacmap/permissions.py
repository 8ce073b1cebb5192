"""Effective permissions of one subject: every binding -> role -> rule that applies to it.

Reads only the bindings that name the subject (or one of its groups), through the
binding_subjects index, so it stays fast on snapshots with thousands of namespaces.
Matching uses the authorizer's `subject_applies`, so the answer agrees with `can`.
"""

from __future__ import annotations

from collections import defaultdict
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
from rbacmap.policy import SqlitePolicy
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
    """Every rule granted to a User, ServiceAccount (with implicit groups) or Group."""
    identity = None if subject.kind == GROUP else subject_user_info(subject)
    bindings = _bindings_naming(store, snapshot_id, subject, identity)
    policy = SqlitePolicy(store, snapshot_id)
    roles: dict[RoleKey, Role | None] = {}
    grants: list[Grant] = []
    dangling: list[Binding] = []
    for binding in bindings:
        index = _matching_subject(binding, subject, identity)
        if index is None:
            continue
        key = binding.role_key()
        if key not in roles:
            roles[key] = policy.role(key)
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


def _bindings_naming(store: Store, snapshot_id: int, subject: Subject, identity: UserInfo | None) -> list[Binding]:
    groups = [subject.name] if identity is None else list(identity.groups)
    clauses = [f"(kind = '{GROUP}' AND name IN ({','.join('?' * len(groups))}))"] if groups else []
    params: list[object] = [snapshot_id, *groups]
    if subject.kind == USER:
        clauses.append(f"(kind = '{USER}' AND name = ?)")
        params.append(subject.name)
    elif subject.kind == SERVICE_ACCOUNT:
        clauses.append(f"(kind = '{SERVICE_ACCOUNT}' AND name = ?)")
        params.append(subject.name)
    rows = store.query(
        "SELECT DISTINCT binding_kind, binding_namespace, binding_name FROM binding_subjects"
        f" WHERE snapshot_id = ? AND ({' OR '.join(clauses)})"
        " ORDER BY binding_namespace, binding_kind, binding_name",
        params,
    )
    return [
        binding
        for row in rows
        if (binding := load_binding(store, snapshot_id, row["binding_kind"], row["binding_namespace"],
                                    row["binding_name"])) is not None
    ]


def load_binding(store: Store, snapshot_id: int, kind: str, namespace: str, name: str) -> Binding | None:
    """One binding with its subjects in order, or None when the snapshot lacks it."""
    key = [snapshot_id, kind, namespace, name]
    rows = store.query("SELECT * FROM bindings WHERE snapshot_id = ? AND kind = ? AND namespace = ? AND name = ?", key)
    if not rows:
        return None
    subjects = store.query(
        "SELECT * FROM binding_subjects WHERE snapshot_id = ? AND binding_kind = ? AND binding_namespace = ?"
        " AND binding_name = ? ORDER BY subject_index",
        key,
    )
    row = rows[0]
    return Binding(
        BindingKey(kind, name, namespace),
        RoleKey(row["role_kind"], row["role_name"], ""),
        tuple(Subject(s["kind"], s["name"], s["namespace"], s["api_group"]) for s in subjects),
    )


def bindings_of_role(store: Store, snapshot_id: int, role: RoleKey) -> list[Binding]:
    """The bindings that grant a role (a Role only from its own namespace)."""
    sql = "SELECT kind, namespace, name FROM bindings WHERE snapshot_id = ? AND role_kind = ? AND role_name = ?"
    params: list[object] = [snapshot_id, role.kind, role.name]
    if role.namespace:
        sql += " AND namespace = ?"
        params.append(role.namespace)
    rows = store.query(sql + " ORDER BY kind, namespace, name", params)
    return [
        binding
        for row in rows
        if (binding := load_binding(store, snapshot_id, row["kind"], row["namespace"], row["name"])) is not None
    ]
