"""What changed in admission control between two snapshots: what decides whether a privileged pod gets in.

A namespace relabelled from `restricted` to `privileged`, a new Pod Security exemption, a removed
ValidatingAdmissionPolicy binding or webhook, a RuntimeClass whose handler changed: each opens (or
closes) node escapes without any RBAC change, so `rbacmap diff` lists them beside roles and bindings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from rbacmap.diff_model import ADDED, CHANGED, REMOVED, FieldChange, ObjectChange
from rbacmap.pod_security_config import PLUGIN_NAME, PodSecurityConfig
from rbacmap.store import Snapshot, Store

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"

# The schema migration from which rbacmap records each kind of object: a snapshot taken before it was applied
# holds none of them, which is "not recorded", not "absent".
RECORDED_SINCE = {"the Pod Security configuration": 12, "admission policies": 14, "RuntimeClasses": 15}
NODE_SELECTORS_SINCE = 16  # RuntimeClass scheduling.nodeSelector


def diff_admission(store: Store, old: Snapshot, new: Snapshot) -> tuple[tuple[ObjectChange, ...], tuple[str, ...]]:
    """Pod Security configuration and namespace levels, admission policies and bindings, validating and mutating
    webhook configurations, RuntimeClasses: added, removed or changed, in that order; and a note for each kind
    one of the snapshots predates (not compared)."""
    skipped = _not_recorded(store, old, new)
    old_id, new_id = old.id, new.id
    changes: list[ObjectChange] = []
    if "the Pod Security configuration" not in skipped:
        changes += _diff_pod_security(store, old_id, new_id)
    changes += _diff_namespace_levels(store, old_id, new_id)
    if "admission policies" not in skipped:
        changes += _diff_keyed(store, old_id, new_id, _admission_policies)
    changes += _diff_keyed(store, old_id, new_id, _webhooks)
    if "RuntimeClasses" not in skipped:
        early = [snapshot.id for snapshot in (old, new) if store.predates(snapshot, NODE_SELECTORS_SINCE)]
        if early:
            skipped["RuntimeClass nodeSelectors"] = early[0]
        changes += _diff_keyed(store, old_id, new_id, partial(_runtime_classes, selectors=not early))
    notes = tuple(f"{kind} not compared: snapshot {snapshot} was taken before rbacmap recorded them"
                  for kind, snapshot in skipped.items())
    return tuple(changes), notes


def _not_recorded(store: Store, old: Snapshot, new: Snapshot) -> dict[str, int]:
    """Kind -> the snapshot taken before the migration that records that kind was applied to this DB."""
    found = {}
    for kind, version in RECORDED_SINCE.items():
        early = [snapshot for snapshot in (old, new) if store.predates(snapshot, version)]
        if early:
            found[kind] = early[0].id
    return found


# --- Pod Security ----------------------------------------------------------------------------


def _pod_security(store: Store, snapshot_id: int) -> PodSecurityConfig | None:
    rows = store.query("SELECT * FROM pod_security_config WHERE snapshot_id = ?", [snapshot_id])
    return PodSecurityConfig.from_row(rows[0]) if rows else None


def _meaning(config: PodSecurityConfig | None) -> tuple[object, ...] | None:
    """What a configuration decides (not which document held it, nor the order of its lists)."""
    if config is None:
        return None
    return (config.default_enforce, config.default_enforce_version, frozenset(config.exempt_usernames),
            frozenset(config.exempt_namespaces), frozenset(config.exempt_runtime_classes))


def _exemptions(config: PodSecurityConfig | None) -> set[str]:
    if config is None:
        return set()
    return ({f"exempt username {name}" for name in config.exempt_usernames}
            | {f"exempt namespace {name}" for name in config.exempt_namespaces}
            | {f"exempt RuntimeClass {name}" for name in config.exempt_runtime_classes})


def _diff_pod_security(store: Store, old_id: int, new_id: int) -> tuple[ObjectChange, ...]:
    """The API server's PodSecurity configuration (absent: the upstream default `privileged`, no exemptions)."""
    before, after = _pod_security(store, old_id), _pod_security(store, new_id)
    if _meaning(before) == _meaning(after):
        return ()
    old_exemptions, new_exemptions = _exemptions(before), _exemptions(after)
    fields = tuple(FieldChange(name, old, new) for name, old, new in (
        ("defaults.enforce", before.default_enforce if before else None, after.default_enforce if after else None),
        ("defaults.enforce-version", before.default_enforce_version if before else None,
         after.default_enforce_version if after else None),
    ) if old != new)
    change = ADDED if before is None else REMOVED if after is None else CHANGED
    return (ObjectChange("PodSecurityConfiguration", "", PLUGIN_NAME, change,
                         tuple(sorted(new_exemptions - old_exemptions)), tuple(sorted(old_exemptions - new_exemptions)),
                         fields),)


