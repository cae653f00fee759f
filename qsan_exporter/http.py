"""WSGI routes: /metrics, /probe, the status page, health, readiness and reload.

Every route answers from what the poller already published; nothing here talks to an array, so
a hanging array can never delay a scrape (SPEC §3: never 5xx because an array failed).
"""

from __future__ import annotations

import logging
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from qsan_exporter import __version__
from qsan_exporter.debug_view import render_debug
from qsan_exporter.exposition import Exposition, negotiate
from qsan_exporter.poll.fleet import Poller
from qsan_exporter.status_page import ExporterState, render_status
from qsan_exporter.web_config import WebConfig, WSGIApp, tls_context, wrap_app

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


@dataclass
class ReloadResult:
    ok: bool
    message: str


class App:
    def __init__(
        self,
        exposition: Exposition,
        poller: Poller,
        *,
        reload: Callable[[], ReloadResult] | None = None,
        clock: Callable[[], float] = time.time,
        state: ExporterState | None = None,
    ) -> None:
        self.exposition = exposition
        self.poller = poller
        self._reload = reload
        self._clock = clock
        self.state = state or ExporterState(__version__, clock(), None)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if path == "/metrics":
                return self._metrics(environ, start_response, None)
            if path == "/probe":
                return self._probe(environ, start_response)
            if path == "/-/healthy":
                return _plain(start_response, "200 OK", "OK\n")
            if path == "/-/ready":
                if self.poller.ready():
                    return _plain(start_response, "200 OK", "Ready\n")
                return _plain(start_response, "503 Service Unavailable",
                              "Not ready: waiting for the first poll of every array\n")
            if path == "/-/reload":
                return self._reload_route(method, start_response)
            if path == "/":
                return self._status(start_response)
            return _plain(start_response, "404 Not Found", f"no such path: {path}\n")
        except Exception:
            log.exception("error serving %s", path)
            return _plain(start_response, "500 Internal Server Error", "internal error\n")

    def _metrics(
        self, environ: dict[str, Any], start_response: StartResponse, arrays: list[str] | None
    ) -> Iterable[bytes]:
        wanted = negotiate(environ.get("HTTP_ACCEPT", ""), environ.get("HTTP_ACCEPT_ENCODING", ""))
        body = self.exposition.body(
            self._clock(), openmetrics=wanted.openmetrics, compress=wanted.compress, arrays=arrays,
            include_extra=arrays is None,
        )
        # The cached chunks go out as they are: no join, no copy of a body of many MiB.
        # Caches must key on what was negotiated: text or OpenMetrics, gzip or not.
        headers = [("Content-Type", body.content_type), ("Content-Length", str(body.length)),
                   ("Vary", "Accept, Accept-Encoding")]
        if body.compressed:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return list(body.chunks)

    def _probe(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        targets = query.get("target", [])
        if len(targets) != 1 or not targets[0]:
            return _plain(start_response, "400 Bad Request",
                          "exactly one target=NAME parameter is required\n")
        target = targets[0]
        if target not in self.poller.array_names():
            return _plain(start_response, "400 Bad Request",
                          f"unknown target {target!r}: not an array in this exporter's config\n")
        if query.get("debug", [""])[-1].lower() in ("true", "1"):
            return self._debug(target, start_response)
        return self._metrics(environ, start_response, [target])

    def _debug(self, target: str, start_response: StartResponse) -> Iterable[bytes]:
        now = self._clock()
        body = self.exposition.body(now, openmetrics=False, compress=False, arrays=[target],
                                    include_extra=False)
        config = self.poller.configs().get(target)
        if config is None:  # removed by a reload since the check above
            return _plain(start_response, "400 Bad Request", f"unknown target {target!r}\n")
        text = render_debug(target, config, self.exposition.snapshots().get(target), now,
                            b"".join(body.chunks).decode())
        return _plain(start_response, "200 OK", text)

    def _reload_route(self, method: str, start_response: StartResponse) -> Iterable[bytes]:
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed", "use POST\n",
                          [("Allow", "POST")])
        if self._reload is None:
            return _plain(start_response, "400 Bad Request", "no config file to reload (demo)\n")
        result = self._reload()
        if result.ok:
            return _plain(start_response, "200 OK", result.message + "\n")
        return _plain(start_response, "500 Internal Server Error", result.message + "\n")

    def _status(self, start_response: StartResponse) -> Iterable[bytes]:
        page = render_status(self._clock(), self.state, self.exposition.snapshots(),
                             self.poller.configs())
        data = page.encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(data)))])
        return [data]


