"""What changed between two snapshots: roles and their rules, bindings and their subjects,
service accounts, admission control (`rbacmap.diff_admission`), and escalation paths gained or
lost (when the solver is installed).

Rules are compared by content, not index (reordering a role's rules, or the verbs, groups,
resources or names of one, changes nothing it grants); a role's rules are its effective ones,
after ClusterRole aggregation. Labels and aggregation selectors are compared by content too, and
a ServiceAccount subject by the namespace it has once defaulted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rbacmap.diff_admission import diff_admission
from rbacmap.diff_model import ADDED, CHANGED, GAINED, LOST, REMOVED, FieldChange, ObjectChange
from rbacmap.model import CLUSTER_ROLE, SERVICE_ACCOUNT, PolicyRule
from rbacmap.store import Snapshot, Store, StoreError

__all__ = ["ADDED", "CHANGED", "GAINED", "LOST", "REMOVED", "FieldChange", "ObjectChange", "PathChange",
           "SnapshotDiff", "chosen_snapshots", "diff_snapshots", "two_latest"]

@dataclass(frozen=True)
class PathChange:
    """An escalation path a subject gained or lost: `proof` is the path's one-line summary."""

    subject: str
    target: str
    change: str
    proof: str


@dataclass(frozen=True)
class SnapshotDiff:
    old: Snapshot
    new: Snapshot
    roles: tuple[ObjectChange, ...]
    bindings: tuple[ObjectChange, ...]
    service_accounts: tuple[ObjectChange, ...]
    paths: tuple[PathChange, ...] = ()
    # Why paths were not compared (solver missing or failing); None when they were.
    paths_note: str | None = None
    warnings: tuple[str, ...] = field(default=())
    # Pod Security (configuration, namespace levels), admission policies, webhooks, RuntimeClasses.
    admission: tuple[ObjectChange, ...] = ()
    # Kinds of admission objects not compared (a snapshot older than rbacmap's recording of them).
    admission_notes: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return not (self.roles or self.bindings or self.service_accounts or self.admission or self.paths)

    def to_json(self) -> dict[str, Any]:
        def snapshot(s: Snapshot) -> dict[str, Any]:
            return {"id": s.id, "cluster": s.cluster, "started_at": s.started_at, "incomplete": s.incomplete_kinds}

        return {
            "old": snapshot(self.old),
            "new": snapshot(self.new),
            "identical": self.identical,
            "roles": [asdict(c) for c in self.roles],
            "bindings": [asdict(c) for c in self.bindings],
            "service_accounts": [asdict(c) for c in self.service_accounts],
            "admission": [asdict(c) for c in self.admission],
            "admission_notes": list(self.admission_notes),
            "escalation_paths": [asdict(c) for c in self.paths],
            "escalation_paths_note": self.paths_note,
            "warnings": list(self.warnings),
        }


# Extension point: given the store and the two snapshots, the escalation paths gained/lost.
PathDiffer = Callable[[Store, Snapshot, Snapshot], Sequence[PathChange]]


def two_latest(store: Store, cluster: str | None) -> tuple[Snapshot, Snapshot]:
    """The two newest complete snapshots of a cluster (the only one when none is named)."""
    name = store.resolve_cluster(cluster)
    complete = [s for s in store.snapshots(name) if s.status == "complete"]
    if len(complete) < 2:
        raise StoreError(f"cluster {name!r} has {len(complete)} complete snapshot(s); a diff needs two")
    return complete[-2], complete[-1]


def chosen_snapshots(
    store: Store, cluster: str | None, old_id: int | None, new_id: int | None, *, across_clusters: bool = False,
) -> tuple[Snapshot, Snapshot]:
    """The snapshots to compare: OLD and NEW by id, else the cluster's two latest complete ones.

    Snapshot ids are numbered across clusters, so a mistyped id can name another cluster's
    snapshot: comparing it would report that cluster's differences as drift. Ids of different
    clusters are refused unless `across_clusters`, and `cluster`, when given, must be theirs. A
    failed import's snapshot holds nothing (its objects were rolled back): everything would look removed.
    """
    if old_id is None or new_id is None:
        return two_latest(store, cluster)
    old, new = store.snapshot(old_id), store.snapshot(new_id)
    for snapshot in (old, new):
        if snapshot.status != "complete":
            raise StoreError(f"snapshot {snapshot.id} of {snapshot.cluster} is {snapshot.status}, not complete: "
                             "it holds no objects to compare")
    if cluster is not None:
        name = store.resolve_cluster(cluster)
        for snapshot in (old, new):
            if snapshot.cluster != name:
                raise StoreError(f"snapshot {snapshot.id} is of cluster {snapshot.cluster!r}, not {name!r}")
    if old.cluster != new.cluster and not across_clusters:
        raise StoreError(f"snapshot {old.id} is of cluster {old.cluster!r} and snapshot {new.id} of "
                         f"{new.cluster!r}: their differences are not drift (pass --across-clusters to compare "
                         "two clusters)")
    return old, new


