"""Everything edge sources need, loaded once per snapshot: policy, permissions and cluster objects."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rbacmap.model import SERVICE_ACCOUNT, USER
from rbacmap.policy import InMemoryPolicy, load_policy
from rbacmap.solver.edges import (
    GROUPS_POOL,
    POD_SERVICE_ACCOUNTS_POOL,
    SERVICE_ACCOUNTS_POOL,
    TOKEN_SECRETS_POOL,
    USERS_POOL,
    Edge,
    ObjectRef,
    Pool,
)
from rbacmap.solver.identity import (
    Identity,
    identity_for_group,
    identity_for_role_holder,
    identity_for_service_account,
    identity_for_user,
)
from rbacmap.solver.permissions import EffectivePermissions, PermissionIndex
from rbacmap.store import Snapshot, Store

TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
POD = "Pod"


@dataclass(frozen=True)
class PodFacts:
    """A Pod (or a workload's pod template) and what matters for escalation."""

    kind: str
    namespace: str
    name: str
    service_account: str
    node: str | None
    privileged: bool
    host_pid: bool
    host_path_volumes: tuple[str, ...]
    automount_token: bool | None = None

    @property
    def escapes_to_node(self) -> bool:
        return self.privileged or self.host_pid or bool(self.host_path_volumes)

    def ref(self, note: str = "") -> ObjectRef:
        return ObjectRef(self.kind, self.name, self.namespace, note)


@dataclass(frozen=True)
class TokenSecret:
    namespace: str
    name: str
    service_account: str


@dataclass
class ClusterObjects:
    """The non-RBAC objects of a snapshot the primitives look at (metadata only)."""

    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_accounts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    service_account_automount: dict[tuple[str, str], bool] = field(default_factory=dict)
    pods: dict[str, list[PodFacts]] = field(default_factory=lambda: defaultdict(list))
    templates: dict[str, list[PodFacts]] = field(default_factory=lambda: defaultdict(list))
    token_secrets: dict[str, list[TokenSecret]] = field(default_factory=lambda: defaultdict(list))
    nodes: list[str] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    csrs: list[dict[str, Any]] = field(default_factory=list)
    config_maps: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store, snapshot_id: int) -> ClusterObjects:
        objects = cls()
        sid = [snapshot_id]
        for row in store.query("SELECT name, labels, pss_enforce FROM namespaces WHERE snapshot_id = ?", sid):
            objects.namespaces[row["name"]] = row
        for row in store.query(
            "SELECT namespace, name, automount_token FROM service_accounts WHERE snapshot_id = ?"
            " ORDER BY namespace, name",
            sid,
        ):
            objects.service_accounts[row["namespace"]].append(row["name"])
            if row["automount_token"] is not None:
                key = (row["namespace"], row["name"])
                objects.service_account_automount[key] = bool(row["automount_token"])
        for row in store.query(
            "SELECT kind, namespace, name, service_account, node, privileged, host_pid, host_path_volumes,"
            " automount_token"
            " FROM workloads WHERE snapshot_id = ? ORDER BY namespace, kind, name",
            sid,
        ):
            facts = PodFacts(
                row["kind"], row["namespace"], row["name"], row["service_account"], row["node"],
                bool(row["privileged"]), bool(row["host_pid"]), tuple(json.loads(row["host_path_volumes"])),
                None if row["automount_token"] is None else bool(row["automount_token"]),
            )
            (objects.pods if facts.kind == POD else objects.templates)[facts.namespace].append(facts)
        for row in store.query(
            "SELECT namespace, name, service_account FROM secrets WHERE snapshot_id = ? AND type = ?"
            " ORDER BY namespace, name",
            [snapshot_id, TOKEN_SECRET_TYPE],
        ):
            if row["service_account"]:
                objects.token_secrets[row["namespace"]].append(
                    TokenSecret(row["namespace"], row["name"], row["service_account"])
                )
        objects.nodes = [r["name"] for r in store.query("SELECT name FROM nodes WHERE snapshot_id = ?", sid)]
        for row in store.query("SELECT kind, name, webhooks FROM webhooks WHERE snapshot_id = ?", sid):
            objects.webhooks.append({**row, "webhooks": json.loads(row["webhooks"])})
        objects.csrs = store.query("SELECT name, signer_name FROM csrs WHERE snapshot_id = ?", sid)
        for row in store.query("SELECT namespace, name, data FROM config_maps WHERE snapshot_id = ?", sid):
            objects.config_maps[(row["namespace"], row["name"])] = {**row, "data": json.loads(row["data"])}
        return objects

    def all_namespaces(self) -> list[str]:
        """Namespaces known from Namespace objects or from anything living in one."""
        names = set(self.namespaces) | set(self.service_accounts) | set(self.pods) | set(self.templates)
        return sorted(names | set(self.token_secrets))

    def pod_security_enforce(self, namespace: str) -> str | None:
        row = self.namespaces.get(namespace)
        return row["pss_enforce"] if row else None

    def token_mounted(self, pod: PodFacts) -> bool:
        """Whether the pod has its ServiceAccount token mounted (pod setting first, then the SA's)."""
        if pod.automount_token is not None:
            return pod.automount_token
        return self.service_account_automount.get((pod.namespace, pod.service_account), True)

    def service_account_names(self, namespace: str) -> list[str]:
        """ServiceAccounts of a namespace: the objects, plus `default` and those pods run as."""
        names = dict.fromkeys(self.service_accounts.get(namespace, ()))
        if namespace in self.namespaces:
            names.setdefault("default")
        for pod in [*self.pods.get(namespace, ()), *self.templates.get(namespace, ())]:
            names.setdefault(pod.service_account)
        return list(names)


