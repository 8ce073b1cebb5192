"""Which verb on pods/exec and pods/attach runs commands in a pod, by API server version.

kubectl and client-go exec over SPDY (an HTTP POST, authorized as `create`) or, since 1.31, over a WebSocket,
whose handshake is an HTTP GET (authorized as `get`). From 1.35 the API server also asks for `create` on a
WebSocket upgrade of pods/exec, pods/attach and pods/portforward (feature gate
AuthorizePodWebsocketUpgradeCreatePermission, beta and on by default in 1.35, pkg/features/kube_features.go):
`get` alone no longer runs anything. Before 1.35 it does. A snapshot without a server version (a manifest
dump) keeps the `get` step, with that as its condition.
"""

from __future__ import annotations

import re

from rbacmap.model import ResourceRequest
from rbacmap.solver.context import SolverContext

CREATE_REQUIRED_SINCE = (1, 35)
VERSION = re.compile(r"v?(\d+)\.(\d+)")
SUBRESOURCES = ("exec", "attach")
# create first: a path proves the step with `create` whenever it is granted, and needs no condition then.
EXEC_REQUESTS = [ResourceRequest(verb, "pods", subresource=sub) for sub in SUBRESOURCES for verb in ("create", "get")]
CREATE_EXEC_REQUESTS = [request for request in EXEC_REQUESTS if request.verb == "create"]


def _server_minor(ctx: SolverContext) -> tuple[int, int] | None:
    found = VERSION.match(ctx.snapshot.server_version or "")
    return (int(found[1]), int(found[2])) if found is not None else None


def exec_requests(ctx: SolverContext) -> list[ResourceRequest]:
    """The requests that run commands in a pod on the snapshot's API server: `create` only from 1.35."""
    minor = _server_minor(ctx)
    return CREATE_EXEC_REQUESTS if minor is not None and minor >= CREATE_REQUIRED_SINCE else EXEC_REQUESTS


def unconditional_exec_requests(ctx: SolverContext) -> list[ResourceRequest] | None:
    """The requests that prove an exec step with no version condition, when `get` alone would carry one (the
    server version unknown); None when no exec step carries one."""
    minor = _server_minor(ctx)
    return CREATE_EXEC_REQUESTS if minor is None else None


def websocket_get_condition(ctx: SolverContext, request: ResourceRequest) -> str:
    """The condition of a step proven by `get` on pods/exec or pods/attach alone ('' for `create`, or when
    the snapshot's server is known to be older than 1.35)."""
    if request.verb != "get":
        return ""
    minor = _server_minor(ctx)
    if minor is not None and minor < CREATE_REQUIRED_SINCE:
        return ""
    return (f"only `get` on pods/{request.subresource}: a WebSocket exec, which the API server allows before 1.35, "
            "or on 1.35+ with the feature gate AuthorizePodWebsocketUpgradeCreatePermission off (it asks for "
            "`create` then; the server version is unknown)")
