"""`rbacmap import audit` and `rbacmap usage`."""

from __future__ import annotations

import sys

import click

from rbacmap.commands.exit_codes import EXIT_ERROR
from rbacmap.commands.options import cluster_option, db_option, open_store, output_option
from rbacmap.commands.output import emit, format_table
from rbacmap.importers.audit import FORMATS, AuditImportResult, NothingReadError, import_audit, import_observations
from rbacmap.importers.audit_parallel import ParallelImportError
from rbacmap.store import StoreError
from rbacmap.usage import impersonations, parse_duration, usage_records, usage_window


@click.command("audit")
@db_option
@click.argument("paths", nargs=-1)
@click.option("--cluster", help="Cluster the logs belong to (default: --cluster-name, else 'default').")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="k8s audit events, EKS CloudWatch records, GKE Cloud Logging entries.")
@click.option("--eks-cloudwatch", is_flag=True, help="Read the EKS audit log group through boto3 instead of files.")
@click.option("--cluster-name", help="EKS cluster name (log group /aws/eks/NAME/cluster).")
@click.option("--since", default="30d", show_default=True, help="With --eks-cloudwatch: how far back (30d, 12h).")
@click.option("--region", help="AWS region for --eks-cloudwatch.")
@click.option("--profile", help="AWS profile for --eks-cloudwatch.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Processes for large plain (not gzip) files; default one per CPU, at most 4; 1 = one process.")
def audit_command(
    db_path: str, paths: tuple[str, ...], cluster: str | None, fmt: str, eks_cloudwatch: bool,
    cluster_name: str | None, since: str, region: str | None, profile: str | None, jobs: int | None,
) -> None:
    """Import Kubernetes audit logs (JSON lines, .gz, dirs, - for stdin) as observed usage."""
    with open_store(db_path, create=True) as store:
        if eks_cloudwatch:
            if not cluster_name:
                raise click.UsageError("--eks-cloudwatch needs --cluster-name")
            import boto3
            import botocore.exceptions

            from rbacmap.importers.audit_cloudwatch import CloudWatchReadError, fetch_eks_audit_records, log_group_for

            try:
                window = parse_duration(since)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--since") from exc
            try:
                client = boto3.Session(profile_name=profile, region_name=region).client("logs")
                records = fetch_eks_audit_records(client, cluster_name, window)
                result = import_observations(store, cluster or cluster_name, f"eks-cloudwatch: "
                                             f"{log_group_for(cluster_name)}", "eks", records)
            except (CloudWatchReadError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
                # Session and client setup fail with botocore's errors; reading the group, with ours.
                raise click.ClickException(f"EKS audit import of {cluster_name} failed: {exc}\n"
                                           "nothing was imported") from exc
        else:
            if not paths:
                raise click.UsageError("give audit log PATHs (or - for stdin), or --eks-cloudwatch")
            try:
                result = import_audit(store, list(paths), cluster or "default", fmt=fmt, workers=jobs)
            except ParallelImportError as exc:
                raise click.ClickException(f"{exc}\nnothing was imported; --jobs 1 imports in one process") from exc
            except NothingReadError as exc:
                for error in exc.errors:
                    click.echo(f"error: {error.describe()}", err=True)
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_ERROR)  # unreadable input is an error (2), as for `import files`
    report_import(result)


def report_import(result: AuditImportResult) -> None:
    for error in result.errors:
        click.echo(f"error: {error.describe()}", err=True)
    click.echo(f"audit import {result.import_id} into cluster {result.cluster}: {result.lines} line(s), "
               f"{result.events} record(s), {result.requests} request(s) counted once each")
    if result.already_imported:
        click.echo(f"skipped: {result.already_imported} request(s) already imported (an earlier import of "
                   f"{result.cluster} counted their auditID)")
    if result.without_audit_id:
        click.echo(f"note: {result.without_audit_id} request(s) had no auditID: counted, though nothing tells "
                   "whether an earlier import counted them too")
    nothing_new = not result.requests and result.already_imported
    click.echo("window: no new request" if nothing_new else f"window: {result.window.describe()}")
    click.echo(f"rejected: {len(result.errors)} record(s) with errors" if result.errors else "rejected: none")


@click.command("usage")
@db_option
@cluster_option
@click.option("--user", "username", help="Only this acting user.")
@click.option("--since", help="Only requests seen in the last DURATION of the logs (e.g. 30d).")
@click.option("--denied", is_flag=True, help="Only denied requests.")
@output_option("table", "json")
def usage_command(db_path: str, cluster: str | None, username: str | None, since: str | None, denied: bool,
                  output: str) -> None:
    """List observed API usage from imported audit logs (acting user, request, decision, count)."""
    with open_store(db_path) as store:
        try:
            name = store.resolve_cluster(cluster)
            window = usage_window(store, name, parse_duration(since) if since else None)
        except (StoreError, ValueError) as exc:
            raise click.ClickException(str(exc)) from exc
        records = [r for r in usage_records(store, name, window, username) if not denied or r.decision == "deny"]
        seen_impersonations = impersonations(store, name)
    if output == "json":
        emit({"cluster": name, "window": {"start": window.start, "end": window.end},
              "usage": [{"user": r.username, "request": r.request.describe(), "decision": r.decision,
                         "count": r.count, "first_seen": r.first_seen, "last_seen": r.last_seen} for r in records],
              "impersonations": seen_impersonations}, output)
        return
    click.echo(f"usage in {name}, window {window.describe()}:")
    click.echo(format_table(["user", "request", "decision", "count", "last seen"],
                            [[r.username, r.request.describe(), r.decision, r.count, r.last_seen] for r in records]))
    for row in seen_impersonations:
        click.echo(f"impersonation: {row['impersonator']} acted as {row['username']} ({row['count']} request(s))")
