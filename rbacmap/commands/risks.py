"""`rbacmap risks`: dangerous permissions and objects that are not (yet) a full escalation path."""

from __future__ import annotations

import click

from rbacmap.commands.options import cluster_option, db_option, latest, open_store, output_option, warn_if_incomplete
from rbacmap.commands.output import emit, format_table
from rbacmap.solver import find_risks


@click.command()
@db_option
@cluster_option
@output_option("table", "json")
def risks(db_path: str, cluster: str | None, output: str) -> None:
    """Risky permissions (nodes/proxy, cluster-wide secret lists, webhooks, …) with severity and provenance."""
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        found = find_risks(store, snapshot)
    if output == "json":
        emit([risk.to_json() for risk in found], "json")
        return
    rows = []
    for risk in found:
        source = "; ".join([g.describe() for g in risk.grants] + [o.describe() for o in risk.objects])
        subject = risk.subject.spec() if risk.subject else "-"
        rows.append([risk.severity, risk.risk, subject, risk.namespace or "-", source or risk.detail])
    click.echo(format_table(["severity", "risk", "subject", "namespace", "granted by"], rows))
