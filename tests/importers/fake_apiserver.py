"""A loopback Kubernetes API server for tests: real-shaped responses from fixtures/kube/.

Serves discovery (/api, /apis, /version), paginated Lists honouring `limit` and `continue`,
single-object GETs, PartialObjectMetadataList for `as=PartialObjectMetadataList` Accept
headers, server-side Tables for `as=Table` (Secret rows: Name, Type, Data key count, Age, with
the object as `includeObject` says: PartialObjectMetadata by default, the whole object for
`Object`), and can be told to misbehave: 410 Gone (Status reason Expired) on continue tokens,
403 (Status Forbidden) for a resource, 503s and 429s (with `Retry-After` when set), 406 for
Tables, slowness, answers dripped a byte at a time, malformed bodies, pages where no limit was
asked for, requests without credentials taken as system:anonymous. Secrets are held
WITH data and are returned with it to any client that does not ask for metadata only. Every request is recorded.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from rbacmap.importers.kube import FetchOptions, KubeImportResult, import_kube
from rbacmap.importers.kube_auth import resolve_targets
from rbacmap.importers.kube_fetch import RetryPolicy
from rbacmap.store import Store

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kube"
TOKEN = "loopback-test-token"
IMPORTER = "system:serviceaccount:ci:importer"
ANONYMOUS = "system:anonymous"
PARTIAL_METADATA = "as=PartialObjectMetadataList"
AS_TABLE = "as=Table"
FAST_RETRY = RetryPolicy(attempts=3, backoff=0.01, max_backoff=0.02, timeout=5.0, expired_restarts=2)
# Every value the fixture Secrets hold (base64 and decoded): none may ever reach rbacmap.
SECRET_VALUES = (
    "RkFLRS1TQS1UT0tFTi1WQUxVRS1kby1ub3Qtc3RvcmU=", "FAKE-SA-TOKEN-VALUE", "RkFLRS1DQS1WQUxVRQ==", "FAKE-CA-VALUE",
    "REItUEFTU1dPUkQtVkFMVUU=", "DB-PASSWORD-VALUE", "eyJhdXRocyI6eyJSRUdJU1RSWS1TRUNSRVQiOnt9fX0=",
    "REGISTRY-SECRET", "TEFTVC1BUFBMSUVELVNFQ1JFVA==", "LAST-APPLIED-PLAINTEXT-SECRET",
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names


@dataclass
class Behaviour:
    """How the server misbehaves; keyed by resource plural (e.g. "rolebindings")."""

    expire_continue: dict[str, int] = field(default_factory=dict)  # 410s left to give on continue
    forbidden: set[str] = field(default_factory=set)
    unavailable: dict[str, int] = field(default_factory=dict)  # 503s left to give
    throttled: dict[str, int] = field(default_factory=dict)  # 429s left to give
    retry_after: str | None = None  # Retry-After header sent with every 429 and 503
    refuse_table: bool = False  # 406 Not Acceptable for as=Table, as servers before 1.10 did
    slow: dict[str, float] = field(default_factory=dict)  # seconds added to each request
    latency: float = 0.0  # seconds added to every request
    not_served: set[str] = field(default_factory=set)  # 404 for these resources (a server older than them)
    # A request without credentials is system:anonymous (--anonymous-auth, on by default), not a 401: it may read
    # /version (system:public-info-viewer) and nothing else (discovery is for system:authenticated only).
    anonymous: bool = False
    # Rewrites the body of a 200 answer (keyed by plural, or by path for "/version", "/apis"): malformed responses.
    mangle: dict[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Pages a list asked for without a limit anyway (as a proxy in front of the API server might).
    page_without_limit: int = 0
    # Seconds between the body bytes of a 200 answer for these plurals: a server that drips its answer.
    drip: dict[str, float] = field(default_factory=dict)


def load_fixture_objects(path: Path = FIXTURES / "objects.yaml") -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def plural_of(kind: str) -> str:
    lower = kind.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


class FakeApiServer:
    """Start with `with FakeApiServer() as server:`; `server.url` is http://127.0.0.1:PORT."""

    def __init__(
        self,
        objects: list[dict[str, Any]] | None = None,
        git_version: str = "v1.29.3-eks-ae9a62a",
        token: str = TOKEN,
    ) -> None:
        self.objects = [_as_stored(o) for o in (objects if objects is not None else load_fixture_objects())]
        self.git_version = git_version
        self.token = token
        self.behaviour = Behaviour()
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-apiserver", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> FakeApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    # --- what tests change -------------------------------------------------------------

    def add(self, obj: dict[str, Any]) -> None:
        self.objects.append(_as_stored(obj))

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        self.objects = [o for o in self.objects if _key(o) != (kind, namespace, name)]

    def requests_for(self, plural: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.rstrip("/").split("/")[-1] == plural
                or f"/{plural}/" in r.path]

    # --- serving -----------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle + delayed ACK add ~40 ms each.
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                headers = {k.lower(): v for k, v in self.headers.items()}  # names are case-insensitive
                with server._lock:
                    server.requests.append(RecordedRequest("GET", parts.path, query, headers))
                code, body = server._respond(parts.path, query, headers)
                key = _plural_of_path(parts.path) or parts.path
                if code == 200 and key in server.behaviour.mangle:
                    body = server.behaviour.mangle[key](body)
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                if code in (429, 503) and server.behaviour.retry_after is not None:
                    self.send_header("Retry-After", server.behaviour.retry_after)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                delay = server.behaviour.drip.get(key, 0.0) if code == 200 else 0.0
                if not delay:
                    self.wfile.write(data)
                    return
                try:
                    for offset in range(len(data)):
                        self.wfile.write(data[offset : offset + 1])
                        self.wfile.flush()
                        time.sleep(delay)
                except OSError:
                    pass  # the client gave up on the answer

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                pass

        return Handler

    def _respond(self, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, Any]:
        user = IMPORTER
        if "authorization" not in headers and self.behaviour.anonymous:
            user = ANONYMOUS
        elif headers.get("authorization") != f"Bearer {self.token}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        if path == "/version":
            return 200, {"major": "1", "minor": "29", "gitVersion": self.git_version, "platform": "linux/amd64"}
        if user == ANONYMOUS:  # the RBAC authorizer's forbiddenMessage, for non-resource and resource requests
            group_version, rest = _split_path(path)
            if group_version is None or len(rest) != 1:
                return 403, _status(403, "Forbidden", f'forbidden: User "{user}" cannot get path "{path}"')
            return 403, _forbidden(rest[0], group_version, user)
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
        if path == "/apis":
            return 200, self._group_list()
        group_version, rest = _split_path(path)
        if group_version is None or not rest:
            return 404, _status(404, "NotFound", f"the server could not find the requested resource ({path})")
        plural = _plural_of_path(path)
        self._misbehave_slowly(plural)
        with self._lock:
            if plural in self.behaviour.forbidden:
                return 403, _forbidden(plural, group_version)
            if plural in self.behaviour.not_served:
                return 404, _status(404, "NotFound", f"the server could not find the requested resource ({path})")
            if self.behaviour.unavailable.get(plural, 0) > 0:
                self.behaviour.unavailable[plural] -= 1
                return 503, _status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
            if self.behaviour.throttled.get(plural, 0) > 0:
                self.behaviour.throttled[plural] -= 1
                return 429, _status(429, "TooManyRequests", "the server has received too many requests and has asked "
                                    "us to try again later", {"retryAfterSeconds": 1})
        if len(rest) == 4:
            return self._get_one(group_version, plural, rest[1], rest[3], headers)
        if len(rest) == 1:
            return self._list(group_version, plural, query, headers)
        return 404, _status(404, "NotFound", f"the server could not find the requested resource ({path})")

    def _misbehave_slowly(self, plural: str) -> None:
        delay = self.behaviour.latency + self.behaviour.slow.get(plural, 0.0)
        if delay:
            time.sleep(delay)

    def _group_list(self) -> dict[str, Any]:
        versions = sorted({o["apiVersion"] for o in self.objects if "/" in o["apiVersion"]})
        groups = []
        for group_version in versions:
            group = group_version.split("/")[0]
            entry = {"groupVersion": group_version, "version": group_version.split("/")[1]}
            groups.append({"name": group, "versions": [entry], "preferredVersion": entry})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _matching(self, group_version: str, plural: str) -> list[dict[str, Any]]:
        found = [o for o in self.objects if o["apiVersion"] == group_version and plural_of(o["kind"]) == plural]
        return sorted(found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))

    def _get_one(self, group_version: str, plural: str, namespace: str, name: str,
                 headers: dict[str, str]) -> tuple[int, Any]:
        for obj in self._matching(group_version, plural):
            if obj["metadata"].get("namespace") == namespace and obj["metadata"]["name"] == name:
                return 200, obj
        return 404, _status(404, "NotFound", f'{plural} "{name}" not found')

    def _list(self, group_version: str, plural: str, query: dict[str, list[str]],
              headers: dict[str, str]) -> tuple[int, Any]:
        items = self._matching(group_version, plural)
        for selector in query.get("fieldSelector", []):
            field_name, _, value = selector.partition("=")
            if field_name != "type" or plural != "secrets":
                return 400, _status(400, "BadRequest", f'"{field_name}" is not a known field selector')
            items = [o for o in items if o.get("type") == value]
        limit = int(query.get("limit", ["0"])[0] or 0) or self.behaviour.page_without_limit
        offset = 0
        token = query.get("continue", [""])[0]
        if token:
            with self._lock:
                if self.behaviour.expire_continue.get(plural, 0) > 0:
                    self.behaviour.expire_continue[plural] -= 1
                    return 410, _expired()
            offset = json.loads(base64.b64decode(token))["offset"]
        page = items[offset : offset + limit] if limit else items[offset:]
        metadata: dict[str, Any] = {"resourceVersion": "48213"}
        if limit and offset + limit < len(items):
            metadata["continue"] = base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
            metadata["remainingItemCount"] = len(items) - offset - limit
        accept = headers.get("accept", "")
        if AS_TABLE in accept:
            if self.behaviour.refuse_table:
                return 406, _status(406, "NotAcceptable", "only the following media types are accepted: "
                                    "application/json, application/yaml, application/vnd.kubernetes.protobuf")
            return 200, _table(plural, page, metadata, query.get("includeObject", ["Metadata"])[0])
        if PARTIAL_METADATA in accept:
            return 200, {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": copy.deepcopy(o["metadata"])} for o in page],
            }
        kind = page[0]["kind"] if page else plural[:-1].capitalize()
        return 200, {
            "kind": f"{kind}List",
            "apiVersion": group_version,
            "metadata": metadata,
            "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page],
        }


