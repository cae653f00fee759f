"""requests' adapter for the exporter's own array sessions: their requests go out over wire.py.

`ArrayAdapter.send` takes requests' prepared request and gives back requests' own `Response`,
so everything above it (transport, clients, the `responses` test library, which can be pointed
at this `send`) sees requests. Below it, each origin's keep-alive connections are kept here
(at most `MAX_IDLE` idle, a dropped one replaced), each handed to the poll deadline's watch.

What wire.py does not do goes through requests' own `HTTPAdapter.send` (the `WatchedAdapter`
it extends: watch and shared TLS contexts too): a proxy, a client certificate, a CA bundle the
shared contexts cannot read (requests then reports it), a streamed request body, a timeout given
as urllib3's `Timeout` (the transport gives seconds).
"""

from __future__ import annotations

import http.client
import re
import ssl
import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.models import Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from qsan_exporter.api import wire
from qsan_exporter.api.tls import shared_context
from qsan_exporter.api.watchdog import WatchedAdapter, current_watch

MAX_IDLE = 10  # idle connections kept per origin: requests' own pool size
_ORIGINS = 16  # origins whose address is kept worked out: one array's URL, written a few ways
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")  # would split or end the request line


def origin(url: str) -> str:
    """`url` up to the path: the same text always names the same scheme, host and port (the
    whole URL when it has no path, which only makes the text longer, never ambiguous)."""
    start = url.find("://")
    end = url.find("/", start + 3) if start >= 0 else -1
    return url if end < 0 else url[:end]


def _address(url: str) -> tuple[str, str, int, str]:
    """Scheme, host to connect to, port, and the Host header, as urllib3 writes it."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), parts.hostname or ""
    port = parts.port or _DEFAULT_PORTS.get(scheme, 80)
    shown = f"[{host}]" if ":" in host else host
    return scheme, host, port, shown if port == _DEFAULT_PORTS.get(scheme) else f"{shown}:{port}"


class WireBody:
    """`Response.raw` of an answer read by wire.py: streamed once (`iter_content`), then its
    connection goes back to the adapter's idle ones, or is closed if not read to the end."""

    def __init__(self, adapter: ArrayAdapter, key: tuple[Any, ...], conn: wire.Connection,
                 shape: tuple[str, int, bool], coding: str, cookies: wire.Headers | None,
                 ) -> None:
        self._adapter, self._key, self._conn = adapter, key, conn
        self._framing, self._length, self._keep = shape
        self._decoder = wire.Decoder(coding) if coding in wire.DECODED else None
        self._complete = False
        # What requests' cookie extraction reads (`_original_response.msg`): only when there
        # is a cookie to read.
        self._original_response = _Message(cookies) if cookies is not None else None

    def stream(self, amt: int = 65536, decode_content: bool = True) -> Iterator[bytes]:
        try:
            reader = self._conn.reader
            for data in wire.body_chunks(reader, self._framing, self._length, amt):
                if self._decoder is not None and decode_content:
                    yield from self._decoder.feed(data, amt)
                else:
                    yield data
            if self._decoder is not None and decode_content:
                self._decoder.end()
            self._complete = True
        finally:
            self.release_conn()

    def release_conn(self) -> None:
        """Back to the idle connections when read to the end and reusable, else closed."""
        conn, self._conn = self._conn, None  # type: ignore[assignment]
        if conn is not None:
            self._adapter.give_back(self._key, conn, self._complete and self._keep)

    def close(self) -> None:
        self.release_conn()


class _Message:
    """The answer's header lines as an `http.client.HTTPMessage`, for cookie extraction."""

    def __init__(self, headers: wire.Headers) -> None:
        self.msg = http.client.HTTPMessage()
        for name, value in headers:
            self.msg[name] = value


