"""WSGI routes: /metrics, /probe, the status page, health, readiness and reload.

Every route answers from what the poller already published; nothing here talks to an array, so
a hanging array can never delay a scrape (SPEC §3: never 5xx because an array failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from qsan_exporter import __version__
from qsan_exporter.exposition import Exposition, negotiate
from qsan_exporter.poll.fleet import Poller
from qsan_exporter.web.debug_view import render_debug
from qsan_exporter.web.status_page import ExporterState, render_status

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
        lifecycle: bool = False,
    ) -> None:
        self.exposition = exposition
        self.poller = poller
        self._reload = reload
        self._lifecycle = lifecycle  # --web.enable-lifecycle: POST /-/reload allowed
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
                return self._reload_route(method, environ, start_response)
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
        text = render_debug(target, config, self.exposition.snapshot(target), now,
                            b"".join(body.chunks).decode())
        return _plain(start_response, "200 OK", text)

    def _reload_route(
        self, method: str, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if method != "POST":
            return _plain(start_response, "405 Method Not Allowed", "use POST\n",
                          [("Allow", "POST")])
        if not self._lifecycle:
            return _plain(start_response, "403 Forbidden", "Lifecycle API is not enabled "
                          "(start with --web.enable-lifecycle, or send SIGHUP).\n")
        if _cross_site(environ):
            return _plain(start_response, "403 Forbidden",
                          "cross-site requests cannot reload the exporter\n")
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


def _cross_site(environ: dict[str, Any]) -> bool:
    """A browser's request made by another site's page (a form post): refused for /-/reload.

    Browsers send Sec-Fetch-Site, and Origin on every cross-origin POST; curl and scripts send
    neither and pass.
    """
    if environ.get("HTTP_SEC_FETCH_SITE", "same-origin") not in ("same-origin", "none"):
        return True
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return False
    return origin.partition("://")[2].rstrip("/") != environ.get("HTTP_HOST", "")


def _plain(
    start_response: StartResponse, status: str, text: str,
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    data = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data))), *(extra or [])])
    return [data]
