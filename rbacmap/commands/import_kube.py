"""`rbacmap import kube`: import live clusters through kubeconfig contexts (or the pod's account)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TextIO

import click

from rbacmap.commands.options import db_option, open_store
from rbacmap.importers.kube import (
    AdmissionConfigError,
    FetchOptions,
    KubeImportFailed,
    KubeImportResult,
    import_kube,
)
from rbacmap.importers.kube_auth import (
    DEFAULT_EXEC_TIMEOUT,
    IN_CLUSTER,
    ClusterTarget,
    KubeconfigError,
    resolve_targets,
)
from rbacmap.importers.kube_dump import context_folders
from rbacmap.importers.kube_fetch import FORBIDDEN, NOT_NEEDED, NOT_SERVED, ProgressEvent, RetryPolicy
from rbacmap.store import Store


class ProgressPrinter:
    """Per-kind object counts: one rewritten line on a terminal, plain log lines otherwise."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.counts: dict[str, int] = {}
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self.counts[event.kind] = event.fetched
            if event.done:
                self.done += 1
            if self.tty:
                total = sum(self.counts.values())
                line = f"{self.label}: {self.done} kinds done, {total} objects; {event.kind} {event.fetched}"
                self.stream.write("\r" + line[:110].ljust(110))
            elif event.done:
                self.stream.write(f"{self.label}: {event.kind}: {event.fetched} ({event.status})\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()


@click.command("kube")
@db_option
@click.option("--kubeconfig", help="kubeconfig file(s), ':'-separated (default: $KUBECONFIG, ~/.kube/config).")
@click.option("--context", help="kubeconfig context to import (default: the current context).")
@click.option("--all-contexts", is_flag=True,
              help="Import every context, each into its own cluster entry (a context that cannot be loaded fails "
                   "on its own).")
@click.option("--cluster", help="Cluster name to file the snapshot under (default: the context's cluster name).")
@click.option("--save-dump", "dump_dir", type=click.Path(file_okay=False),
              help="Also write what was fetched (Secrets: metadata only) as List files `import files` reads; "
                   "dump-info.txt lists the kinds not read, which `import files` marks incomplete. With "
                   "--all-contexts, one folder per context: its name, made a safe folder name if it is not one "
                   "(an EKS ARN), with a hash of the name added then; the output names each folder.")
@click.option("--page-size", default=500, show_default=True, type=click.IntRange(1), help="Objects per list page.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1), help="Lists fetched at once.")
# 0 is no number of seconds: the kubernetes client reads a falsy timeout as none, and waits forever.
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(0, min_open=True),
              help="Seconds per request, all of it: connecting, waiting and reading the whole answer (a server that "
                   "drips its answer is cut off too).")
@click.option("--exec-timeout", default=DEFAULT_EXEC_TIMEOUT, show_default=True,
              type=click.FloatRange(0, min_open=True),
              help="Seconds a kubeconfig exec credential plugin (aws eks get-token, gke-gcloud-auth-plugin) may take "
                   "each time it runs; then it is stopped and its context fails (no credentials). Raise it for a "
                   "plugin that waits for an interactive login.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0),
              help="Retries of a request after a timeout, 429 or 5xx (exponential backoff, or the server's "
                   "Retry-After up to 30 s).")
@click.option("--admission-config", "admission_configs", multiple=True,
              type=click.Path(exists=True, dir_okay=False),
              help="The API server's admission configuration file (AdmissionConfiguration, or the "
                   "PodSecurityConfiguration its PodSecurity plugin names): Pod Security defaults and exemptions, "
                   "which the API does not serve. One cluster's: not with --all-contexts. A file that gives no "
                   "valid configuration (empty, broken, another kind) fails the import, before fetching.")
def kube_command(
    db_path: str, kubeconfig: str | None, context: str | None, all_contexts: bool, cluster: str | None,
    dump_dir: str | None, page_size: int, concurrency: int, timeout: float, exec_timeout: float, retries: int,
    admission_configs: tuple[str, ...],
) -> None:
    """Import live clusters: RBAC, service accounts, workloads, Secret metadata and more.

    403 on a kind: the import goes on and the snapshot is marked incomplete. A kind that
    still fails after retries (timeouts, 5xx) fails that cluster's import: nothing is
    imported and its previous snapshot stays the latest; so does one that could read nothing (every
    kind forbidden, or the server took it for system:anonymous: no credentials sent). Exit 1 if any
    cluster failed, 2 when nothing could start (unreadable kubeconfig, unknown context).
    """
    if all_contexts and admission_configs:
        raise click.UsageError("--admission-config is one API server's file; import each context on its own")
    if all_contexts and (context or cluster):
        raise click.UsageError("--all-contexts imports each context under its own cluster name; "
                               "drop --context/--cluster")
    unusable: list[tuple[str, KubeconfigError]] = []
    try:
        # One context that cannot be loaded must not keep the others from being imported.
        targets = resolve_targets(kubeconfig, context, all_contexts,
                                  on_unusable=lambda name, exc: unusable.append((name, exc)), exec_timeout=exec_timeout)
    except KubeconfigError as exc:
        raise click.ClickException(str(exc)) from exc
    options = FetchOptions(page_size, concurrency, RetryPolicy(attempts=retries + 1, timeout=timeout))
    for name, problem in unusable:
        click.echo(f"{name}: import FAILED, nothing imported: {problem}", err=True)
    if not targets:
        sys.exit(2)  # no context could even be loaded: nothing started
    failed = len(unusable)
    # --all-contexts: a folder per context, its name made safe (an EKS context is an ARN, with a '/').
    folders = context_folders([t.context or IN_CLUSTER for t in targets]) if all_contexts else {}
    with open_store(db_path, create=True) as store:
        for target in targets:
            label = target.context or IN_CLUSTER
            target_dump = None
            if dump_dir is not None:
                target_dump = Path(dump_dir) / folders[label] if all_contexts else Path(dump_dir)
            try:
                imported = _import_one(store, target, cluster or target.cluster, options, target_dump,
                                       admission_configs)
            finally:
                target.api_client.close()
            failed += not imported
    sys.exit(1 if failed else 0)


def _import_one(
    store: Store, target: ClusterTarget, name: str, options: FetchOptions, dump: Path | None,
    admission_configs: tuple[str, ...],
) -> bool:
    """Import one context and report it; False (reported) when its import failed."""
    label = target.context or IN_CLUSTER
    progress = ProgressPrinter(sys.stderr, label)
    try:
        result = import_kube(store, target.api_client, name, source=_source(target), options=options,
                             on_progress=progress, dump_dir=dump, extra_files=admission_configs)
    except KubeImportFailed as exc:
        progress.close()
        click.echo(f"{label}: import of cluster {name} FAILED: {exc}", err=True)
        if dump is not None:  # written before the failure was known: what could be read
            click.echo(f"  dump of what was read written to {dump}", err=True)
        return False
    except AdmissionConfigError as exc:
        progress.close()
        for error in exc.errors:
            click.echo(f"  error: {error.describe()}", err=True)
        click.echo(f"{label}: import of cluster {name} FAILED: {exc}", err=True)
        return False
    except Exception as exc:
        # Anything else (a dump folder that cannot be written, a bug) fails this context only: with
        # --all-contexts the others are still imported, and the exit status says one failed.
        progress.close()
        click.echo(f"{label}: import of cluster {name} FAILED: {type(exc).__name__}: {exc}", err=True)
        return False
    progress.close()
    _report(label, result, dump)
    return True


def _source(target: ClusterTarget) -> str:
    return f"kube: context {target.context}" if target.context else "kube: in-cluster"


def _report(label: str, result: KubeImportResult, dump: Path | None) -> None:
    snapshot = result.snapshot
    server = result.server.git_version or "unknown version"
    platform = f", {result.server.platform}" if result.server.platform else ""
    click.echo(f"{label}: snapshot {snapshot.id} of cluster {snapshot.cluster} ({server}{platform})")
    counts = ", ".join(f"{r.count} {r.kind}" for r in result.kinds if r.count) or "no objects"
    click.echo(f"  imported {counts}")
    for report in result.kinds:
        if report.status == FORBIDDEN:
            click.echo(f"  warning: forbidden to list {report.kind}: {report.message}", err=True)
        elif report.status == NOT_SERVED:
            click.echo(f"  note: {report.kind} not served by this cluster ({report.message})")
        elif report.status == NOT_NEEDED:
            click.echo(f"  note: {report.kind} not read, and not needed here: {report.message}")
        if report.restarts:
            click.echo(f"  note: {report.kind} list restarted {report.restarts} time(s) (continue token expired)")
    for error in result.errors:
        click.echo(f"  error: {error.describe()}", err=True)
    if snapshot.incomplete_kinds:
        click.echo(f"  warning: {snapshot.incompleteness_warning()}", err=True)
    if dump is not None:
        click.echo(f"  dump written to {dump}")