def _table(plural: str, page: list[dict[str, Any]], metadata: dict[str, Any], include: str) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table as the API server prints it (printSecret for Secrets; Name, Age else)."""
    columns = [{"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a "
                "namespace.", "priority": 0}]
    if plural == "secrets":
        columns += [{"name": "Type", "type": "string", "format": "", "description": "The type of the secret",
                     "priority": 0},
                    {"name": "Data", "type": "string", "format": "", "description": "The number of entries in the "
                     "secret", "priority": 0}]
    columns.append({"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a "
                    "timestamp representing the server time when this object was created.", "priority": 0})
    rows = []
    for obj in page:
        cells: list[Any] = [obj["metadata"]["name"]]
        if plural == "secrets":
            cells += [obj.get("type", "Opaque"), len(obj.get("data") or {})]
        cells.append(_age(obj["metadata"]["creationTimestamp"]))
        row: dict[str, Any] = {"cells": cells}
        if include == "Object":  # the whole object, Secret data included
            row["object"] = copy.deepcopy(obj)
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": copy.deepcopy(obj["metadata"])}
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": columns,
            "rows": rows}


def _age(timestamp: str) -> str:
    created = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return f"{(datetime.now(UTC) - created).days}d"


def _plural_of_path(path: str) -> str:
    _, rest = _split_path(path)
    return rest[0] if len(rest) == 1 else (rest[2] if len(rest) == 4 and rest[0] == "namespaces" else "")


def _split_path(path: str) -> tuple[str | None, list[str]]:
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        return "v1", parts[2:]
    if parts and parts[0] == "apis" and len(parts) >= 3:
        return f"{parts[1]}/{parts[2]}", parts[3:]
    return None, []


def _as_stored(obj: dict[str, Any]) -> dict[str, Any]:
    """What etcd gives back: uid, resourceVersion, creationTimestamp and managedFields filled in."""
    stored = copy.deepcopy(obj)
    metadata = stored.setdefault("metadata", {})
    name = f"{stored['kind']}/{metadata.get('namespace', '')}/{metadata['name']}"
    digest = hashlib.sha256(name.encode()).hexdigest()
    metadata.setdefault("uid", f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}")
    metadata.setdefault("resourceVersion", str(int(digest[:6], 16)))
    metadata.setdefault("creationTimestamp", "2024-05-02T09:14:07Z")
    metadata.setdefault("managedFields", [{
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": stored["apiVersion"],
        "time": "2024-05-02T09:14:07Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {}}},
    }])
    return stored


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason, "code": code}
    if details:
        status["details"] = details
    return status


def _forbidden(plural: str, group_version: str, user: str = IMPORTER) -> dict[str, Any]:
    group = group_version.split("/")[0] if "/" in group_version else ""
    message = (f'{plural} is forbidden: User "{user}" cannot list resource '
               f'"{plural}" in API group "{group}" at the cluster scope')
    return _status(403, "Forbidden", message, {"group": group, "kind": plural})


def _expired() -> dict[str, Any]:
    return _status(410, "Expired", "The provided continue parameter is too old to display a consistent list "
                   "result. You can start a new list without the continue parameter, or use the continue token "
                   "in this response to retrieve the remainder of the results.")


def render_kubeconfig(template: str, destination: Path, **urls: str) -> Path:
    """Copy a kubeconfig fixture, pointing its `__NAME__` placeholders at loopback servers."""
    text = (FIXTURES / template).read_text()
    for name, url in urls.items():
        text = text.replace(f"__{name.upper()}__", url)
    destination.write_text(text)
    return destination


def import_from(
    store: Store, kubeconfig: Path, *, page_size: int = 2, retry: RetryPolicy = FAST_RETRY, cluster: str | None = None,
    **kwargs: Any,
) -> KubeImportResult:
    """Import the kubeconfig's current context through the real kubeconfig loading path."""
    [target] = resolve_targets(str(kubeconfig))
    try:
        return import_kube(store, target.api_client, cluster or target.cluster,
                           options=FetchOptions(page_size=page_size, concurrency=4, retry=retry), **kwargs)
    finally:
        target.api_client.close()
