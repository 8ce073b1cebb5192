"""`rbacmap import eks|gke` and cloud answers in `rbacmap who-can`, end to end through click."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
ACCOUNT = "123456789012"


@pytest.fixture()
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))


def test_eks_import_then_who_can_shows_the_assume_role_path(
    tmp_path: Path, eks_world: dict[str, Any], aws_env: None
) -> None:
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["import", "files", str(FIXTURES / "eks-cluster.yaml"), "--cluster", "prod",
                                 "--db", db])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["import", "eks", "--db", db, "--cluster-name", "prod", "--region", "eu-west-1",
                                 "--eks-endpoint", eks_world["endpoints"]["eks"],
                                 "--iam-endpoint", eks_world["endpoints"]["iam"]])
    assert result.exit_code == 0, result.output
    assert "cloud import 1 of cluster prod (eks arn:aws:eks:eu-west-1:" in result.output

    result = runner.invoke(cli, ["who-can", "delete", "nodes", "--db", db, "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["subject"]["name"]: r for r in json.loads(result.output)["subjects"]}
    alice = rows[f"arn:aws:iam::{ACCOUNT}:user/alice"]
    assert alice["subject"]["kind"] == "AWSPrincipal"
    assert alice["binding"] == "ClusterRoleBinding platform-admins"
    assert "-[sts:AssumeRole]-> arn:aws:iam::123456789012:role/eks-admins" in alice["via"][0]
    assert "access entry arn:aws:iam::123456789012:role/eks-admins" in alice["via"][1]
    assert f"arn:aws:iam::{ACCOUNT}:user/bob" not in rows  # explicit Deny
    assert f"arn:aws:iam::{ACCOUNT}:user/carol" not in rows  # only reads configmaps in payments

    result = runner.invoke(cli, ["who-can", "get", "configmaps", "-n", "payments", "--db", db])
    assert result.exit_code == 0, result.output
    assert "AWSPrincipal" in result.output and "cloud identities, step by step:" in result.output
    assert "aws-auth ConfigMap kube-system/aws-auth mapUsers[0]" in result.output
    assert "access policy AmazonEKSViewPolicy" in result.output  # eks-viewers, and carol through it


def test_gke_import_command(tmp_path: Path, gke_world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import google.auth
    from google.oauth2.credentials import Credentials

    # The CLI builds its session from ADC; give it static test credentials.
    monkeypatch.setattr(google.auth, "default", lambda scopes=None: (Credentials(token="test"), "acme-prod"))  # type: ignore[no-untyped-call]
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    assert runner.invoke(cli, ["import", "files", str(FIXTURES / "gke-cluster.yaml"), "--cluster", "web",
                               "--db", db]).exit_code == 0
    result = runner.invoke(cli, ["import", "gke", "--db", db, "--project", "acme-prod", "--location",
                                 "europe-west1", "--cluster-name", "web", "--api-root", gke_world.url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["who-can", "get", "secrets", "-n", "payments", "--db", db, "-o", "json"])
    names = {r["subject"]["name"] for r in json.loads(result.output)["subjects"]}
    assert "group:payments-oncall@acme.example" in names and "group:interns@acme.example" not in names
    result = runner.invoke(cli, ["import", "gke", "--db", db, "--project", "acme-prod", "--location",
                                 "europe-west1", "--cluster-name", "missing", "--cluster", "web",
                                 "--api-root", gke_world.url])
    assert result.exit_code == 2 and "GKE import of missing failed" in result.output
