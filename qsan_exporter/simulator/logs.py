"""`/rest/v1/log/list`: a fixed history plus one new event every `log_interval` seconds.

New events are derived from the clock when a request arrives (`catch_up`), never by a timer
thread, so hundreds of idle simulated arrays cost nothing. The event list is append-only and
sorted by timestamp, so `startTime` is a bisection and a typical incremental poll touches only the
few events since the last one. Some history events share a timestamp on purpose: the exporter must
count each of them once.

`literal` takes the manual's other reading (qsan_exporter/readings.py): `startTime` exclusive
("List all logs after startTime", `log-start-time`), `total` a string (`log-total-type`) and
`"logs": null` for an empty page ("the null value will be returned", `null-lists-services`).
"""

from __future__ import annotations

import bisect
import threading
from typing import Any

LEVELS = ("info", "warning", "error", "access")
HISTORY_EVENTS = 50
HISTORY_SPAN = 3600  # seconds before start covered by the history
DEFAULT_PAGE_SIZE = 1000

_MESSAGES = {
    "info": ("Volume '{volume}' snapshot is taken.", "Pool '{pool}' is online.",
             "System time is synchronised with the NTP server."),
    "warning": ("RAID set {raidset} of pool '{pool}' is degraded.",
                "Replication task {task} is retrying.", "Fan '{fan}' speed is low."),
    "error": ("Disk {disk} failed.", "Power supply '{psu}' failed.",
              "Replication task {task} failed."),
    "access": ("User '{user}' is login.", "User '{user}' is logout."),
}


class LogBook:
    """Thread-safe, lazily grown event list of one simulated array."""

    def __init__(self, started: float, interval: float, names: dict[str, str],
                 literal: bool = False) -> None:
        self.started = int(started)
        self.literal = literal
        self.interval = interval
        self._names = names
        self._lock = threading.Lock()
        self._times: list[int] = []
        self._events: list[dict[str, Any]] = []
        step = HISTORY_SPAN // HISTORY_EVENTS
        for i in range(HISTORY_EVENTS):
            # Every tenth event shares the timestamp of the one before it.
            offset = i - 1 if i % 10 == 9 else i
            self._append(self.started - HISTORY_SPAN + offset * step, i)
        self._generated = 0

    def _append(self, timestamp: int, sequence: int) -> None:
        level = LEVELS[sequence % len(LEVELS)]
        choices = _MESSAGES[level]
        message = choices[(sequence // len(LEVELS)) % len(choices)].format(**self._names)
        self._times.append(timestamp)
        self._events.append({"type": level, "timestamp": timestamp, "message": message})

    def catch_up(self, now: float) -> None:
        """Append the events due by `now` (one per interval since start)."""
        if self.interval <= 0:
            return
        due = int((now - self.started) / self.interval)
        with self._lock:
            while self._generated < due:
                self._generated += 1
                self._append(int(self.started + self._generated * self.interval),
                             HISTORY_EVENTS + self._generated)

    def add(self, now: float, level: str, message: str,
            timestamp: int | None = None) -> dict[str, Any]:
        """Inject one event (``POST /_sim/events``), at `timestamp` or now; kept sorted.

        Events due by `now` are generated first, so an injected event never lands before one
        the clock already owed; of events sharing a timestamp, the injected one comes last.
        """
        self.catch_up(now)
        when = int(now) if timestamp is None else int(timestamp)
        event: dict[str, Any] = {"type": level, "timestamp": when, "message": message}
        with self._lock:
            at = bisect.bisect_right(self._times, when)
            self._times.insert(at, when)
            self._events.insert(at, event)
        return event

    def query(self, now: float, start_time: int | None, types: set[str] | None,
              page: int, page_size: int) -> dict[str, Any]:
        """One page, oldest first, of the events at or after `start_time` of the given types."""
        self.catch_up(now)
        with self._lock:
            find = bisect.bisect_right if self.literal else bisect.bisect_left
            first = 0 if start_time is None else find(self._times, start_time)
            selected = self._events[first:]
        if types is not None:
            selected = [e for e in selected if e["type"] in types]
        begin = (page - 1) * page_size
        page_events = selected[begin:begin + page_size]
        if self.literal:
            return {"logs": page_events or None, "total": str(len(selected)),
                    "haveNextPage": begin + page_size < len(selected)}
        return {"logs": page_events, "total": len(selected),
                "haveNextPage": begin + page_size < len(selected)}

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)
