"""HTTP/1.1 on one keep-alive connection to an array: what a poll's requests need, no more.

A poll is ~11 small GETs to one array. Sent through requests and urllib3, each request cost
~1.1 ms of CPU on loopback, five times what the exchange itself costs written out here (~0.2 ms:
one `sendall`, a status line, a dozen header lines, a body of known length): their layers
(pool manager, retries, header dicts, the `email` package parsing every answer's headers)
were ~40 % of a poll's CPU. `ArrayAdapter` (adapter.py) sends the exporter's own sessions'
requests through this module and hands requests back an ordinary `requests.Response`.

Failures are raised as the requests exceptions urllib3's would have become, so the transport
tells them apart as before (api/transport.py, api/diagnose.py): `NotConnected` when no
connection was made (the request never went out), `ConnectTimeout`, `SSLError` for the TLS
handshake, `ReadTimeout`, `ConnectionError` for an answer that never started or broke the
protocol, `ChunkedEncodingError` for a body cut short and `ContentDecodingError` for a
compressed body that does not decompress. Limits as http.client's: 64 KiB a line, 100 headers.
"""

from __future__ import annotations

import http.client
import io
import select
import socket
import ssl
import zlib
from collections.abc import Iterator

import requests

MAX_LINE = 65536
MAX_HEADERS = 100
_END_OF_HEAD = (b"\r\n", b"\n", b"")
_GZIP = frozenset({"gzip", "x-gzip"})
DECODED = _GZIP | {"deflate"}  # the Content-Encodings `Decoder` undoes; others pass as they are


class NotConnected(requests.ConnectionError):
    """No connection to the array could be made: the request never went out."""


Headers = list[tuple[str, str]]


class Connection:
    """One keep-alive connection to `host`:`port`, plain or TLS (`context`); opened on first use.

    `sock` is what the poll deadline's watch shuts down (api/watchdog.py) to end a request.
    """

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        self.host, self.port, self.context = host, port, context
        self.sock: socket.socket | None = None
        self._reader: Reader | None = None

    def open(self, timeout: float | None) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout)
        except TimeoutError as exc:
            raise requests.ConnectTimeout("no connection within the timeout") from exc
        except OSError as exc:
            raise NotConnected(f"connection failed ({type(exc).__name__})") from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3: no Nagle delay
        if self.context is not None:
            try:
                sock = self.context.wrap_socket(sock, server_hostname=self.host)
            except ssl.SSLError as exc:  # certificate verification included
                sock.close()
                raise requests.exceptions.SSLError("TLS handshake failed") from exc
            except TimeoutError as exc:
                sock.close()
                raise requests.ConnectTimeout("no TLS handshake within the timeout") from exc
            except OSError as exc:
                sock.close()
                raise NotConnected(f"TLS handshake failed ({type(exc).__name__})") from exc
        self.sock = sock
        self._reader = Reader(sock.makefile("rb"))

    @property
    def reader(self) -> Reader:
        assert self._reader is not None  # open() first
        return self._reader

    def dropped(self) -> bool:
        """Whether an idle connection can no longer be used: the array closed it (readable at
        EOF) or sent something nobody asked for. As urllib3 checks before reusing one."""
        if self.sock is None:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        try:
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def exchange(self, head: bytes, body: bytes | None, timeout: float | None) -> Reader:
        """Send one request; the reader stands at the start of its answer."""
        assert self.sock is not None and self._reader is not None  # open() first
        self.sock.settimeout(timeout)
        try:
            self.sock.sendall(head + body if body else head)
        except TimeoutError as exc:
            raise requests.ReadTimeout("the request could not be sent within the timeout") \
                from exc
        except OSError as exc:
            raise requests.ConnectionError(f"sending failed ({type(exc).__name__})") from exc
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()  # the socket's file holds the descriptor open too
            self._reader = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class Reader:
    """Lines and bytes of answers from one connection's buffered socket file."""

    def __init__(self, file: io.BufferedReader) -> None:
        self._file = file

    def close(self) -> None:
        self._file.close()

    def line(self, what: str) -> bytes:
        line = self._file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise requests.ConnectionError(f"{what} longer than {MAX_LINE} bytes") \
                from http.client.LineTooLong(what)
        return line

    def some(self, size: int) -> bytes:
        """Up to `size` bytes, at most one read from the socket: b"" only at its end."""
        return self._file.read1(size)

    def head(self) -> tuple[str, int, str, Headers]:
        """The answer's version, status, reason and header lines (interim 1xx answers skipped)."""
        while True:
            first = self._head_line("status line", begun=False)
            if not first:
                raise requests.ConnectionError("no answer") from http.client.RemoteDisconnected(
                    "Remote end closed connection without response")  # as http.client says
            version, status, reason = _status_line(first)
            headers = self._headers()
            if not 100 <= status < 200 or status == 101:
                return version, status, reason, headers

    def _head_line(self, what: str, begun: bool) -> bytes:
        """A line of the answer's head; a timeout or a broken connection said in words that
        tell whether the answer had `begun`."""
        try:
            return self.line(what)
        except TimeoutError as exc:
            words = "no complete answer" if begun else "no answer"
            raise requests.ReadTimeout(f"{words} within the timeout") from exc
        except OSError as exc:
            words = "answer broke off" if begun else "no answer"
            raise requests.ConnectionError(f"{words} ({type(exc).__name__})") from exc

    def _headers(self) -> Headers:
        headers: Headers = []
        while True:
            line = self._head_line("header line", begun=True)
            if line in _END_OF_HEAD:
                return headers
            if len(headers) >= MAX_HEADERS:
                raise requests.ConnectionError(f"more than {MAX_HEADERS} header lines") \
                    from http.client.HTTPException("too many headers")
            text = line.decode("latin-1")
            if text[0] in " \t" and headers:  # an obsolete folded continuation line
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if colon and name and name == name.strip():  # other lines say nothing: skipped
                headers.append((name, value.strip()))


