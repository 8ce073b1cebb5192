"""Fetch step of `import kube`: list every known kind from an API server, raw JSON shapes kept.

Talks to the server only through an injected `kubernetes.client.ApiClient` (`call_api` with
`_preload_content=False`; we parse the JSON ourselves, so items look exactly like what
`kubectl get -o json` prints and what `import files` reads). Secrets are only ever requested
as a server-side Table with metadata-only rows (or, from a server refusing Tables, as
`PartialObjectMetadataList`): their data never leaves the server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from rbacmap.importers import kube_deadline
from rbacmap.importers.kube_answers import MalformedAnswer, as_object, objects, optional_list, optional_object
from rbacmap.importers.kube_kinds import (
    PARTIAL_METADATA_LIST,
    SA_TOKEN_TYPE,
    TABLE,
    UNKNOWN_SECRET_TYPE,
    ResourceKind,
    platform_of,
)

JSON = "application/json"
RETRYABLE_STATUSES = {0, 429, 500, 502, 503, 504}
# Throttling (429) and overload (503) answers may say how long to wait: `Retry-After: <seconds>`.
RETRY_AFTER_STATUSES = {429, 503}
NOT_ACCEPTABLE = 406
# Annotations that may embed a Secret's values; partial metadata still carries annotations.
SECRET_BEARING_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

OK = "ok"
FORBIDDEN = "forbidden"
NOT_SERVED = "not served"
FAILED = "failed"
# Forbidden, but read for another platform's sake only (kube_platform_kinds): no gap.
NOT_NEEDED = "not needed"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: per-request timeout, retries with exponential backoff, 410 restarts.

    A 429/503 carrying `Retry-After` waits what the server asks instead of the backoff, but
    never longer than `max_retry_after` seconds.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0
    timeout: float = 60.0
    expired_restarts: int = 3

    def __post_init__(self) -> None:
        # The kubernetes client takes a falsy _request_timeout for no timeout: a server that never answers
        # would hang the import forever.
        if not self.timeout > 0:
            raise ValueError(f"RetryPolicy.timeout must be more than 0 seconds, not {self.timeout}")


class RequestFailed(Exception):
    """A request failed for good (after retries, or with a status retrying cannot fix)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ContinueExpired(Exception):
    """410 Gone: the continue token of a paginated list has expired."""


class TableRefused(Exception):
    """The server did not answer a Table request with a Table of metadata-only rows."""


@dataclass(frozen=True)
class FetchedKind:
    """The outcome of listing one kind: its items (kind/apiVersion filled in) and how it went."""

    resource: ResourceKind
    status: str
    items: list[dict[str, Any]] = field(default_factory=list)
    message: str | None = None
    requests: int = 0
    restarts: int = 0


@dataclass(frozen=True)
class ProgressEvent:
    kind: str
    fetched: int
    done: bool
    status: str = OK


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass(frozen=True)
class ServerInfo:
    git_version: str | None
    platform: str | None


