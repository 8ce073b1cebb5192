"""What the cloud importers need from the cluster's latest Kubernetes snapshot."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from rbacmap.store import Store, StoreError


@dataclass(frozen=True)
class ServiceAccountInfo:
    namespace: str
    name: str
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@dataclass(frozen=True)
class K8sContext:
    """Service accounts (with annotations) and the aws-auth ConfigMap data of one snapshot."""

    snapshot_id: int | None
    service_accounts: tuple[ServiceAccountInfo, ...] = ()
    aws_auth: dict[str, str] | None = None


def load_k8s_context(store: Store, cluster: str) -> K8sContext:
    """The latest complete snapshot's facts; empty when the cluster has no snapshot yet."""
    try:
        snapshot = store.latest_snapshot(cluster)
    except StoreError:
        return K8sContext(None)
    accounts = tuple(
        ServiceAccountInfo(row["namespace"], row["name"], json.loads(row["annotations"]))
        for row in store.query(
            "SELECT namespace, name, annotations FROM service_accounts WHERE snapshot_id = ? ORDER BY namespace, name",
            [snapshot.id],
        )
    )
    rows = store.query(
        "SELECT data FROM config_maps WHERE snapshot_id = ? AND namespace = 'kube-system' AND name = 'aws-auth'",
        [snapshot.id],
    )
    aws_auth = json.loads(rows[0]["data"]) if rows else None
    return K8sContext(snapshot.id, accounts, aws_auth)
