"""docs/cli.md is the real --help of every command; docs/schema.md documents every live table and column."""

from __future__ import annotations

import re
from pathlib import Path

import click

from rbacmap.cli import cli
from rbacmap.cli_docs import iter_commands, render_cli_docs
from rbacmap.store import Store

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_cli_docs_are_current() -> None:
    expected = render_cli_docs(cli)
    current = (DOCS / "cli.md").read_text()
    assert current == expected, "docs/cli.md is out of date: run `.venv/bin/python scripts/gen_cli_docs.py`"


def test_cli_docs_cover_every_command_and_option() -> None:
    text = (DOCS / "cli.md").read_text()
    paths = [path for path, _, _ in iter_commands(cli, "rbacmap")]
    assert "rbacmap import files" in paths and "rbacmap who-can" in paths
    for path, command, _ in iter_commands(cli, "rbacmap"):
        assert f"## `{path}`" in text, f"{path} missing from docs/cli.md: run python scripts/gen_cli_docs.py"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.opts[-1] in text, f"{path} {param.opts[-1]} missing: run python scripts/gen_cli_docs.py"


def _schema_sections(text: str) -> dict[str, str]:
    """`### \\`table\\`` headings of docs/schema.md and the text under each, up to the next heading."""
    sections: dict[str, str] = {}
    parts = re.split(r"^###\s+`([a-z_0-9]+)`\s*$", text, flags=re.MULTILINE)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        sections[name] = re.split(r"^#{1,3}\s", body, maxsplit=1, flags=re.MULTILINE)[0]
    return sections


def test_schema_doc_covers_every_live_table_and_column() -> None:
    sections = _schema_sections((DOCS / "schema.md").read_text())
    with Store(":memory:") as store:
        tables = [
            row["name"]
            for row in store.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        assert {"snapshots", "roles", "rules", "bindings", "workloads"} <= set(tables)
        missing = []
        for table in tables:
            if table not in sections:
                missing.append(f"table {table} (no '### `{table}`' heading)")
                continue
            for column in store.query(f"PRAGMA table_info({table})"):
                if f"`{column['name']}`" not in sections[table]:
                    missing.append(f"column {table}.{column['name']}")
    assert not missing, "docs/schema.md does not document: " + ", ".join(missing) + (
        " (add them under the table's '### `name`' heading, one '| `column` | type | meaning |' row each)"
    )