class ArrayAdapter(WatchedAdapter):
    """The adapter `array_session` mounts: requests go out over wire.py's connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Here, not in __init__: requests' unpickling calls this again, and no more.
        self._idle: dict[tuple[Any, ...], list[wire.Connection]] = {}
        self._addresses: dict[str, tuple[str, str, int, str]] = {}
        self._lock = threading.Lock()
        self._closed = False

    @property
    def idle_connections(self) -> int:
        with self._lock:
            return sum(len(conns) for conns in self._idle.values())

    @property
    def contexts(self) -> list[ssl.SSLContext | None]:
        """The TLS context (None: plain HTTP) of each origin this adapter has sent to."""
        with self._lock:
            return [key[3] for key in self._idle]

    def close(self) -> None:
        super().close()
        with self._lock:
            idle, self._idle, self._closed = self._idle, {}, True
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: bool | str = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> Response:
        url = cast(str, request.url)
        where = self._address(url)
        context = shared_context(verify) if where[0] == "https" else None
        body = request.body
        if (proxies and any(proxies.values())) or cert or where[0] not in _DEFAULT_PORTS \
                or (where[0] == "https" and context is None) \
                or not isinstance(body, bytes | str | None) \
                or not isinstance(timeout, int | float | tuple | None):  # urllib3's Timeout
            return super().send(request, stream, timeout, verify, cert, proxies)
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        key = (where[0], where[1], where[2], context)
        head = _head(request, where[3])
        conn = self._take(key) or wire.Connection(where[1], where[2], context)
        watch = current_watch.get()
        if watch is not None:
            watch.attach(conn)
        try:
            if conn.sock is None:
                conn.open(connect)
            reader = conn.exchange(head, body.encode("utf-8") if isinstance(body, str)
                                   else body, read)
            version, status, reason, lines = reader.head()
            headers = _joined(lines)
            shape = wire.framing(cast(str, request.method), status, version, headers)
        except BaseException:
            conn.close()
            raise
        return self._response(request, key, conn, status, reason, lines, headers, shape)

    def _response(self, request: requests.PreparedRequest, key: tuple[Any, ...],
                  conn: wire.Connection, status: int, reason: str, lines: wire.Headers,
                  headers: dict[str, str], shape: tuple[str, int, bool]) -> Response:
        """requests' Response as its `build_response` makes one (no redirect is followed)."""
        response = Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(
            {name: value for name, value in _originals(lines, headers)})
        response.encoding = get_encoding_from_headers(response.headers)
        cookies = lines if "set-cookie" in headers or "set-cookie2" in headers else None
        raw = WireBody(self, key, conn, shape,
                       headers.get("content-encoding", "").strip().lower(), cookies)
        response.raw = raw
        response.reason = reason
        response.url = cast(str, request.url)
        response.request = request
        response.connection = self
        if raw._original_response is not None:
            extract_cookies_to_jar(response.cookies, request, raw)
        return response

    def _address(self, url: str) -> tuple[str, str, int, str]:
        base = origin(url)
        where = self._addresses.get(base)
        if where is None:
            where = _address(base)
            if len(self._addresses) >= _ORIGINS:
                self._addresses.clear()
            self._addresses[base] = where
        return where

    def _take(self, key: tuple[Any, ...]) -> wire.Connection | None:
        """An idle connection the array has not closed meanwhile, newest first."""
        while True:
            with self._lock:
                conns = self._idle.get(key)
                if conns is None:  # a new origin; the odd URLs of a caller's stay bounded
                    if len(self._idle) >= _ORIGINS:
                        self._drop_unused()
                    self._idle[key] = []
                    return None
                if not conns:
                    return None
                conn = conns.pop()
            if not conn.dropped():
                return conn
            conn.close()

    def _drop_unused(self) -> None:
        for key in [k for k, conns in self._idle.items() if not conns]:
            del self._idle[key]

    def give_back(self, key: tuple[Any, ...], conn: wire.Connection, reusable: bool) -> None:
        if reusable and conn.sock is not None:
            with self._lock:
                if not self._closed:
                    conns = self._idle.setdefault(key, [])
                    if len(conns) < MAX_IDLE:
                        conns.append(conn)
                        return
        conn.close()


def _head(request: requests.PreparedRequest, host: str) -> bytes:
    """The request line and headers, as http.client writes them (Host first)."""
    target = request.path_url
    method = cast(str, request.method)
    if _UNSAFE.search(method) or _UNSAFE.search(target):
        raise requests.exceptions.InvalidURL("control characters or spaces in the request")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in request.headers.items():
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        lines.append(f"{name}: {text}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:  # the value may be a secret: never quoted
        raise requests.exceptions.InvalidHeader("a header value is not Latin-1") from None


def _joined(lines: wire.Headers) -> dict[str, str]:
    """Header values by lower-case name, repeated ones joined with ", " (as urllib3 does)."""
    joined: dict[str, str] = {}
    for name, value in lines:
        key = name.lower()
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _originals(lines: wire.Headers, joined: dict[str, str]) -> Iterator[tuple[str, str]]:
    """Each header under the spelling it first came in, with its joined value."""
    seen: set[str] = set()
    for name, _ in lines:
        key = name.lower()
        if key not in seen:
            seen.add(key)
            yield name, joined[key]
