"""EKS control-plane audit logs straight from CloudWatch Logs (client injected, pages followed).

EKS writes audit events to log group `/aws/eks/NAME/cluster`, streams `kube-apiserver-audit-*`;
each CloudWatch event's `message` is one Kubernetes audit event as JSON. Any AWS failure
(credentials, permissions, a missing group, the network) is raised as `CloudWatchReadError`,
also midway: records are read lazily inside the import's transaction, which it then rolls back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

AUDIT_STREAM_PREFIX = "kube-apiserver-audit-"
MAX_STREAMS_PER_CALL = 100  # FilterLogEvents accepts at most 100 logStreamNames


class CloudWatchReadError(RuntimeError):
    """Reading the EKS audit log group from CloudWatch Logs failed."""


def log_group_for(cluster_name: str) -> str:
    return f"/aws/eks/{cluster_name}/cluster"


def audit_streams(logs_client: Any, log_group: str) -> list[str]:
    """Names of the audit log streams of the group, every page."""
    names: list[str] = []
    paginator = logs_client.get_paginator("describe_log_streams")
    for page in paginator.paginate(logGroupName=log_group, logStreamNamePrefix=AUDIT_STREAM_PREFIX):
        names.extend(stream["logStreamName"] for stream in page.get("logStreams", []))
    return names


def fetch_eks_audit_records(
    logs_client: Any, cluster_name: str, since: timedelta, now: datetime | None = None
) -> Iterator[tuple[int | None, Any]]:
    """(index, CloudWatch event) for every audit event newer than `since`, following nextToken pages.

    Raises CloudWatchReadError, naming the log group, when AWS fails (at any page).
    """
    log_group = log_group_for(cluster_name)
    try:
        yield from _audit_events(logs_client, log_group, (now or datetime.now(UTC)) - since)
    except (BotoCoreError, ClientError) as exc:
        raise CloudWatchReadError(f"reading log group {log_group}: {exc}") from exc


def _audit_events(logs_client: Any, log_group: str, start: datetime) -> Iterator[tuple[int | None, Any]]:
    start_ms = int(start.timestamp() * 1000)
    streams = audit_streams(logs_client, log_group)
    paginator = logs_client.get_paginator("filter_log_events")
    index = 0
    for offset in range(0, len(streams), MAX_STREAMS_PER_CALL):
        batch = streams[offset : offset + MAX_STREAMS_PER_CALL]
        for page in paginator.paginate(logGroupName=log_group, logStreamNames=batch, startTime=start_ms):
            for event in page.get("events", []):
                index += 1
                yield index, event