def _plain(
    start_response: StartResponse, status: str, text: str,
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data))), *(extra or [])])
    return [data]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


class _TLSServer(_ThreadingServer):
    """TLS with the handshake in the connection's own thread, never in the accept loop.

    The listening socket is wrapped with `do_handshake_on_connect=False`, so `accept()` only
    accepts; `finish_request` runs in the per-connection thread (ThreadingMixIn) and does the
    handshake there under a timeout. A client that connects and stays silent, or speaks plain
    HTTP, holds one thread for at most `handshake_timeout` and never delays anyone else.
    """

    def enable_tls(self, context: ssl.SSLContext, handshake_timeout: float,
                   allowed_sans: tuple[str, ...]) -> None:
        self.socket = context.wrap_socket(self.socket, server_side=True,
                                          do_handshake_on_connect=False)
        self.handshake_timeout = handshake_timeout
        self.allowed_sans = frozenset(allowed_sans)
        self.base_environ["HTTPS"] = "on"  # wsgi.url_scheme = https

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(self.handshake_timeout)
            request.do_handshake()
            if self.allowed_sans and not _san_allowed(request.getpeercert(), self.allowed_sans):
                log.debug("TLS client %s: certificate has none of client_allowed_sans",
                          client_address[0])
                return
            request.settimeout(None)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address[0], exc)
            return  # process_request_thread closes the socket
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops the connection mid-request is routine, not a traceback on stderr.
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended: %s", client_address[0], sys.exc_info()[1])
        else:
            log.exception("error serving a request from %s", client_address[0])


class _TLSServer6(_TLSServer):
    address_family = socket.AF_INET6


def _san_allowed(cert: dict[str, Any] | None, allowed: frozenset[str]) -> bool:
    """exporter-toolkit's client_allowed_sans: any DNS, IP, e-mail or URI SAN listed, exactly."""
    names = [value for _kind, value in (cert or {}).get("subjectAltName", ())]
    return any(name in allowed for name in names)


def parse_listen_address(address: str) -> tuple[str, int]:
    """':9747' -> ('', 9747); '127.0.0.1:9747'; '[::1]:9747'."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {address!r}: expected [host]:port")
    return host.strip("[]"), int(port)


class HttpServer:
    """A threading WSGI server in a background thread; TLS, basic auth and headers from an
    exporter-toolkit web config when one is given (see web_config.py)."""

    def __init__(
        self, app: WSGIApp, address: str, *, web_config: WebConfig | None = None,
        handshake_timeout: float = 10.0,
    ) -> None:
        host, port = parse_listen_address(address)
        tls = web_config.tls if web_config is not None else None
        context = tls_context(tls) if tls is not None else None  # before binding: may raise
        if web_config is not None:
            app = wrap_app(app, web_config)
        ipv6 = ":" in host
        if tls is None or context is None:
            self._server = (_ThreadingServer6 if ipv6 else _ThreadingServer)(
                (host, port), _QuietHandler)
        else:
            server = (_TLSServer6 if ipv6 else _TLSServer)((host, port), _QuietHandler)
            server.enable_tls(context, handshake_timeout, tls.client_allowed_sans)
            self._server = server
        self._server.set_app(app)
        if web_config is not None:
            log.info("web config: %s; basic auth: %s; extra headers: %s",
                     f"TLS {tls.min_version}-{tls.max_version}, client auth "
                     f"{tls.client_auth_type}" if tls is not None else "no TLS",
                     f"{len(web_config.basic_auth_users)} user(s)"
                     if web_config.basic_auth_users else "off",
                     ", ".join(web_config.headers) or "none")
        self.port = self._server.server_address[1]
        self.host = host
        self.scheme = "https" if context is not None else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="http")

    @property
    def url(self) -> str:
        host = self.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
