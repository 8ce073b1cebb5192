"""A kubeconfig the client cannot load is a clear error naming the file (and line), never a traceback."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.importers.kube_auth import KubeconfigError, resolve_targets

VALID = """\
apiVersion: v1
kind: Config
current-context: prod
contexts: [{name: prod, context: {cluster: prod, user: admin}}]
clusters: [{name: prod, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: admin, user: {token: not-a-real-token}}]
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_two_yaml_documents_name_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "multi.yaml", "apiVersion: v1\nkind: Config\n---\napiVersion: v1\n")

    expected = "line 3: not valid YAML: expected a single document in the stream, but found another document"

    with pytest.raises(KubeconfigError, match=f"kubeconfig {re.escape(path)} {expected}"):
        resolve_targets(path)


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "apiVersion: v1\ncontexts: [1\nkind: Config\n")

    expected = re.escape("line 3: not valid YAML: while parsing a flow sequence, expected ',' or ']'")

    with pytest.raises(KubeconfigError, match=f"kubeconfig {re.escape(path)} {expected}"):
        resolve_targets(path)


def test_of_several_kubeconfig_files_the_broken_one_is_named(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", VALID)
    broken = write(tmp_path, "broken.yaml", "a: b\n---\nc: d\n")

    with pytest.raises(KubeconfigError, match=f"kubeconfig {re.escape(broken)} line 2"):
        resolve_targets(os.pathsep.join([good, broken]))


@pytest.mark.parametrize(
    ("text", "context"),
    [
        ("just a string\n", None),
        ("- a list\n", None),
        ("current-context: prod\ncontexts: 5\n", None),
        ("current-context: prod\ncontexts: [{name: prod, context: 7}]\n", "prod"),
    ],
    ids=["scalar", "list", "contexts-not-a-list", "context-not-a-mapping"],
)
def test_a_field_of_the_wrong_type_is_an_error_not_a_crash(tmp_path: Path, text: str, context: str | None) -> None:
    path = write(tmp_path, "shape.yaml", text)

    expected = "not a kubeconfig, a field holds the wrong type"

    with pytest.raises(KubeconfigError, match=f"kubeconfig {re.escape(path)}: {expected}"):
        resolve_targets(path, context=context)


def test_bytes_that_are_not_utf8_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(KubeconfigError, match=f"kubeconfig {re.escape(str(path))}: not UTF-8 text"):
        resolve_targets(str(path))


def test_cli_reports_a_malformed_kubeconfig_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, "multi.yaml", "apiVersion: v1\nkind: Config\n---\napiVersion: v1\n")
    db = tmp_path / "rbacmap.db"

    result = CliRunner().invoke(cli, ["import", "kube", "--db", str(db), "--kubeconfig", path])

    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert f"Error: kubeconfig {path} line 3: not valid YAML" in result.output
    assert not db.exists()  # nothing to import: no DB is created either
