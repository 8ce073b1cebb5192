"""An overall deadline per request, on top of urllib3's timeout.

The kubernetes client hands `_request_timeout` to urllib3, which bounds connecting and each socket
read: a server (or a proxy) that drips its answer a byte at a time, each within the timeout, is
never timed out, and the import waits as long as it drips. Here a timer shuts the request's socket
down when its deadline passes; the read blocked on it ends at once with an error the fetcher
retries like any timeout. The socket is found through the connection classes of the client's
urllib3 pool manager, swapped for subclasses that note which connection the requesting thread
reads from (`install`); a client without a urllib3 pool manager keeps per-read timeouts only.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import urllib3
from kubernetes.client import ApiClient
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# The deadline of the request the current thread is making (call_api runs in the calling thread).
_current = threading.local()


class DeadlineExceeded(Exception):
    """The request was cut off at its deadline (the caller raises it, from what the cut read raised)."""


class Deadline:
    """One request's deadline: `expired` once it passed, and the connection it was reading from shut."""

    def __init__(self) -> None:
        self.expired = False
        self.finished = False
        self._connection: HTTPConnection | None = None
        self._lock = threading.Lock()

    def attach(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _shut_if_owned(connection, self)

    def expire(self) -> None:
        with self._lock:
            # Its request is done: the connection may be serving another one by now. (Between the end of
            # the body, when urllib3 gives the connection back, and finish() the caller may still decode the
            # answer: a connection another request claimed meanwhile is not shut, _shut_if_owned.)
            if self.finished:
                return
            self.expired = True
            if self._connection is not None:
                _shut_if_owned(self._connection, self)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            self._connection = None


# Guards which deadline owns a connection: a check and a shut are one step against a new request claiming it.
_owners = threading.Lock()


def _shut_if_owned(connection: HTTPConnection, owner: Deadline) -> None:
    """Shut `connection` unless another request took it since `owner`'s request used it.

    The request's answer may be read and its connection back in the pool while its deadline still runs
    (the caller decodes a large answer inside the block): another thread's request may be using that
    connection by then, and cutting it would fail a request well within its own deadline."""
    with _owners:
        if getattr(connection, "_deadline_owner", None) is owner:
            _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    # Through an HTTPS proxy, urllib3 wraps TLS in TLS (urllib3.util.ssltransport.SSLTransport), which is no
    # socket: shut the socket under it.
    while sock is not None and not isinstance(sock, socket.socket):
        sock = getattr(sock, "socket", None)
    if sock is None:
        return
    # The plain socket's shutdown, also for TLS: it ends a read blocked in another thread, where
    # ssl.SSLSocket.shutdown would first drop the TLS state that read is using. OSError: already closed.
    with suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watched:
    """Mixin for urllib3 connections: the thread's deadline learns the connection before the answer is read."""

    _deadline_owner: Deadline | None = None  # the deadline of the request now using the connection

    def request(self, *args: Any, **kwargs: Any) -> Any:
        # Each request claims the connection for the deadline of its thread (or for none): a deadline of
        # an earlier request on it no longer shuts it (_shut_if_owned).
        with _owners:
            self._deadline_owner = getattr(_current, "deadline", None)
        return super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        deadline: Deadline | None = getattr(_current, "deadline", None)
        if deadline is not None:
            deadline.attach(self)  # type: ignore[arg-type]
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def install(api_client: ApiClient) -> bool:
    """Let `deadline()` bound the requests of `api_client`; False when its transport is not urllib3's."""
    manager = getattr(getattr(api_client, "rest_client", None), "pool_manager", None)
    if not isinstance(manager, urllib3.PoolManager):
        return False
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}
    manager.clear()  # pools made before would keep the plain connections
    return True


class _Watchdog:
    """One thread for every deadline of the process, started on first use.

    Not a threading.Timer per request: with a thread started and ended for each request, Ctrl-C
    during an import was seen to wait for the running lists (the main thread, blocked on the fetch
    pool, was not woken by the SIGINT until a list ended; test_ctrl_c_during_the_fetch_...)."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Deadline]] = []  # a heap; a finished deadline stays until due
        self._count = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, seconds: float, current: Deadline) -> None:
        with self._wake:
            heapq.heappush(self._due, (time.monotonic() + seconds, next(self._count), current))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="kube-deadline", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][2].finished:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                wait = self._due[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, current = heapq.heappop(self._due)
            try:
                current.expire()
            except Exception:  # noqa: BLE001 - one odd connection must not end every later deadline
                logging.getLogger(__name__).exception("could not cut a request at its deadline")


_watchdog = _Watchdog()


@contextmanager
def deadline(seconds: float) -> Iterator[Deadline]:
    """Bound everything the current thread does with an installed client inside the block (connect, send,
    wait, read the whole body) to `seconds` in all; then its connection is shut and `expired` is set."""
    current = Deadline()
    _current.deadline = current
    _watchdog.watch(seconds, current)
    try:
        yield current
    finally:
        current.finish()
        _current.deadline = None
