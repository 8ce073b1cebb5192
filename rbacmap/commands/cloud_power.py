"""`rbacmap cloud-power`: the cloud identity (and its power) a compromised pod's ServiceAccount gets."""

from __future__ import annotations

import click

from rbacmap.cloud.pod_power import PodCloudPower, cloud_power_of_workloads
from rbacmap.commands.options import cluster_option, db_option, latest, open_store, output_option, warn_if_incomplete
from rbacmap.commands.output import emit, format_table


@click.command("cloud-power")
@db_option
@cluster_option
@click.option("-n", "--namespace", help="Only service accounts of this namespace.")
@output_option("table", "json")
def cloud_power(db_path: str, cluster: str | None, namespace: str | None, output: str) -> None:
    """ServiceAccount -> IAM role / Google service account, its cloud powers and the pods that run as it.

    Reads the latest snapshot and the latest complete cloud import (`rbacmap import eks|gke`).
    A status of "annotated but NOT admitted" means the annotation names an identity whose trust
    policy or workloadIdentityUser bindings do not let the ServiceAccount in.
    """
    with open_store(db_path) as store:
        snapshot = latest(store, cluster)
        warn_if_incomplete(snapshot)
        report = cloud_power_of_workloads(store, snapshot.cluster, namespace)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if output == "json":
        emit(report.to_json(), "json")
        return
    if not report.rows:
        click.echo(f"no ServiceAccount with a cloud identity (snapshot {snapshot.id} of {snapshot.cluster})")
        return
    click.echo(format_table(
        ["service account", "cloud identity", "via", "status", "powers", "cluster-admin", "workloads"],
        [[r.service_account, r.identity, r.mechanism, r.status, len(r.powers), "yes" if r.cluster_admin else "",
          len(r.workloads)] for r in report.rows],
    ))
    click.echo("")
    for row in report.rows:
        click.echo(_details(row))


def _details(row: PodCloudPower) -> str:
    lines = [f"{row.service_account} -> {row.identity} ({row.status}):"]
    lines += [f"    because {step}" for step in row.provenance]
    lines += [f"    power {p.power}  [{p.provenance}]" for p in row.powers]
    lines += [f"    back into the cluster: {access}" for access in row.cluster_access]
    if row.cluster_admin:
        lines.append(f"    cluster-admin: {row.cluster_admin}")
    lines += [f"    used by {w.describe()}" for w in row.workloads]
    return "\n".join(lines)