def diff_snapshots(
    store: Store, old: Snapshot, new: Snapshot, *, compare_paths: bool = True, path_differ: PathDiffer | None = None
) -> SnapshotDiff:
    """Compare two snapshots; escalation paths through `path_differ` (default: the solver's, if installed)."""
    warnings = tuple(w for w in (old.incompleteness_warning(), new.incompleteness_warning()) if w)
    paths: Sequence[PathChange] = ()
    note: str | None = None
    differ = (path_differ or solver_path_differ()) if compare_paths else None
    if not compare_paths:
        note = "escalation paths not compared (skipped)"
    elif differ is None:
        note = "escalation paths not compared (rbacmap.solver is not available)"
    else:
        paths = differ(store, old, new)
    admission, admission_notes = diff_admission(store, old, new)
    return SnapshotDiff(
        old, new, _diff_roles(store, old.id, new.id), _diff_bindings(store, old.id, new.id),
        _diff_service_accounts(store, old.id, new.id), tuple(paths), note, warnings, admission, admission_notes,
    )


# --- roles ---------------------------------------------------------------------------------


@dataclass
class _RoleState:
    labels: str
    aggregation: str | None
    rules: Counter[str] = field(default_factory=Counter)

    def fields(self) -> dict[str, str | None]:
        return {"labels": self.labels, "aggregationRule": self.aggregation}


def _roles(store: Store, snapshot_id: int) -> dict[tuple[str, str, str], _RoleState]:
    roles = {
        (r["kind"], r["namespace"], r["name"]): _RoleState(_labels_text(r), _selectors_text(r["aggregation_selectors"]))
        for r in store.query("SELECT * FROM roles WHERE snapshot_id = ?", [snapshot_id])
    }
    for r in store.query("SELECT * FROM rules WHERE snapshot_id = ?", [snapshot_id]):
        role = roles.get((r["role_kind"], r["role_namespace"], r["role_name"]))
        if role is not None:
            role.rules[_rule_text(r)] += 1
    return roles


def _labels_text(row: dict[str, Any]) -> str:
    """A ClusterRole's labels by content (an import keeps the file's key order); a Role's labels are
    metadata nothing reads (aggregation selects ClusterRoles only), so they are no change."""
    if row["kind"] != CLUSTER_ROLE:
        return "{}"
    return json.dumps(json.loads(row["labels"] or "{}"), sort_keys=True, separators=(",", ":"))


def _selectors_text(cell: str | None) -> str | None:
    """An aggregationRule by content: its selectors' key order and their order in the list select nothing else."""
    if cell is None:
        return None
    selectors = [json.dumps(s, sort_keys=True, separators=(",", ":")) for s in json.loads(cell)]
    return "[" + ",".join(sorted(selectors)) + "]"


def _rule_text(row: dict[str, Any]) -> str:
    def strings(column: str) -> tuple[str, ...]:
        # Each list matches when any of its entries does (evaluation_helpers.go): order and repeats grant nothing.
        return tuple(sorted(set(json.loads(row[column] or "[]"))))

    rule = PolicyRule(strings("verbs"), strings("api_groups"), strings("resources"), strings("resource_names"),
                      strings("non_resource_urls"))
    return rule.describe()


def _diff_roles(store: Store, old_id: int, new_id: int) -> tuple[ObjectChange, ...]:
    old, new = _roles(store, old_id), _roles(store, new_id)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        rules_before = before.rules if before else Counter[str]()
        rules_after = after.rules if after else Counter[str]()
        fields = _field_changes(before.fields() if before else None, after.fields() if after else None)
        added = tuple(sorted((rules_after - rules_before).elements()))
        removed = tuple(sorted((rules_before - rules_after).elements()))
        change = ADDED if before is None else REMOVED if after is None else CHANGED
        if change != CHANGED or added or removed or fields:
            changes.append(ObjectChange(*key, change, added, removed, fields))
    return tuple(changes)


# --- bindings ------------------------------------------------------------------------------


@dataclass
class _BindingState:
    role: str
    dangling: str
    subjects: set[str] = field(default_factory=set)

    def fields(self) -> dict[str, str | None]:
        return {"role": self.role, "dangling": self.dangling}


def _bindings(store: Store, snapshot_id: int) -> dict[tuple[str, str, str], _BindingState]:
    bindings = {
        (b["kind"], b["namespace"], b["name"]): _BindingState(f"{b['role_kind']} {b['role_name']}",
                                                              "yes" if b["dangling"] else "no")
        for b in store.query("SELECT * FROM bindings WHERE snapshot_id = ?", [snapshot_id])
    }
    for s in store.query("SELECT * FROM binding_subjects WHERE snapshot_id = ?", [snapshot_id]):
        binding = bindings.get((s["binding_kind"], s["binding_namespace"], s["binding_name"]))
        if binding is not None:
            # A ServiceAccount without namespace is the RoleBinding's own (appliesToUser): naming it is no change.
            namespace = s["namespace"] or s["binding_namespace"]
            name = f"{namespace}/{s['name']}" if s["kind"] == SERVICE_ACCOUNT else s["name"]
            binding.subjects.add(f"{s['kind']} {name}")
    return bindings


