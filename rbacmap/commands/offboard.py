"""`rbacmap offboard`: what departed people can still do, how, and the fix that removes it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from rbacmap.commands.options import db_option, open_store
from rbacmap.commands.output import format_table
from rbacmap.offboard import cluster_names, offboard
from rbacmap.offboard_fix import build_fix, fix_files
from rbacmap.offboard_identity import Person, PersonSpecError, parse_person, read_people_file
from rbacmap.offboard_report import PersonReport
from rbacmap.sarif import offboard_sarif
from rbacmap.store import StoreError

EXIT_CLEAN, EXIT_REMAINS, EXIT_ERROR = 0, 1, 2


class OffboardError(click.ClickException):
    """Any error: exit 2, so CI gates can tell an error from "access remains" (1)."""

    exit_code = EXIT_ERROR


@click.command("offboard")
@db_option
@click.argument("people", nargs=-1, metavar="PERSON...")
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False),
              help="Departed people, one per line (identifiers separated by commas or spaces).")
@click.option("--group", "groups", multiple=True,
              help="A group the people are known to be in (repeatable), e.g. from the identity provider.")
@click.option("--cluster", help="Cluster to check (needed when the DB holds several).")
@click.option("--all-clusters", is_flag=True, help="Check every cluster in the DB.")
@click.option("-o", "--output", type=click.Choice(["table", "json", "sarif"]), default="table", show_default=True)
@click.option("--export-fix", "export_fix", type=click.Path(dir_okay=False),
              help="Write the changes that remove the access (YAML + commands to review) to this file; "
                   "when several clusters have objects to apply, each cluster's go to a file of their own "
                   "(fix.yaml: fix.CLUSTER.yaml), named in FILE.")
def offboard_command(
    db_path: str, people: tuple[str, ...], from_file: str | None, groups: tuple[str, ...], cluster: str | None,
    all_clusters: bool, output: str, export_fix: str | None,
) -> None:
    """Everything a departed PERSON can still do, and what to delete.

    A PERSON is any of their identifiers, several joined with commas: Kubernetes username
    (OIDC email, certificate CN), AWS ARN (IAM user or assumed-role session), GCP member
    (user:alice@example.com). Exit 0: nothing remains; 1: something remains; 2: error.
    rbacmap never changes a cluster: --export-fix writes the changes for you to review.
    """
    try:
        persons = _people(people, from_file, groups)
        if cluster and all_clusters:
            raise OffboardError("give --cluster or --all-clusters, not both")
        with open_store(db_path) as store:
            clusters = cluster_names(store, cluster, all_clusters)
            if not clusters:
                raise OffboardError(f"{db_path} holds no cluster with a complete snapshot")
            reports = offboard(store, persons, clusters)
            fixes = build_fix(store, reports) if export_fix else []
    except (StoreError, PersonSpecError, OSError) as exc:
        raise OffboardError(str(exc)) from exc
    except click.ClickException as exc:
        if isinstance(exc, OffboardError | click.UsageError):
            raise
        raise OffboardError(exc.message) from exc
    for report in reports:
        for cluster_report in report.clusters:
            for warning in cluster_report.warnings:
                click.echo(f"warning: {cluster_report.cluster}: {warning}", err=True)
    if export_fix:
        files = fix_files(fixes, [p.label for p in persons], Path(export_fix))
        for path, text in files.items():
            try:
                path.write_text(text)
            except OSError as exc:
                raise OffboardError(f"cannot write {path}: {exc}") from exc
        more = f" (each cluster's objects to apply in its own file: {', '.join(str(p) for p in list(files)[1:])})" \
            if len(files) > 1 else ""
        click.echo(f"fix written to {export_fix}{more} (review it; rbacmap changes nothing)", err=True)
    if output == "json":
        data = {"remains": any(r.remains for r in reports), "people": [r.to_json() for r in reports]}
        if export_fix:
            data["fix"] = [fix.to_json() for fix in fixes]
        click.echo(json.dumps(data, indent=2, default=str))
    elif output == "sarif":
        click.echo(json.dumps(offboard_sarif(reports), indent=2, default=str))
    else:
        for report in reports:
            click.echo(_table(report))
    sys.exit(EXIT_REMAINS if any(r.remains for r in reports) else EXIT_CLEAN)


def _people(people: tuple[str, ...], from_file: str | None, groups: tuple[str, ...]) -> list[Person]:
    persons = [parse_person(spec, groups) for spec in people]
    if from_file:
        persons += read_people_file(from_file, Path(from_file).read_text(encoding="utf-8"), groups)
    if not persons:
        raise click.UsageError("name at least one PERSON, or give --from-file")
    return persons


def _table(report: PersonReport) -> str:
    lines = [f"== {report.person.label} ({', '.join(report.person.identifiers)}): "
             + ("ACCESS REMAINS" if report.remains else "nothing remains")]
    for cluster in report.clusters:
        lines.append(f"-- cluster {cluster.cluster} (snapshot {cluster.snapshot_id})")
        lines.append("identities:")
        for identity in cluster.identities:
            groups = f" groups {', '.join(identity.groups)}" if identity.groups else ""
            shared = " (shared with others: the fix leaves its bindings)" if identity.shared else ""
            lines.append(f"  {identity.username or '<any session>'}{groups}{shared}  <- {identity.via}")
        if cluster.findings:
            lines.append(format_table(
                ["finding", "object", "detail"],
                [[f.type + ("" if f.remains else " (info)"), f.location.logical_name() if f.location else "-",
                  f.message + (f" -> {f.remediation}" if f.remediation else "")] for f in cluster.findings],
            ))
        if cluster.permissions:
            lines.append("can still do:")
            current = None
            for permission in cluster.permissions:
                scope = permission.scope or "cluster-wide"
                if scope != current:
                    lines.append(f"  {scope}:")
                    current = scope
                lines.append(f"    {permission.rule}  via {permission.granted_by}")
        skipped = [name for name, used in cluster.sources.items() if not used]
        if skipped:
            lines.append(f"sources not available: {', '.join(skipped)}")
    return "\n".join(lines) + "\n"
