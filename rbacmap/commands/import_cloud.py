"""`rbacmap import eks` and `rbacmap import gke`: cloud IAM into a cloud import of a cluster."""

from __future__ import annotations

from typing import Any

import click

from rbacmap.cloud.model import CloudImport
from rbacmap.commands.options import db_option, open_store


def _report(imported: CloudImport, counts: dict[str, int]) -> None:
    click.echo(f"cloud import {imported.id} of cluster {imported.cluster} ({imported.provider} "
               f"{imported.cloud_cluster}): " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    for note in imported.notes:
        click.echo(f"note: {note}", err=True)


def _counts(store: Any, imported: CloudImport) -> dict[str, int]:
    from rbacmap.cloud.store import load_cloud_graph

    graph = load_cloud_graph(store, imported)
    return {"identity mappings": len(graph.mappings), "cloud grants": len(graph.grants),
            "edges": len(graph.edges), "cloud powers": len(graph.powers)}


@click.command("eks")
@db_option
@click.option("--cluster-name", required=True, help="The EKS cluster's name in AWS.")
@click.option("--region", help="AWS region (default: the profile's).")
@click.option("--profile", help="AWS profile for credentials.")
@click.option("--cluster", "cluster_key", help="rbacmap cluster to file it under (default: --cluster-name).")
@click.option("--eks-endpoint", envvar="RBACMAP_EKS_ENDPOINT", help="Override the EKS API endpoint URL.")
@click.option("--iam-endpoint", envvar="RBACMAP_IAM_ENDPOINT", help="Override the IAM API endpoint URL.")
def eks_command(db_path: str, cluster_name: str, region: str | None, profile: str | None, cluster_key: str | None,
                eks_endpoint: str | None, iam_endpoint: str | None) -> None:
    """Import an EKS cluster's access entries, aws-auth, IRSA, Pod Identity and IAM paths."""
    import boto3
    import botocore.exceptions

    from rbacmap.importers.eks import import_eks

    endpoints = {k: v for k, v in (("eks", eks_endpoint), ("iam", iam_endpoint)) if v}
    with open_store(db_path, create=True) as store:
        try:
            session = boto3.Session(profile_name=profile, region_name=region)
            imported = import_eks(store, session, cluster_name, cluster_key or cluster_name, region=region,
                                  endpoint_urls=endpoints)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError, ValueError) as exc:
            raise click.ClickException(f"EKS import of {cluster_name} failed: {exc}") from exc
        _report(imported, _counts(store, imported))


@click.command("gke")
@db_option
@click.option("--project", required=True, help="GCP project id.")
@click.option("--location", required=True, help="Cluster location (region or zone).")
@click.option("--cluster-name", required=True, help="The GKE cluster's name.")
@click.option("--cluster", "cluster_key", help="rbacmap cluster to file it under (default: --cluster-name).")
@click.option("--credentials", type=click.Path(exists=True, dir_okay=False),
              help="Service-account key or authorized-user JSON file (default: Application Default Credentials).")
@click.option("--api-root", envvar="RBACMAP_GCP_API_ROOT",
              help="Serve every Google API from this URL root (tests, private endpoints).")
def gke_command(db_path: str, project: str, location: str, cluster_name: str, cluster_key: str | None,
                credentials: str | None, api_root: str | None) -> None:
    """Import a GKE cluster's IAM: project roles, custom roles, Workload Identity, impersonation."""
    import google.auth
    import google.auth.exceptions
    from google.auth.transport.requests import AuthorizedSession

    from rbacmap.importers.gcp_credentials import GcpCredentialsError, load_credentials_file
    from rbacmap.importers.gke import GcpEndpoints, GkeApiError, import_gke

    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
    try:
        creds: Any = load_credentials_file(credentials, scopes) if credentials else None
    except GcpCredentialsError as exc:
        raise click.ClickException(str(exc)) from exc
    with open_store(db_path, create=True) as store:
        try:
            if creds is None:
                creds, _ = google.auth.default(scopes=scopes)
            session = AuthorizedSession(creds)  # type: ignore[no-untyped-call]
            endpoints = GcpEndpoints.rooted_at(api_root) if api_root else GcpEndpoints()
            imported = import_gke(store, session, project, location, cluster_name, cluster_key or cluster_name,
                                  endpoints=endpoints)
        except (google.auth.exceptions.GoogleAuthError, GkeApiError, ValueError) as exc:
            raise click.ClickException(f"GKE import of {cluster_name} failed: {exc}") from exc
        _report(imported, _counts(store, imported))
