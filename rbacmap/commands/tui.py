"""`rbacmap tui`: the terminal UI (textual is imported only when this command runs).

The TUI opens the DB read-only (SQLite `mode=ro`) and never creates it. A DB written by an
older rbacmap is migrated here, before the app starts, with a message saying so: the one
write this command may do, and never a silent one.
"""

from __future__ import annotations

import os

import click

from rbacmap.commands.options import MISSING_DB_HINT, cluster_option, db_option, latest, open_store
from rbacmap.store import Store, StoreError


@click.command("tui")
@db_option
@cluster_option
def tui(db_path: str, cluster: str | None) -> None:
    """Browse subjects, roles, who-can, paths, trims and offboarding in a terminal UI (read-only)."""
    if not os.path.exists(db_path):
        raise click.ClickException(f"{db_path} does not exist: {MISSING_DB_HINT}")
    with open_store_read_only(db_path) as store:
        if cluster or len(store.clusters()) <= 1:
            latest(store, cluster)  # fail early, in plain text, on an empty DB or unknown cluster
    from rbacmap.tui.app import run

    run(db_path, cluster)


def open_store_read_only(db_path: str) -> Store:
    """The DB read-only; when its schema is behind, migrate it first and say so."""
    try:
        return Store.open_read_only(db_path)
    except StoreError as exc:
        click.echo(f"upgrading the schema of {db_path} before the read-only TUI starts ({exc})", err=True)
    with open_store(db_path):
        pass
    try:
        return Store.open_read_only(db_path)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc
