"""`rbacmap diff`: what changed between two snapshots (exit 1 when anything did, for CI drift gates; 2: error)."""

from __future__ import annotations

import sys

import click

from rbacmap.commands.options import cluster_option, db_option, open_store, output_option
from rbacmap.commands.output import emit
from rbacmap.diff import ObjectChange, SnapshotDiff, chosen_snapshots, diff_snapshots
from rbacmap.store import StoreError

SIGNS = {"added": "+", "removed": "-", "changed": "~", "gained": "+", "lost": "-"}


@click.command("diff")
@db_option
@cluster_option
@click.argument("old", type=int, required=False)
@click.argument("new", type=int, required=False)
@click.option("--no-paths", is_flag=True, help="Do not compare escalation paths (faster on big clusters).")
@click.option("--across-clusters", is_flag=True,
              help="Allow OLD and NEW of different clusters (compare two clusters, not a cluster's drift).")
@output_option("table", "json")
def diff_command(db_path: str, cluster: str | None, old: int | None, new: int | None, no_paths: bool,
                 across_clusters: bool, output: str) -> None:
    """Compare snapshots OLD and NEW (default: the cluster's two latest complete ones).

    Shows roles and rules, bindings and subjects, service accounts, admission control (Pod
    Security configuration and namespace levels, admission policies, webhooks, RuntimeClasses)
    and escalation paths added, removed or changed. Exit 0 when identical, 1 when different,
    2 on an error (unknown snapshot or cluster, fewer than two snapshots, a failed import's
    snapshot, OLD and NEW of different clusters without --across-clusters, or one not of --cluster).
    """
    if (old is None) != (new is None):
        raise click.UsageError("give both OLD and NEW snapshot ids, or neither")
    with open_store(db_path) as store:
        try:
            before, after = chosen_snapshots(store, cluster, old, new, across_clusters=across_clusters)
        except StoreError as exc:
            raise click.ClickException(str(exc)) from exc
        result = diff_snapshots(store, before, after, compare_paths=not no_paths)
    for warning in result.warnings:
        click.echo(f"warning: {warning}; removals may only mean the importer could not see them", err=True)
    if output == "json":
        emit(result.to_json(), output)
    else:
        click.echo("\n".join(format_diff(result)))
    sys.exit(0 if result.identical else 1)


def format_diff(result: SnapshotDiff) -> list[str]:
    old, new = result.old, result.new
    lines = [f"snapshot {old.id} ({old.cluster}, {old.started_at}) -> snapshot {new.id} "
             f"({new.cluster}, {new.started_at})"]
    for title, changes in (("roles", result.roles), ("bindings", result.bindings),
                           ("service accounts", result.service_accounts), ("admission control", result.admission)):
        if changes:
            lines.append(f"{title}:")
            for change in changes:
                lines.extend(_object_lines(change))
    if result.paths:
        lines.append("escalation paths:")
        for path in result.paths:
            lines.append(f"  {SIGNS[path.change]} {path.change} {path.subject} -> {path.target}: {path.proof}")
    if result.paths_note:
        lines.append(f"note: {result.paths_note}")
    lines.extend(f"note: {note}" for note in result.admission_notes)
    lines.append("identical" if result.identical else _summary(result))
    return lines


def _object_lines(change: ObjectChange) -> list[str]:
    lines = [f"  {SIGNS[change.change]} {change.change} {change.ref}"]
    for field in change.fields:
        lines.append(f"      {field.field}: {field.old or '-'} -> {field.new or '-'}")
    lines.extend(f"      + {member}" for member in change.members_added)
    lines.extend(f"      - {member}" for member in change.members_removed)
    return lines


def _summary(result: SnapshotDiff) -> str:
    parts = [f"{len(changes)} {title}" for title, changes in (
        ("role(s)", result.roles), ("binding(s)", result.bindings), ("service account(s)", result.service_accounts),
        ("admission object(s)", result.admission), ("escalation path(s)", result.paths)) if changes]
    return "changed: " + ", ".join(parts)
