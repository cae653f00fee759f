"""The process-wide families sent after the cached body: process_*, python_*, build info.

They are not the arrays' data and no poll renders them, so they are collected at scrape time -
but collecting (prometheus_client's process collector reads /proc) and rendering cost ~0.5 ms,
as much as sending the whole cached body. Two things keep that off most scrapes:

- what prometheus_client's registries hold (its process, gc and platform collectors: they read
  /proc and the interpreter) is collected at most once per `TAIL_MAX_AGE_SECONDS` (1 s).
  Prometheus scrapes every 10-60 s, so a scrape practically always gets values collected for it;
  replicas or ad-hoc scrapers arriving within the same second share one collection. A counter
  such as process_cpu_seconds_total is then up to 1 s behind the scrape's timestamp: below
  what rate() over any usable range can show, and it never goes backwards. The exporter's own
  collectors (build info, the last reload's outcome) hold plain attributes: they are asked on
  every scrape, so a reload's outcome shows in the very next one;
- a family whose samples did not change since the previous collection (platform and build info,
  start time, file limit, usually the gc counters) keeps its rendered bytes; only the moving
  ones (CPU, memory, open fds) are rendered again, by prometheus_client as before.

Compressed, the tail is the last deflate piece of the body's gzip member (deflate.py), not a
gzip member of its own: a client that reads only a stream's first member gets it all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format

from qsan_exporter.exposition.deflate import Deflated, deflate
from qsan_exporter.exposition.render import EOF_LINE, order_key

TAIL_MAX_AGE_SECONDS = 1.0
TAIL_GZIP_LEVEL = 6  # a few KiB, compressed at most once per second per format
_EMPTY = {True: EOF_LINE, False: b""}
_EMPTY_DEFLATED = {om: deflate(data, TAIL_GZIP_LEVEL) for om, data in _EMPTY.items()}


class Collector(Protocol):
    """What prometheus_client's registries collect from: the process-wide metrics."""

    def collect(self) -> Iterable[Metric]: ...


class _Families:
    """The minimal 'registry' prometheus_client's renderers accept."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


def _family_name(family: Metric) -> str:
    return family.name + "_total" if family.type == "counter" else family.name


def empty_tail(openmetrics: bool) -> bytes:
    """The tail of a body without process-wide families: OpenMetrics' EOF, or nothing."""
    return _EMPTY[openmetrics]


def empty_deflated(openmetrics: bool) -> Deflated:
    """`empty_tail` as the last piece of a gzipped body."""
    return _EMPTY_DEFLATED[openmetrics]


def _render_one(family: Metric, openmetrics: bool) -> bytes:
    if openmetrics:  # generate_latest ends with "# EOF": written once, after every family
        return om_format.generate_latest(_Families([family]))[:-len(EOF_LINE)]
    return text_format.generate_latest(_Families([family]))


def _said(family: Metric) -> tuple[object, ...]:
    """What a family says, copied: a collector may hand out the same Metric again, changed."""
    return family.name, family.documentation, family.type, family.unit, tuple(family.samples)


class Tail:
    """The process-wide families of `/metrics`: prometheus_client's registries collected at
    most once per `max_age` seconds of `clock` (monotonic: the exposition's own clock may stand
    still in tests), every other collector on every call."""

    def __init__(self, collectors: Iterable[Collector], *,
                 max_age: float = TAIL_MAX_AGE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        collectors = list(collectors)
        self._slow = [c for c in collectors if isinstance(c, CollectorRegistry)]
        self._quick = [c for c in collectors if not isinstance(c, CollectorRegistry)]
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()  # one collection at a time; concurrent scrapes share it
        self._slow_at = float("-inf")
        self._slow_families: list[Metric] = []
        self._families: list[Metric] = []
        self._said: tuple[tuple[object, ...], ...] = ()
        self._bytes: dict[bool, bytes] = {}  # openmetrics -> this tail
        self._deflated: dict[bool, Deflated] = {}  # openmetrics -> this tail, compressed
        # (openmetrics, family name) -> what the family said when last rendered, and its bytes
        self._rendered: dict[tuple[bool, str], tuple[tuple[object, ...], bytes]] = {}
        self.collections = 0  # of the registries

    def data(self, openmetrics: bool) -> bytes:
        """This scrape's tail in that format."""
        with self._lock:
            self._collect()
            return self._data(openmetrics)

    def deflated(self, openmetrics: bool) -> Deflated:
        """This scrape's tail in that format, as the last piece of a gzipped body."""
        with self._lock:
            self._collect()
            deflated = self._deflated.get(openmetrics)
            if deflated is None:
                deflated = deflate(self._data(openmetrics), TAIL_GZIP_LEVEL)
                self._deflated[openmetrics] = deflated
            return deflated

    def _data(self, openmetrics: bool) -> bytes:
        """Caller holds the lock."""
        data = self._bytes.get(openmetrics)
        if data is None:
            data = self._bytes[openmetrics] = self._render(openmetrics)
        return data

    def _collect(self) -> None:
        """Ask the collectors that are due; forget the joined bytes if anything changed."""
        now = self._clock()
        if not now - self._slow_at < self._max_age:
            self._slow_families = [f for c in self._slow for f in c.collect()]
            self._slow_at = now
            self.collections += 1
        collected = [*self._slow_families, *(f for c in self._quick for f in c.collect())]
        families = sorted((f for f in collected if f.samples),
                          key=lambda f: order_key(_family_name(f)))
        said = tuple(_said(f) for f in families)
        if said != self._said:
            self._families, self._said, self._bytes, self._deflated = families, said, {}, {}

    def _render(self, openmetrics: bool) -> bytes:
        """The collected families, each re-rendered only when it changed. Caller holds the
        lock."""
        chunks = []
        for family, said in zip(self._families, self._said, strict=True):
            slot = (openmetrics, family.name)
            previous = self._rendered.get(slot)
            if previous is not None and previous[0] == said:
                chunks.append(previous[1])
                continue
            rendered = _render_one(family, openmetrics)
            self._rendered[slot] = (said, rendered)
            chunks.append(rendered)
        if openmetrics:
            chunks.append(EOF_LINE)
        return b"".join(chunks)
