"""Options every command shares, and the store they open."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from rbacmap.store import Snapshot, Store, StoreError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_DB = "./rbacmap.db"


def db_option(func: F) -> F:
    return click.option(
        "--db",
        "db_path",
        envvar="RBACMAP_DB",
        default=DEFAULT_DB,
        show_default=True,
        show_envvar=True,
        type=click.Path(dir_okay=False),
        help="SQLite file holding the snapshots.",
    )(func)


def cluster_option(func: F) -> F:
    return click.option("--cluster", help="Cluster to query (needed when the DB holds several).")(func)


def output_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    def decorate(func: F) -> F:
        return click.option(
            "-o", "--output", "output", type=click.Choice(list(choices)), default=default, show_default=True
        )(func)

    return decorate


MISSING_DB_HINT = "import a cluster first (`rbacmap import files` or `rbacmap import kube`)"


@contextmanager
def open_store(db_path: str, *, create: bool = False) -> Iterator[Store]:
    """The store at db_path; only import commands pass create=True (a typo'd --db must not leave a file)."""
    try:
        store = Store(db_path, create=create)
    except StoreError as exc:  # the only one Store raises on opening: the file is missing
        raise click.ClickException(f"{exc}: {MISSING_DB_HINT}") from exc
    except Exception as exc:  # sqlite3.DatabaseError and friends: name the file
        raise click.ClickException(f"cannot open {db_path}: {exc}") from exc
    try:
        yield store
    finally:
        store.close()


def latest(store: Store, cluster: str | None) -> Snapshot:
    try:
        return store.latest_snapshot(cluster)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from exc


def warn_if_incomplete(snapshot: Snapshot) -> None:
    """Every answer from an incomplete snapshot, or one whose import rejected input, says so (on stderr, so
    JSON stays clean)."""
    warning = snapshot.incompleteness_warning()
    if warning:
        click.echo(f"warning: {warning}; answers may miss permissions", err=True)
    if snapshot.error_count:
        click.echo(f"warning: the import of snapshot {snapshot.id} of {snapshot.cluster} rejected "
                   f"{snapshot.error_count} document(s)/object(s) (listed by that import, kept in the import_errors "
                   "table); answers miss whatever they held", err=True)
