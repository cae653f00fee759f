"""The Prometheus-like client (in its own process) and the static-file server it is compared with.

Every scrape opens a new TCP connection, sends Prometheus' own `Accept` and `Accept-Encoding`
headers, reads the whole body and closes: wsgiref and `http.server`'s default handler speak
HTTP/1.0 and close after each answer anyway, so all three servers are measured the same way.
Latency is from just before `connect()` to the last byte read, timed in the client process, so
the server's process sees only the request - as it would from Prometheus.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import multiprocessing
import multiprocessing.connection
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
              "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/3.0.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}
SCRAPE_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Scrape:
    seconds: float
    status: int
    content_type: str
    content_encoding: str
    length: int
    body: bytes | None  # only when asked for


def scrape_once(host: str, port: int, path: str, keep_body: bool) -> Scrape:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=SCRAPE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", path, headers=PROMETHEUS_HEADERS)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    elapsed = time.perf_counter() - started
    return Scrape(elapsed, response.status, response.getheader("Content-Type", ""),
                  response.getheader("Content-Encoding", ""), len(body),
                  body if keep_body else None)


def _client(conn: multiprocessing.connection.Connection) -> None:
    while True:
        request = conn.recv()
        if request is None:
            return
        try:
            conn.send(scrape_once(*request))
        except Exception as exc:  # report, do not hang the parent
            conn.send(exc)


class ScrapeClient:
    """One client process; `get()` runs one scrape there and returns its measurement."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_client, args=(child,), name="bench-client",
                                        daemon=True)
        self._process.start()

    def get(self, url: tuple[str, int], path: str = "/metrics", keep_body: bool = False) -> Scrape:
        self._conn.send((url[0], url[1], path, keep_body))
        if not self._conn.poll(SCRAPE_TIMEOUT_SECONDS + 5):
            raise TimeoutError(f"scrape of {url}{path} did not finish")
        answer: Any = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(None)
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)


class _QuietFileHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class StaticServer:
    """`http.server` serving one directory from a thread: the floor a scrape can cost here."""

    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_QuietFileHandler, directory=str(directory))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.address = ("127.0.0.1", self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="bench-static")
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
