"""What happened to one simulated array: the counters the exporter's tests assert on.

The exporter promises to protect the array: one token set per array (`max_live_token_sets`),
at most one request in flight per array (`max_concurrent_requests`), exponential backoff after
errors (the gaps in `request_times`). Counters are plain fields, mutated under the array's lock;
the arrival-time ring has its own small lock so it can be read from a test thread at any time.
Requests to the simulator's own `/_sim/*` admin routes are not counted anywhere.
"""

from __future__ import annotations

import threading
from array import array
from dataclasses import dataclass, field
from typing import Any

REQUEST_TIMES_KEPT = 10_000


class RequestTimes:
    """A ring of the last `capacity` arrivals as (monotonic time, path): two flat arrays, so a
    full ring costs ~120 kB however many of the hundreds of benchmark arrays fill theirs."""

    def __init__(self, capacity: int = REQUEST_TIMES_KEPT) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._times = array("d")
        self._path_ids = array("I")
        self._next = 0  # the slot the next arrival overwrites once the ring is full
        self._ids: dict[str, int] = {}
        self._paths: list[str] = []

    def record(self, path: str, when: float) -> None:
        with self._lock:
            path_id = self._ids.get(path)
            if path_id is None:
                path_id = self._ids[path] = len(self._paths)
                self._paths.append(path)
            if len(self._times) < self.capacity:
                self._times.append(when)
                self._path_ids.append(path_id)
                return
            self._times[self._next] = when
            self._path_ids[self._next] = path_id
            self._next = (self._next + 1) % self.capacity

    def get(self, path: str | None = None) -> list[float]:
        """Oldest first; only `path`'s arrivals if given (exact request path, no query)."""
        with self._lock:
            start = self._next
            times = self._times[start:] + self._times[:start]
            if path is None:
                return times.tolist()
            wanted = self._ids.get(path)
            if wanted is None:
                return []
            ids = self._path_ids[start:] + self._path_ids[:start]
            return [t for t, i in zip(times, ids, strict=True) if i == wanted]


@dataclass
class Stats:
    """Counters of one simulated array; mutated only under the array's lock.

    `revokes` counts the client's own `/auth/revoke` calls; `forced_revokes` counts the
    simulator's `revoke_all_tokens()` actions (behind the client's back). `failed_logins`
    includes the refusals of a `login_fail` fault. `bad_auth_requests` counts `/auth/*`
    requests answered 400 for their body (not an object, or the refresh token under a key
    this array does not read: `literal`). `max_live_token_sets` is the high-water mark of live
    refresh-token sets (every moment: only a login adds one); `evicted_token_sets` counts sets
    the per-user cap of ten rotated out (an administrator's sessions). `faults_injected` counts
    requests a fault applied to. `concurrent_requests` is the number in flight now (from the
    arrival of the request line to the last byte of the answer), `max_concurrent_requests` its
    peak.
    """

    logins: int = 0
    failed_logins: int = 0
    refreshes: int = 0
    revokes: int = 0
    forced_revokes: int = 0
    bad_auth_requests: int = 0
    requests: int = 0
    requests_by_path: dict[str, int] = field(default_factory=dict)
    max_live_token_sets: int = 0
    evicted_token_sets: int = 0
    concurrent_requests: int = 0
    max_concurrent_requests: int = 0
    faults_injected: int = 0

    def __post_init__(self) -> None:
        # Not a dataclass field: `dataclasses.asdict`/repr stay cheap and free of locks.
        self._times = RequestTimes()

    def arrive(self, path: str, when: float) -> None:
        """Count one request as arrived and in flight (caller holds the array's lock)."""
        self.requests += 1
        self.requests_by_path[path] = self.requests_by_path.get(path, 0) + 1
        self.concurrent_requests += 1
        if self.concurrent_requests > self.max_concurrent_requests:
            self.max_concurrent_requests = self.concurrent_requests
        self._times.record(path, when)

    def request_times(self, path: str | None = None) -> list[float]:
        """Arrival times (`time.monotonic()` seconds, oldest first) of the last 10,000 requests,
        or of those among them to `path`: compare the gaps, not the absolute values."""
        return self._times.get(path)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (caller holds the array's lock for a consistent view)."""
        return {
            "logins": self.logins, "failed_logins": self.failed_logins,
            "refreshes": self.refreshes, "revokes": self.revokes,
            "forced_revokes": self.forced_revokes,
            "bad_auth_requests": self.bad_auth_requests, "requests": self.requests,
            "requests_by_path": dict(self.requests_by_path),
            "max_live_token_sets": self.max_live_token_sets,
            "evicted_token_sets": self.evicted_token_sets,
            "concurrent_requests": self.concurrent_requests,
            "max_concurrent_requests": self.max_concurrent_requests,
            "faults_injected": self.faults_injected,
        }
