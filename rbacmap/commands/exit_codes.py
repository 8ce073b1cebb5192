"""Exit codes every rbacmap command shares: 0 and 1 are answers, 2 is an error.

Several commands answer with their exit code (`can` 1: denied, `diff` 1: the snapshots
differ, `offboard` 1: access remains), so an error must never exit 1: a script would read a
missing DB as "denied". click exits 1 for a ClickException; the root group turns that into 2.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from rbacmap.commands.lazy_group import LazyGroup
from rbacmap.store import StoreError

EXIT_NO, EXIT_ERROR = 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it: click's own Ctrl-C exit (1) reads as "denied"

EXIT_CODES_HELP = """\b
Exit codes:
  0  success; the "yes" answer (can: allowed, diff: identical, offboard: nothing remains)
  1  the "no" answer (can: denied, diff: the snapshots differ, offboard: access remains;
     import kube: a cluster's import failed; import files --strict: input errors)
  2  error: bad usage, a --db that does not exist (only `import` creates one), unknown
     cluster or snapshot, bad subject, unreadable input, or an unexpected failure
  130  interrupted (Ctrl-C); an interrupted import leaves the last good snapshot"""


class CommandError(click.ClickException):
    """An error a command reports in one line: exit 2."""

    exit_code = EXIT_ERROR


class RootGroup(LazyGroup):
    """The `rbacmap` group: whatever error a subcommand raises exits 2 (see the module docstring)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except StoreError as exc:  # unknown cluster, snapshot, …: a message for the user, not a traceback
            raise CommandError(str(exc)) from exc
        except click.ClickException as exc:
            # click.UsageError already exits 2; a plain ClickException (or FileError) would exit 1.
            if exc.exit_code == EXIT_NO:
                raise CommandError(exc.format_message()) from exc
            raise
