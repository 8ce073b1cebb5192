"""`rbacmap paths`: who can climb to cluster-admin, secrets or exec, with a proof per finding."""

from __future__ import annotations

import click

from rbacmap.commands.options import cluster_option, db_option, latest, open_store, output_option, warn_if_incomplete
from rbacmap.commands.output import emit, format_table
from rbacmap.solver import TARGET_KINDS, solve
from rbacmap.subjects import SubjectSpecError, parse_subject


@click.command()
@db_option
@cluster_option
@click.option("--subject", "subject_spec", help="user:NAME, group:NAME, sa:NS/NAME or a username.")
@click.option("--target", type=click.Choice(list(TARGET_KINDS)), help="Only findings that reach this target.")
@click.option("-n", "--namespace", help="Only findings that cover this namespace.")
@click.option("--explain", is_flag=True, help="Print each step as a sentence to check with kubectl.")
@output_option("table", "json")
def paths(
    db_path: str, cluster: str | None, subject_spec: str | None, target: str | None, namespace: str | None,
    explain: bool, output: str,
) -> None:
    """Shortest escalation paths of every subject (or one) to cluster-admin, secrets and exec.

    A finding implied by a stronger one of the same subject is left out: asking for
    `--target secrets -n payments` also shows who reaches cluster-admin.
    """
    if subject_spec:
        try:
            parse_subject(subject_spec)
        except SubjectSpecError as exc:
            raise click.UsageError(str(exc)) from exc
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        found = solve(store, snapshot).paths(subject=subject_spec, target=target, namespace=namespace)
    if output == "json":
        emit([path.to_json() for path in found], "json")
        return
    if not found:
        click.echo(f"no escalation path found (snapshot {snapshot.id} of {snapshot.cluster})")
        return
    if explain:
        for path in found:
            click.echo(f"{path.subject} -> {path.target}:")
            for line in path.explain():
                click.echo(f"  {line}")
        return
    click.echo(format_table(
        ["subject", "target", "steps", "path"],
        [[path.subject.spec(), str(path.target), len(path.steps), path.summary()] for path in found],
    ))
