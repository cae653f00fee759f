"""A worker's socket streams: reads that start with the head the selector thread already
read (conn.py), and writes bounded by one response deadline, so a client that stops reading
frees its worker (Limits.write_timeout)."""

from __future__ import annotations

import socket
import time
from typing import Any

from cheroot import server
from cheroot.makefile import StreamReader


class _PrefixedIO(socket.SocketIO):
    """The socket's stream, after the bytes the selector thread already read."""

    def __init__(self, sock: socket.socket, prefix: bytes) -> None:
        super().__init__(sock, "rb")
        self._prefix = memoryview(prefix)

    def readinto(self, b: Any) -> int | None:
        if self._prefix:
            n = min(len(b), len(self._prefix))
            b[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return super().readinto(b)


class _PrefixedReader(StreamReader):
    def __init__(self, sock: socket.socket, prefix: bytes, bufsize: int) -> None:
        super(StreamReader, self).__init__(_PrefixedIO(sock, prefix), bufsize)
        self.bytes_read = 0


class _DeadlineWriter:
    """The response stream: every write goes straight to the socket, and fails once the
    connection's response deadline has passed.

    cheroot writes each piece of a response once, unbuffered; its own writer copies every write
    into a bytearray and that again into bytes for each send (twice the whole body per scrape,
    more on partial sends). Here a send takes a view of what is left: nothing is copied.
    """

    def __init__(self, sock: socket.socket, conn: Connection) -> None:
        self._socket, self._conn = sock, conn
        self.bytes_written = 0  # cheroot's worker statistics read it
        self.closed = False

    def write(self, data: Any) -> int:
        with memoryview(data) as view, view.cast("B") as left:
            total, sent = len(left), 0
            while sent < total:
                remaining = self._conn.write_deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("timed out")  # cheroot's wording: no 500 logged
                self._socket.settimeout(min(remaining, self._conn.server.timeout))
                sent += self._socket.send(left[sent:])
        self.bytes_written += total
        return total

    def flush(self) -> None:  # nothing is buffered
        pass

    def close(self) -> None:
        self.closed = True


def makefile_after(prefix: bytes) -> Any:
    """cheroot's makefile for a Connection: the reader starts with the request head the
    selector thread already read; no writer, Connection puts its own in place."""
    def make(sock: socket.socket, mode: str = "r", bufsize: int = 8192) -> Any:
        return _PrefixedReader(sock, prefix, bufsize) if "r" in mode else None
    return make


class Connection(server.HTTPConnection):
    """Counts itself closed once, so the connection cap sees every socket exactly once."""

    _counted = False
    scrape = False  # set per request by the selector thread: served first
    write_deadline = 0.0

    def __init__(self, http_server: Any, sock: socket.socket, makefile: Any) -> None:
        super().__init__(http_server, sock, makefile)
        self.wfile = _DeadlineWriter(sock, self)

    def communicate(self) -> bool:
        self.write_deadline = time.monotonic() + self.server.limits.write_timeout
        return bool(super().communicate())

    def close(self) -> None:
        super().close()
        if not self._counted:
            self._counted = True
            self.server.connection_closed()
