"""Turn offboarding findings into the changes that remove access, for a human to review and apply.

rbacmap never changes a cluster. The fix is a YAML file: rewritten bindings and the patched
aws-auth ConfigMap as documents (`kubectl apply -f`), deletions as `kubectl delete`
commands in comments (YAML cannot express deletion), and cloud-side steps as commented
commands to review.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rbacmap.normalize import DROPPED_ANNOTATIONS, RBAC_GROUP
from rbacmap.offboard_context import AWS_AUTH_REF
from rbacmap.offboard_report import ObjectRef, PersonReport
from rbacmap.store import Store


@dataclass
class ClusterFix:
    cluster: str
    snapshot_id: int
    objects: list[dict[str, Any]] = field(default_factory=list)  # to apply
    deletions: list[ObjectRef] = field(default_factory=list)
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command, note)
    notes: list[str] = field(default_factory=list)

    def delete_commands(self) -> list[str]:
        out = []
        for ref in self.deletions:
            namespace = f" -n {ref.namespace}" if ref.namespace else ""
            out.append(f"kubectl delete {ref.kind.lower()} {ref.name}{namespace}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "snapshot": self.snapshot_id,
            "apply": self.objects,
            "delete": [ref.to_json() for ref in self.deletions],
            "delete_commands": self.delete_commands(),
            "commands": [{"command": c, "note": n or None} for c, n in self.commands],
            "notes": self.notes,
        }


def build_fix(store: Store, reports: list[PersonReport]) -> list[ClusterFix]:
    """One fix per cluster, merging every person's steps (a binding two people share is rewritten once)."""
    by_cluster: dict[str, ClusterFix] = {}
    removals: dict[str, dict[ObjectRef, set[int]]] = defaultdict(lambda: defaultdict(set))
    aws_auth: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for report in reports:
        for cluster in report.clusters:
            fix = by_cluster.setdefault(cluster.cluster, ClusterFix(cluster.cluster, cluster.snapshot_id))
            for finding in cluster.findings:
                if not finding.remains:
                    continue
                for step in finding.fix:
                    if step.action == "remove-subjects" and step.target:
                        removals[cluster.cluster][step.target].update(step.subject_indexes)
                    elif step.action == "delete" and step.target:
                        if step.target not in fix.deletions:
                            fix.deletions.append(step.target)
                            if step.note:
                                fix.notes.append(f"{step.target.logical_name()}: {step.note}")
                    elif step.action == "aws-auth-remove":
                        aws_auth[cluster.cluster].update(step.entries)
                    elif step.action == "command" and (step.command, step.note) not in fix.commands:
                        fix.commands.append((step.command, step.note))
    for name, fix in by_cluster.items():
        for ref, indexes in removals[name].items():
            if ref in fix.deletions:
                continue  # deleted whole (the person created it for nobody else): no rewrite to apply first
            rewritten = _binding_without(store, fix.snapshot_id, ref, indexes)
            if rewritten is None:
                fix.deletions.insert(0, ref)
            else:
                fix.objects.append(rewritten)
        if aws_auth[name]:
            fix.objects.append(_aws_auth_without(store, fix.snapshot_id, aws_auth[name]))
    return list(by_cluster.values())


def _binding_without(store: Store, snapshot_id: int, ref: ObjectRef, drop: set[int]) -> dict[str, Any] | None:
    """The binding as a manifest without the dropped subjects; None when no subject is left."""
    key = [snapshot_id, ref.kind, ref.namespace, ref.name]
    where = "snapshot_id = ? AND kind = ? AND namespace = ? AND name = ?"
    row = store.query(f"SELECT * FROM bindings WHERE {where}", key)[0]
    subjects = store.query(
        "SELECT * FROM binding_subjects WHERE snapshot_id = ? AND binding_kind = ? AND binding_namespace = ?"
        " AND binding_name = ? ORDER BY subject_index",
        key,
    )
    kept = [s for s in subjects if s["subject_index"] not in drop]
    if not kept:
        return None
    metadata: dict[str, Any] = {"name": ref.name}
    if ref.namespace:
        metadata["namespace"] = ref.namespace
    for field_name in ("labels", "annotations"):
        value = json.loads(row[field_name] or "{}")
        if field_name == "annotations":
            # last-applied-configuration is the old object, the person among its subjects: the importers drop it
            # (rbacmap.normalize), a store written otherwise may not have. Someone who later runs `kubectl apply`
            # with an old manifest that still names the person puts them back: that is theirs to fix, not the
            # annotation's.
            value = {k: v for k, v in value.items() if k not in DROPPED_ANNOTATIONS}
        if value:
            metadata[field_name] = value
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": ref.kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": row["role_api_group"], "kind": row["role_kind"], "name": row["role_name"]},
        "subjects": [_subject_manifest(s) for s in kept],
    }


