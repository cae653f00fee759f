"""wire.py reads what arrays may answer, byte for byte, over real loopback sockets: a scripted
server sends each answer exactly as written here, and the transport (api/transport.py) above
it turns every broken one into the error it names."""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests

from qsan_exporter.api import wire
from qsan_exporter.api.errors import ApiFormatError, ApiUnreachable
from qsan_exporter.api.transport import Transport, may_have_acted

CLOSE = b""  # in a script: close the connection instead of answering
HANG_UP = b"<hang up>"  # at the end of an answer: close the connection once it is sent


@dataclass
class Scripted:
    """A loopback server answering each request with the next answer of `answers`."""

    answers: list[bytes]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    port: int = 0

    def serve(self, listener: socket.socket) -> None:
        while self.answers:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                self._converse(conn)

    def _converse(self, conn: socket.socket) -> None:
        buffer = b""
        while self.answers:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            self.requests.append(head)
            answer = self.answers.pop(0)
            if answer == CLOSE:
                return
            conn.sendall(answer.removesuffix(HANG_UP))
            if answer.endswith(HANG_UP) or b"\r\nConnection: close" in answer \
                    or answer.startswith(b"HTTP/1.0"):
                return


Serve = Callable[..., tuple[Scripted, Transport]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """serve(*answers): a scripted server on loopback and a transport to it."""
    listeners: list[socket.socket] = []

    def start(*answers: bytes) -> tuple[Scripted, Transport]:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        server = Scripted(list(answers))
        threading.Thread(target=server.serve, args=(listener,), daemon=True).start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        return server, Transport.for_array(url, verify=True, timeout=5.0, stats=None,
                                           guard=None, session=None, clock=time.time,
                                           max_bytes=1 << 20)

    yield start
    for listener in listeners:
        listener.close()


def _answer(body: bytes, *headers: str, status: str = "200 OK",
            version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _sized(body: bytes, *headers: str, version: str = "HTTP/1.1") -> bytes:
    return _answer(body, f"Content-Length: {len(body)}", *headers, version=version)


def _get(transport: Transport, path: str = "/x") -> requests.Response:
    return transport.send("GET", path, path, headers={})


def test_answers_of_known_length_share_one_connection(serve: Serve) -> None:
    server, transport = serve(_sized(b'{"a": 1}'), _sized(b"[]", "X-Extra: 1"), _sized(b"{}"))
    assert [_get(transport).json() for _ in range(3)] == [{"a": 1}, [], {}]
    assert server.connections == 1
    head = server.requests[0].decode()
    assert head.startswith("GET /x HTTP/1.1\r\nHost: 127.0.0.1:")


def test_a_chunked_answer_with_extensions_and_trailers(serve: Serve) -> None:
    body = b'{"disks": [1, 2, 3]}'
    chunked = (b"5;ext=1\r\n" + body[:5] + b"\r\n" + format(len(body) - 5, "x").encode()
               + b"\r\n" + body[5:] + b"\r\n0\r\nX-Trailer: t\r\n\r\n")
    server, transport = serve(_answer(chunked, "Transfer-Encoding: chunked"), _sized(b"{}"))
    assert _get(transport).json() == {"disks": [1, 2, 3]}
    assert _get(transport).json() == {}
    assert server.connections == 1  # read to its end: the connection carried on


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw deflate"])
def test_compressed_answers_are_decoded(serve: Serve, coding: str) -> None:
    body = b'{"pools": "' + b"x" * 5000 + b'"}'
    packed = {"gzip": gzip.compress(body), "deflate": zlib.compress(body),
              "raw deflate": zlib.compress(body, wbits=-15)}[coding]
    name = coding.split()[-1]
    _, transport = serve(_sized(packed, f"Content-Encoding: {name}"))
    assert _get(transport).content == body


def test_decoding_never_makes_more_than_a_chunk_at_once() -> None:
    bomb = gzip.compress(b"0" * (8 << 20))  # 8 MiB from ~8 KiB
    decoder = wire.Decoder("gzip")
    pieces = list(decoder.feed(bomb, 65536))
    decoder.end()
    assert max(map(len, pieces)) <= 65536 and sum(map(len, pieces)) == 8 << 20


def test_a_compressed_bomb_stops_at_the_size_cap(serve: Serve) -> None:
    bomb = gzip.compress(b"0" * (4 << 20))
    _, transport = serve(_sized(bomb, "Content-Encoding: gzip"))
    with pytest.raises(ApiFormatError, match="answer larger than 1 MiB"):
        _get(transport)


def test_an_answer_delimited_by_close_ends_its_connection(serve: Serve) -> None:
    server, transport = serve(_answer(b'{"n": 1}', "Connection: close"), _sized(b"{}"))
    assert _get(transport).json() == {"n": 1}
    assert _get(transport).json() == {}
    assert server.connections == 2


def test_http_1_0_without_keep_alive_is_not_reused(serve: Serve) -> None:
    server, transport = serve(_sized(b"[1]", version="HTTP/1.0"), _sized(b"[2]"))
    assert [_get(transport).json() for _ in range(2)] == [[1], [2]]
    assert server.connections == 2


def test_interim_answers_are_skipped_and_folded_headers_joined(serve: Serve) -> None:
    answer = _answer(b"", "X-Interim: yes", status="100 Continue") + _sized(
        b"{}", "X-Long: one", " two", "not a header line", "Set-Cookie: a=1",
        "Set-Cookie: b=2")
    _, transport = serve(answer)
    response = _get(transport)
    assert response.status_code == 200 and "X-Interim" not in response.headers
    assert response.headers["x-long"] == "one two"
    assert response.headers["Set-Cookie"] == "a=1, b=2"  # as urllib3 joins them
    assert transport.session.cookies.get_dict() == {"a": "1", "b": "2"}


def test_no_body_for_204(serve: Serve) -> None:
    server, transport = serve(_answer(b"", status="204 No Content"), _sized(b"{}"))
    assert _get(transport).content == b""
    assert _get(transport).json() == {}
    assert server.connections == 1


@pytest.mark.parametrize(("answer", "words"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"cut", "answer cut short"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "answer cut short"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":", "answer cut short"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nContent-Encoding: gzip\r\n\r\nnot gzip!",
     "answer cut short"),
])
def test_a_broken_body_fails_that_request_as_a_bad_answer(
        serve: Serve, answer: bytes, words: str) -> None:
    _, transport = serve(answer + HANG_UP)
    with pytest.raises(ApiFormatError, match=words):
        _get(transport)


@pytest.mark.parametrize(("answer", "words"), [
    (CLOSE, "closed without an answer"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "failed"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", "failed"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "failed"),
])
def test_an_answer_that_is_not_http_is_unreachable(
        serve: Serve, answer: bytes, words: str) -> None:
    _, transport = serve(answer + HANG_UP)
    with pytest.raises(ApiUnreachable, match=words) as caught:
        _get(transport)
    assert caught.value.may_have_acted  # the request went out


def test_an_idle_connection_the_array_closed_is_replaced(serve: Serve) -> None:
    server, transport = serve(_sized(b"[1]") + HANG_UP, _sized(b"[2]"))
    assert _get(transport).json() == [1]
    time.sleep(0.2)  # the server's close reaches the idle connection
    assert _get(transport).json() == [2]
    assert server.connections == 2


def test_refused_means_the_request_never_went_out(closed_port: int) -> None:
    transport = Transport.for_array(f"http://127.0.0.1:{closed_port}", verify=True,
                                    timeout=5.0, stats=None, guard=None, session=None,
                                    clock=time.time, max_bytes=1 << 20)
    with pytest.raises(ApiUnreachable, match="connection refused") as caught:
        _get(transport)
    assert not caught.value.may_have_acted
    assert not may_have_acted(wire.NotConnected("x"))


@pytest.mark.parametrize(("headers", "expected"), [
    ({"content-length": "12"}, ("length", 12, True)),
    ({"content-length": "12, 12"}, ("length", 12, True)),
    ({"transfer-encoding": "gzip, chunked", "content-length": "5"}, ("chunked", 0, True)),
    ({"transfer-encoding": "gzip"}, ("close", 0, False)),
    ({}, ("close", 0, False)),
    ({"connection": "Close", "content-length": "1"}, ("length", 1, False)),
])
def test_framing(headers: dict[str, str], expected: tuple[str, int, bool]) -> None:
    assert wire.framing("GET", 200, "HTTP/1.1", headers) == expected
    assert wire.framing("HEAD", 200, "HTTP/1.1", headers)[:2] == ("none", 0)
    assert wire.framing("GET", 304, "HTTP/1.1", headers)[:2] == ("none", 0)
