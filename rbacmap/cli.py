"""The `rbacmap` command line: a thin layer that parses, calls the library and formats.

Subcommands load lazily (see LazyGroup) so a quick `rbacmap can` does not import the
kubernetes client, boto3, google-auth or textual. Register a command with one line below.
"""

from __future__ import annotations

import sys
import traceback

import click

from rbacmap import __version__
from rbacmap.commands.exit_codes import EXIT_CODES_HELP, EXIT_ERROR, RootGroup
from rbacmap.commands.lazy_group import LazyGroup

IMPORT_COMMANDS = {
    "files": "rbacmap.commands.import_files:files_command",
    "kube": "rbacmap.commands.import_kube:kube_command",
    "eks": "rbacmap.commands.import_cloud:eks_command",
    "gke": "rbacmap.commands.import_cloud:gke_command",
    "audit": "rbacmap.commands.audit:audit_command",
}

COMMANDS = {
    "clusters": "rbacmap.commands.store_commands:clusters",
    "snapshots": "rbacmap.commands.store_commands:snapshots",
    "can": "rbacmap.commands.authz:can",
    "who-can": "rbacmap.commands.authz:who_can",
    "check": "rbacmap.commands.authz:check",
    "paths": "rbacmap.commands.paths:paths",
    "cloud-power": "rbacmap.commands.cloud_power:cloud_power",
    "risks": "rbacmap.commands.risks:risks",
    "diff": "rbacmap.commands.diff:diff_command",
    "usage": "rbacmap.commands.audit:usage_command",
    "trim": "rbacmap.commands.trim:trim_command",
    "generate": "rbacmap.commands.trim:generate_command",
    "offboard": "rbacmap.commands.offboard:offboard_command",
    "tui": "rbacmap.commands.tui:tui",
}


@click.group(cls=RootGroup, lazy_subcommands=COMMANDS, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rbacmap")
def cli() -> None:
    """Who can really do what in your Kubernetes clusters, and how to cut it down."""


@cli.group("import", cls=LazyGroup, lazy_subcommands=IMPORT_COMMANDS)
def import_group() -> None:
    """Import cluster data into a new snapshot."""


def main() -> None:
    try:
        cli(prog_name="rbacmap")
    except Exception:
        # Python exits 1 on a traceback, which `can` and `diff` use for an answer.
        traceback.print_exc()
        sys.exit(EXIT_ERROR)