class KubeFetcher:
    """Lists API resources with pagination, 410 restarts, retries and metadata-only Secrets."""

    def __init__(
        self,
        api_client: ApiClient,
        *,
        page_size: int = 500,
        retry: RetryPolicy | None = None,
        on_progress: ProgressCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api_client = api_client
        # urllib3's timeout bounds each socket read only; this bounds each request as a whole.
        kube_deadline.install(api_client)
        self.page_size = page_size
        self.retry = retry or RetryPolicy()
        self.on_progress = on_progress
        self.sleep = sleep
        self._requests = threading.local()
        # Set when fetch_all is abandoned (Ctrl-C, an error): the lists still running stop at their next request.
        self._stop = threading.Event()

    # --- whole fetch ---------------------------------------------------------------------

    def server_info(self) -> ServerInfo:
        try:
            version = self._get_json("/version", [], JSON)
        except RequestFailed:
            return ServerInfo(None, None)
        git_version = str(version.get("gitVersion") or "") or None
        return ServerInfo(git_version, platform_of(git_version or ""))

    def served_group_versions(self) -> set[str] | None:
        """Group/versions the server serves (discovery), or None when discovery is not readable."""
        try:
            core = self._get_json("/api", [], JSON)
            groups = self._get_json("/apis", [], JSON)
        except RequestFailed:
            return None
        try:
            served = {str(v) for v in optional_list(core.get("versions"), "versions")}
            for group in objects(groups.get("groups"), "groups"):
                for version in objects(group.get("versions"), "versions"):
                    served.add(str(version.get("groupVersion")))
        except MalformedAnswer:
            return None  # unreadable discovery: list every kind, as when it is forbidden
        return served

    def fetch_all(self, kinds: Sequence[ResourceKind], concurrency: int = 8) -> list[FetchedKind]:
        """Fetch every kind (independent lists run in parallel threads), in the order given."""
        served = self.served_group_versions()
        todo = [k for k in kinds if served is None or k.group_version in served]
        skipped = {k.kind: FetchedKind(k, NOT_SERVED, message=f"{k.group_version} is not served") for k in kinds
                   if k not in todo}
        if concurrency <= 1:
            fetched = [self.fetch(k) for k in todo]
        else:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="kube-fetch") as pool:
                try:
                    fetched = list(pool.map(self.fetch, todo))
                except BaseException:
                    # Leaving the pool waits for its running lists: without this, Ctrl-C went on listing
                    # every page of them (all the pods of a big cluster) before the import stopped.
                    self._stop.set()
                    raise
        by_kind = {f.resource.kind: f for f in fetched} | skipped
        return [by_kind[k.kind] for k in kinds]

    # --- one kind ------------------------------------------------------------------------

    def fetch(self, resource: ResourceKind) -> FetchedKind:
        """List one kind; a 403 or a failure is reported in the result, not raised."""
        self._requests.count = 0
        restarts = 0
        try:
            if resource.only is not None:
                items = self._get_single(resource)
            elif resource.kind == "Secret":
                items, restarts = self._list_secrets(resource)
            else:
                items, restarts = self._list(resource, JSON)
                items = [_with_kind(item, resource) for item in items]
        except RequestFailed as exc:
            if exc.status == 404 and resource.optional:  # the group is served, this resource not yet
                self._progress(resource.kind, 0, True, NOT_SERVED)
                return FetchedKind(resource, NOT_SERVED, message=f"{resource.list_path} answered 404",
                                   requests=self._requests.count)
            status = FORBIDDEN if exc.status == 403 else FAILED
            self._progress(resource.kind, 0, True, status)
            return FetchedKind(resource, status, message=str(exc), requests=self._requests.count)
        self._progress(resource.kind, len(items), True)
        return FetchedKind(resource, OK, items, requests=self._requests.count, restarts=restarts)

    def _get_single(self, resource: ResourceKind) -> list[dict[str, Any]]:
        try:
            return [_with_kind(self._get_json(resource.object_path, [], JSON), resource)]
        except RequestFailed as exc:
            if exc.status == 404:
                return []
            raise

    def _list_secrets(self, resource: ResourceKind) -> tuple[list[dict[str, Any]], int]:
        """Every Secret's metadata and type, as one paginated Table list (no data ever sent)."""
        try:
            rows, restarts = self._list(resource, TABLE, [("includeObject", "Metadata")], secret_table_rows)
        except TableRefused:
            return self._list_secrets_as_metadata(resource)
        except RequestFailed as exc:
            if exc.status != NOT_ACCEPTABLE:
                raise
            return self._list_secrets_as_metadata(resource)
        with _malformed_is_failure(resource.list_path):
            return [secret_from_metadata(row["metadata"], row["type"], f"rows[{row['index']}].object.metadata")
                    for row in rows], restarts

    def _list_secrets_as_metadata(self, resource: ResourceKind) -> tuple[list[dict[str, Any]], int]:
        # Two metadata-only lists: every Secret, then the legacy SA tokens, to learn their type.
        metadata, restarts = self._list(resource, PARTIAL_METADATA_LIST)
        tokens, more = self._list(resource, PARTIAL_METADATA_LIST, [("fieldSelector", f"type={SA_TOKEN_TYPE}")])
        with _malformed_is_failure(resource.list_path):
            token_uids = {_identity(item, f"items[{index}].metadata") for index, item in enumerate(tokens)}
            secrets = []
            for index, item in enumerate(metadata):
                where = f"items[{index}].metadata"
                secret_type = SA_TOKEN_TYPE if _identity(item, where) in token_uids else UNKNOWN_SECRET_TYPE
                secrets.append(secret_from_metadata(optional_object(item.get("metadata"), where), secret_type, where))
        return secrets, restarts + more

    def _list(
        self, resource: ResourceKind, accept: str, extra_query: Iterable[tuple[str, str]] = (),
        items_of: ItemsOf | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """All items of a paginated list; an expired continue token restarts the list from scratch."""
        items_of = items_of or _list_items
        for restart in range(self.retry.expired_restarts + 1):
            try:
                return self._list_pages(resource, accept, list(extra_query), self.page_size, items_of), restart
            except ContinueExpired:
                continue
        # As client-go's pager does when paging keeps expiring: one full list without a limit.
        try:
            return self._list_pages(resource, accept, list(extra_query), 0, items_of), self.retry.expired_restarts + 1
        except ContinueExpired as exc:
            # Something in front of the server paged even that list, and its tokens expired too.
            raise RequestFailed(f"GET {resource.list_path}: 410 {exc} (continue tokens kept expiring, and even the "
                                "full list without a limit was paged)", 410) from None

    def _list_pages(
        self, resource: ResourceKind, accept: str, extra_query: list[tuple[str, str]], limit: int,
        items_of: ItemsOf,
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            query = list(extra_query)
            if limit:
                query.append(("limit", str(limit)))
            if token:
                query.append(("continue", token))
            page = self._get_json(resource.list_path, query, accept, continuing=bool(token))
            with _malformed_is_failure(resource.list_path):
                items.extend(items_of(page))
                token = str(optional_object(page.get("metadata"), "metadata").get("continue") or "")
            self._progress(resource.kind, len(items), False)
            if not token:
                return items

    # --- HTTP ----------------------------------------------------------------------------

    def _get_json(
        self, path: str, query: list[tuple[str, str]], accept: str, continuing: bool = False
    ) -> dict[str, Any]:
        """The JSON object the server answered; RequestFailed after retries, or for an answer that is not one."""
        last_error = ""
        wait = 0.0
        for attempt in range(self.retry.attempts):
            if attempt:
                self.sleep(wait)
            if self._stop.is_set():
                raise RequestFailed(f"GET {path}: not sent, the import was stopped")
            wait = min(self.retry.backoff * 2**attempt, self.retry.max_backoff)
            self._requests.count = getattr(self._requests, "count", 0) + 1
            try:
                answer = self._send(path, query, accept)
            except ApiException as exc:
                status = int(exc.status or 0)
                message = _status_message(exc)
                if status == 410 and continuing:
                    raise ContinueExpired(message) from None
                if status not in RETRYABLE_STATUSES:
                    raise RequestFailed(f"GET {path}: {status} {message}", status) from None
                last_error = f"{status} {message}"
                retry_after = _retry_after(exc) if status in RETRY_AFTER_STATUSES else None
                if retry_after is not None:
                    wait = min(retry_after, self.retry.max_retry_after)
            except kube_deadline.DeadlineExceeded as exc:
                last_error = str(exc)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            except ValueError as exc:
                raise RequestFailed(f"GET {path}: the response is not JSON ({exc})") from None
            else:
                with _malformed_is_failure(path):
                    return as_object(answer, "the answer")
        raise RequestFailed(f"GET {path}: gave up after {self.retry.attempts} attempts: {last_error}")

    def _send(self, path: str, query: list[tuple[str, str]], accept: str) -> Any:
        """One GET, its body decoded as JSON, all within the timeout (kube_deadline: urllib3's bounds each read)."""
        with kube_deadline.deadline(self.retry.timeout) as request_deadline:
            try:
                response = self.api_client.call_api(
                    path, "GET", query_params=query, header_params={"Accept": accept},
                    auth_settings=["BearerToken"], _preload_content=False, _request_timeout=self.retry.timeout,
                )
                return json.loads(response.data)
            except Exception as exc:
                if request_deadline.expired:  # whatever the shut socket made of the read: a timeout
                    raise kube_deadline.DeadlineExceeded(
                        f"timed out, no complete answer within {self.retry.timeout:g} s") from exc
                raise

    def _progress(self, kind: str, fetched: int, done: bool, status: str = OK) -> None:
        if self.on_progress is not None:
            self.on_progress(ProgressEvent(kind, fetched, done, status))


def secret_from_metadata(metadata: dict[str, Any], secret_type: str, where: str = "metadata") -> dict[str, Any]:
    """A Secret as rbacmap keeps it: metadata without value-bearing fields, and its type; no data.

    MalformedAnswer (naming `where`) when its annotations are not an object: they must be read to drop
    the value-bearing ones, so they cannot be passed on unread."""
    kept = {k: v for k, v in metadata.items() if k != "managedFields"}
    annotations = {
        k: v for k, v in optional_object(metadata.get("annotations"), f"{where}.annotations").items()
        if k not in SECRET_BEARING_ANNOTATIONS
    }
    if annotations:
        kept["annotations"] = annotations
    else:
        kept.pop("annotations", None)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": kept, "type": secret_type}


ItemsOf = Callable[[dict[str, Any]], list[dict[str, Any]]]


def _list_items(page: dict[str, Any]) -> list[dict[str, Any]]:
    return objects(page.get("items"), "items")


@contextmanager
def _malformed_is_failure(path: str) -> Iterator[None]:
    """A malformed answer fails the request for good: asking again would get the same."""
    try:
        yield
    except MalformedAnswer as exc:
        raise RequestFailed(f"GET {path}: {exc}") from None


def secret_table_rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    """A Secret Table page as `{"metadata", "type", "index"}` per row; TableRefused if it is anything else,
    MalformedAnswer if it is a Table of the wrong shape.

    Only the row's PartialObjectMetadata and its Type cell are read: the Data cell (a key
    count) is ignored, and a row carrying a whole object is refused rather than looked into.
    """
    if page.get("kind") != "Table":
        raise TableRefused(f"answered with {page.get('kind')!r}, not a Table")
    names = [str(c.get("name")) for c in objects(page.get("columnDefinitions"), "columnDefinitions")]
    type_index = names.index("Type") if "Type" in names else 1  # printSecret: Name, Type, Data, Age
    rows = []
    for index, row in enumerate(objects(page.get("rows"), "rows")):
        obj = optional_object(row.get("object"), f"rows[{index}].object")
        if obj.get("kind") != "PartialObjectMetadata":
            raise TableRefused(f"a Table row holds {obj.get('kind')!r}, not PartialObjectMetadata")
        cells = optional_list(row.get("cells"), f"rows[{index}].cells")
        secret_type = str(cells[type_index]) if len(cells) > type_index and cells[type_index] else None
        metadata = optional_object(obj.get("metadata"), f"rows[{index}].object.metadata")
        rows.append({"metadata": metadata, "type": secret_type or UNKNOWN_SECRET_TYPE, "index": index})
    return rows


def _retry_after(exc: ApiException) -> float | None:
    """The `Retry-After` delay in seconds, or None when absent or not a number of seconds."""
    value = (exc.headers or {}).get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: the API server sends seconds, so fall back to the backoff
    return seconds if seconds is not None and seconds >= 0 else None


def _with_kind(item: dict[str, Any], resource: ResourceKind) -> dict[str, Any]:
    # List items come without kind/apiVersion; put them first, as kubectl prints them.
    rest = {k: v for k, v in item.items() if k not in ("apiVersion", "kind")}
    return {"apiVersion": resource.group_version, "kind": resource.kind, **rest}


def _identity(item: dict[str, Any], where: str) -> tuple[str, str]:
    metadata = optional_object(item.get("metadata"), where)
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


def _status_message(exc: ApiException) -> str:
    """The message of the API's Status object, or the HTTP reason."""
    body = exc.body
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        status = {}
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    return str(exc.reason or "")