def _diff_bindings(store: Store, old_id: int, new_id: int) -> tuple[ObjectChange, ...]:
    old, new = _bindings(store, old_id), _bindings(store, new_id)
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        subjects_before = before.subjects if before else set()
        subjects_after = after.subjects if after else set()
        fields = _field_changes(before.fields() if before else None, after.fields() if after else None)
        if before is None or after is None:
            fields = tuple(f for f in fields if f.field == "role")  # who it grants to is what matters
        added = tuple(sorted(subjects_after - subjects_before))
        removed = tuple(sorted(subjects_before - subjects_after))
        change = ADDED if before is None else REMOVED if after is None else CHANGED
        if change != CHANGED or added or removed or fields:
            changes.append(ObjectChange(*key, change, added, removed, fields))
    return tuple(changes)


# --- service accounts ----------------------------------------------------------------------


# ServiceAccount annotations that change what its pods can reach: cloud identities, and which Secrets pods may mount.
ACCESS_ANNOTATION_PREFIXES = ("eks.amazonaws.com/", "iam.gke.io/", "azure.workload.identity/")
ACCESS_ANNOTATIONS = frozenset({"kubernetes.io/enforce-mountable-secrets"})


def _service_accounts(store: Store, snapshot_id: int) -> dict[tuple[str, str], dict[str, str | None]]:
    accounts = {}
    for row in store.query("SELECT * FROM service_accounts WHERE snapshot_id = ?", [snapshot_id]):
        automount = row["automount_token"]
        facts: dict[str, str | None] = {"automountServiceAccountToken": None if automount is None
                                        else ("true" if automount else "false")}
        # Annotations carry cloud identity bindings (IRSA role-arn, GKE workload identity); the rest (Helm's
        # meta.helm.sh/*, last-applied-configuration, …) changes with every release and grants nothing.
        for key, value in json.loads(row["annotations"] or "{}").items():
            if key.startswith(ACCESS_ANNOTATION_PREFIXES) or key in ACCESS_ANNOTATIONS:
                facts[f"annotation {key}"] = value
        accounts[(row["namespace"], row["name"])] = facts
    return accounts


def _diff_service_accounts(store: Store, old_id: int, new_id: int) -> tuple[ObjectChange, ...]:
    old, new = _service_accounts(store, old_id), _service_accounts(store, new_id)
    changes = []
    for namespace, name in sorted(old.keys() | new.keys()):
        before, after = old.get((namespace, name)), new.get((namespace, name))
        fields = _field_changes(before, after)
        change = ADDED if before is None else REMOVED if after is None else CHANGED
        if change != CHANGED or fields:
            changes.append(ObjectChange("ServiceAccount", namespace, name, change, fields=fields))
    return tuple(changes)


def _field_changes(
    before: dict[str, str | None] | None, after: dict[str, str | None] | None
) -> tuple[FieldChange, ...]:
    """Fields whose value differs; for an added or removed object, its fields that are set."""
    old, new = before or {}, after or {}
    return tuple(FieldChange(k, old.get(k), new.get(k)) for k in sorted(old.keys() | new.keys(), key=_field_order)
                 if old.get(k) != new.get(k))


def _field_order(name: str) -> tuple[bool, str]:
    return name.startswith("annotation "), name


# --- escalation paths ----------------------------------------------------------------------


def solver_path_differ() -> PathDiffer | None:
    """The path differ backed by `rbacmap.solver.solve`, or None when the solver is not installed."""
    try:  # imported here: the solver is only loaded when paths are compared
        from rbacmap.solver import EscalationPath, Target, solve
    except ImportError:
        return None

    def paths_of(store: Store, snapshot: Snapshot) -> dict[str, dict[Target, EscalationPath]]:
        by_subject: dict[str, dict[Target, EscalationPath]] = {}
        for path in solve(store, snapshot).paths():
            by_subject.setdefault(path.subject.spec(), {})[path.target] = path
        return by_subject

    def changes(first: dict[str, dict[Target, EscalationPath]], second: dict[str, dict[Target, EscalationPath]],
                change: str) -> list[PathChange]:
        # The solver reports a subject's strongest findings only: a finding "missing" from
        # `second` is no change when a finding there implies it (secrets in N -> cluster-admin).
        found = []
        for subject, paths in first.items():
            others = second.get(subject, {})
            for target, path in paths.items():
                if not any(other.implies(target) for other in others):
                    found.append(PathChange(subject, str(target), change, path.summary()))
        return found

    def differ(store: Store, old: Snapshot, new: Snapshot) -> list[PathChange]:
        before, after = paths_of(store, old), paths_of(store, new)
        return sorted(changes(after, before, GAINED), key=_path_order) + sorted(
            changes(before, after, LOST), key=_path_order)

    return differ


def _path_order(change: PathChange) -> tuple[str, str]:
    return change.subject, change.target
