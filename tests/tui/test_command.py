"""`rbacmap tui` is registered, and headless commands never import textual."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from rbacmap.cli import cli


def test_tui_command_fails_cleanly_on_an_empty_db(tmp_path: object) -> None:
    result = CliRunner().invoke(cli, ["tui", "--db", f"{tmp_path}/empty.db"])
    assert result.exit_code == 1
    assert "holds no cluster yet" in result.output


def test_headless_cli_does_not_import_textual() -> None:
    code = "import sys; import rbacmap.cli; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    assert out.stdout.strip() == "False"
