"""`--eks-cloudwatch`: a real boto3 logs client against moto's server on loopback, with pagination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from rbacmap.importers.audit import import_observations
from rbacmap.importers.audit_cloudwatch import MAX_STREAMS_PER_CALL, fetch_eks_audit_records
from rbacmap.store import Store
from rbacmap.usage import usage_records


@pytest.fixture
def logs_client() -> Iterator[Any]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield boto3.client("logs", region_name="eu-west-1", endpoint_url=f"http://{host}:{port}",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    finally:
        server.stop()


def test_fetches_every_page_of_audit_streams_only(logs_client: Any, store: Store, audit_dir: Path) -> None:
    group = "/aws/eks/prod/cluster"
    logs_client.create_log_group(logGroupName=group)
    events = [json.loads(line) for line in (audit_dir / "k8s-audit.jsonl").read_text().splitlines()
              if line.endswith("}") and '"verb"' in line][:12]
    now = datetime.now(UTC)  # CloudWatch (and moto) reject events older than 14 days
    stamp = int((now - timedelta(days=1)).timestamp() * 1000)
    for stream in ("kube-apiserver-audit-a", "kube-apiserver-audit-b", "authenticator-x"):
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    half = len(events) // 2
    for stream, chunk in (("kube-apiserver-audit-a", events[:half]), ("kube-apiserver-audit-b", events[half:])):
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
            {"timestamp": stamp + i, "message": json.dumps(e)} for i, e in enumerate(chunk)])
    logs_client.put_log_events(logGroupName=group, logStreamName="authenticator-x",
                               logEvents=[{"timestamp": stamp, "message": "not audit"}])

    class SmallPages:
        """The real client, with FilterLogEvents pages of 3 events so nextToken is followed."""

        def get_paginator(self, name: str) -> Any:
            paginator = logs_client.get_paginator(name)
            if name != "filter_log_events":
                return paginator

            class Limited:
                def paginate(self, **kwargs: Any) -> Any:
                    return paginator.paginate(**kwargs, PaginationConfig={"PageSize": 3})

            return Limited()

    records = list(fetch_eks_audit_records(SmallPages(), "prod", timedelta(days=30), now=now))
    assert len(records) == 12 and MAX_STREAMS_PER_CALL == 100
    result = import_observations(store, "prod", "eks-cloudwatch", "eks", records)
    assert result.errors == [] and result.requests == 10  # two requests were logged at two stages
    assert any(r.username == "system:serviceaccount:web:deployer" for r in usage_records(store, "prod"))
    # --since excludes older events.
    assert list(fetch_eks_audit_records(logs_client, "prod", timedelta(hours=1), now=now)) == []
