"""Responses leave the worker unchanged: several chunks, larger than the socket buffers, to a
client that reads slowly (every send is partial), in clear and over TLS."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qsan_exporter.web.conn import Limits
from qsan_exporter.web.server import HttpServer
from tests.test_web_server import started_tls_server

CHUNKS = [os.urandom(3 << 20), b"", os.urandom(1), os.urandom(70_000)]
BODY = b"".join(CHUNKS)


def _app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(BODY)))])
    return list(CHUNKS)


def _fetch(sock: socket.socket) -> bytes:
    """One GET, read in small pieces: the server's sends meet a nearly full buffer."""
    sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    received = bytearray()
    for _ in range(100_000):  # bounded: the answer is ~3.1 MiB in reads of at most 8 KiB
        piece = sock.recv(8192)
        if not piece:
            break
        received += piece
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    return body


def _small_buffer_connection(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: takes effect
    sock.settimeout(30)
    sock.connect(("127.0.0.1", port))
    return sock


def test_a_large_answer_in_chunks_arrives_whole_to_a_slow_reader() -> None:
    server = HttpServer(_app, "127.0.0.1:0", limits=Limits(threads=2))
    server.start()
    try:
        with _small_buffer_connection(server.port) as sock:
            assert _fetch(sock) == BODY
    finally:
        server.stop()


def test_a_large_answer_arrives_whole_over_tls(tmp_path: Path) -> None:
    server, client = started_tls_server(_app, tmp_path, Limits(threads=2))
    try:
        raw = _small_buffer_connection(server.port)
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            assert _fetch(sock) == BODY
    finally:
        server.stop()
