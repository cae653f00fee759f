"""The connection manager behind server.py: no worker thread waits for a slow client.

cheroot's own manager hands every new connection straight to a worker, which then blocks on the
request line for up to the read timeout, and it does TLS handshakes in its one accept loop. Here
the selector thread instead does, without blocking, what a client can stall: the TLS handshake
and reading the request head. A worker gets a connection only once its whole head is in memory,
so 200 silent or dribbling clients cost 200 file descriptors and no thread. The head must be
complete within the read timeout counted from the connection's first byte wait (a total deadline,
not per read, so a byte every few seconds does not keep it open); an idle keep-alive connection
waits at most the idle timeout. At the connection cap, the oldest waiting connection is closed to
admit the new one, so a scraper that connects always gets in. Under a full work queue, requests
other than scrapes are answered 503 at once: scrapes are served first.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import logging
import queue
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from cheroot import connections, server

from qsan_exporter.web.streams import makefile_after
from qsan_exporter.web.tls import sans_allowed

log = logging.getLogger(__name__)

SCRAPE_PATHS = frozenset({"/metrics", "/probe", "/-/healthy", "/-/ready"})
_REQUEST_LINE = re.compile(rb"^[A-Z]{1,20} (\S{1,65536}) HTTP/1\.[01]\r?\n")
_ACCEPTS_PER_WAKE = 64


@dataclass(frozen=True)
class Limits:
    """What one hostile or broken client may take; see --web.* flags in cli.py."""

    read_timeout: float = 10.0  # the whole request head, from the first byte wait
    idle_timeout: float = 60.0  # a keep-alive connection between requests
    write_timeout: float = 60.0  # one whole response: a client that stops reading frees its worker
    max_connections: int = 512  # open client sockets, waiting and in progress
    threads: int = 16  # workers running the application
    max_header_bytes: int = 16384  # request line and headers together
    backlog: int = 1024  # kernel accept queue for bursts (capped by net.core.somaxconn)
    shed_queue: int = 16  # queued requests beyond which only scrapes are still queued


class _Waiting:
    """A client socket whose next request head is still arriving (or whose TLS handshake is)."""

    __slots__ = ("addr", "buf", "closed", "deadline", "fd", "handshaken", "idle", "since", "sock")

    def __init__(self, sock: socket.socket, addr: Any, deadline: float, *, handshaken: bool,
                 idle: bool) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.closed = False
        self.addr = addr
        self.buf = b""
        self.since = time.monotonic()
        self.deadline = deadline
        self.handshaken = handshaken
        self.idle = idle  # a keep-alive connection between requests: no byte yet

    def close(self) -> None:  # cheroot's ConnectionManager.close() calls this at shutdown
        with contextlib.suppress(OSError):
            self.sock.close()


class ScrapesFirst(queue.Queue[Any]):
    """The workers' queue: a scrape waits only behind other scrapes, never behind a status
    page or a reload."""

    def _init(self, maxsize: int) -> None:
        self.queue: collections.deque[Any] = collections.deque()
        self.scrapes: collections.deque[Any] = collections.deque()

    def _qsize(self) -> int:
        return len(self.queue) + len(self.scrapes)

    def _put(self, item: Any) -> None:
        (self.scrapes if getattr(item, "scrape", False) else self.queue).append(item)

    def _get(self) -> Any:
        return self.scrapes.popleft() if self.scrapes else self.queue.popleft()


def simple_reply(sock: socket.socket, status: str, text: str) -> None:
    """A one-shot answer from the selector thread; never blocks (a full buffer drops it)."""
    body = text.encode()
    data = (f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    # On a TLS socket whose handshake failed this writes in clear, as intended (plain HTTP
    # sent to the TLS port gets a readable 400).
    with contextlib.suppress(OSError):
        socket.socket.send(sock, data, socket.MSG_DONTWAIT)


class BoundedConnections(connections.ConnectionManager):
    """cheroot's manager, with the head read, the TLS handshake and admission done here."""

    # cheroot's own members this manager works with; its stubs list the public API only.
    _selector: Any
    _stop_requested: bool
    _remove_invalid_sockets: Callable[[], None]

    def __init__(self, http_server: Any, limits: Limits, tls: ssl.SSLContext | None,
                 allowed_sans: frozenset[str]) -> None:
        super().__init__(http_server)
        http_server.socket.setblocking(False)
        self.limits = limits
        self.tls = tls
        self.allowed_sans = allowed_sans
        self.waiting: dict[int, _Waiting] = {}
        self.open = 0  # client sockets: waiting plus in a worker
        self._open_lock = threading.Lock()

    # --- admission -------------------------------------------------------------------------

    def _from_server_socket(self, server_socket: socket.socket) -> None:
        for attempt in range(_ACCEPTS_PER_WAKE):
            if self.open >= self.limits.max_connections and attempt > 0:
                return  # evict only for a client known to wait: the selector's next report
            if self.open >= self.limits.max_connections and not self._evict_oldest():
                # All in workers: the rest wait in the kernel's backlog. The listening socket
                # stays readable, so pause instead of spinning on it.
                time.sleep(0.01)
                return
            try:
                sock, addr = server_socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE):
                    log.warning("out of file descriptors at %d connections: closing the "
                                "oldest idle one (lower --web.max-connections)", self.open)
                    if not self._evict_oldest():
                        time.sleep(0.01)
                    return
                raise
            with self._open_lock:
                self.open += 1
            self._admit(sock, addr)

    def _admit(self, sock: socket.socket, addr: Any) -> None:
        sock.setblocking(False)
        if self.tls is not None:
            try:
                sock = self.tls.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
            except (OSError, ValueError):
                self._closed_waiting(sock)
                return
        deadline = time.monotonic() + self.limits.read_timeout
        self._watch(_Waiting(sock, addr, deadline, handshaken=self.tls is None, idle=False))

    def _watch(self, w: _Waiting) -> None:
        with self._open_lock:  # put() runs in worker threads
            try:
                self._selector.register(w.fd, selectors.EVENT_READ, data=w)
            except (KeyError, ValueError, OSError):  # the server is stopping
                failed = True
            else:
                failed = False
                self.waiting[w.fd] = w
        if failed:
            w.closed = True
            self._closed_waiting(w.sock)

    def _evict_oldest(self) -> bool:
        with self._open_lock:
            if not self.waiting:
                return False
            oldest = min(self.waiting.values(), key=lambda w: w.since)
        log.debug("connection cap %d reached: closing the oldest waiting connection from %s",
                  self.limits.max_connections, oldest.addr[0])
        self._drop(oldest)
        return True

    def _drop(self, w: _Waiting) -> None:
        with self._open_lock:
            if w.closed:  # a stale event for a connection already dropped
                return
            w.closed = True
            self.waiting.pop(w.fd, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(w.fd)
        self._closed_waiting(w.sock)

    def _closed_waiting(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.close()
        self.connection_closed()

    def connection_closed(self) -> None:
        with self._open_lock:
            self.open -= 1

    # --- the selector loop -----------------------------------------------------------------

    def put(self, conn: server.HTTPConnection) -> None:
        """A keep-alive connection back from a worker: wait for its next head here."""
        conn.last_used = time.time()
        pending = isinstance(conn.socket, ssl.SSLSocket) and conn.socket.pending()
        if conn.rfile.has_data() or pending:  # a pipelined request is already buffered
            self.server.process_conn(conn)
            return
        deadline = time.monotonic() + self.limits.idle_timeout
        conn.socket.setblocking(False)
        self._watch(_Waiting(conn.socket, (conn.remote_addr, conn.remote_port), deadline,
                             handshaken=True, idle=True))

    def _run(self, expiration_interval: float) -> None:
        last_check = time.monotonic()
        while not self._stop_requested:
            try:
                active = self._selector.select(timeout=expiration_interval)
            except OSError:
                self._remove_invalid_sockets()
                continue
            for _fd, item in active:
                if item is self.server:
                    self._from_server_socket(self.server.socket)
                elif isinstance(item, _Waiting) and not item.closed:
                    self._advance(item)
            now = time.monotonic()
            if now - last_check > expiration_interval:
                with self._open_lock:
                    late = [w for w in self.waiting.values() if w.deadline < now]
                for w in late:
                    log.debug("closing a connection from %s: no complete request in time",
                              w.addr[0])
                    self._drop(w)
                last_check = now

    def _advance(self, w: _Waiting) -> None:
        try:
            if not w.handshaken:
                cast(ssl.SSLSocket, w.sock).do_handshake()
                w.handshaken = True
                if not self._sans_ok(w):
                    self._drop(w)
                    return
            data = w.sock.recv(65536)
            while data and isinstance(w.sock, ssl.SSLSocket) and w.sock.pending():
                data += w.sock.recv(65536)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return
        except ssl.SSLError as exc:
            log.debug("TLS handshake with %s failed: %s", w.addr[0], exc)
            if exc.reason == "HTTP_REQUEST":
                simple_reply(w.sock, "400 Bad Request",
                             "This port speaks HTTPS: use https:// in the URL.\n")
            self._drop(w)
            return
        except OSError:
            self._drop(w)
            return
        if not data:
            self._drop(w)
            return
        if w.idle:  # the next request began: it has the read timeout from now
            w.idle = False
            w.deadline = time.monotonic() + self.limits.read_timeout
        w.buf += data
        self._check_head(w)

    def _sans_ok(self, w: _Waiting) -> bool:
        if not self.allowed_sans:
            return True
        if sans_allowed(cast(ssl.SSLSocket, w.sock).getpeercert(), self.allowed_sans):
            return True
        log.debug("TLS client %s: certificate has none of client_allowed_sans", w.addr[0])
        return False

    def _check_head(self, w: _Waiting) -> None:
        limit = self.limits.max_header_bytes
        head = w.buf[2:] if w.buf.startswith(b"\r\n") else w.buf  # one stray CRLF is allowed
        line_end = head.find(b"\n")
        match = None
        if line_end > limit or (line_end < 0 and len(head) > limit):
            self._refuse(w, "414 URI Too Long", "request line too long\n")
            return
        if line_end >= 0:
            match = _REQUEST_LINE.match(head[:line_end + 1])
            if match is None:  # garbage, HTTP/0.9 or an HTTP/2 preface: no worker needed
                self._refuse(w, "400 Bad Request", "malformed request line\n")
                return
        end = head.find(b"\r\n\r\n")
        if (end < 0 and len(head) > limit) or end + 4 > limit:
            self._refuse(w, "431 Request Header Fields Too Large", "request headers too large\n")
            return
        if end >= 0 and match is not None:
            self._dispatch(w, match.group(1))

    def _refuse(self, w: _Waiting, status: str, text: str) -> None:
        simple_reply(w.sock, status, text)
        self._drop(w)

    def _dispatch(self, w: _Waiting, target: bytes) -> None:
        path = target.split(b"?", 1)[0].decode("latin-1")
        pool = self.server.requests
        queued = pool.qsize - pool.idle  # requests an idle worker is about to take do not count
        if queued >= self.limits.max_connections or (
                queued >= self.limits.shed_queue and path not in SCRAPE_PATHS):
            self._refuse(w, "503 Service Unavailable", "busy: try again later\n")
            return
        with self._open_lock:
            if w.closed:
                return
            w.closed = True  # handed to a worker: no longer this manager's
            self.waiting.pop(w.fd, None)
            self._selector.unregister(w.fd)
        w.sock.settimeout(self.server.timeout)
        conn = self.server.ConnectionClass(self.server, w.sock, makefile_after(w.buf))
        conn.remote_addr, conn.remote_port = w.addr[0], w.addr[1]
        conn.ssl_env = self.server.ssl_env
        conn.scrape = path in SCRAPE_PATHS
        self.server.process_conn(conn)
