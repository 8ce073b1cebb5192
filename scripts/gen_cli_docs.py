"""Regenerate docs/cli.md from the real `--help` of every rbacmap command.

    python scripts/gen_cli_docs.py          # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check  # exit 1 when docs/cli.md is out of date

Run it with the venv's python after adding or changing a command or an option.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rbacmap.cli import cli
from rbacmap.cli_docs import render_cli_docs

CLI_DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/cli.md from the real --help output.")
    parser.add_argument("--check", action="store_true", help="only report whether docs/cli.md is current")
    args = parser.parse_args(argv)
    text = render_cli_docs(cli)
    current = CLI_DOC.read_text() if CLI_DOC.exists() else ""
    if args.check:
        if current != text:
            print(f"{CLI_DOC} is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    CLI_DOC.parent.mkdir(parents=True, exist_ok=True)
    CLI_DOC.write_text(text)
    print(f"wrote {CLI_DOC}" + (" (unchanged)" if current == text else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
