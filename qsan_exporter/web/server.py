"""The HTTP server: cheroot's WSGI server with a fixed worker pool and bounded connections.

cheroot (CherryPy's server, maintained, pure Python) brings the HTTP/1.1 parsing, keep-alive,
chunked bodies, the WSGI gateway and a fixed thread pool. conn.py replaces its connection
manager so that slow or silent clients, TLS handshakes and oversized heads never hold a worker,
and so that scrapes are served first when the server is saturated. TLS, basic auth and response
headers come from an exporter-toolkit web config (config.py).
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import ssl
import threading
from collections.abc import Iterable
from typing import Any

from cheroot import wsgi

from qsan_exporter import __version__
from qsan_exporter.web.config import WebConfig, WSGIApp, wrap_app
from qsan_exporter.web.conn import BoundedConnections, Limits, ScrapesFirst
from qsan_exporter.web.streams import Connection
from qsan_exporter.web.tls import tls_context

log = logging.getLogger(__name__)

# File descriptors kept for everything that is not a client connection: array sessions
# (--api.max-concurrent-requests), logs, the listening socket, Python itself.
FD_RESERVE = 128


def parse_listen_address(address: str) -> tuple[str, int]:
    """':9747' -> ('', 9747); '127.0.0.1:9747'; '[::1]:9747'."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {address!r}: expected [host]:port")
    return host.strip("[]"), int(port)


def connection_cap(wanted: int, reserve: int = FD_RESERVE) -> int:
    """`wanted`, lowered (with a warning) to stay below the process's file limit."""
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except OSError:  # a seccomp filter may forbid even reading it: trust the flag
        return wanted
    if soft == resource.RLIM_INFINITY or wanted + reserve <= soft:
        return wanted
    cap = max(1, soft - reserve)
    log.warning("--web.max-connections %d is above what the file limit %d allows: serving at "
                "most %d connections (raise LimitNOFILE / ulimit -n to allow more)",
                wanted, soft, cap)
    return cap


def _without_body_for_head(app: WSGIApp) -> WSGIApp:
    """HEAD answers with GET's status and headers (Content-Length included) but no body."""
    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        result = app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return result
        close = getattr(result, "close", None)
        if close is not None:
            close()
        return []
    return wrapped


class _Server(wsgi.Server):
    """cheroot's WSGI server with conn.py's connection manager and logging."""

    ConnectionClass = Connection
    # cheroot's manager until prepare() swaps in conn.py's (its stubs do not list the member).
    _connections: Any

    def __init__(self, bind: tuple[str, int], app: WSGIApp, limits: Limits,
                 tls: ssl.SSLContext | None, allowed_sans: frozenset[str]) -> None:
        super().__init__(bind, app, numthreads=limits.threads, max=limits.threads,
                         server_name="qsan-exporter", request_queue_size=limits.backlog)
        self.timeout = limits.read_timeout  # a float: set here, the argument is typed int
        self.version = f"qsan-exporter/{__version__}"
        self.max_request_header_size = limits.max_header_bytes + 1024  # conn.py checks first
        # None: no keep-alive limit of cheroot's (conn.py caps all connections). The ignore
        # stays: cheroot reads None as "no limit", but its stubs type the member int.
        self.keep_alive_conn_limit = None  # type: ignore[assignment]
        self.requests._queue = ScrapesFirst()  # before prepare() starts the workers
        self.requests.get = self.requests._queue.get
        self.limits = limits
        self._tls = tls
        self._allowed_sans = allowed_sans
        self.ssl_env = {"wsgi.url_scheme": "https", "HTTPS": "on"} if tls else {}

    def prepare(self) -> None:
        super().prepare()
        # Replace cheroot's manager (before serve() starts its loop): close its selector first.
        self._connections._selector.close()
        self._connections = BoundedConnections(self, self.limits, self._tls, self._allowed_sans)

    def connection_closed(self) -> None:
        self._connections.connection_closed()

    def error_log(self, msg: str = "", level: int = 20, traceback: bool = False) -> None:
        # cheroot reports client mishaps (resets, timeouts) at INFO; they are routine here.
        log.log(logging.DEBUG if level < logging.ERROR else level, "%s", msg,
                exc_info=traceback and level >= logging.ERROR)


class HttpServer:
    """The exporter's server in a background thread; TLS, basic auth and headers from an
    exporter-toolkit web config when one is given (see config.py)."""

    def __init__(
        self, app: WSGIApp, address: str, *, web_config: WebConfig | None = None,
        limits: Limits | None = None,
    ) -> None:
        host, port = parse_listen_address(address)
        limits = limits or Limits()
        limits = dataclasses.replace(limits,
                                     max_connections=connection_cap(limits.max_connections))
        tls = web_config.tls if web_config is not None else None
        context = tls_context(tls) if tls is not None else None  # before binding: may raise
        if web_config is not None:
            app = wrap_app(app, web_config)
            _log_web_config(web_config)
        sans = frozenset(tls.client_allowed_sans) if tls is not None else frozenset()
        bind = (host or "0.0.0.0", port)  # ':9747' listens on every IPv4 address, as before
        self._server = _Server(bind, _without_body_for_head(app), limits, context, sans)
        self._server.prepare()  # binds now, so a busy port is a start-up error
        self.limits = limits
        self.port = self._server.bind_addr[1]
        self.host = host
        self.scheme = "https" if context is not None else "http"
        self._thread = threading.Thread(target=self._server.serve, daemon=True, name="http")

    @property
    def url(self) -> str:
        host = self.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return self._server._connections.open

    @property
    def queued_requests(self) -> int:
        """Requests read and waiting for a worker thread."""
        return int(self._server.requests.qsize)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.stop()
        self._thread.join(timeout=10)


def _log_web_config(config: WebConfig) -> None:
    tls = config.tls
    log.info("web config: %s; basic auth: %s; extra headers: %s",
             f"TLS {tls.min_version}-{tls.max_version}, client auth {tls.client_auth_type}"
             if tls is not None else "no TLS",
             f"{len(config.basic_auth_users)} user(s)" if config.basic_auth_users else "off",
             ", ".join(config.headers) or "none")
