"""Per-array API counters behind `qsan_api_requests_total` and `qsan_auth_*_total`.

Kept here, free of Prometheus, so the client can count without knowing about exposition; the
poll reads a consistent `snapshot()` once per poll. The client may be used from the poll job
while `close()` runs on the shutdown thread, hence the lock.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ApiStatsSnapshot:
    """Counters at one instant. `requests` maps (endpoint, code) to a count."""

    requests: Mapping[tuple[str, str], int]
    logins: int
    refreshes: int


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the debug view shows it; `status` is the HTTP status or the failure.

    Slotted: every array's latest snapshot holds one per request of its poll (~15).
    """

    method: str
    endpoint: str
    status: str
    size: int  # body bytes read
    duration: float
    at: float


@dataclass(frozen=True, slots=True)
class TokenTimes:
    """When the current login or token was obtained and, for the Unified API, when it is
    refreshed and expires (our clock). Times only: the token itself never leaves the client."""

    issued_at: float
    refresh_at: float | None = None
    expires_at: float | None = None


MAX_REQUEST_RECORDS = 100  # a poll sends ~15 requests; a paging log area maybe a few dozen


class ApiStats:
    """Thread-safe monotonic counters of one array's API traffic."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._requests: Counter[tuple[str, str]] = Counter()
        self._logins = 0
        self._refreshes = 0
        self._log: deque[RequestRecord] = deque(maxlen=MAX_REQUEST_RECORDS)
        self._token: TokenTimes | None = None

    def record(self, method: str, endpoint: str, status: str, size: int,
               duration: float) -> None:
        """One request for the debug view (bounded: the oldest go first)."""
        # An HTTP status is a new "200" per request: one shared copy of the few there are.
        status = sys.intern(status) if len(status) <= 3 else status
        with self._lock:
            self._log.append(RequestRecord(method, endpoint, status, size, duration,
                                           self._clock()))

    def take_requests(self) -> tuple[RequestRecord, ...]:
        """The requests recorded since the last call: the poll takes them when it ends."""
        with self._lock:
            taken = tuple(self._log)
            self._log.clear()
            return taken

    @property
    def token(self) -> TokenTimes | None:
        with self._lock:
            return self._token

    def count_request(self, endpoint: str, code: str) -> None:
        """One request sent. `endpoint` is a path template (bounded); `code` a status or "error"."""
        with self._lock:
            self._requests[(endpoint, code)] += 1

    def count_login(self, refresh_at: float | None = None,
                    expires_at: float | None = None) -> None:
        """One successful login; the new token's times when the client knows them."""
        with self._lock:
            self._logins += 1
            self._token = TokenTimes(self._clock(), refresh_at, expires_at)

    def count_refresh(self, refresh_at: float | None = None,
                      expires_at: float | None = None) -> None:
        """One successful `/auth/refresh`."""
        with self._lock:
            self._refreshes += 1
            self._token = TokenTimes(self._clock(), refresh_at, expires_at)

    def snapshot(self) -> ApiStatsSnapshot:
        with self._lock:
            return ApiStatsSnapshot(
                requests=MappingProxyType(dict(self._requests)),
                logins=self._logins,
                refreshes=self._refreshes,
            )
