"""`rbacmap import kube`: a live cluster into one snapshot (fetch -> normalize -> load).

Fetching happens before the snapshot transaction opens, so a slow cluster never holds the
DB's write lock. Items go through the same `SnapshotBuilder.add` as `import files`.

Failure policy: a 403 on a kind is a fact about the importing identity, so the snapshot is
kept and records the kind as incomplete (every answer from it then says so), unless the kind is
read for another platform's sake only (aws-auth off EKS: kube_platform_kinds). A kind that
still fails after retries (timeouts, 5xx) is transient: a snapshot silently missing, say,
RoleBindings would make `diff` report them all removed, so the whole import fails, is
recorded as a failed snapshot, and the previous snapshot stays the latest. So does an import that
could read nothing: every kind forbidden, or any 403 to `system:anonymous` (the kubeconfig's
credentials were not sent, as when its exec plugin fails: the client logs that and goes on
without them). Such a snapshot says nothing about the cluster, and would replace the last good one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubernetes.client import ApiClient

from rbacmap.importers.kube_dump import write_dump, write_pod_security
from rbacmap.importers.kube_fetch import (
    FAILED,
    FORBIDDEN,
    OK,
    FetchedKind,
    KubeFetcher,
    ProgressCallback,
    RetryPolicy,
    ServerInfo,
)
from rbacmap.importers.kube_kinds import KINDS, ResourceKind
from rbacmap.importers.kube_platform_kinds import settle_platform_kinds
from rbacmap.importers.manifests import load_into, read_documents
from rbacmap.normalize import iter_list_items
from rbacmap.pod_security_config import CONFIGURATION_KINDS, PodSecurityConfig
from rbacmap.snapshot_builder import SnapshotBuilder
from rbacmap.store import ImportError_, Snapshot, Store, StoreError


class KubeImportFailed(Exception):
    """Some kinds could not be fetched even after retries; nothing was imported."""

    def __init__(self, failures: Sequence[FetchedKind]) -> None:
        self.failures = list(failures)
        detail = "; ".join(f"{f.resource.kind}: {f.message}" for f in self.failures)
        super().__init__(f"could not fetch {len(self.failures)} kind(s), nothing imported: {detail}")


# The user the API server names in a 403 to a request that carried no credentials (forbiddenMessage).
ANONYMOUS_USER = 'User "system:anonymous"'


class KubeNothingReadable(KubeImportFailed):
    """Every kind was forbidden, or the server took the importer for system:anonymous; nothing was imported."""

    def __init__(self, forbidden: Sequence[FetchedKind]) -> None:
        self.failures = list(forbidden)
        anonymous = [f for f in self.failures if ANONYMOUS_USER in (f.message or "")]
        if anonymous:
            why = ("the API server took the requests as system:anonymous: no credentials were sent (did the "
                   "kubeconfig user's exec plugin or auth provider fail?)")
            example = anonymous[0]
        else:
            why = "every kind was forbidden: the credentials grant no read access"
            example = self.failures[0]
        Exception.__init__(self, f"{why}, nothing imported; e.g. {example.resource.kind}: {example.message}")


class AdmissionConfigError(Exception):
    """An --admission-config file gave no usable configuration; nothing was imported.

    Importing without it would silently answer as if the API server had no Pod Security defaults
    or exemptions, which is the very thing the file was given to say."""

    def __init__(self, path: str | Path, errors: Sequence[ImportError_]) -> None:
        self.path = str(path)
        self.errors = list(errors)
        super().__init__(f"no admission configuration could be read from {self.path}, nothing imported")


@dataclass(frozen=True)
class KindReport:
    kind: str
    status: str
    count: int
    message: str | None
    restarts: int = 0


@dataclass(frozen=True)
class KubeImportResult:
    snapshot: Snapshot
    kinds: list[KindReport]
    errors: list[ImportError_]
    server: ServerInfo


@dataclass(frozen=True)
class FetchOptions:
    page_size: int = 500
    concurrency: int = 8
    retry: RetryPolicy = RetryPolicy()


def import_kube(
    store: Store,
    api_client: ApiClient,
    cluster: str,
    *,
    source: str = "kube",
    options: FetchOptions | None = None,
    on_progress: ProgressCallback | None = None,
    dump_dir: str | Path | None = None,
    kinds: Sequence[ResourceKind] = KINDS,
    extra_files: Sequence[str | Path] = (),
) -> KubeImportResult:
    """Fetch every known kind through `api_client` and load it as a new snapshot of `cluster`.

    `extra_files` hold what the API does not serve: the API server's admission configuration (an
    AdmissionConfiguration or a PodSecurityConfiguration: Pod Security defaults and exemptions); any other
    object in them is an import error. A dump gets the configuration too."""
    options = options or FetchOptions()
    for path in extra_files:  # before the fetch, which can take minutes
        check_configuration_file(path)
    fetcher = KubeFetcher(api_client, page_size=options.page_size, retry=options.retry, on_progress=on_progress)
    server = fetcher.server_info()
    fetched = settle_platform_kinds(fetcher.fetch_all(kinds, options.concurrency), server,
                                    _held_by_latest(store, cluster))
    if dump_dir is not None:
        write_dump(dump_dir, fetched, server)
    failures = [f for f in fetched if f.status == FAILED]
    forbidden = [f for f in fetched if f.status == FORBIDDEN]
    nothing_readable = forbidden and (not any(f.status == OK for f in fetched)
                                      or any(ANONYMOUS_USER in (f.message or "") for f in forbidden))
    with store.write_snapshot(cluster, source[:500]) as writer:
        # Raised inside the transaction so the store records a failed snapshot.
        if failures:
            raise KubeImportFailed(failures)
        if nothing_readable:
            raise KubeNothingReadable(forbidden)
        writer.server_version = server.git_version
        writer.platform = server.platform
        builder = SnapshotBuilder(writer)
        for result in fetched:
            if result.status == FORBIDDEN:
                writer.mark_incomplete(result.resource.kind)
            for item in result.items:
                builder.add(item, f"{source} {result.resource.list_path}")
        for path in extra_files:
            _load_configuration_file(builder, path)
        builder.finish()
        if dump_dir is not None and builder.pod_security is not None:
            write_pod_security(dump_dir, PodSecurityConfig.from_row(builder.pod_security))
        snapshot_id = writer.snapshot_id
        errors = list(writer.errors)
    reports = [KindReport(f.resource.kind, f.status, len(f.items), f.message, f.restarts) for f in fetched]
    return KubeImportResult(store.snapshot(snapshot_id), reports, errors, server)


def _held_by_latest(store: Store, cluster: str) -> Callable[[str], bool]:
    """Whether the cluster's latest complete snapshot held objects of a kind (none before: no)."""
    try:
        counts = store.latest_snapshot(cluster).object_counts
    except StoreError:
        return lambda kind: False
    return lambda kind: counts.get(kind, 0) > 0


