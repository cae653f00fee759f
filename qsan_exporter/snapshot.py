"""The immutable result of one poll of one array: its typed status and its rendered families.

The poller builds a new `Snapshot` after every poll and swaps it in with one reference
assignment, so a scrape always sees one whole poll, never half of two. Translation and rendering
happen when the snapshot is built (once per poll), never at scrape time. The families are kept
as exposition bytes only (prometheus_client's Metric objects are several times larger and
nothing reads them again); whatever the status page or the debug view shows is a typed field
here, never a metric parsed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from qsan_exporter.api.stats import RequestRecord, TokenTimes
from qsan_exporter.array_events import ArrayEvent


@dataclass(frozen=True)
class RenderedFamily:
    """One metric family in both exposition formats, split into header and sample lines."""

    name: str
    text_header: bytes
    text_samples: bytes
    om_header: bytes
    om_samples: bytes


@dataclass(frozen=True)
class PartHealth:
    """The parts one collector checked (`*_health` families), for the status page."""

    checked: Mapping[str, int]  # parts seen, by kind ("disk": 96)
    problems: tuple[tuple[str, bool], ...] = ()  # ("disk 3", critical), in the collector's order


@dataclass(frozen=True)
class CollectorState:
    """One collector of one array: its latest run, and the data of its latest successful run."""

    name: str
    success: bool
    duration: float
    error: str | None
    ran_at: float  # unix time of the latest run
    data_at: float | None  # unix time of the run whose families are carried (None: no data yet)
    stale_after: float  # seconds after data_at when the families are withdrawn (3 intervals)
    families: tuple[RenderedFamily, ...] = ()
    health: PartHealth | None = None  # None: the collector reports no part health


@dataclass(frozen=True)
class Identity:
    api: str
    product: str
    model: str
    serial: str


@dataclass(frozen=True)
class ApiCounters:
    """The array's API counters as of the end of a poll (monotonic since the client started)."""

    requests: Mapping[tuple[str, str], int]  # (endpoint template, code) -> count
    logins: int
    refreshes: int
    login_failures: int | None = None  # None: no request guard counts them


@dataclass(frozen=True)
class Snapshot:
    array: str
    generation: int  # increases with every publish; the exposition cache keys on it
    started_at: float
    duration: float
    up: bool
    error: str | None
    last_success: float | None  # latest poll in which every collector succeeded
    identity: Identity | None
    collectors: Mapping[str, CollectorState]
    exporter_families: tuple[RenderedFamily, ...]  # poll/own.py's, rendered
    # Typed poll state for the status page and the debug view (never parsed back from metrics).
    failures: int = 0  # consecutive failed polls
    next_attempt: float | None = None  # unix time of the next poll
    backoff: bool = False  # the next poll is held back beyond the interval
    requests: tuple[RequestRecord, ...] = ()  # the requests this poll sent
    token: TokenTimes | None = None
    events: tuple[ArrayEvent, ...] = ()  # the array's latest errors and warnings, newest first
    labels: Mapping[str, str] = field(default_factory=dict)  # array + configured labels
    api: ApiCounters | None = None

    def live_collectors(self, now: float) -> tuple[CollectorState, ...]:
        """The collectors whose data is still fresh enough to serve (SPEC §3 withdrawal)."""
        return tuple(
            c for c in self.collectors.values()
            if c.data_at is not None and now - c.data_at <= c.stale_after
        )