def _status_line(line: bytes) -> tuple[str, int, str]:
    text = line.decode("latin-1").rstrip("\r\n")
    version, _, rest = text.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise requests.ConnectionError("not an HTTP answer (bad status line)") \
            from http.client.BadStatusLine("status line")
    return version, int(code), reason.strip()


def body_chunks(reader: Reader, framing: str, length: int, size: int) -> Iterator[bytes]:
    """The answer's body as it comes off the wire, `size` bytes at most at a time, framed by
    `framing` ("none", "length", "chunked" or "close"; see `framing`)."""
    try:
        if framing == "length":
            yield from _exactly(reader, length, size)
        elif framing == "chunked":
            yield from _chunked(reader, size)
        elif framing == "close":
            while data := reader.some(size):
                yield data
    except TimeoutError as exc:
        raise requests.ReadTimeout("no complete answer within the timeout") from exc
    except OSError as exc:
        raise requests.exceptions.ChunkedEncodingError(
            f"connection broken ({type(exc).__name__})") from exc


def _exactly(reader: Reader, length: int, size: int) -> Iterator[bytes]:
    left = length
    while left > 0:
        data = reader.some(min(size, left))
        if not data:
            raise requests.exceptions.ChunkedEncodingError(
                f"answer cut short: {length - left} of {length} bytes")
        left -= len(data)
        yield data


def _chunked(reader: Reader, size: int) -> Iterator[bytes]:
    while True:
        line = reader.line("chunk size line")
        try:
            chunk = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise requests.exceptions.ChunkedEncodingError("bad chunk size line") from None
        if chunk < 0:
            raise requests.exceptions.ChunkedEncodingError("bad chunk size line")
        if chunk == 0:
            for _ in range(MAX_HEADERS + 1):  # trailer lines, then the empty line
                if reader.line("trailer line") in _END_OF_HEAD:
                    return
            raise requests.exceptions.ChunkedEncodingError("too many trailer lines")
        yield from _exactly(reader, chunk, size)
        if reader.line("chunk end") not in (b"\r\n", b"\n"):
            raise requests.exceptions.ChunkedEncodingError("chunk not followed by CRLF")


def framing(method: str, status: int, version: str,
            headers: dict[str, str]) -> tuple[str, int, bool]:
    """How the body is delimited (RFC 9112 6.3), its length, and whether the connection can
    carry the next request once it is read."""
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    keep = "keep-alive" in tokens if version == "HTTP/1.0" else "close" not in tokens
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return "none", 0, keep
    coding = headers.get("transfer-encoding")
    if coding is not None:
        if coding.rsplit(",", 1)[-1].strip().lower() == "chunked":
            return "chunked", 0, keep
        return "close", 0, False
    length = headers.get("content-length")
    if length is not None:
        values = {v.strip() for v in length.split(",")}
        if len(values) == 1 and (value := values.pop()).isdigit():
            return "length", int(value), keep
        raise requests.ConnectionError("conflicting or bad Content-Length")
    return "close", 0, False


class Decoder:
    """A Content-Encoding of gzip or deflate undone, each call's output at most `size` bytes
    (a small compressed answer must not grow past the size cap in one step)."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in _GZIP
        self._raw_tried = self._gzip
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, data: bytes, size: int) -> Iterator[bytes]:
        try:
            while data:
                out = self._inflate(data, size)
                if out:
                    yield out
                data = self._d.unconsumed_tail
                if self._gzip and self._d.eof and self._d.unused_data:  # another member
                    data, self._d = self._d.unused_data, zlib.decompressobj(16 + zlib.MAX_WBITS)
        except zlib.error as exc:
            raise requests.exceptions.ContentDecodingError("the compressed answer does not "
                                                           "decompress") from exc

    def _inflate(self, data: bytes, size: int) -> bytes:
        try:
            out = self._d.decompress(data, size)
        except zlib.error:
            if self._raw_tried:
                raise
            # "deflate" is zlib-wrapped by the standard, raw by some servers: as urllib3 reads it.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._d.decompress(data, size)
        self._raw_tried = True
        return out

    def end(self) -> None:
        if self._gzip and not self._d.eof:
            raise requests.exceptions.ContentDecodingError("the compressed answer is cut short")
