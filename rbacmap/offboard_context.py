"""What offboarding works on: one cluster's loaded snapshot, and a person's resolution so far."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from rbacmap.model import GROUP
from rbacmap.offboard_identity import AwsAuthEntry, Identity, parse_aws_auth
from rbacmap.offboard_report import Finding, ObjectRef, Permission
from rbacmap.policy import InMemoryPolicy, load_policy
from rbacmap.store import Snapshot, Store

AWS_AUTH_REF = ObjectRef("ConfigMap", "aws-auth", "kube-system")
T = TypeVar("T")


@dataclass
class ClusterContext:
    """One cluster's latest snapshot, loaded once for every person asked about."""

    store: Store
    snapshot: Snapshot
    policy: InMemoryPolicy
    aws_auth: list[AwsAuthEntry]
    csrs: list[dict[str, Any]]
    warnings: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def cached(self, name: str, build: Callable[[], T]) -> T:
        """Per-cluster state a source builds once for every person (the solver's graph, audit groups)."""
        if name not in self._cache:
            self._cache[name] = build()
        return cast(T, self._cache[name])

    @classmethod
    def load(cls, store: Store, snapshot: Snapshot) -> ClusterContext:
        warnings = []
        if snapshot.incompleteness_warning():
            warnings.append(f"{snapshot.incompleteness_warning()}; findings may be missing")
        rows = store.query(
            "SELECT data FROM config_maps WHERE snapshot_id = ? AND namespace = ? AND name = ?",
            [snapshot.id, AWS_AUTH_REF.namespace, AWS_AUTH_REF.name],
        )
        entries: list[AwsAuthEntry] = []
        if rows:
            entries, problems = parse_aws_auth(json.loads(rows[0]["data"]))
            warnings += problems
        csrs = store.query("SELECT * FROM csrs WHERE snapshot_id = ? ORDER BY name", [snapshot.id])
        return cls(store, snapshot, load_policy(store, snapshot.id), entries, csrs, warnings)

    @property
    def cluster(self) -> str:
        return self.snapshot.cluster

    @property
    def namespaces(self) -> list[str]:
        """The snapshot's namespaces: what a wildcard access scope (`dev-*`) covers today."""
        return self.cached("namespaces", lambda: [row["name"] for row in self.store.query(
            "SELECT name FROM namespaces WHERE snapshot_id = ? ORDER BY name", [self.snapshot.id])])

    @property
    def bound_groups(self) -> set[str]:
        """Every group a binding names: what a group template (`team:{{SessionName}}`) can matter as."""
        return self.cached("bound_groups", lambda: {s.name for b in self.policy.all_bindings()
                                                     for s in b.subjects if s.kind == GROUP})


@dataclass
class Resolution:
    """What resolving a person in one cluster produced so far (sources add to it)."""

    identities: list[Identity] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # Other known members of each group: username -> where we know it from.
    group_members: dict[str, dict[str, str]] = field(default_factory=dict)
    # CSRs the person created according to the audit logs.
    requested_csrs: set[str] = field(default_factory=set)
    # Permissions granted outside RBAC (EKS access policies, GKE roles), per namespace they cover.
    permissions: list[Permission] = field(default_factory=list)

    def usernames(self) -> set[str]:
        """Every username the person authenticates as, their own and shared ones."""
        return {i.username for i in self.identities if i.username}

    def own_usernames(self) -> set[str]:
        """Usernames that are the person's alone: what the fix may remove from bindings."""
        return {i.username for i in self.identities if i.username and not i.shared}

    def shared_usernames(self) -> set[str]:
        """Usernames the person reaches that others use too (a role's fixed username, a bot's certificate)."""
        return self.usernames() - self.own_usernames()

    def add_member(self, group: str, username: str, source: str) -> None:
        self.group_members.setdefault(group, {}).setdefault(username, source)


