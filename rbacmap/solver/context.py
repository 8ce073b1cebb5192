"""Everything edge sources need, loaded once per snapshot: policy, permissions and cluster objects."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

from rbacmap.model import CLUSTER_ROLE, GROUP, SERVICE_ACCOUNT, SYSTEM_MASTERS, USER, ResourceRequest, Role
from rbacmap.pod_security_config import PodSecurityConfig, blocks_privileged_pods
from rbacmap.policy import InMemoryPolicy, load_policy
from rbacmap.solver.edges import (
    ANY_NODE_POOL,
    BOUND_GROUPS_POOL,
    GROUPS_POOL,
    INVALIDATED_TOKEN_SECRETS_POOL,
    NAMESPACE_NODES_POOL,
    NODE_POD_SERVICE_ACCOUNTS_POOL,
    POD_SERVICE_ACCOUNTS_POOL,
    SERVICE_ACCOUNTS_POOL,
    TOKEN_SECRETS_POOL,
    USERS_POOL,
    Edge,
    ObjectRef,
    Pool,
    lazy_edge,
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
INVALID_TOKEN_LABEL = "kubernetes.io/legacy-token-invalid-since"
POD = "Pod"


class PodFacts(NamedTuple):
    """A Pod (or a workload's pod template) and what matters for escalation.

    A NamedTuple rather than a frozen dataclass: a big cluster loads thousands, and this builds
    three times faster.
    """

    kind: str
    namespace: str
    name: str
    service_account: str
    node: str | None
    privileged: bool
    host_pid: bool
    host_path_volumes: tuple[str, ...]
    automount_token: bool | None = None
    static: bool = False  # a static pod's mirror: no token mounted, no ephemeral containers

    @property
    def escapes_to_node(self) -> bool:
        return self.privileged or self.host_pid or bool(self.host_path_volumes)

    def ref(self, note: str = "") -> ObjectRef:
        return ObjectRef(self.kind, self.name, self.namespace, note)


_POD_COLUMNS = ("namespace, name, service_account, node, privileged, host_pid, host_path_volumes, automount_token,"
                " owner_kind")
MIRROR_POD_OWNER = "Node"
"""A static pod's mirror is owned by its Node: the kubelet mounts no ServiceAccount token into a static pod,
and the API server refuses ephemeral containers on it."""
FINISHED_PHASES = ("Succeeded", "Failed")


def running_pod_sql(phase_column: str = "phase") -> str:
    """A pod that has finished runs no container (exec is refused) and the kubelet has unmounted its token
    volume. A NULL phase (not known: an older snapshot, a source without status) counts as running."""
    return " AND ".join(f"{phase_column} IS NOT '{phase}'" for phase in FINISHED_PHASES)


RUNNING_POD_SQL = running_pod_sql()
# A pod whose ServiceAccount token is on a node: scheduled (pending pods run nowhere yet), not a static pod,
# not finished.
TOKEN_POD_SQL = f"node IS NOT NULL AND node != '' AND owner_kind IS NOT '{MIRROR_POD_OWNER}' AND {RUNNING_POD_SQL}"


def _pod_facts(namespace: str, name: str, service_account: str, node: str | None, privileged: int, host_pid: int,
               host_paths: str, automount: int | None, owner_kind: str | None) -> PodFacts:
    """A pod row's `_POD_COLUMNS` as PodFacts (a static pod's token counts as not mounted)."""
    mounted = False if owner_kind == MIRROR_POD_OWNER else None if automount is None else bool(automount)
    return PodFacts(POD, namespace, name, service_account, node or None, bool(privileged), bool(host_pid),
                    () if host_paths == "[]" else tuple(json.loads(host_paths)), mounted,
                    owner_kind == MIRROR_POD_OWNER)


class NodePod(NamedTuple):
    """Pods of a ServiceAccount in a namespace running on one node (with one automountToken setting):
    whose token root on that node reads. The first one's name is looked up only for a proof
    (`ClusterObjects.first_pod_name`)."""

    node: str
    namespace: str
    service_account: str
    automount_token: int | None  # as stored: 1, 0 or NULL


@dataclass(frozen=True)
class TokenSecret:
    namespace: str
    name: str
    service_account: str
    invalid_since: str | None = None  # the kubernetes.io/legacy-token-invalid-since label, when set


@dataclass
class ClusterObjects:
    """The non-RBAC objects of a snapshot the primitives look at (metadata only)."""

    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    service_accounts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    service_account_automount: dict[tuple[str, str], bool] = field(default_factory=dict)
    # Representative pods per namespace, not all of them (see `_load_pods`).
    pods: dict[str, list[PodFacts]] = field(default_factory=lambda: defaultdict(list))
    # The ServiceAccounts workload pod templates run as, per namespace: all the primitives ask of them.
    template_service_accounts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    token_secrets: dict[str, list[TokenSecret]] = field(default_factory=lambda: defaultdict(list))
    # Token Secrets the legacy token cleaner labelled invalid: refused until the label is removed.
    invalidated_token_secrets: dict[str, list[TokenSecret]] = field(default_factory=lambda: defaultdict(list))
    nodes: list[str] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    # ValidatingAdmissionPolicies and their bindings: {"kind": "Policy" | "Binding", "name", "spec"}.
    admission_policies: list[dict[str, Any]] = field(default_factory=list)
    # The import was forbidden to list ValidatingAdmissionPolicies: a binding's policy may exist unseen.
    admission_policies_unlisted: bool = False
    runtime_classes: dict[str, str] = field(default_factory=dict)  # RuntimeClass name -> its CRI handler
    runtime_class_selectors: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> nodeSelector
    runtime_classes_unlisted: bool = False  # the import was forbidden to list RuntimeClasses
    # The snapshot predates the recording of RuntimeClass nodeSelectors and of pods' runtimeClassName.
    runtime_class_selectors_unknown: bool = False
    csrs: list[dict[str, Any]] = field(default_factory=list)
    config_maps: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # The API server's PodSecurity configuration, when the import had it (None: upstream defaults assumed).
    pod_security: PodSecurityConfig | None = None
    # Answers derived from these objects alone, kept by name (see `rbacmap.solver.admission.pod_webhooks`).
    memo: dict[str, Any] = field(default_factory=dict, repr=False)

    _namespace_list: list[str] | None = field(default=None, repr=False)
    _service_account_names: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _token_secrets_by_name: dict[str, list[TokenSecret]] | None = field(default=None, repr=False)
    _namespaces_by_service_account: dict[str, set[str]] | None = field(default=None, repr=False)
    _escaping_by_node: dict[str | None, list[PodFacts]] = field(default_factory=dict, repr=False)
    # node -> its pods, one per (namespace, ServiceAccount, automount), loaded when a node pool is first expanded.
    _pods_by_node: dict[str, list[NodePod]] | None = field(default=None, repr=False)
    _nodes_by_namespace: dict[str, list[str]] | None = field(default=None, repr=False)
    _pods_named: dict[frozenset[str], list[PodFacts]] = field(default_factory=dict, repr=False)
    _workload_kinds: dict[str, frozenset[str]] | None = field(default=None, repr=False)
    _node_labels: dict[str, dict[str, str]] | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _snapshot_id: int = field(default=0, repr=False)

    @classmethod
    def load(cls, store: Store, snapshot_id: int) -> ClusterObjects:
        objects = cls(_store=store, _snapshot_id=snapshot_id)
        sid = [snapshot_id]
        # Plain tuples, not dict rows: a 1000-namespace snapshot has ~50k workload rows.
        cursor = store.conn.cursor()
        cursor.row_factory = None
        for name, labels, pss_enforce in cursor.execute(
            "SELECT name, labels, pss_enforce FROM namespaces WHERE snapshot_id = ?", sid
        ):
            objects.namespaces[name] = {"name": name, "labels": labels, "pss_enforce": pss_enforce}
        for namespace, name, automount in cursor.execute(
            "SELECT namespace, name, automount_token FROM service_accounts WHERE snapshot_id = ?"
            " ORDER BY namespace, name",
            sid,
        ):
            objects.service_accounts[namespace].append(name)
            if automount is not None:
                objects.service_account_automount[(namespace, name)] = bool(automount)
        objects._load_pods(cursor, snapshot_id)
        for namespace, name, service_account, invalid_since in cursor.execute(
            # A Secret the cleaner labelled invalid holds a token the API server refuses (1.29+) until
            # someone removes the label. A token made for an earlier ServiceAccount of the same name
            # carries that one's UID in its claims, and is refused (a UID not known counts as matching).
            # An empty label value does not count (upstream refuses a token when the value is not "").
            "SELECT s.namespace, s.name, s.service_account, CASE WHEN json_valid(s.labels)"
            f" THEN NULLIF(json_extract(s.labels, '$.\"{INVALID_TOKEN_LABEL}\"'), '') END FROM secrets AS s"
            " LEFT JOIN service_accounts AS sa ON sa.snapshot_id = s.snapshot_id AND sa.namespace = s.namespace"
            " AND sa.name = s.service_account WHERE s.snapshot_id = ? AND s.type = ?"
            " AND (s.service_account_uid IS NULL OR sa.uid IS NULL OR s.service_account_uid = sa.uid)"
            " ORDER BY s.namespace, s.name",
            [snapshot_id, TOKEN_SECRET_TYPE],
        ):
            if service_account and objects.service_account_exists(namespace, service_account):
                secret = TokenSecret(namespace, name, service_account, invalid_since)
                found = objects.token_secrets if invalid_since is None else objects.invalidated_token_secrets
                found[namespace].append(secret)
        objects.nodes = [name for (name,) in cursor.execute("SELECT name FROM nodes WHERE snapshot_id = ?", sid)]
        for row in store.query("SELECT kind, name, webhooks FROM webhooks WHERE snapshot_id = ?", sid):
            objects.webhooks.append({**row, "webhooks": json.loads(row["webhooks"])})
        for row in store.query("SELECT kind, name, spec FROM admission_policies WHERE snapshot_id = ? ORDER BY name",
                               sid):
            objects.admission_policies.append({**row, "spec": json.loads(row["spec"])})
        for name, handler, node_selector in cursor.execute(
                "SELECT name, handler, node_selector FROM runtime_classes WHERE snapshot_id = ?", sid):
            objects.runtime_classes[name] = handler
            selector = json.loads(node_selector) if node_selector else None
            if isinstance(selector, dict) and selector:
                objects.runtime_class_selectors[name] = {str(k): str(v) for k, v in selector.items()}
        objects.csrs = store.query("SELECT name, signer_name FROM csrs WHERE snapshot_id = ?", sid)
        for row in store.query("SELECT * FROM pod_security_config WHERE snapshot_id = ?", sid):
            objects.pod_security = PodSecurityConfig.from_row(row)
        for row in store.query("SELECT namespace, name, data FROM config_maps WHERE snapshot_id = ?", sid):
            objects.config_maps[(row["namespace"], row["name"])] = {**row, "data": json.loads(row["data"])}
        return objects

    def _load_pods(self, cursor: sqlite3.Cursor, snapshot_id: int) -> None:
        """Representative pods, and the ServiceAccounts of pod templates, aggregated in SQL (a big cluster has ~50k).

        `pods[N]` holds, in name order, the first pod of each (ServiceAccount, automountToken)
        group and every pod that can reach its node; `template_service_accounts[N]` the
        ServiceAccounts of N's templates in order of their first template by (kind, name). That
        is all the primitives ask: the first pod (by name) whose token of a ServiceAccount is
        mounted, the first escaping pod per node, and the ServiceAccounts pods and templates run as, in
        order of first appearance. The migration-6 indexes serve both queries without reading or
        sorting the 50k rows: `workloads_service_account` is ordered like the GROUP BY and covers
        it, `workloads_escaping` holds only the pods that can reach their node.
        """
        sid = [snapshot_id, POD]
        pods = self.pods
        for row in cursor.execute(
            # The row ids first (from the indexes alone), then their rows: a UNION of whole rows made
            # SQLite walk every pod row (3x slower). With a single MIN(), SQLite takes the bare rowid
            # from the row holding the minimum; a union of ints and rowid lookups cost less than one
            # of (namespace, name) strings and primary-key lookups. The first pods are those whose
            # token is on a node (TOKEN_POD_SQL, covered by the index since migrations 10 and 11). INDEXED BY:
            # given the choice, SQLite read all pods through `workloads_node` (100 ms, not 1 ms).
            f"SELECT {', '.join('w.' + c.strip() for c in _POD_COLUMNS.split(','))}"
            " FROM (SELECT rid FROM (SELECT rowid AS rid, MIN(name) FROM workloads"
            f" WHERE snapshot_id = ?1 AND kind = ?2 AND {TOKEN_POD_SQL} GROUP BY namespace, service_account,"
            " automount_token) UNION SELECT rowid FROM workloads INDEXED BY workloads_escaping"
            " WHERE snapshot_id = ?1 AND kind = ?2 AND (privileged OR host_pid OR host_path_volumes != '[]')) AS first"
            f" CROSS JOIN workloads AS w ON w.rowid = first.rid WHERE {running_pod_sql('w.phase')}"
            " ORDER BY w.namespace, w.name",
            sid,
        ):
            pods[row[0]].append(_pod_facts(*row))
        # (kind, name) order as one BINARY-ordered string: char(31) sorts below any name character.
        for namespace, service_account in cursor.execute(
            "SELECT namespace, service_account FROM workloads WHERE snapshot_id = ? AND kind != ?"
            " GROUP BY namespace, service_account ORDER BY namespace, MIN(kind || char(31) || name)",
            sid,
        ):
            self.template_service_accounts[namespace].append(service_account)

    def all_namespaces(self) -> list[str]:
        """Namespaces known from Namespace objects or from anything living in one (sorted; do not modify)."""
        if self._namespace_list is None:
            names = set(self.namespaces) | set(self.service_accounts) | set(self.pods)
            names |= set(self.template_service_accounts) | set(self.token_secrets) | set(self.invalidated_token_secrets)
            self._namespace_list = sorted(names)
        return self._namespace_list

    def pod_security_enforce(self, namespace: str) -> str | None:
        """The namespace's `pod-security.kubernetes.io/enforce` label (None: no label, or namespace not seen)."""
        row = self.namespaces.get(namespace)
        return row["pss_enforce"] if row else None

    def enforced_level(self, namespace: str) -> str | None:
        """The Pod Security level enforced on a namespace: its label, else the configuration's default (None:
        neither is known, and the upstream default `privileged` is assumed)."""
        label = self.pod_security_enforce(namespace)
        if label is None and self.pod_security is not None:
            return self.pod_security.default_enforce
        return label

    def admits_privileged_pods(self, namespace: str) -> bool:
        """Whether Pod Security lets anyone's privileged pod into the namespace (exempt, or its level allows it)."""
        config = self.pod_security
        if config is not None and config.exempts_namespace(namespace):
            return True
        return not blocks_privileged_pods(self.enforced_level(namespace))

    def exempt_runtime_classes(self) -> list[tuple[str, str | None, dict[str, str]]]:
        """(name, handler, scheduling.nodeSelector) of the RuntimeClasses Pod Security exempts that exist: a
        privileged pod of one is admitted anywhere (one naming a RuntimeClass that does not exist is refused).
        When the snapshot holds no RuntimeClasses (not listed, or taken before they were recorded), every
        exempt one is taken to exist (handler None)."""
        config = self.pod_security
        if config is None:
            return []
        return [(name, self.runtime_classes.get(name), self.runtime_class_selectors.get(name, {}))
                for name in config.exempt_runtime_classes
                if name in self.runtime_classes or self.runtime_classes_unlisted]

    def missing_exempt_runtime_classes(self) -> list[str]:
        """The RuntimeClasses Pod Security exempts that do not exist (known only when they could be listed)."""
        config = self.pod_security
        if config is None or self.runtime_classes_unlisted:
            return []
        return [name for name in config.exempt_runtime_classes if name not in self.runtime_classes]

    def pods_of_runtime_classes(self, names: Collection[str]) -> dict[str, list[tuple[str, str, str, tuple[str, ...]]]]:
        """Namespace -> (pod, node, RuntimeClass, hostPath volumes) of the running pods bound to a node whose
        runtimeClassName is one of `names`, by name (read when asked: only when Pod Security exempts a class)."""
        found: dict[str, list[tuple[str, str, str, tuple[str, ...]]]] = defaultdict(list)
        if self._store is None or not names:
            return found
        marks = ", ".join("?" * len(names))
        for namespace, name, node, runtime_class, host_paths in self._store.conn.execute(
                "SELECT namespace, name, node, runtime_class, host_path_volumes FROM workloads WHERE snapshot_id = ?"
                f" AND kind = ? AND {TOKEN_POD_SQL} AND runtime_class IN ({marks}) ORDER BY namespace, name",
                [self._snapshot_id, POD, *names]):
            paths = json.loads(host_paths or "[]")
            found[namespace].append((name, node, runtime_class,
                                     tuple(str(path) for path in paths) if isinstance(paths, list) else ()))
        return found

    def node_labels(self) -> dict[str, dict[str, str]]:
        """Node name -> its labels, read once (when a node pool, RuntimeClass or cloud step asks; do not modify)."""
        if self._node_labels is None:
            self._node_labels = {}
            if self._store is not None:
                for name, labels in self._store.conn.execute(
                        "SELECT name, labels FROM nodes WHERE snapshot_id = ?", [self._snapshot_id]):
                    try:
                        parsed = json.loads(labels) if labels else {}
                    except ValueError:
                        parsed = {}
                    self._node_labels[name] = ({str(k): str(v) for k, v in parsed.items()}
                                               if isinstance(parsed, dict) else {})
        return self._node_labels

    def nodes_matching(self, selector: Mapping[str, str]) -> list[str]:
        """The snapshot's nodes whose labels include every key and value of a nodeSelector, sorted."""
        return sorted(name for name, labels in self.node_labels().items()
                      if all(labels.get(key) == value for key, value in selector.items()))

    def exempts_user(self, username: str) -> bool:
        """Whether Pod Security admits every pod this user creates or updates."""
        return self.pod_security is not None and self.pod_security.exempts_user(username)

    def token_mounted(self, pod: PodFacts | NodePod) -> bool:
        """Whether the pod holds a usable token of its ServiceAccount: mounted (the pod's setting first, then
        the ServiceAccount's) and of a ServiceAccount that exists."""
        if pod.automount_token is not None:
            mounted = bool(pod.automount_token)
        else:
            mounted = self.service_account_automount.get((pod.namespace, pod.service_account), True)
        return mounted and self.service_account_exists(pod.namespace, pod.service_account)

    def escaping_pods_by_node(self, namespace: str | None) -> list[PodFacts]:
        """The first pod that can reach its node on each node, in a namespace (None: in any), by namespace then
        name (do not modify). Root on a node reads the tokens of the pods on that node only; pods not yet on a
        node reach none.
        """
        known = self._escaping_by_node.get(namespace)
        if known is None:  # asked per identity and place: built once per namespace (and for None)
            found: dict[str, PodFacts] = {}
            for name in self.all_namespaces() if namespace is None else [namespace]:
                for pod in self.pods.get(name, ()):
                    if pod.escapes_to_node and pod.node and pod.node not in found:
                        found[pod.node] = pod
            known = self._escaping_by_node[namespace] = list(found.values())
        return known

    def pods_on_node(self, node: str) -> list[NodePod]:
        """A node's pods, one per (namespace, ServiceAccount, automountToken), in that order (do not modify).

        Static pods are left out: the kubelet mounts no ServiceAccount token into them."""
        if self._pods_by_node is None:
            self._pods_by_node = {}
            if self._store is not None:
                cursor = self._store.conn.cursor()
                cursor.row_factory = None
                # From the covering index `workloads_node` in its order (a big cluster has ~50k pods on a
                # few dozen nodes); read once, and only when someone can reach a node through an existing
                # pod. DISTINCT, not MIN(name) per group: 2.5x faster, and a name is wanted only for a proof.
                rows = cursor.execute(
                    "SELECT DISTINCT node, namespace, service_account, automount_token FROM workloads"
                    f" WHERE snapshot_id = ? AND kind = ? AND {TOKEN_POD_SQL}"
                    " ORDER BY node, namespace, service_account, automount_token",  # the index's: no sort
                    [self._snapshot_id, POD],
                ).fetchall()
                # Rows as they are, grouped by node (ordered): a loop building each tuple took 2/3 of the time.
                make = NodePod._make
                by_node = groupby(rows, itemgetter(0))
                self._pods_by_node = {on_node: list(map(make, group)) for on_node, group in by_node}
        return self._pods_by_node.get(node, [])

    def nodes_running_pods(self) -> list[str]:
        """Every node a pod that mounts a token runs on (static pods left out), in no particular order."""
        self.pods_on_node("")  # loads every node's pods
        assert self._pods_by_node is not None
        return list(self._pods_by_node)

    def nodes_running_pods_of(self, namespace: str) -> list[str]:
        """The nodes a namespace's pods run on, static pods left out (they take no ephemeral container), sorted."""
        if self._nodes_by_namespace is None:
            self.pods_on_node("")  # loads every node's pods
            assert self._pods_by_node is not None
            nodes_by_namespace: dict[str, list[str]] = defaultdict(list)
            for node in sorted(self._pods_by_node):
                for namespace_here in dict.fromkeys(pod.namespace for pod in self._pods_by_node[node]):
                    nodes_by_namespace[namespace_here].append(node)
            self._nodes_by_namespace = nodes_by_namespace
        return self._nodes_by_namespace.get(namespace, [])

    def namespaces_running_pods(self) -> list[str]:
        """The namespaces with a pod running on a node (static pods left out), sorted."""
        self.nodes_running_pods_of("")  # indexes every namespace's nodes
        assert self._nodes_by_namespace is not None
        return sorted(self._nodes_by_namespace)

    def workload_kinds(self, namespace: str) -> frozenset[str]:
        """The kinds of the workloads (not pods) of a namespace: what an update or patch can change."""
        if self._workload_kinds is None:
            found: dict[str, set[str]] = defaultdict(set)
            if self._store is not None:
                cursor = self._store.conn.cursor()
                cursor.row_factory = None
                for kind, in_namespace in cursor.execute(
                    "SELECT DISTINCT kind, namespace FROM workloads WHERE snapshot_id = ? AND kind != ?",
                    [self._snapshot_id, POD],
                ):
                    found[in_namespace].add(kind)
            self._workload_kinds = {namespace: frozenset(kinds) for namespace, kinds in found.items()}
        return self._workload_kinds.get(namespace, frozenset())

    def has_workload_templates(self) -> bool:
        """Whether the snapshot holds any workload (not pod) at all."""
        self.workload_kinds("")
        return bool(self._workload_kinds)

    def first_pod_name_on(self, node: str, namespace: str) -> str:
        """The name of the first (by name) pod of `namespace` running on `node`."""
        assert self._store is not None  # nodes come from the store
        row = self._store.conn.execute(
            "SELECT MIN(name) FROM workloads WHERE snapshot_id = ? AND kind = ? AND node = ? AND namespace = ?"
            f" AND {TOKEN_POD_SQL}",
            [self._snapshot_id, POD, node, namespace],
        ).fetchone()
        return str(row[0])

    def pods_named(self, names: Collection[str], within: Collection[str] | None) -> list[PodFacts]:
        """Pods with one of these names, by namespace then name; `within` None: in any namespace.

        Asked of identities whose rules name pods in resourceNames (rare): read from the store,
        since `pods` holds only representative pods. Cached per set of names.
        """
        key = frozenset(names)
        found = self._pods_named.get(key)
        if found is None:
            found = []
            if self._store is not None and key:
                cursor = self._store.conn.cursor()
                cursor.row_factory = None
                marks = ", ".join("?" * len(key))
                rows = cursor.execute(
                    f"SELECT {_POD_COLUMNS} FROM workloads WHERE snapshot_id = ? AND kind = ? AND name IN ({marks})"
                    f" AND {RUNNING_POD_SQL} ORDER BY namespace, name",
                    [self._snapshot_id, POD, *sorted(key)],
                )
                found = [_pod_facts(*row) for row in rows]
            self._pods_named[key] = found
        return found if within is None else [pod for pod in found if pod.namespace in within]

    def first_pod_name(self, pod: NodePod) -> str:
        """The name of the first (by name) pod `pod` stands for."""
        assert self._store is not None  # NodePods come from the store
        row = self._store.conn.execute(
            "SELECT MIN(name) FROM workloads WHERE snapshot_id = ? AND kind = ? AND node = ? AND namespace = ?"
            f" AND service_account = ? AND automount_token IS ? AND {TOKEN_POD_SQL}",
            [self._snapshot_id, POD, pod.node, pod.namespace, pod.service_account, pod.automount_token],
        ).fetchone()
        return str(row[0])

    def secret_exists(self, namespace: str, name: str) -> bool:
        """Whether the snapshot holds a Secret of that name there, of any type: creating another of that name
        fails (AlreadyExists), and a Secret's type cannot be changed afterwards."""
        if self._store is None:
            return False
        return self._store.conn.execute(
            "SELECT 1 FROM secrets WHERE snapshot_id = ? AND namespace = ? AND name = ?",
            [self._snapshot_id, namespace, name]).fetchone() is not None

    def token_secrets_named(self, names: set[str]) -> list[TokenSecret]:
        """Token Secrets with one of these names, by namespace then name (an index, not a scan per question)."""
        if self._token_secrets_by_name is None:
            self._token_secrets_by_name = defaultdict(list)
            for secrets in self.token_secrets.values():
                for secret in secrets:
                    self._token_secrets_by_name[secret.name].append(secret)
        found = [s for name in names for s in self._token_secrets_by_name.get(name, ())]
        return sorted(found, key=lambda s: (s.namespace, s.name))

    def service_accounts_named(self, names: set[str], within: Collection[str] | None) -> list[tuple[str, str]]:
        """(namespace, name) of the ServiceAccounts with one of these names, sorted; `within` None: anywhere."""
        if self._namespaces_by_service_account is None:
            self._namespaces_by_service_account = defaultdict(set)
            for namespace in self.all_namespaces():
                for name in self.service_account_names(namespace):
                    self._namespaces_by_service_account[name].add(namespace)
        return sorted((namespace, name) for name in names
                      for namespace in self._namespaces_by_service_account.get(name, ())
                      if within is None or namespace in within)

    def service_account_names(self, namespace: str) -> list[str]:
        """ServiceAccounts of a namespace (do not modify): its ServiceAccount objects and `default`; in a
        namespace without any ServiceAccount object (a partial dump), those its pods and templates run as."""
        found = self._service_account_names.get(namespace)
        if found is None:
            objects = self.service_accounts.get(namespace)
            names = dict.fromkeys(objects or ())
            if namespace in self.namespaces or objects is not None:
                names.setdefault("default")  # the ServiceAccount controller makes it in every namespace
            if objects is None:
                for pod in self.pods.get(namespace, ()):
                    names.setdefault(pod.service_account)
                for name in self.template_service_accounts.get(namespace, ()):
                    names.setdefault(name)
            found = self._service_account_names[namespace] = list(names)
        return found

    def service_account_exists(self, namespace: str, name: str) -> bool:
        """Whether a ServiceAccount exists, as far as the snapshot tells.

        Its tokens are refused once it is gone (the API server looks the ServiceAccount up), and
        a pod or TokenRequest naming a missing one is refused. A namespace without any
        ServiceAccount object in the snapshot (a partial dump) is taken to have every one named.
        """
        objects = self.service_accounts.get(namespace)
        # `default`: the ServiceAccount controller makes it in every namespace that exists.
        return objects is None or name in objects or name == "default"


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
    _roles_by_namespace: dict[str, list[Role]] | None = field(default=None, repr=False)
    # Answers primitives derive from the snapshot and share, by name (see `updatable_places`).
    memo: dict[str, Any] = field(default_factory=dict, repr=False)
    # (frontier, its identities with their permissions, each one's `class_key`, one identity's
    # permissions per class key), for the current round.
    # Class keys wanted -> (frontier, its pairs in those classes), see `frontier_permissions`.
    _frontier_filtered: dict[frozenset[int], tuple[list[Identity], list[tuple[Identity, EffectivePermissions]]]] = (
        field(default_factory=dict, repr=False))
    _frontier_permissions: tuple[
        list[Identity], list[tuple[Identity, EffectivePermissions]], list[int], dict[int, EffectivePermissions],
    ] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, store: Store, snapshot: Snapshot) -> SolverContext:
        policy = load_policy(store, snapshot.id)
        return cls(store, snapshot, policy, PermissionIndex.build(policy), ClusterObjects.load(store, snapshot.id))

    # --- identities ------------------------------------------------------------------------

    def __post_init__(self) -> None:
        # Kinds the import could not list, or that a snapshot older than their recording (migrations 14 and 15)
        # does not hold: what such objects would allow or refuse is unknown, not absent.
        incomplete, snapshot = self.snapshot.incomplete_kinds, self.snapshot
        self.objects.admission_policies_unlisted = ("ValidatingAdmissionPolicy" in incomplete
                                                    or self.store.predates(snapshot, 14))
        self.objects.runtime_classes_unlisted = "RuntimeClass" in incomplete or self.store.predates(snapshot, 15)
        self.objects.runtime_class_selectors_unknown = self.store.predates(snapshot, 16)

    def add_identity(self, identity: Identity) -> Identity:
        """Register an identity (the first registration of a key wins) and return the registered one."""
        return self.identities.setdefault(identity.key, identity)

    def identity_for_service_account(self, namespace: str, name: str) -> Identity:
        known = self.identities.get((SERVICE_ACCOUNT, name, namespace))
        return known or self.add_identity(identity_for_service_account(namespace, name))

    def identity_for_user(self, name: str) -> Identity:
        return self.add_identity(identity_for_user(name))

    def identity_for_group(self, group: str) -> Identity:
        known = self.identities.get((GROUP, group, ""))
        return known or self.add_identity(identity_for_group(group))

    def identity_for_role_holder(self, role: str, scope: str, attacker: Identity) -> Identity:
        return self.add_identity(identity_for_role_holder(role, scope, attacker))

    def permissions(self, identity: Identity) -> EffectivePermissions:
        return self.permission_index.for_identity(identity)

    def frontier_permissions(
        self, may_need: Sequence[ResourceRequest] | None = None
    ) -> list[tuple[Identity, EffectivePermissions]]:
        """The frontier with each identity's permissions (looked up once per round, not once per primitive).

        With `may_need`, only the identities that might be allowed one of those requests (for
        some name, somewhere: `EffectivePermissions.may_allow_any`); a primitive passes every
        request it asks about. Most identities hold nothing relevant: they are dropped here,
        asked once per distinct set of rule lists held, before any grant is looked up.
        """
        if self._frontier_permissions is None or self._frontier_permissions[0] is not self.frontier:
            pairs = [(identity, self.permissions(identity)) for identity in self.frontier]
            classes = [permissions.class_key() for _, permissions in pairs]
            representatives = dict(zip(classes, (permissions for _, permissions in pairs), strict=True))
            self._frontier_permissions = (self.frontier, pairs, classes, representatives)
        _, pairs, classes, representatives = self._frontier_permissions
        if may_need is None:
            return pairs
        wanted = frozenset(key for key, permissions in representatives.items() if permissions.may_allow_any(may_need))
        if len(wanted) == len(representatives):
            return pairs
        # Primitives of a round often want the same classes: each filtered list is made once per round.
        known = self._frontier_filtered.get(wanted)
        if known is None or known[0] is not self.frontier:
            known = (self.frontier, [pair for pair, key in zip(pairs, classes, strict=True) if key in wanted])
            self._frontier_filtered[wanted] = known
        return known[1]

    def roles_in(self, namespace: str) -> list[Role]:
        """The snapshot's Roles of a namespace ('' for its ClusterRoles), in snapshot order."""
        if self._roles_by_namespace is None:
            self._roles_by_namespace = defaultdict(list)
            for role in self.policy.roles.values():
                self._roles_by_namespace["" if role.key.kind == CLUSTER_ROLE else role.key.namespace].append(role)
        return self._roles_by_namespace.get(namespace, [])

    # --- pools -----------------------------------------------------------------------------

    def _node_credentials(self, pool: Pool, node: str | None, skip: Callable[[Identity], bool]) -> Iterator[Edge]:
        """Edges from a node pool to the cloud identities root on that node holds (`node` None: a node of one's
        choosing), from the sources registered in `rbacmap.solver.registry.NODE_CREDENTIAL_SOURCES`."""
        from rbacmap.solver.registry import NODE_CREDENTIAL_SOURCES

        for source in NODE_CREDENTIAL_SOURCES:
            for edge in source(self, pool, node):
                if isinstance(edge.target, Identity) and not skip(edge.target):
                    yield edge

    def pool_members(self, pool: Pool, skip: Callable[[Identity], bool] = lambda member: False) -> Iterator[Edge]:
        """The free (weight 0) edges from a pool to its members, each with the object behind it: one per
        member (the graph does not look for parallel pool edges).

        Lazy like the primitives' edges (`lazy_edge`): a big cluster has ~15k of them and its
        paths go through a few hundred. Members `skip` says are left out before any edge is made
        (the graph skips those that lead nowhere).
        """
        namespaces = self.objects.all_namespaces() if pool.namespace == "*" else [pool.namespace]
        per_namespace = (SERVICE_ACCOUNTS_POOL, POD_SERVICE_ACCOUNTS_POOL, TOKEN_SECRETS_POOL,
                         INVALIDATED_TOKEN_SECRETS_POOL)
        if pool.kind in per_namespace and pool.namespace == "*":
            for namespace in namespaces:
                member = Pool.of(pool.kind, namespace)
                yield lazy_edge(pool, member, "", partial(_namespace_member, pool, member))
            return
        if pool.kind == ANY_NODE_POOL:  # every running pod's token, and the credentials of some node
            pods = Pool.of(POD_SERVICE_ACCOUNTS_POOL, "*")
            yield Edge(pool, pods, "", "")
            yield from self._node_credentials(pool, None, skip)
            return
        if pool.kind == SERVICE_ACCOUNTS_POOL:
            for name in self.objects.service_account_names(pool.namespace):
                sa = self.identity_for_service_account(pool.namespace, name)
                if not skip(sa):
                    yield lazy_edge(pool, sa, "", partial(_service_account_member, pool, sa))
        elif pool.kind == POD_SERVICE_ACCOUNTS_POOL:
            # One edge per ServiceAccount, through its first pod: a shortest path never needs another.
            seen: set[str] = set()
            for pod in self.objects.pods.get(pool.namespace, ()):
                if pod.node is None or pod.service_account in seen or not self.objects.token_mounted(pod):
                    continue  # a pending pod runs nowhere yet (and refuses exec)
                seen.add(pod.service_account)
                sa = self.identity_for_service_account(pod.namespace, pod.service_account)
                if not skip(sa):
                    yield lazy_edge(pool, sa, "", partial(_pod_member, pool, sa, pod))
        elif pool.kind == NODE_POD_SERVICE_ACCOUNTS_POOL:
            # One edge per ServiceAccount, through its first pod on the node (by namespace, then name).
            reached: set[tuple[str, str]] = set()
            for node_pod in self.objects.pods_on_node(pool.namespace):
                account = (node_pod.namespace, node_pod.service_account)
                if account in reached or not self.objects.token_mounted(node_pod):
                    continue
                reached.add(account)
                sa = self.identity_for_service_account(*account)
                if not skip(sa):
                    yield lazy_edge(pool, sa, "", partial(_node_pod_member, self.objects, pool, sa, node_pod))
            yield from self._node_credentials(pool, pool.namespace, skip)
        elif pool.kind == NAMESPACE_NODES_POOL:
            for node in self.objects.nodes_running_pods_of(pool.namespace):
                node_pool = Pool.of(NODE_POD_SERVICE_ACCOUNTS_POOL, node)
                yield lazy_edge(pool, node_pool, "", partial(_node_of_namespace, self.objects, pool, node_pool))
        elif pool.kind in (TOKEN_SECRETS_POOL, INVALIDATED_TOKEN_SECRETS_POOL):
            holders: set[str] = set()  # one edge per ServiceAccount, through its first Secret by name
            secrets = (self.objects.token_secrets if pool.kind == TOKEN_SECRETS_POOL
                       else self.objects.invalidated_token_secrets)
            for secret in secrets.get(pool.namespace, ()):
                if secret.service_account in holders:
                    continue
                holders.add(secret.service_account)
                sa = self.identity_for_service_account(secret.namespace, secret.service_account)
                if not skip(sa):
                    yield lazy_edge(pool, sa, "", partial(_token_secret_member, pool, sa, secret))
        elif pool.kind == BOUND_GROUPS_POOL:
            names = {subject.name for binding in self.policy.all_bindings() for subject in binding.subjects
                     if subject.kind == GROUP}
            for name in sorted(names - {SYSTEM_MASTERS}):
                group = self.identity_for_group(name)
                if not skip(group):
                    yield lazy_edge(pool, group, "", partial(_any_member, pool, group))
        elif pool.kind in (USERS_POOL, GROUPS_POOL):
            kind = USER if pool.kind == USERS_POOL else "Group"
            for identity in list(self.identities.values()):
                if identity.kind == kind and not skip(identity):
                    yield lazy_edge(pool, identity, "", partial(_any_member, pool, identity))


