"""kube_deadline with the real kubernetes client and urllib3 pool against the loopback API server."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rbacmap.importers import kube_deadline
from rbacmap.importers.kube_auth import resolve_targets
from tests.importers import fake_apiserver as fake


def _get(client: Any, path: str) -> Any:
    response = client.call_api(path, "GET", header_params={"Accept": "application/json"}, auth_settings=["BearerToken"],
                               _preload_content=False, _request_timeout=5.0)
    return json.loads(response.data)


def test_a_deadline_passing_after_its_answer_was_read_cuts_no_other_request(server: Any, tmp_path: Path) -> None:
    # A's answer is read (its connection back in the pool) but A is still inside its deadline, decoding a
    # large answer, when the deadline passes. B, meanwhile, took that pooled connection for its own request,
    # well within B's own deadline: A's deadline must not shut B's socket.
    kubeconfig = fake.render_kubeconfig("kubeconfig.yaml", tmp_path / "kubeconfig", prod=server.url)
    [target] = resolve_targets(str(kubeconfig))
    client = target.api_client
    assert kube_deadline.install(client)
    server.behaviour.drip["nodes"] = 0.002  # B's body takes a while to arrive
    a_read, b_outcome = threading.Event(), []

    def request_b() -> None:
        a_read.wait()
        try:
            with kube_deadline.deadline(30.0):
                b_outcome.append(_get(client, "/api/v1/nodes")["kind"])
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test looks at
            b_outcome.append(f"{type(exc).__name__}: {exc}")

    b = threading.Thread(target=request_b)
    b.start()
    try:
        with kube_deadline.deadline(0.3):
            _get(client, "/api/v1/namespaces")
            a_read.set()
            time.sleep(0.8)  # decoding a large answer, past A's deadline
        b.join(30)
    finally:
        client.close()

    assert b_outcome == ["NodeList"]
    assert len(server.requests_for("nodes")) == 1  # not cut and silently retried either


class _TlsInTls:
    """What urllib3 puts on a connection through an HTTPS proxy: no socket, the socket under it as `.socket`."""

    def __init__(self, sock: Any) -> None:
        self.socket = sock


class _Connection:
    def __init__(self, sock: Any) -> None:
        self.sock = sock


def test_a_deadline_shuts_the_socket_under_a_tls_in_tls_transport() -> None:
    import socket

    ours, peer = socket.socketpair()
    try:
        kube_deadline._shut(_Connection(_TlsInTls(ours)))  # type: ignore[arg-type]
        peer.settimeout(2)
        assert peer.recv(1) == b""  # the peer sees the end: a read blocked on `ours` would end too
    finally:
        ours.close()
        peer.close()


def test_one_deadline_that_cannot_be_cut_does_not_end_the_later_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = kube_deadline.Deadline()
    monkeypatch.setattr(broken, "expire", lambda: (_ for _ in ()).throw(TypeError("not a socket")))
    kube_deadline._watchdog.watch(0.01, broken)
    with kube_deadline.deadline(0.05) as later:
        time.sleep(0.5)
        assert later.expired  # the watchdog thread lived on after the first expire raised
