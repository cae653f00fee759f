"""`SimulatedArray`: a `Device` behind real HTTP, with token auth and request statistics.

HTTP/1.1 keep-alive, so an exporter's `requests.Session` reuses one connection (and one server
thread) per array instead of a thread per request: benchmarks run hundreds of arrays in one
process. `stop()` closes the listening socket *and* every open connection, so a stopped array
really looks dead to a client holding a keep-alive connection.

Every API response leaves through `SimulatedArray.respond(handler, route, status, body)`, the
seam subclasses may wrap (the benchmark's `SlowArray`). Fault injection (`faults`) decides per
request, on arrival, which fault applies (`handler.sim_fault`): faults that replace the answer
act in `handle` before the device is asked (so a refused login issues no token), faults that
spoil a 2xx body act in `respond`. The admin routes of `admin` (``/_sim/*``) bypass both.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from qsan_exporter.simulator import admin, inject
from qsan_exporter.simulator.auth import TokenStore, login_refused_status, refresh_keys
from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.device import Device, error_body
from qsan_exporter.simulator.faults import Fault, FaultSet
from qsan_exporter.simulator.legacy import COOKIE, LegacyApi, LegacySessions, route_of
from qsan_exporter.simulator.scenario import Facts
from qsan_exporter.simulator.stats import Stats

log = logging.getLogger(__name__)
MAX_BODY = 1 << 20
IDLE_CONNECTION_TIMEOUT = 120.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], array: SimulatedArray) -> None:
        self.array = array
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (timeout, size cap) or a fault that cut the line is normal
        here, not a traceback on stderr."""
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended early", client_address, exc_info=True)
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "QSAN-Simulator/1.0"
    timeout = IDLE_CONNECTION_TIMEOUT
    disable_nagle_algorithm = True  # headers and body are two writes: avoid the 40 ms ACK wait
    server: _Server
    sim_fault: Fault | None = None  # the fault applied to the request being answered
    sim_in_flight = False  # counted in Stats.concurrent_requests
    sim_headers: Sequence[tuple[str, str]] = ()  # extra headers of the next answer (legacy cookie)

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def _dispatch(self) -> None:
        self.server.array.handle(self, self.command)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header on the array's clock, the clock of its `expireTime`: a client
        that reads one with the other (the exporter does) sees one array, fake clock or not."""
        return super().date_time_string(self.server.array.clock() if timestamp is None
                                        else timestamp)

    def log_message(self, format: str, *args: Any) -> None:
        # route_of: a legacy login's request line carries the password in its path.
        line = format % args
        if "/rest/login/account/" in line:
            line = " ".join(route_of(word) for word in line.split(" "))
        log.debug("%s %s", self.address_string(), line)


class SimulatedArray:
    """One simulated QSAN array serving the Unified REST API on `url` after `start()`."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0,
                 *, clock: Callable[[], float] = time.time) -> None:
        """`clock` drives every reading and token expiry: a fixed clock gives byte-stable
        answers (the golden exposition files are made that way)."""
        self.config = config
        self.clock = clock
        self.host = host
        self.port = port
        self.stats = Stats()
        self.faults = FaultSet()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.device = Device(config, started=clock())
        self.tokens = TokenStore(config.username, config.password, config.token_lifetime,
                                 config.password_encoding, self.stats, self._lock, clock=clock)
        # The SANOS 4.0 API (profile legacy) instead of /auth/* + /rest/v1/*: see `legacy`.
        self.legacy: LegacyApi | None = None
        if config.profile == "legacy":
            self.legacy = LegacyApi(self.device, LegacySessions(
                config.username, config.password, config.token_lifetime, self.stats, self._lock,
                clock=clock), clock, literal=config.literal)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> SimulatedArray:
        """Bind and serve in one daemon thread; `port=0` picks a free port (see `url`)."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(1.0,),
                                        name=f"qsan-sim-{self.config.profile}-{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and every open connection; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # hung and delayed requests give up within inject.HANG_POLL
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():  # wake the accept loop instead of waiting for its poll
            self._poke()
            stopper.join(0.05)
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(5)

    def _poke(self) -> None:
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        with contextlib.suppress(OSError):
            socket.create_connection((host, self.port), timeout=0.2).close()

    def __enter__(self) -> SimulatedArray:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def facts(self) -> Facts:
        """The scenario's broken and notable parts, in this profile's spelling."""
        return self.device.facts

    def live_token_sets(self) -> int:
        """Refresh-token sets issued and neither revoked nor rotated out (legacy: sessions)."""
        if self.legacy is not None:
            return self.legacy.sessions.live()
        return self.tokens.live_token_sets()

    def held_tokens(self) -> set[str]:
        """Every token (legacy: session id) the array handed out and still holds: what a client
        must never show."""
        if self.legacy is not None:
            return self.legacy.sessions.held()
        return self.tokens.held()

    def revoke_all_tokens(self) -> int:
        """Invalidate every access and refresh token now, behind the client's back (as an
        administrator or a controller failover would): its next GET gets 401 and its refresh
        401. Returns how many access tokens died; counted in `stats.forced_revokes`."""
        if self.legacy is not None:
            return self.legacy.sessions.revoke_all()
        return self.tokens.revoke_all()

    def stats_snapshot(self) -> dict[str, Any]:
        """A consistent JSON-ready copy of `stats` plus `live_token_sets` (``GET /_sim/stats``)."""
        live = self.tokens.live_token_sets()
        with self._lock:
            return {**self.stats.as_dict(), "live_token_sets": live}

    # -- requests ----------------------------------------------------------------------------
    def handle(self, handler: _Handler, method: str) -> None:
        split = urlsplit(handler.path)
        path = split.path
        if path.startswith(admin.PREFIX):
            self._admin(handler, method, path)
            return
        route = route_of(path)  # never a legacy login's credentials in stats or fault matching
        with self._lock:
            self.stats.arrive(route, time.monotonic())
        handler.sim_in_flight = True
        try:
            try:
                body = _read_body(handler)
            except ValueError:
                handler.close_connection = True  # out of step with the client's bytes
                self.respond(handler, "error", 400, error_body(400, "bad Content-Length"))
                return
            taken = self.faults.take(route) if self.faults.armed else None
            handler.sim_fault = None if taken is None else taken[0]
            if taken is not None:
                with self._lock:
                    self.stats.faults_injected += 1
                if inject.act(handler, route, *taken, respond=self.respond,
                              stopping=self._stopping, count_failed_login=self._failed_login,
                              login_refused=login_refused_status(self.config.literal)):
                    return
            try:
                route, status, payload = self._answer(handler, method, path, split.query, body)
            except Exception:  # a simulator bug must still answer, visibly
                log.exception("simulator failed on %s %s", method, handler.path)
                route, status, payload = "error", 500, error_body(500, "simulator error")
            self.respond(handler, route, status, payload)
        finally:
            handler.sim_fault = None
            inject.untrickle(handler)
            self._leave(handler)

    def respond(self, handler: BaseHTTPRequestHandler, route: str, status: int,
                body: bytes) -> None:
        """The single exit of every API response; spoils a 2xx body if a fault says so."""
        fault: Fault | None = getattr(handler, "sim_fault", None)
        length = len(body)
        if fault is not None and 200 <= status < 300:
            body = inject.spoil(fault, body)
            length = len(body)
            if fault.kind == "truncated":
                body = body[:inject.truncated_length(body)]
                handler.close_connection = True
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(length))
        if isinstance(handler, _Handler):
            for name, value in handler.sim_headers:
                handler.send_header(name, value)
            handler.sim_headers = ()
        if status == 405:
            handler.send_header("Allow", "POST" if route.startswith("/auth/") else "GET")
        if fault is not None and fault.kind == "rate_limit":
            handler.send_header("Retry-After", str(fault.retry_after))
        # Out of flight before the first byte of the answer leaves: a client cannot have the
        # answer (and send its next request) before this, so the count never overlaps two.
        self._leave(handler)
        handler.end_headers()
        handler.wfile.write(body)

    def _answer(self, handler: BaseHTTPRequestHandler, method: str, path: str, query: str,
                body: bytes) -> tuple[str, int, bytes]:
        if self.legacy is not None:
            return self._legacy(handler, method, path)
        if path.startswith("/auth/"):
            return self._auth(method, path, body)
        if path.startswith("/rest/v1/"):
            return self._rest(handler, method, path, query)
        return "unknown", 404, error_body(404, "no such API")

    def _legacy(self, handler: BaseHTTPRequestHandler, method: str,
                path: str) -> tuple[str, int, bytes]:
        assert self.legacy is not None
        cookie = handler.headers.get("Cookie") or ""
        session = next((part.split("=", 1)[1].strip() for part in cookie.split(";")
                        if part.strip().startswith(COOKIE + "=")), None)
        answer, new_session = self.legacy.answer(method, path, session)
        if new_session is not None and isinstance(handler, _Handler):
            handler.sim_headers = [("Set-Cookie", f"{COOKIE}={new_session}; Path=/; HttpOnly")]
        return answer

    def _failed_login(self) -> None:
        with self._lock:
            self.stats.failed_logins += 1

    def _leave(self, handler: BaseHTTPRequestHandler) -> None:
        if isinstance(handler, _Handler) and handler.sim_in_flight:
            handler.sim_in_flight = False
            with self._lock:
                self.stats.concurrent_requests -= 1

    def _admin(self, handler: BaseHTTPRequestHandler, method: str, path: str) -> None:
        status, body, allow = admin.answer(self, method, path, _read_body(handler))
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        if allow:
            handler.send_header("Allow", allow)
        handler.end_headers()
        handler.wfile.write(body)

    def _rest(self, handler: BaseHTTPRequestHandler, method: str, path: str,
              query: str) -> tuple[str, int, bytes]:
        if method != "GET":
            return path, 405, error_body(405, "only GET is supported")
        token = (handler.headers.get("Authorization") or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token or not self.tokens.valid(token):
            return path, 401, error_body(401, "access token missing, expired or invalid")
        return self.device.get(path, parse_qs(query), self.clock())

    def _auth(self, method: str, path: str, raw: bytes) -> tuple[str, int, bytes]:
        """`literal`: the manual's other reading of each auth contradiction (see auth.py)."""
        if path not in ("/auth/get", "/auth/refresh", "/auth/revoke"):
            return "unknown", 404, error_body(404, "no such API")
        if method != "POST":
            return path, 405, error_body(405, "only POST is supported")
        try:
            request = json.loads(raw or b"null")
        except ValueError:
            request = None
        if not isinstance(request, dict):
            return self._bad_auth_request(path, "request body must be a JSON object")
        literal = self.config.literal
        if path == "/auth/get":
            offline = request.get("offlineAccess") in (True, "true", "True", 1)
            answer = self.tokens.login(request.get("user"), request.get("password"), offline)
            return _token_answer(path, answer, login_refused_status(literal),
                                 "wrong user name or password")
        keys = refresh_keys(literal)
        refresh = next((request[k] for k in keys if k in request), None)
        if refresh is None:
            return self._bad_auth_request(path, " or ".join(repr(k) for k in keys)
                                          + " is required")
        if path == "/auth/refresh":
            return _token_answer(path, self.tokens.refresh(refresh), 401, "refresh token invalid")
        if self.tokens.revoke(refresh):
            return path, 200, b"{}"
        return path, 401, error_body(401, "refresh token invalid")

    def _bad_auth_request(self, path: str, message: str) -> tuple[str, int, bytes]:
        with self._lock:
            self.stats.bad_auth_requests += 1
        return path, 400, error_body(400, message)


def _token_answer(route: str, answer: dict[str, Any] | None, refused: int,
                  failure: str) -> tuple[str, int, bytes]:
    if answer is None:
        return route, refused, error_body(refused, failure)
    return route, 200, json.dumps(answer).encode()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """Read the request body so a keep-alive connection stays in step; capped to stay cheap."""
    length = int(handler.headers.get("Content-Length") or 0)
    if length <= 0:
        return b""
    if length > MAX_BODY:
        handler.close_connection = True
        return handler.rfile.read(MAX_BODY)
    return handler.rfile.read(length)
