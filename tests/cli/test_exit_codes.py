"""Exit codes: 0 and 1 are answers (allowed/denied, identical/different), every error exits 2."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from rbacmap import cli as cli_module
from rbacmap.cli import cli


def invoke(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def demo_db(tmp_path: Path, fixtures_dir: Path) -> str:
    path = str(tmp_path / "demo.db")
    result = invoke("import", "files", str(fixtures_dir / "demo"), "--cluster", "demo", "--db", path)
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["can", "--cluster", "nope", "alice", "get", "pods"], "unknown cluster 'nope'"),
        (["can", "sa:broken", "get", "pods"], "sa:broken"),
        (["who-can", "--cluster", "nope", "get", "pods"], "unknown cluster 'nope'"),
        (["check", "--cluster", "nope", "--requests", "-"], "unknown cluster 'nope'"),
        (["paths", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["risks", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["cloud-power", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["diff", "1", "99"], "no snapshot with id 99"),
        (["diff", "--cluster", "demo"], "has 1 complete snapshot(s); a diff needs two"),
        (["snapshots", "--keep", "1", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["usage", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["trim", "--all", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["generate", "--subject", "user:a", "--cluster", "nope"], "unknown cluster 'nope'"),
        (["offboard", "alice", "--cluster", "nope"], "unknown cluster 'nope'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_lookup_errors_exit_2_not_an_answer(demo_db: str, command: list[str], message: str) -> None:
    result = invoke(*command, "--db", demo_db, input="")

    assert result.exit_code == 2, result.output
    assert message in result.output


def test_answers_keep_0_and_1(demo_db: str) -> None:
    assert invoke("can", "--db", demo_db, "sa:ci/deployer", "create", "clusterrolebindings").exit_code == 0
    assert invoke("can", "--db", demo_db, "dana@example.com", "get", "secrets", "-n", "payments").exit_code == 1


def test_an_unexpected_failure_exits_2_with_its_traceback(
    demo_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("rbacmap.commands.authz.Authorizer.authorize", crash)
    monkeypatch.setattr(sys, "argv", ["rbacmap", "can", "--db", demo_db, "alice", "get", "pods"])

    with pytest.raises(SystemExit) as exited:
        cli_module.main()

    assert exited.value.code == 2  # never 1, which `can` uses for "denied"
    assert "RuntimeError: a bug" in capsys.readouterr().err


def test_ctrl_c_exits_130_not_an_answer(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("rbacmap.commands.authz.Authorizer.authorize", interrupted)
    result = invoke("can", "--db", demo_db, "alice", "get", "pods")
    assert result.exit_code == 130  # click's own Abort exits 1, which `can` uses for "denied"
    assert "interrupted" in result.stderr


def test_help_documents_the_exit_codes() -> None:
    result = invoke("--help")

    assert "Exit codes:" in result.output
    assert "2  error: bad usage, a --db that does not exist" in result.output
    assert "130  interrupted (Ctrl-C)" in result.output
