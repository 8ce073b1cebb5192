"""`rbacmap tui` is registered, and headless commands never import textual."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rbacmap.cli import cli
from rbacmap.schema import MIGRATIONS
from rbacmap.store import Store, StoreError


def test_tui_command_fails_cleanly_on_a_missing_or_empty_db(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    result = CliRunner().invoke(cli, ["tui", "--db", str(missing)])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert not missing.exists()  # read-only: the TUI never creates a DB

    Store(tmp_path / "empty.db").close()
    result = CliRunner().invoke(cli, ["tui", "--db", str(tmp_path / "empty.db")])
    assert result.exit_code == 2
    assert "holds no cluster yet" in result.output


def _a_newer_rbacmap(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if this rbacmap knew one more migration than the DB has applied."""
    monkeypatch.setattr("rbacmap.store.MIGRATIONS", [*MIGRATIONS, (999, "CREATE TABLE test_probe (x TEXT)")])


def test_read_only_store_refuses_writes_and_old_schemas(tui_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open_read_only(tui_db)
    try:
        assert store.pending_migrations() == []
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.conn.execute("DELETE FROM snapshots")
    finally:
        store.close()
    _a_newer_rbacmap(monkeypatch)
    with pytest.raises(StoreError, match="needs schema migration"):
        Store.open_read_only(tui_db)


def test_tui_command_migrates_an_old_schema_with_a_message(tui_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _a_newer_rbacmap(monkeypatch)
    started: list[str] = []
    monkeypatch.setattr("rbacmap.tui.app.run", lambda db, cluster: started.append(db))
    result = CliRunner().invoke(cli, ["tui", "--db", tui_db])
    assert result.exit_code == 0, result.output
    assert "upgrading the schema of" in result.output
    assert started == [tui_db]
    with Store.open_read_only(tui_db) as store:
        assert store.pending_migrations() == []


def test_headless_cli_does_not_import_textual() -> None:
    code = "import sys; import rbacmap.cli; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "False"
