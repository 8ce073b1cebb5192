"""`rbacmap clusters` and `rbacmap snapshots`."""

from __future__ import annotations

import click

from rbacmap.commands.options import db_option, open_store, output_option
from rbacmap.commands.output import emit, format_table
from rbacmap.store import StoreError


@click.command()
@db_option
@output_option("table", "json")
def clusters(db_path: str, output: str) -> None:
    """List the clusters in the DB with their latest complete snapshot."""
    with open_store(db_path) as store:
        rows = store.clusters()
    if output == "json":
        emit(rows, output)
        return
    click.echo(format_table(["cluster", "snapshots", "latest", "first imported"],
                            [[r["name"], r["snapshots"], r["latest"], r["created_at"]] for r in rows]))


@click.command()
@db_option
@click.option("--cluster", help="Only this cluster.")
@click.option("--keep", type=int, help="Prune: keep only the newest N complete snapshots of the cluster.")
@output_option("table", "json")
def snapshots(db_path: str, cluster: str | None, keep: int | None, output: str) -> None:
    """List snapshots (every import is one), or prune old ones with --keep."""
    with open_store(db_path) as store:
        if keep is not None:
            try:
                name = store.resolve_cluster(cluster)
                removed = store.prune(name, keep)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"pruned {len(removed)} snapshot(s) of {name}: {', '.join(map(str, removed)) or 'none'}")
            return
        rows = store.snapshots(cluster)
    if output == "json":
        emit([vars(s) for s in rows], output)
        return
    click.echo(
        format_table(
            ["id", "cluster", "status", "started", "objects", "errors", "incomplete", "source"],
            [
                [
                    s.id, s.cluster, s.status, s.started_at, sum(s.object_counts.values()), s.error_count,
                    ",".join(s.incomplete_kinds) or "-", (s.source if len(s.source) < 60 else s.source[:57] + "..."),
                ]
                for s in rows
            ],
        )
    )