def check_configuration_file(path: str | Path) -> None:
    """Raise AdmissionConfigError unless the file parses and holds an AdmissionConfiguration or a
    PodSecurityConfiguration (an empty file, a YAML error or the wrong file altogether)."""
    errors: list[ImportError_] = []
    kinds = {obj.get("kind") for _, parsed in read_documents(path, errors.append)
             for _, obj in iter_list_items(parsed) if isinstance(obj, dict)}
    if not errors and not kinds & set(CONFIGURATION_KINDS):
        errors.append(ImportError_(str(path), f"holds no {' or '.join(CONFIGURATION_KINDS)}"))
    if errors:
        raise AdmissionConfigError(path, errors)


def _load_configuration_file(builder: SnapshotBuilder, path: str | Path) -> None:
    """Load one admission configuration file; raise AdmissionConfigError when none of its
    configurations was valid (objects of other kinds in it are errors, but do not fail the import)."""
    writer = builder.writer
    errors_before = len(writer.errors)
    accepted_before = sum(writer.object_counts[k] + writer.skipped_counts[k] for k in CONFIGURATION_KINDS)
    load_into(builder, path, only_kinds=CONFIGURATION_KINDS)
    if sum(writer.object_counts[k] + writer.skipped_counts[k] for k in CONFIGURATION_KINDS) == accepted_before:
        raise AdmissionConfigError(path, writer.errors[errors_before:])
