"""WSGI routes: /metrics, /probe, the status page, health, readiness and reload.

Every route answers from what the poller already published; nothing here talks to an array, so
a hanging array can never delay a scrape (SPEC §3: never 5xx because an array failed).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from qsan_exporter.exposition import Exposition
from qsan_exporter.poller import Poller
from qsan_exporter.snapshot import Snapshot

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
        lifecycle: bool = False,
    ) -> None:
        self.exposition = exposition
        self.poller = poller
        self._reload = reload
        self._lifecycle = lifecycle  # --web.enable-lifecycle: POST /-/reload allowed
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
        accept = environ.get("HTTP_ACCEPT", "")
        openmetrics = "application/openmetrics-text" in accept
        compress = "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "")
        body = self.exposition.body(
            self._clock(), openmetrics=openmetrics, compress=compress, arrays=arrays,
            include_extra=arrays is None,
        )
        # The cached chunks go out as they are: no join, no copy of a body of many MiB.
        headers = [("Content-Type", body.content_type), ("Content-Length", str(body.length))]
        if body.compressed:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return list(body.chunks)

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
        now = self._clock()
        snapshots = self.exposition.snapshots()
        configs = self.poller.configs()
        rows = []
        for name in sorted(configs):
            snap = snapshots.get(name)
            config = configs[name]
            if snap is None:
                rows.append(f"<tr><td>{_e(name)}</td><td>{_e(config.url)}</td>"
                            "<td colspan=7>waiting for the first poll</td></tr>")
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
                f"<td>{last}</td><td>{snap.duration:.2f} s</td>"
                f"<td>{_next_poll(snap, now)}</td><td>{collectors}</td></tr>"
            )
        page = (
            "<!doctype html><html><head><meta charset=utf-8><title>qsan-exporter</title>"
            "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;"
            "vertical-align:top}table{border-collapse:collapse}</style></head><body>"
            "<h1>qsan-exporter</h1><p><a href=/metrics>/metrics</a> &middot; "
            "<a href=/-/healthy>/-/healthy</a> &middot; <a href=/-/ready>/-/ready</a></p>"
            "<table><tr><th>array</th><th>url</th><th>api / product</th><th>state</th>"
            "<th>last success</th><th>poll</th><th>next poll</th><th>collectors</th></tr>"
            + "".join(rows) + "</table></body></html>"
        )
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


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _exporter_value(snap: Snapshot, name: str) -> float | None:
    """A value of the array's own exporter series: the page says what the metrics say."""
    for family in snap.exporter_families:
        if family.name == name and family.samples:
            return float(family.samples[0].value)
    return None


def _next_poll(snap: Snapshot, now: float) -> str:
    at = _exporter_value(snap, "qsan_poll_next_attempt_timestamp_seconds")
    when = "" if at is None else f"in {max(0.0, at - now):.0f} s"
    if _exporter_value(snap, "qsan_poll_backoff") == 1:
        failures = _exporter_value(snap, "qsan_poll_consecutive_failures") or 0
        return f"BACKING OFF after {failures:.0f} failed poll(s): next attempt {when}"
    return when or "&mdash;"


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