def _subject_manifest(row: dict[str, Any]) -> dict[str, str]:
    out = {"kind": row["kind"], "name": row["name"]}
    if row["api_group"]:
        out["apiGroup"] = row["api_group"]
    if row["namespace"]:
        out["namespace"] = row["namespace"]
    return out


def _aws_auth_without(store: Store, snapshot_id: int, drop: set[tuple[str, int]]) -> dict[str, Any]:
    """kube-system/aws-auth with the dropped mapRoles/mapUsers entries removed, other data unchanged."""
    row = store.query(
        "SELECT data FROM config_maps WHERE snapshot_id = ? AND namespace = ? AND name = ?",
        [snapshot_id, AWS_AUTH_REF.namespace, AWS_AUTH_REF.name],
    )[0]
    data: dict[str, str] = json.loads(row["data"])
    for section in ("mapRoles", "mapUsers"):
        if section not in data or not any(s == section for s, _ in drop):
            continue
        items = yaml.safe_load(data[section]) or []
        kept = [item for index, item in enumerate(items) if (section, index) not in drop]
        data[section] = yaml.safe_dump(kept, sort_keys=False, default_flow_style=False) if kept else "[]\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": AWS_AUTH_REF.name, "namespace": AWS_AUTH_REF.namespace},
        "data": data,
    }


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (aws-auth mapRoles/mapUsers) as `|` blocks, the way people write them."""


def _block_strings(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _block_strings)


def dump_manifest(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False)


def fix_files(fixes: list[ClusterFix], people: list[str], path: Path) -> dict[Path, str]:
    """The fix as files: one, unless several clusters have objects to apply; then one more per such cluster.

    `kubectl apply -f` applies every document of a file to one cluster: with the rewritten
    bindings of two clusters in one file, applying it would write cluster B's bindings (and
    subjects) into cluster A. So each cluster's objects go to a file of their own, named in the
    main file, which keeps the deletions and cloud steps of all of them.
    """
    with_objects = [fix for fix in fixes if fix.objects]
    if len(with_objects) <= 1:
        return {path: render_fix(fixes, people)}
    object_files: dict[str, Path] = {}
    for fix in with_objects:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", fix.cluster).strip("-.") or "cluster"
        candidate = path.with_name(f"{path.stem}.{slug}{path.suffix or '.yaml'}")
        number = 1
        while candidate in object_files.values() or candidate == path:
            number += 1
            candidate = path.with_name(f"{path.stem}.{slug}-{number}{path.suffix or '.yaml'}")
        object_files[fix.cluster] = candidate
    files = {path: render_fix(fixes, people, {name: str(file) for name, file in object_files.items()})}
    for fix in with_objects:
        files[object_files[fix.cluster]] = render_fix([ClusterFix(fix.cluster, fix.snapshot_id, fix.objects)], people)
    return files


def render_fix(fixes: list[ClusterFix], people: list[str], object_files: dict[str, str] | None = None) -> str:
    """The fix file: comments with deletions and cloud steps, then the objects to apply.

    `object_files` (cluster -> file) says where a cluster's objects were written instead of here.
    """
    lines = [
        f"# rbacmap offboard fix for: {', '.join(people)}",
        "# rbacmap never changes a cluster. Review every step, then apply it yourself.",
    ]
    documents: list[str] = []
    for fix in fixes:
        lines += ["#", f"# == cluster {fix.cluster} (snapshot {fix.snapshot_id}) =="]
        step = 0  # numbered in order, over the kinds of step this cluster needs
        elsewhere = (object_files or {}).get(fix.cluster)
        if fix.objects and elsewhere:
            step += 1
            lines.append(f"# {step}. apply the {len(fix.objects)} rewritten object(s) in {elsewhere} to cluster "
                         f"{fix.cluster} only: kubectl apply -f {elsewhere}")
        elif fix.objects:
            step += 1
            lines.append(f"# {step}. apply the {len(fix.objects)} rewritten object(s) below to cluster {fix.cluster}: "
                         "kubectl apply -f THIS_FILE")
        if fix.deletions:
            step += 1
            lines.append(f"# {step}. delete (YAML cannot express deletion):")
            lines += [f"#    {command}" for command in fix.delete_commands()]
        if fix.commands:
            step += 1
            lines.append(f"# {step}. cloud-side steps to review:")
            for command, note in fix.commands:
                lines.append(f"#    {command}" + (f"   # {note}" if note else ""))
        lines += [f"# note: {note}" for note in fix.notes]
        if not (fix.objects or fix.deletions or fix.commands):
            lines.append("# nothing to change")
        for obj in [] if elsewhere else fix.objects:
            documents.append(
                f"# cluster {fix.cluster}\n" + dump_manifest(obj)
            )
    text = "\n".join(lines) + "\n"
    if documents:
        text += "---\n" + "---\n".join(documents)
    return text
