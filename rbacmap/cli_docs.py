"""docs/cli.md from the real `--help` output of every command (as sqlite-utils documents its CLI).

`python scripts/gen_cli_docs.py` rewrites the file; tests/unit/test_docs_current.py fails when it
is stale. Help is rendered at a fixed width so the text does not depend on the terminal.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

HELP_WIDTH = 100
HEADER = """# rbacmap command line

<!-- Generated from the real `--help` output by `python scripts/gen_cli_docs.py`: do not edit by hand.
     tests/unit/test_docs_current.py fails when this file is out of date. -->

Commands that read or write the store take `--db PATH` (environment `RBACMAP_DB`, default
`./rbacmap.db`). See README.md for examples and docs/schema.md for the tables.
"""


def iter_commands(
    command: click.Command, name: str, parent: click.Context | None = None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """The command and, for a group, every subcommand (sorted, depth first) with its context."""
    # make_context applies the command's context_settings (e.g. `-h` as a help option) like a real run;
    # resilient parsing: no arguments are given, so required ones must not fail here.
    ctx = command.make_context(
        name, [], parent=parent, resilient_parsing=True, terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH
    )
    yield ctx.command_path, command, ctx
    if isinstance(command, click.Group):
        for sub_name in command.list_commands(ctx):
            sub = command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from iter_commands(sub, sub_name, ctx)


def render_cli_docs(root: click.Command, prog_name: str = "rbacmap") -> str:
    """Markdown: one section per command, holding its `--help` text verbatim."""
    sections = [HEADER]
    for path, command, ctx in iter_commands(root, prog_name):
        help_text = command.get_help(ctx).rstrip()
        sections.append(f"## `{path}`\n\n```text\n{help_text}\n```\n")
    return "\n".join(sections)