@dataclass
class SolverContext:
    """What every edge source receives: store, snapshot, policy, permissions, objects, identities."""

    store: Store
    snapshot: Snapshot
    policy: InMemoryPolicy
    permission_index: PermissionIndex
    objects: ClusterObjects
    identities: dict[tuple[str, str, str], Identity] = field(default_factory=dict)
    # The identities edge sources must look at in the current round (new ones since the last).
    frontier: list[Identity] = field(default_factory=list)

    @classmethod
    def load(cls, store: Store, snapshot: Snapshot) -> SolverContext:
        policy = load_policy(store, snapshot.id)
        return cls(store, snapshot, policy, PermissionIndex.build(policy), ClusterObjects.load(store, snapshot.id))

    # --- identities ------------------------------------------------------------------------

    def add_identity(self, identity: Identity) -> Identity:
        """Register an identity (the first registration of a key wins) and return the registered one."""
        return self.identities.setdefault(identity.key, identity)

    def identity_for_service_account(self, namespace: str, name: str) -> Identity:
        return self.add_identity(identity_for_service_account(namespace, name))

    def identity_for_user(self, name: str) -> Identity:
        return self.add_identity(identity_for_user(name))

    def identity_for_group(self, group: str) -> Identity:
        return self.add_identity(identity_for_group(group))

    def identity_for_role_holder(self, role: str, scope: str) -> Identity:
        return self.add_identity(identity_for_role_holder(role, scope))

    def permissions(self, identity: Identity) -> EffectivePermissions:
        return self.permission_index.for_identity(identity)

    # --- pools -----------------------------------------------------------------------------

    def pool_members(self, pool: Pool) -> Iterator[Edge]:
        """The free (weight 0) edges from a pool to its members, each with the object behind it."""
        namespaces = self.objects.all_namespaces() if pool.namespace == "*" else [pool.namespace]
        per_namespace = (SERVICE_ACCOUNTS_POOL, POD_SERVICE_ACCOUNTS_POOL, TOKEN_SECRETS_POOL)
        if pool.kind in per_namespace and pool.namespace == "*":
            for namespace in namespaces:
                yield Edge(pool, Pool(pool.kind, namespace), "", f"namespace {namespace}")
            return
        if pool.kind == SERVICE_ACCOUNTS_POOL:
            for name in self.objects.service_account_names(pool.namespace):
                sa = self.identity_for_service_account(pool.namespace, name)
                yield Edge(pool, sa, "", f"as ServiceAccount {pool.namespace}/{name}",
                           objects=(ObjectRef(SERVICE_ACCOUNT, name, pool.namespace),))
        elif pool.kind == POD_SERVICE_ACCOUNTS_POOL:
            for pod in self.objects.pods.get(pool.namespace, ()):
                if not self.objects.token_mounted(pod):
                    continue
                sa = self.identity_for_service_account(pod.namespace, pod.service_account)
                yield Edge(pool, sa, "", f"pod {pod.namespace}/{pod.name} runs as {pod.service_account}",
                           objects=(pod.ref(f"serviceAccountName: {pod.service_account}"),))
        elif pool.kind == TOKEN_SECRETS_POOL:
            for secret in self.objects.token_secrets.get(pool.namespace, ()):
                sa = self.identity_for_service_account(secret.namespace, secret.service_account)
                text = f"Secret {secret.namespace}/{secret.name} holds a token of {secret.service_account}"
                yield Edge(pool, sa, "", text, objects=(token_secret_ref(secret),))
        elif pool.kind in (USERS_POOL, GROUPS_POOL):
            kind = USER if pool.kind == USERS_POOL else "Group"
            for identity in list(self.identities.values()):
                if identity.kind == kind:
                    yield Edge(pool, identity, "", f"as {identity}")


def token_secret_ref(secret: TokenSecret) -> ObjectRef:
    return ObjectRef("Secret", secret.name, secret.namespace,
                     f"type {TOKEN_SECRET_TYPE}, kubernetes.io/service-account.name: {secret.service_account}")
