"""Read-only commands never create the DB a mistyped --db names; only `rbacmap import …` does."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli

READ_ONLY_COMMANDS = [
    ["clusters"],
    ["snapshots"],
    ["snapshots", "--keep", "1", "--cluster", "demo"],
    ["can", "alice", "get", "pods"],
    ["who-can", "get", "pods"],
    ["check", "--requests", "-"],
    ["paths"],
    ["cloud-power"],
    ["risks"],
    ["diff"],
    ["usage"],
    ["trim", "--all"],
    ["generate", "--subject", "user:alice"],
    ["offboard", "alice"],
    ["tui"],
]


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=lambda command: " ".join(command))
def test_read_only_commands_refuse_a_missing_db_and_create_nothing(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "typo.db"

    result = CliRunner().invoke(cli, [*command, "--db", str(missing)], input="")

    assert result.exit_code == 2, result.output
    assert f"{missing} does not exist: import a cluster first" in result.output
    assert not list(tmp_path.iterdir())  # neither the DB nor its -wal/-shm files


def test_import_commands_still_create_a_private_db(tmp_path: Path, fixtures_dir: Path) -> None:
    manifests_db, audit_db = tmp_path / "manifests.db", tmp_path / "audit.db"

    runner = CliRunner()
    manifests = str(fixtures_dir / "core" / "role-list.json")
    audit_log = str(fixtures_dir / "audit" / "k8s-audit.jsonl")

    files = runner.invoke(cli, ["import", "files", manifests, "--db", str(manifests_db)])
    audit = runner.invoke(cli, ["import", "audit", audit_log, "--db", str(audit_db)])

    assert files.exit_code == 0, files.output
    assert audit.exit_code == 0, audit.output
    for db in (manifests_db, audit_db):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
