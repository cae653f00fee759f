"""Ending a request at the poll's deadline, whatever the array does on the wire.

A socket timeout bounds each read, not the request: an array that trickles one byte every two
seconds (headers or body) never trips it. So each request with a deadline is watched: when the
deadline passes, the watchdog shuts the request's socket down, which makes the blocked read in
the polling thread return at once, and the transport reports "poll deadline exceeded".

The adapter that sends a request hands the connection it takes to the `Watch` the transport set
for the current thread (`current_watch`, a context variable: a thread sends one request at a
time): `ArrayAdapter` (adapter.py, mounted on the sessions the exporter makes) its wire.py
connection, `WatchedAdapter` the urllib3 pool's connection where requests' own path is taken.
One `Watchdog` thread serves every watch of the process; it exits when nothing is watched and
starts again on the next watch, so an idle exporter or a test leaves no thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from qsan_exporter.api.tls import shared_context

if TYPE_CHECKING:  # urllib3 and requests' stubs define these for type checkers only
    from requests import PreparedRequest
    from requests.adapters import _HostParams, _PoolKwargs
    from urllib3._base_connection import BaseHTTPConnection

# While a connection is still being opened (no socket yet), look again this often: the connect
# itself is bounded by its timeout, which the transport already cut to the deadline.
RECHECK_SECONDS = 0.05

current_watch: contextvars.ContextVar[Watch | None] = contextvars.ContextVar(
    "qsan_current_watch", default=None)


class Watch:
    """One request's deadline and the connection carrying it."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # time.monotonic() based
        self.fired = False
        self.done = False
        self._connection: Any = None
        self._lock = threading.Lock()

    def attach(self, connection: Any) -> None:
        with self._lock:
            self._connection = connection
        if self.fired:
            self._cut()

    def fire(self) -> bool:
        """The deadline passed: cut the connection. True when nothing is left to watch."""
        self.fired = True
        return self._cut() or self.done

    def finish(self) -> None:
        """The request is over: its connection (back in the pool, maybe already serving the
        next request) is no longer this watch's to cut."""
        with self._lock:
            self.done = True
            self._connection = None

    def _cut(self) -> bool:
        with self._lock:
            if self.done:
                return True
            sock = getattr(self._connection, "sock", None)
        if sock is None:
            return False
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv() in the polling thread
        return True


class Watchdog:
    """One thread for all watches: a heap of deadlines, woken when an earlier one arrives."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self, seconds: float) -> Iterator[Watch]:
        """Watch the requests sent in this block: cut them after `seconds`."""
        watch = Watch(self._clock() + max(0.0, seconds))
        self._push(watch, watch.deadline)
        token = current_watch.set(watch)
        try:
            yield watch
        finally:
            current_watch.reset(token)
            watch.finish()

    def cut_all(self) -> None:
        """Shutting down: every watched request ends now, not at its deadline."""
        with self._wake:
            now = self._clock()
            self._heap = [(now, order, watch) for _, order, watch in self._heap]
            heapq.heapify(self._heap)
            self._wake.notify()

    def _push(self, watch: Watch, when: float) -> None:
        with self._wake:
            heapq.heappush(self._heap, (when, next(self._order), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="qsan-watchdog",
                                                daemon=True)
                self._thread.start()
            elif self._heap[0][2] is watch:
                # Only a new earliest deadline changes when the thread must wake: waking it for
                # every request cost ~5 % of a 1,000-array fleet's CPU.
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)  # ended in time: forget it
                if not self._heap:
                    self._thread = None
                    return
                when, _, watch = self._heap[0]
                wait = when - self._clock()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._heap)
            if not watch.fire():
                self._push(watch, self._clock() + RECHECK_SECONDS)


def _watched(connection: BaseHTTPConnection) -> BaseHTTPConnection:
    """The pool's connection, handed to the current thread's watch if it has one."""
    watch = current_watch.get()
    if watch is not None:
        watch.attach(connection)
    return connection


class _WatchedHTTPPool(HTTPConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        return _watched(super()._get_conn(timeout))


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _get_conn(self, timeout: float | None = None) -> BaseHTTPConnection:
        return _watched(super()._get_conn(timeout))


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connection pools hand each connection to the current watch, and
    whose HTTPS pools share one TLS context per `verify` setting (api/tls.py)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # An instance attribute: urllib3's module-level default dict stays untouched.
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool,
                                                   "https": _WatchedHTTPSPool}

    def build_connection_pool_key_attributes(
            self, request: PreparedRequest, verify: bool | str,
            cert: str | tuple[str, str] | None = None) -> tuple[_HostParams, _PoolKwargs]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        context = shared_context(verify) if host["scheme"] == "https" and not cert else None
        if context is not None:
            # The context carries the trust: no pool loads the bundle into it again.
            pool.pop("ca_certs", None)
            pool.pop("ca_cert_dir", None)
            pool["ssl_context"] = context
        return host, pool

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would point the pool at the bundle, to be loaded on every connect: only
        # where the pool has no shared context (a client certificate, a missing bundle).
        if conn.conn_kw.get("ssl_context") is None:
            super().cert_verify(conn, url, verify, cert)
