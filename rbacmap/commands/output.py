"""Plain-text tables and structured output for the CLI."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
import yaml


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    lines = ["  ".join(h.upper().ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    for row in cells:
        lines.append("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip())
    return "\n".join(lines)


def emit(data: Any, output: str) -> None:
    """Print JSON or YAML for structured outputs."""
    if output == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))
    elif output == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, default_flow_style=False), nl=False)
    else:
        raise ValueError(f"unsupported output {output!r}")
