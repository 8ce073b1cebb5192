"""`rbacmap import gke --credentials F`: a key file of either common type loads; a bad one is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from rbacmap.cli import cli
from rbacmap.importers.gcp_credentials import GcpCredentialsError, load_credentials_file

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
EXPECTED = "expected a service-account key or authorized-user JSON file"


def write(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content)
    return str(path)


def service_account_key() -> dict[str, str]:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    return {"type": "service_account", "project_id": "acme-prod", "private_key_id": "k1",
            "private_key": pem.decode(), "client_email": "importer@acme-prod.iam.gserviceaccount.com",
            "client_id": "1", "token_uri": "https://oauth2.googleapis.com/token"}


def test_a_service_account_key_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "key.json", json.dumps(service_account_key()))

    loaded = load_credentials_file(path, SCOPES)

    assert isinstance(loaded, service_account.Credentials)
    assert loaded.service_account_email == "importer@acme-prod.iam.gserviceaccount.com"


def test_an_authorized_user_file_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "adc.json", json.dumps({"type": "authorized_user", "client_id": "id",
                                                   "client_secret": "secret", "refresh_token": "token"}))

    assert isinstance(load_credentials_file(path, SCOPES), user_credentials.Credentials)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("not json at all\n", "is not JSON (Expecting value at line 1 column 1)"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"type": "service_account"}', "Service account info was not in the expected format, missing fields"),
        ('{"type": "external_account"}', "has type 'external_account'"),
        ("{}", "has type None"),
    ],
    ids=["not-json", "json-list", "incomplete-key", "other-type", "no-type"],
)
def test_an_unusable_file_is_named_with_what_was_expected(tmp_path: Path, content: str, problem: str) -> None:
    path = write(tmp_path, "creds.json", content)

    with pytest.raises(GcpCredentialsError) as raised:
        load_credentials_file(path, SCOPES)

    message = str(raised.value)
    assert f"credentials file {path}" in message
    assert problem in message
    assert EXPECTED in message


def test_cli_names_the_credentials_file_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "creds.txt", "not json at all\n")
    db = tmp_path / "rbacmap.db"

    result = CliRunner().invoke(cli, ["import", "gke", "--db", str(db), "--project", "acme-prod", "--location",
                                      "europe-west1", "--cluster-name", "web", "--credentials", path])

    assert result.exit_code == 2, result.output
    assert f"Error: credentials file {path} is not JSON" in result.output and EXPECTED in result.output
    assert not db.exists()
