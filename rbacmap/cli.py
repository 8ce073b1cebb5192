"""The `rbacmap` command line: a thin layer that parses, calls the library and formats."""

from __future__ import annotations

import click

from rbacmap import __version__
from rbacmap.commands.audit import audit_command, usage_command
from rbacmap.commands.authz import can, check, who_can
from rbacmap.commands.diff import diff_command
from rbacmap.commands.import_cloud import eks_command, gke_command
from rbacmap.commands.import_files import files_command
from rbacmap.commands.import_kube import kube_command
from rbacmap.commands.offboard import offboard_command
from rbacmap.commands.paths import paths
from rbacmap.commands.risks import risks
from rbacmap.commands.store_commands import clusters, snapshots
from rbacmap.commands.trim import generate_command, trim_command
from rbacmap.commands.tui import tui


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rbacmap")
def cli() -> None:
    """Who can really do what in your Kubernetes clusters, and how to cut it down."""


@cli.group("import")
def import_group() -> None:
    """Import cluster data into a new snapshot."""


import_group.add_command(files_command)
import_group.add_command(audit_command)
import_group.add_command(kube_command)
import_group.add_command(eks_command)
import_group.add_command(gke_command)
cli.add_command(clusters)
cli.add_command(snapshots)
cli.add_command(can)
cli.add_command(who_can)
cli.add_command(check)
cli.add_command(usage_command)
cli.add_command(trim_command)
cli.add_command(generate_command)
cli.add_command(diff_command)
cli.add_command(offboard_command)
cli.add_command(tui)
cli.add_command(paths)
cli.add_command(risks)


def main() -> None:
    cli(prog_name="rbacmap")
