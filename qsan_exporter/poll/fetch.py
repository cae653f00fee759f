"""Fetching the due areas of one poll: in table order, in parallel when allowed, isolated.

An API error fails only its area; an unreachable or unauthenticated array stops the poll at
the first such error (asking a dead array six more times only delays the answer), and the
areas not asked are recorded as skipped. A bug in the source fails only its area too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from qsan_exporter.api.errors import ApiAuthError, ApiError, ApiUnreachable

log = logging.getLogger(__name__)


class Source(Protocol):
    def fetch(self, area: str) -> Any: ...


@dataclass
class Fetched:
    """The answers of one poll's fetches: per area an answer or an error, and the time taken."""

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    fatal: ApiError | None = None  # the array is unreachable or refused us

    def merge(self, other: Fetched) -> None:
        self.answers.update(other.answers)
        self.errors.update(other.errors)
        self.durations.update(other.durations)
        self.fatal = other.fatal or self.fatal


class Fetcher:
    """Fetches areas of one array from its source; `closing()` true stops between areas."""

    def __init__(self, name: str, source: Source, max_concurrent: int,
                 closing: Callable[[], bool]) -> None:
        self._name = name
        self._source = source
        self._parallel = max_concurrent
        self._closing = closing
        self._pool: ThreadPoolExecutor | None = None

    def fetch(self, order: list[str]) -> Fetched:
        """One area first, alone (it logs in once and tells the identity), then the rest."""
        out = Fetched()
        self._serial(order[:1], out)
        if self._parallel > 1 and out.fatal is None and not self._closing():
            self._concurrent(order[1:], out)
        else:
            self._serial(order[1:], out)
        return out

    def _serial(self, areas: list[str], out: Fetched) -> None:
        for area in areas:
            if out.fatal is not None or self._closing():
                out.errors[area] = (f"skipped: {out.fatal}" if out.fatal
                                    else "skipped: shutting down")
                out.durations[area] = 0.0
                continue
            t = time.perf_counter()
            try:
                out.answers[area] = self._source.fetch(area)
            except (ApiUnreachable, ApiAuthError) as exc:
                out.fatal = exc
                out.errors[area] = str(exc)
            except ApiError as exc:
                out.errors[area] = str(exc)
            except Exception as exc:  # a bug in the source must not kill the poll
                log.exception("array=%s area=%s: unexpected error while fetching",
                              self._name, area)
                out.errors[area] = f"unexpected error: {type(exc).__name__}"
            out.durations[area] = time.perf_counter() - t

    def _concurrent(self, areas: list[str], out: Fetched) -> None:
        """With max_concurrent_requests > 1: areas in parallel, the guard bounding the flight."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._parallel,
                                            thread_name_prefix=f"poll-{self._name}")
        parts = [Fetched() for _ in areas]
        futures = [self._pool.submit(self._serial, [area], part)
                   for area, part in zip(areas, parts, strict=True)]
        for future, part in zip(futures, parts, strict=True):
            future.result()
            out.merge(part)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
