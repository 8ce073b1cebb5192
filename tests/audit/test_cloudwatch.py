"""`--eks-cloudwatch`: a real boto3 logs client against moto's server on loopback, with pagination."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner
from moto.server import ThreadedMotoServer

from rbacmap.cli import cli
from rbacmap.importers.audit import import_observations
from rbacmap.importers.audit_cloudwatch import MAX_STREAMS_PER_CALL, CloudWatchReadError, fetch_eks_audit_records
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


def _stored_audit_rows(store: Store) -> dict[str, int]:
    tables = ("audit_imports", "audit_import_errors", "audit_usage", "audit_user_groups", "audit_impersonations")
    return {table: store.query(f"SELECT count(*) AS n FROM {table}")[0]["n"] for table in tables}


def test_missing_log_group_is_a_read_error_and_stores_nothing(logs_client: Any, store: Store) -> None:
    records = fetch_eks_audit_records(logs_client, "absent", timedelta(days=1))
    with pytest.raises(CloudWatchReadError, match="/aws/eks/absent/cluster: .*ResourceNotFoundException"):
        import_observations(store, "prod", "eks-cloudwatch", "eks", records)
    assert set(_stored_audit_rows(store).values()) == {0}


def test_failure_on_a_later_page_rolls_back_the_records_already_read(store: Store, audit_dir: Path) -> None:
    events = [{"message": line} for line in (audit_dir / "k8s-audit.jsonl").read_text().splitlines()
              if line.endswith("}") and '"verb"' in line][:5]
    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "FilterLogEvents")

    class SecondPageFails:
        """A logs client whose FilterLogEvents serves one page of events, then fails."""

        def get_paginator(self, name: str) -> Any:
            class Pages:
                def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
                    if name == "describe_log_streams":
                        yield {"logStreams": [{"logStreamName": "kube-apiserver-audit-a"}]}
                        return
                    yield {"events": events}
                    raise throttled

            return Pages()

    records = fetch_eks_audit_records(SecondPageFails(), "prod", timedelta(days=1))
    with pytest.raises(CloudWatchReadError, match="Rate exceeded") as raised:
        import_observations(store, "prod", "eks-cloudwatch", "eks", records, flush_keys=1)
    assert raised.value.__cause__ is throttled
    assert set(_stored_audit_rows(store).values()) == {0}


def test_cli_without_credentials_is_a_clear_error(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """The reviewer's case: no AWS credentials anywhere (and no instance metadata to ask)."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                     "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                     "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = CliRunner().invoke(cli, ["import", "audit", "--db", str(store.path), "--eks-cloudwatch",
                                      "--cluster-name", "x", "--region", "eu-west-1"])
    assert result.exit_code == 2  # an error, not an answer
    assert not isinstance(result.exception, ClientError) and "Traceback" not in result.output
    assert "Error: EKS audit import of x failed: reading log group /aws/eks/x/cluster: Unable to locate " \
           "credentials" in result.output
    assert "nothing was imported" in result.output
    assert set(_stored_audit_rows(store).values()) == {0}
    # A profile that does not exist fails before any request, just as clearly.
    result = CliRunner().invoke(cli, ["import", "audit", "--db", str(store.path), "--eks-cloudwatch",
                                      "--cluster-name", "x", "--profile", "nope"])
    assert result.exit_code == 2 and "EKS audit import of x failed: The config profile (nope) could not be found" \
        in result.output
