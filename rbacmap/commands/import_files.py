"""`rbacmap import files`."""

from __future__ import annotations

import sys

import click

from rbacmap.commands.exit_codes import EXIT_ERROR
from rbacmap.commands.options import db_option, open_store
from rbacmap.importers.manifests import NothingReadError, StrictImportError, import_files
from rbacmap.store import Store, StoreError


@click.command("files")
@db_option
@click.argument("paths", nargs=-1, required=True)
@click.option("--cluster", default="default", show_default=True, help="Cluster name to file the snapshot under.")
@click.option("--strict", is_flag=True, help="Any input error: exit 1 and import nothing.")
@click.option("-n", "--namespace", "default_namespace", default="default", show_default=True,
              help="Namespace for namespaced objects that name none (as kubectl apply -n).")
def files_command(db_path: str, paths: tuple[str, ...], cluster: str, strict: bool, default_namespace: str) -> None:
    """Import YAML/JSON manifests, kubectl dumps, directories, .gz files or - (stdin).

    A bad document or object is reported (file, document, line) and the rest imports. When
    nothing at all can be read (a wrong path, an empty directory or pipe): exit 2, nothing
    is imported and the cluster's previous snapshot stays the latest.
    """
    with open_store(db_path, create=True) as store:
        try:
            result = import_files(store, list(paths), cluster, strict=strict, default_namespace=default_namespace)
        except StrictImportError as exc:
            for error in exc.errors:
                click.echo(f"error: {error.describe()}", err=True)
            click.echo(f"--strict: {len(exc.errors)} error(s); nothing was imported", err=True)
            sys.exit(1)
        except NothingReadError as exc:
            for error in exc.errors:
                click.echo(f"error: {error.describe()}", err=True)
            click.echo(f"error: {exc}; {_still_latest(store, cluster)}", err=True)
            sys.exit(EXIT_ERROR)  # unreadable input is an error (2), not the answer --strict gives (1)
    snapshot = result.snapshot
    for error in result.errors:
        click.echo(f"error: {error.describe()}", err=True)
    counts = ", ".join(f"{n} {kind}" for kind, n in snapshot.object_counts.items()) or "no objects"
    click.echo(f"snapshot {snapshot.id} of cluster {snapshot.cluster}: imported {counts}")
    if snapshot.skipped_counts:
        skipped = ", ".join(f"{n} {kind}" for kind, n in snapshot.skipped_counts.items())
        click.echo(f"skipped (not used by rbacmap): {skipped}")
    rejected = f"{len(result.errors)} document(s)/object(s) with errors" if result.errors else "none"
    click.echo(f"rejected: {rejected}")


def _still_latest(store: Store, cluster: str) -> str:
    try:
        return f"the latest snapshot of cluster {cluster} is still {store.latest_snapshot(cluster).id}"
    except StoreError:
        return f"cluster {cluster} has no snapshot"
