"""WSGI middleware for the web config: response headers and basic auth that survives a flood.

bcrypt is slow on purpose (~50-200 ms at cost 10) and Prometheus sends the same credentials on
every scrape, so:
- each distinct credential is verified once: parallel requests with it wait for the one check,
  and the verdict is cached (successes for 15 minutes after their last use, failures for a
  minute, in two caches so that a flood of wrong passwords never evicts a good credential);
- the cache key is an HMAC of user and password under a per-process random key: the password is
  never stored, logged or kept in a reusable form;
- one bcrypt check runs at a time (one core at most). A client address with recent failures
  gets the check only when it is free and nobody else waits, else an immediate 429: a flood of
  guesses neither queues up workers nor starves a scraper whose credentials are new;
- an unknown user is checked against a dummy hash of the users' cost: timing does not tell
  which user names exist;
- failed attempts are logged at warning level with the client address, at most one line per
  10 seconds (with the count of the others).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import bcrypt

log = logging.getLogger("qsan_exporter.web.config")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
REALM = "qsan-exporter"
SUCCESS_TTL = 900.0
FAILURE_TTL = 60.0
_SUCCESSES = 64
_FAILURES = 4096
_DIRTY_AFTER = 3  # failures from one address within FAILURE_TTL
_WARN_EVERY = 10.0
_CLEAN_WAIT = 5.0  # how long a clean client waits for the bcrypt check at most


def wrap_app(app: WSGIApp, headers: Mapping[str, str], users: Mapping[str, str],
             *, tls: bool) -> WSGIApp:
    """`app` behind basic auth (every path, /-/healthy included) and the configured headers."""
    if users:
        if not tls:
            log.warning("basic_auth_users without tls_server_config: passwords cross the "
                        "network in clear text")
        app = BasicAuth(app, users)
    if headers:
        app = _ExtraHeaders(app, headers)
    return app


class _ExtraHeaders:
    def __init__(self, app: WSGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = list(headers.items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _ in headers}
            extra = [(k, v) for k, v in self.headers if k.lower() not in present]
            return start_response(status, [*headers, *extra], exc_info)

        return self.app(environ, start)


class _TTLCache:
    """key -> expiry, LRU-bounded; `sliding` renews the expiry on every hit."""

    def __init__(self, size: int, ttl: float, *, sliding: bool) -> None:
        self._items: OrderedDict[bytes, float] = OrderedDict()
        self._size, self._ttl, self._sliding = size, ttl, sliding

    def hit(self, key: bytes, now: float) -> bool:
        expiry = self._items.get(key)
        if expiry is None or expiry < now:
            self._items.pop(key, None)
            return False
        self._items.move_to_end(key)
        if self._sliding:
            self._items[key] = now + self._ttl
        return True

    def add(self, key: bytes, now: float) -> None:
        self._items[key] = now + self._ttl
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class BasicAuth:
    """HTTP basic auth against bcrypt hashes; see the module docstring for the defences."""

    def __init__(self, app: WSGIApp, users: Mapping[str, str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self._users = [(u.encode(), h.encode()) for u, h in users.items()]
        self._dummy = _dummy_hash([h for _u, h in self._users])
        self._key = secrets.token_bytes(32)
        self._clock = clock
        self._lock = threading.Lock()
        self._good = _TTLCache(_SUCCESSES, SUCCESS_TTL, sliding=True)
        self._bad = _TTLCache(_FAILURES, FAILURE_TTL, sliding=False)
        self._in_flight: dict[bytes, threading.Event] = {}
        self._failures = _TTLCounter(_FAILURES, FAILURE_TTL)
        self._slot = threading.Lock()  # one bcrypt check at a time
        self._clean_waiting = 0
        self._warnings = _WarningLimiter(_WARN_EVERY)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        address = environ.get("REMOTE_ADDR", "?")
        credentials = _basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        verdict = self.check(*credentials, address) if credentials is not None else False
        if verdict is True and credentials is not None:
            environ["REMOTE_USER"] = credentials[0].decode("utf-8", "replace")
            return self.app(environ, start_response)
        log.debug("unauthorized request for %s from %s", environ.get("PATH_INFO", "/"), address)
        if verdict is None:
            return _answer(start_response, "429 Too Many Requests", "too many failed logins\n",
                           [("Retry-After", "10")])
        return _answer(start_response, "401 Unauthorized", "Unauthorized\n", [
            ("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')])

    def check(self, user: bytes, password: bytes, address: str = "?") -> bool | None:
        """True, False, or None when refused unchecked (a flooding address, bcrypt busy)."""
        key = hmac.new(self._key, user + b"\0" + password, hashlib.sha256).digest()
        while True:
            with self._lock:
                now = self._clock()
                if self._good.hit(key, now):
                    return True
                if self._bad.hit(key, now):
                    return False
                waiting = self._in_flight.get(key)
                if waiting is None:  # this request verifies; same-key requests wait for it
                    done = self._in_flight[key] = threading.Event()
                    break
            waiting.wait()
        try:
            ok = self._verify_bounded(user, password, address)
            with self._lock:
                if ok is not None:
                    (self._good if ok else self._bad).add(key, self._clock())
                if ok is False:
                    self._failures.add(address, self._clock())
            if ok is False:
                self._warnings.warn(address)
            return ok
        finally:
            with self._lock:
                del self._in_flight[key]
            done.set()

    def verify(self, user: bytes, password: bytes) -> bool:
        """One bcrypt check, as long for an unknown user as for a known one."""
        hashed = None
        for name, candidate in self._users:  # no early exit: same time for every user name
            if hmac.compare_digest(name, user):
                hashed = candidate
        try:
            return bcrypt.checkpw(password, hashed or self._dummy) and hashed is not None
        except ValueError:
            return False

    def _verify_bounded(self, user: bytes, password: bytes, address: str) -> bool | None:
        with self._lock:
            dirty = self._failures.count(address, self._clock()) >= _DIRTY_AFTER
            if not dirty:
                self._clean_waiting += 1
        if dirty:
            # A guessing address gets bcrypt only when it is free and no clean client waits.
            if self._clean_waiting or not self._slot.acquire(blocking=False):
                self._warnings.refused(address)
                return None
        else:
            try:
                acquired = self._slot.acquire(timeout=_CLEAN_WAIT)
            finally:
                with self._lock:
                    self._clean_waiting -= 1
            if not acquired:
                return None
        try:
            return self.verify(user, password)
        finally:
            self._slot.release()


class _TTLCounter:
    """Events per key within the last `ttl` seconds (a fixed window from the first), bounded."""

    def __init__(self, size: int, ttl: float) -> None:
        self._items: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._size, self._ttl = size, ttl

    def count(self, key: str, now: float) -> int:
        start, n = self._items.get(key, (now, 0))
        return n if now - start < self._ttl else 0

    def add(self, key: str, now: float) -> None:
        n = self.count(key, now)
        start = self._items[key][0] if n else now
        self._items[key] = (start, n + 1)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class _WarningLimiter:
    """One warning line per `every` seconds; the rest are counted into the next line."""

    def __init__(self, every: float) -> None:
        self._every = every
        self._last = -every
        self._failed: Counter[str] = Counter()
        self._refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def warn(self, address: str) -> None:
        self._note(self._failed, address)

    def refused(self, address: str) -> None:
        self._note(self._refused, address)

    def _note(self, counter: Counter[str], address: str) -> None:
        with self._lock:
            counter[address] += 1
            now = time.monotonic()
            if now - self._last < self._every:
                return
            self._last = now
            failed, refused = dict(self._failed), dict(self._refused)
            self._failed.clear()
            self._refused.clear()
        top = ", ".join(f"{a} ({n})" for a, n in Counter(failed).most_common(5))
        log.warning("basic auth: %d failed login(s) from %s; %d refused unchecked (429) as "
                    "too many failures", sum(failed.values()), top or "-",
                    sum(refused.values()))


def _dummy_hash(hashes: list[bytes]) -> bytes:
    """A hash of a random password at the users' (most common) cost."""
    costs = Counter(int(h.split(b"$")[2]) for h in hashes)
    cost = costs.most_common(1)[0][0] if costs else 10
    return bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=cost))


def _answer(start_response: Callable[..., Any], status: str, text: str,
            extra: list[tuple[str, str]]) -> Iterable[bytes]:
    body = text.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))), *extra])
    return [body]


def _basic_credentials(header: str) -> tuple[bytes, bytes] | None:
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    return (user, password) if sep else None
