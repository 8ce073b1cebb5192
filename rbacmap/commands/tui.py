"""`rbacmap tui`: the terminal UI (textual is imported only when this command runs)."""

from __future__ import annotations

import click

from rbacmap.commands.options import cluster_option, db_option, latest, open_store


@click.command("tui")
@db_option
@cluster_option
def tui(db_path: str, cluster: str | None) -> None:
    """Browse subjects, roles, who-can, paths, trims and offboarding in a terminal UI (read-only)."""
    with open_store(db_path) as store:
        if cluster or len(store.clusters()) <= 1:
            latest(store, cluster)  # fail early, in plain text, on an empty DB or unknown cluster
    from rbacmap.tui.app import run

    run(db_path, cluster)
