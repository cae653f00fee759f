"""Per-array API counters behind `qsan_api_requests_total` and `qsan_auth_*_total`.

Kept here, free of Prometheus, so the client can count without knowing about exposition; the
poll reads a consistent `snapshot()` once per poll. The client may be used from the poll job
while `close()` runs on the shutdown thread, hence the lock.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class ApiStatsSnapshot:
    """Counters at one instant. `requests` maps (endpoint, code) to a count."""

    requests: Mapping[tuple[str, str], int]
    logins: int
    refreshes: int


class ApiStats:
    """Thread-safe monotonic counters of one array's API traffic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._logins = 0
        self._refreshes = 0

    def count_request(self, endpoint: str, code: str) -> None:
        """One request sent. `endpoint` is a path template (bounded); `code` a status or "error"."""
        with self._lock:
            self._requests[(endpoint, code)] += 1

    def count_login(self) -> None:
        """One successful `/auth/get`."""
        with self._lock:
            self._logins += 1

    def count_refresh(self) -> None:
        """One successful `/auth/refresh`."""
        with self._lock:
            self._refreshes += 1

    def snapshot(self) -> ApiStatsSnapshot:
        with self._lock:
            return ApiStatsSnapshot(
                requests=MappingProxyType(dict(self._requests)),
                logins=self._logins,
                refreshes=self._refreshes,
            )
