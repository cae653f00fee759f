"""The bounded server (web/server.py, web/conn.py) against slow, broken and hostile clients.

Every test is on loopback, bounded in count and time, and asserts counts (answers, threads,
closed connections), never durations.
"""

from __future__ import annotations

import contextlib
import http.client
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import trustme

from qsan_exporter.web.config import WebConfig
from qsan_exporter.web.conn import Limits
from qsan_exporter.web.server import HttpServer
from qsan_exporter.web.tls import TLSServerConfig

BODY = b"# HELP up fake\nup 1\n" * 200


def scrape_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]


@pytest.fixture
def serve() -> Iterator[Callable[..., HttpServer]]:
    servers: list[HttpServer] = []

    def start(**limits: Any) -> HttpServer:
        server = HttpServer(scrape_app, "127.0.0.1:0", limits=Limits(**limits))
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def scrape(server: HttpServer, path: str = "/metrics", method: str = "GET") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path)
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def raw(server: HttpServer, data: bytes) -> bytes:
    """Send `data`, half-close, and read the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def count_closed_by_server(socks: list[socket.socket], bound_seconds: float) -> int:
    """How many of `socks` the server closed (EOF or reset) within a generous bound."""
    sel = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
    closed = 0
    end = time.monotonic() + bound_seconds
    while closed < len(socks) and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            try:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data or data.startswith(b"HTTP/1.1 4"):
                sel.unregister(key.fileobj)
                closed += 1
    sel.close()
    return closed


def open_silent(server: HttpServer, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        if first_bytes:
            sock.sendall(first_bytes)
        socks.append(sock)
    return socks


def test_head_has_no_body_and_server_header_names_no_python(
    serve: Callable[..., HttpServer],
) -> None:
    server = serve()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("HEAD", "/metrics")
    answer = conn.getresponse()
    assert answer.status == 200 and answer.read() == b""
    assert answer.getheader("Content-Length") == str(len(BODY))
    server_header = answer.getheader("Server") or ""
    assert server_header.startswith("qsan-exporter") and "Python" not in server_header
    conn.request("GET", "/metrics")  # the keep-alive connection is still in sync
    assert conn.getresponse().read() == BODY
    conn.close()


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_slowloris_costs_no_threads_and_is_closed_within_the_read_timeout(
    serve: Callable[..., HttpServer],
) -> None:
    server = serve(read_timeout=1.0)
    threads_before = threading.active_count()
    socks = open_silent(server, 100) + open_silent(server, 100, b"GET /metrics HTTP/1.1\r\nHo")
    try:
        answers = [scrape(server)[0] for _ in range(20)]
        assert answers == [200] * 20
        assert threading.active_count() - threads_before <= 2
        assert threading.active_count() <= 64
        assert count_closed_by_server(socks, bound_seconds=30) == 200
    finally:
        for sock in socks:
            sock.close()
    assert scrape(server)[0] == 200


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_a_byte_at_a_time_does_not_extend_the_deadline(
    serve: Callable[..., HttpServer],
) -> None:
    server = serve(read_timeout=1.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sent = 0
        try:
            for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 200:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except OSError:
            pass  # reset by the server: the deadline passed
        sock.settimeout(10)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(100) == b""
    assert sent < 200  # a full 10 s of dribbling was never allowed


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n", b"431"),
    (b"GET / HTTP/1.1\r\n" + b"X-Many: c\r\n" * 3000 + b"\r\n", b"431"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", b"400"),
    (b"GET /\r\n", b"400"),  # HTTP/0.9
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\n\r\n\r\n", b"400"),
])
def test_oversize_and_garbage_requests_get_a_clear_status(
    serve: Callable[..., HttpServer], request_bytes: bytes, status: bytes
) -> None:
    server = serve()
    answer = raw(server, request_bytes)
    assert answer.split(b" ", 2)[1] == status, answer[:200]
    assert scrape(server)[0] == 200


def test_unfinished_header_floods_are_cut_at_the_header_limit(
    serve: Callable[..., HttpServer],
) -> None:
    server = serve(read_timeout=30.0)
    socks = open_silent(server, 100, b"GET /metrics HTTP/1.1\r\n")
    line = b"X-Flood: " + b"f" * 1000 + b"\r\n"
    try:
        for sock in socks:
            for _ in range(20):  # 20 KB each, above the 16 KiB limit; never finished
                try:
                    sock.sendall(line)
                except OSError:
                    break
        assert count_closed_by_server(socks, bound_seconds=20) == 100
        assert scrape(server)[0] == 200
    finally:
        for sock in socks:
            sock.close()


def test_connection_cap_closes_the_oldest_idle_connection_and_scrapes_get_in(
    serve: Callable[..., HttpServer],
) -> None:
    server = serve(max_connections=50)
    socks = open_silent(server, 80)
    try:
        assert [scrape(server)[0] for _ in range(10)] == [200] * 10
        assert server.open_connections <= 50
        assert count_closed_by_server(socks[:30], bound_seconds=10) == 30  # the oldest went
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_keep_alive_connection_idle_past_the_idle_timeout_is_closed(
    serve: Callable[..., HttpServer],
) -> None:
    server = serve(idle_timeout=1.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert count_closed_by_server([sock], bound_seconds=15) == 1


def test_fifty_concurrent_scrapers_all_answered(serve: Callable[..., HttpServer]) -> None:
    server = serve()
    threads_before = threading.active_count()

    def scraper(_: int) -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        statuses = []
        for _ in range(10):
            conn.request("GET", "/metrics")
            answer = conn.getresponse()
            answer.read()
            statuses.append(answer.status)
        conn.close()
        return statuses

    with ThreadPoolExecutor(50) as pool:
        results = [s for statuses in pool.map(scraper, range(50)) for s in statuses]
    assert results == [200] * 500
    assert threading.active_count() <= threads_before + 2


def test_when_saturated_other_paths_are_shed_with_503_and_scrapes_still_answer(
    serve: Callable[..., HttpServer],
) -> None:
    release = threading.Event()
    served: list[str] = []

    def slow_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        served.append(environ["PATH_INFO"])
        if environ["PATH_INFO"] == "/slow":
            release.wait(20)
        return scrape_app(environ, start_response)

    server = HttpServer(slow_app, "127.0.0.1:0", limits=Limits(threads=2, shed_queue=2))
    server.start()
    try:
        with ThreadPoolExecutor(8) as pool:
            stuck = [pool.submit(scrape, server, "/slow") for _ in range(2)]
            for _ in range(200):  # until both workers are busy
                if len(served) == 2:
                    break
                time.sleep(0.05)
            stuck += [pool.submit(scrape, server, "/slow") for _ in range(2)]
            for _ in range(200):  # until the two extra requests wait in the queue
                if server.queued_requests >= 2:
                    break
                time.sleep(0.05)
            shed = scrape(server, "/slow")[0]
            scrapes = [pool.submit(scrape, server, "/metrics") for _ in range(3)]
            for _ in range(200):  # until the scrapes wait in the queue too
                if server.queued_requests >= 5:
                    break
                time.sleep(0.05)
            release.set()
            assert shed == 503
            assert [f.result()[0] for f in scrapes] == [200] * 3
            assert [f.result()[0] for f in stuck] == [200] * 4
        # The queued scrapes went ahead of the queued /slow requests.
        assert served == ["/slow"] * 2 + ["/metrics"] * 3 + ["/slow"] * 2
    finally:
        release.set()
        server.stop()


def test_a_port_without_host_listens_on_every_ipv4_address() -> None:
    server = HttpServer(scrape_app, ":0")
    server.start()
    try:
        assert scrape(server)[0] == 200
    finally:
        server.stop()


# --- TLS: handshakes happen in the selector thread, without blocking --------------------------

def started_tls_server(app: Any, tmp_path: Path,
                       limits: Limits) -> tuple[HttpServer, ssl.SSLContext]:
    """An HTTPS server on loopback with a fresh CA's certificate, and a client context that
    trusts that CA."""
    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(
        str(tmp_path / "server.pem"))
    tls = TLSServerConfig(cert_file=tmp_path / "server.pem", key_file=tmp_path / "server.pem")
    server = HttpServer(app, "127.0.0.1:0", web_config=WebConfig(tls=tls), limits=limits)
    server.start()
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[HttpServer, ssl.SSLContext]]:
    server, client = started_tls_server(scrape_app, tmp_path, Limits(read_timeout=1.0))
    yield server, client
    server.stop()


def tls_scrape(server: HttpServer, client: ssl.SSLContext) -> int:
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=client)
    try:
        conn.request("GET", "/metrics")
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_half_open_tls_handshakes_hold_no_worker_and_are_closed(
    tls_server: tuple[HttpServer, ssl.SSLContext],
) -> None:
    server, client = tls_server
    threads_before = threading.active_count()
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"  # the start of a ClientHello
    socks = open_silent(server, 50) + open_silent(server, 50, hello)
    try:
        assert [tls_scrape(server, client) for _ in range(10)] == [200] * 10
        assert threading.active_count() - threads_before <= 2
        assert count_closed_by_server(socks, bound_seconds=30) == 100
    finally:
        for sock in socks:
            sock.close()


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_tls_connection_idle_after_the_handshake_is_closed(
    tls_server: tuple[HttpServer, ssl.SSLContext],
) -> None:
    server, client = tls_server
    raw_sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    with client.wrap_socket(raw_sock, server_hostname="127.0.0.1") as sock:
        sock.settimeout(30)
        # Closed at the read timeout (EOF or reset), not held for minutes; a timeout fails.
        with contextlib.suppress(ssl.SSLError, ConnectionResetError):
            assert sock.recv(1) == b""
    assert tls_scrape(server, client) == 200


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_a_client_that_stops_reading_frees_its_worker_at_the_write_deadline() -> None:
    big = b"x" * (32 << 20)  # far more than the socket buffers hold

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/big":
            start_response("200 OK", [("Content-Length", str(len(big)))])
            return [big]
        return scrape_app(environ, start_response)

    server = HttpServer(app, "127.0.0.1:0", limits=Limits(threads=1, write_timeout=1.0))
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as reader:
            reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            reader.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads
            # The one worker is stuck writing until the deadline; then the scrape is served.
            assert scrape(server)[0] == 200
            # The server gave up on the reader: no connection of its own is left open.
            for _ in range(100):
                if server.open_connections == 0:
                    break
                time.sleep(0.1)
            assert server.open_connections == 0
    finally:
        server.stop()


def test_at_the_cap_with_every_connection_busy_new_clients_wait_in_the_backlog() -> None:
    release, running = threading.Event(), threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            running.set()
            release.wait(20)
        return scrape_app(environ, start_response)

    server = HttpServer(app, "127.0.0.1:0", limits=Limits(threads=1, max_connections=3))
    server.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            busy = [pool.submit(scrape, server, "/slow") for _ in range(3)]
            # Until all three are admitted: one runs in the only worker, two queue behind it
            # (two queued alone may be the first two while the third still sends its head).
            for _ in range(200):
                if running.is_set() and server.queued_requests >= 2:
                    break
                time.sleep(0.05)
            late = pool.submit(scrape, server, "/metrics")
            assert server.open_connections == 3
            release.set()
            assert late.result()[0] == 200
            assert [f.result()[0] for f in busy] == [200] * 3
    finally:
        release.set()
        server.stop()