def _diff_namespace_levels(store: Store, old_id: int, new_id: int) -> tuple[ObjectChange, ...]:
    """The enforce label of the namespaces in both snapshots (added and removed namespaces are not listed)."""
    sql = "SELECT name, pss_enforce FROM namespaces WHERE snapshot_id = ?"
    before = {row["name"]: row["pss_enforce"] for row in store.query(sql, [old_id])}
    after = {row["name"]: row["pss_enforce"] for row in store.query(sql, [new_id])}
    return tuple(ObjectChange("Namespace", "", name, CHANGED, fields=(FieldChange(
        f"label {ENFORCE_LABEL}", before[name], after[name]),))
        for name in sorted(before.keys() & after.keys()) if before[name] != after[name])


# --- objects compared by their stored fields ----------------------------------------------------

# (kind, name) -> field -> value text, for one snapshot.
Objects = dict[tuple[str, str], dict[str, str | None]]


def _diff_keyed(store: Store, old_id: int, new_id: int, read: Callable[[Store, int], Objects]
                ) -> tuple[ObjectChange, ...]:
    before, after = read(store, old_id), read(store, new_id)
    changes = []
    for kind, name in sorted(before.keys() | after.keys()):
        old, new = before.get((kind, name)), after.get((kind, name))
        if old == new:
            continue
        fields = tuple(FieldChange(key, (old or {}).get(key), (new or {}).get(key))
                       for key in sorted((old or {}).keys() | (new or {}).keys())
                       if (old or {}).get(key) != (new or {}).get(key))
        changes.append(ObjectChange(kind, "", name, ADDED if old is None else REMOVED if new is None else CHANGED,
                                    fields=fields))
    return tuple(changes)


def _compact(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _admission_policies(store: Store, snapshot_id: int) -> Objects:
    kinds = {"Policy": "ValidatingAdmissionPolicy", "Binding": "ValidatingAdmissionPolicyBinding"}
    found: Objects = {}
    for row in store.query("SELECT kind, name, spec FROM admission_policies WHERE snapshot_id = ?", [snapshot_id]):
        spec: Mapping[str, Any] = json.loads(row["spec"])
        found[(kinds.get(row["kind"], row["kind"]), row["name"])] = {
            f"spec.{key}": _compact(value) for key, value in spec.items() if value is not None}
    return found


def _webhooks(store: Store, snapshot_id: int) -> Objects:
    """Each field of each webhook of a configuration: its rules, selectors, failure policy and endpoint."""
    found: Objects = {}
    for row in store.query("SELECT kind, name, webhooks FROM webhooks WHERE snapshot_id = ?", [snapshot_id]):
        hooks = json.loads(row["webhooks"])
        found[(f"{row['kind']}WebhookConfiguration", row["name"])] = {
            f"webhook {hook.get('name')} {key}": _compact(value)
            for hook in hooks if isinstance(hook, dict) for key, value in hook.items()
            if key != "name" and value is not None}
    return found


def _runtime_classes(store: Store, snapshot_id: int, *, selectors: bool = True) -> Objects:
    """Each RuntimeClass's handler, and its nodeSelector when both snapshots recorded them (compared by content)."""
    found: Objects = {}
    for row in store.query("SELECT name, handler, node_selector FROM runtime_classes WHERE snapshot_id = ?",
                           [snapshot_id]):
        fields: dict[str, str | None] = {"handler": row["handler"]}
        if selectors:
            fields["scheduling.nodeSelector"] = _compact(json.loads(row["node_selector"])) if row["node_selector"] \
                else None
        found[("RuntimeClass", row["name"])] = fields
    return found
