"""WSGI routes: /metrics, /probe, the status page, health, readiness and reload.

Every route answers from what the poller already published; nothing here talks to an array, so
a hanging array can never delay a scrape (SPEC §3: never 5xx because an array failed).
"""

from __future__ import annotations

import html
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from qsan_exporter.exposition import Exposition
from qsan_exporter.poller import Poller

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
    ) -> None:
        self.exposition = exposition
        self.poller = poller
        self._reload = reload
        self._clock = clock

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
        accept = environ.get("HTTP_ACCEPT", "")
        openmetrics = "application/openmetrics-text" in accept
        compress = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        body = self.exposition.body(
            self._clock(), openmetrics=openmetrics, compress=compress, arrays=arrays,
            include_extra=arrays is None,
        )
        data = body.gzipped if compress and body.gzipped is not None else body.data
        headers = [("Content-Type", body.content_type), ("Content-Length", str(len(data)))]
        if compress:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [data]

    def _probe(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        targets = parse_qs(environ.get("QUERY_STRING", "")).get("target", [])
        if len(targets) != 1 or not targets[0]:
            return _plain(start_response, "400 Bad Request",
                          "exactly one target=NAME parameter is required\n")
        target = targets[0]
        if target not in self.poller.array_names():
            return _plain(start_response, "400 Bad Request",
                          f"unknown target {target!r}: not an array in this exporter's config\n")
        return self._metrics(environ, start_response, [target])

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
        now = self._clock()
        snapshots = self.exposition.snapshots()
        configs = self.poller.configs()
        rows = []
        for name in sorted(configs):
            snap = snapshots.get(name)
            config = configs[name]
            if snap is None:
                rows.append(f"<tr><td>{_e(name)}</td><td>{_e(config.url)}</td>"
                            "<td colspan=6>waiting for the first poll</td></tr>")
                continue
            api = snap.identity.api if snap.identity else config.api
            product = snap.identity.product if snap.identity else config.product
            model = snap.identity.model if snap.identity else ""
            last = _ago(now, snap.last_success)
            collectors = "<br>".join(
                f"{_e(c.name)}: {'ok' if c.success else 'FAILED'} ({c.duration * 1000:.0f} ms)"
                + (f" &mdash; {_e(c.error)}" if c.error else "")
                for c in snap.collectors.values()
            )
            state = "up" if snap.up else f"DOWN &mdash; {_e(snap.error or '')}"
            rows.append(
                f"<tr><td>{_e(name)}</td><td>{_e(config.url)}</td>"
                f"<td>{_e(api)} / {_e(product)} {_e(model)}</td><td>{state}</td>"
                f"<td>{last}</td><td>{snap.duration:.2f} s</td><td>{collectors}</td></tr>"
            )
        page = (
            "<!doctype html><html><head><meta charset=utf-8><title>qsan-exporter</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;"
            "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
            "<h1>qsan-exporter</h1><p><a href=/metrics>/metrics</a> &middot; "
            "<a href=/-/healthy>/-/healthy</a> &middot; <a href=/-/ready>/-/ready</a></p>"
            "<table><tr><th>array</th><th>url</th><th>api / product</th><th>state</th>"
            "<th>last success</th><th>poll</th><th>collectors</th></tr>"
            + "".join(rows) + "</table></body></html>"
        )
        data = page.encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                  ("Content-Length", str(len(data)))])
        return [data]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _ago(now: float, then: float | None) -> str:
    if then is None:
        return "never"
    return f"{max(0.0, now - then):.0f} s ago"


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


def parse_listen_address(address: str) -> tuple[str, int]:
    """':9747' -> ('', 9747); '127.0.0.1:9747'; '[::1]:9747'."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"invalid listen address {address!r}: expected [host]:port")
    return host.strip("[]"), int(port)


class HttpServer:
    """A threading WSGI server in a background thread."""

    def __init__(self, app: App, address: str) -> None:
        host, port = parse_listen_address(address)
        server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
        self._server = make_server(host, port, app, server_class=server_class,
                                   handler_class=_QuietHandler)
        self.port = self._server.server_address[1]
        self.host = host
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="http")

    @property
    def url(self) -> str:
        host = self.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