def _namespace_member(pool: Pool, member: Pool) -> Edge:
    return Edge(pool, member, "", f"namespace {member.namespace}")


def _service_account_member(pool: Pool, sa: Identity) -> Edge:
    return Edge(pool, sa, "", f"as ServiceAccount {sa.namespace}/{sa.name}",
                objects=(ObjectRef(SERVICE_ACCOUNT, sa.name, sa.namespace),))


def _pod_member(pool: Pool, sa: Identity, pod: PodFacts) -> Edge:
    return Edge(pool, sa, "", f"pod {pod.namespace}/{pod.name} runs as {pod.service_account}",
                objects=(pod.ref(f"serviceAccountName: {pod.service_account}"),))


def _node_pod_member(objects: ClusterObjects, pool: Pool, sa: Identity, pod: NodePod) -> Edge:
    name = objects.first_pod_name(pod)
    return Edge(pool, sa, "", f"pod {pod.namespace}/{name} on node {pod.node} runs as {pod.service_account}",
                objects=(ObjectRef(POD, name, pod.namespace,
                                   f"nodeName: {pod.node}, serviceAccountName: {pod.service_account}"),))


def _node_of_namespace(objects: ClusterObjects, pool: Pool, node_pool: Pool) -> Edge:
    name = objects.first_pod_name_on(node_pool.namespace, pool.namespace)
    return Edge(pool, node_pool, "", f"pod {pool.namespace}/{name} runs on node {node_pool.namespace}",
                objects=(ObjectRef(POD, name, pool.namespace, f"nodeName: {node_pool.namespace}"),))


def _token_secret_member(pool: Pool, sa: Identity, secret: TokenSecret) -> Edge:
    text = f"Secret {secret.namespace}/{secret.name} holds a token of {secret.service_account}"
    if secret.invalid_since is not None:
        text += f" (labelled {INVALID_TOKEN_LABEL}: removing the label re-enables it)"
    return Edge(pool, sa, "", text, objects=(token_secret_ref(secret),))


def _any_member(pool: Pool, identity: Identity) -> Edge:
    return Edge(pool, identity, "", f"as {identity}")


def token_secret_ref(secret: TokenSecret) -> ObjectRef:
    if secret.invalid_since is not None:
        return ObjectRef("Secret", secret.name, secret.namespace,
                         f"type {TOKEN_SECRET_TYPE}, kubernetes.io/service-account.name: {secret.service_account}, "
                         f"{INVALID_TOKEN_LABEL}: {secret.invalid_since}")
    return ObjectRef("Secret", secret.name, secret.namespace,
                     f"type {TOKEN_SECRET_TYPE}, kubernetes.io/service-account.name: {secret.service_account}")
