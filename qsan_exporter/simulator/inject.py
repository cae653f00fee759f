"""Acting out a fault on one request: the wire-level half of fault injection.

`faults` decides which fault applies; this module does what it says: wait, refuse, hang, cut
the connection (`act`, before the device is asked), or spoil a 2xx body (`spoil`, from
`SimulatedArray.respond`). The bodies themselves come from `mangle`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from io import BufferedIOBase
from typing import TYPE_CHECKING

from qsan_exporter.simulator import mangle
from qsan_exporter.simulator.device import error_body
from qsan_exporter.simulator.faults import Fault

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

HANG_POLL = 0.05  # how often a hung request looks whether the simulator is stopping
Respond = Callable[[BaseHTTPRequestHandler, str, int, bytes], None]


def act(handler: BaseHTTPRequestHandler, path: str, fault: Fault, cleared: threading.Event, *,
        respond: Respond, stopping: threading.Event,
        count_failed_login: Callable[[], None], login_refused: int = 401) -> bool:
    """Do what a replacing or delaying fault says; True if the request is finished with.
    `login_refused`: the status of a refused login (401, or 400 on a literal array)."""
    kind = fault.kind
    if kind == "trickle":  # the answer goes out through a slow writer (undone by `untrickle`)
        handler.wfile = Trickle(handler.wfile, fault, cleared, stopping)
        return False
    if kind == "latency":
        if stopping.wait(fault.seconds):  # a stopping simulator answers nobody
            handler.close_connection = True
            return True
        return False
    if kind == "status":
        respond(handler, path, fault.status,
                error_body(fault.status, f"simulated fault: HTTP {fault.status}"))
    elif kind == "rate_limit":  # `respond` adds Retry-After
        respond(handler, path, 429, error_body(429, "simulated fault: too many requests"))
    elif kind == "login_fail":
        count_failed_login()
        respond(handler, path, login_refused,
                error_body(login_refused, "wrong user name or password"))
    elif kind == "hang":
        while not cleared.wait(HANG_POLL) and not stopping.is_set():
            pass
        handler.close_connection = True  # never answered: the client gave up long ago
    elif kind == "reset":
        reset(handler)
    else:
        return False  # a body-shaping fault: `respond` applies it via `spoil`
    return True


def spoil(fault: Fault, body: bytes) -> bytes:
    """The body a shaping fault sends instead of a 2xx `body` (`truncated`: the full body,
    which `respond` then cuts after announcing its whole length)."""
    kind = fault.kind
    if kind == "malformed_json":
        return mangle.malformed_json(body)
    if kind == "wrong_types":
        return mangle.wrong_types(body, fault.seed)
    if kind == "missing_fields":
        return mangle.missing_fields(body, fault.seed)
    if kind == "huge":
        return mangle.huge(body, fault.megabytes)
    if kind == "deep":
        return mangle.deep(fault.depth)
    if kind == "many_keys":
        return mangle.many_keys(fault.keys)
    return body


truncated_length = mangle.truncated_length


class Trickle(BufferedIOBase):
    """A handler's `wfile` that writes `chunk_bytes` every `seconds`; once the fault is cleared
    it writes the rest at once, and a stopping simulator writes nothing more."""

    def __init__(self, inner: BufferedIOBase, fault: Fault, cleared: threading.Event,
                 stopping: threading.Event) -> None:
        super().__init__()
        self.inner, self.fault, self.cleared, self.stopping = inner, fault, cleared, stopping

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer, /) -> int:
        view = memoryview(data).cast("B")
        step = self.fault.chunk_bytes
        for start in range(0, len(view), step):
            if self.cleared.is_set():
                self.inner.write(view[start:])
                break
            if self.stopping.is_set():
                break  # the rest is never sent; the connection closes with the simulator
            self.inner.write(view[start:start + step])
            self.inner.flush()
            self.stopping.wait(self.fault.seconds)
        return len(view)

    def flush(self) -> None:
        self.inner.flush()


def untrickle(handler: BaseHTTPRequestHandler) -> None:
    """After the request: the connection's next answer is written at normal speed."""
    if isinstance(handler.wfile, Trickle):
        handler.wfile = handler.wfile.inner


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Close with a TCP RST instead of a FIN: SO_LINGER on with a zero timeout."""
    handler.close_connection = True
    connection = handler.connection
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        handler.rfile.close()  # drop makefile()'s reference so close() is the real close
        connection.close()
