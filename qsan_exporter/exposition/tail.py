"""The process-wide families sent after the cached body: process_*, python_*, build info.

They are not the arrays' data and no poll renders them, so they are collected at scrape time -
but collecting (prometheus_client's process collector reads /proc) and rendering cost ~0.5 ms,
as much as sending the whole cached body. Two things keep that off most scrapes:

- the tail is kept for `TAIL_MAX_AGE_SECONDS` (1 s), in each format and encoding asked for.
  Prometheus scrapes every 10-60 s, so a scrape practically always gets values collected for it;
  replicas or ad-hoc scrapers arriving within the same second share one collection. A counter
  such as process_cpu_seconds_total is then up to 1 s behind the scrape's timestamp: below
  what rate() over any usable range can show, and it never goes backwards;
- a family whose samples did not change since the previous collection (platform and build info,
  start time, file limit, usually the gc counters) keeps its rendered bytes; only the moving
  ones (CPU, memory, open fds) are rendered again, by prometheus_client as before.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable

from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format

from qsan_exporter.exposition.render import (
    EOF_LINE,
    Collector,
    _Families,
    _family_name,
    _order_key,
)

TAIL_MAX_AGE_SECONDS = 1.0
TAIL_GZIP_LEVEL = 6  # a few KiB, compressed at most once per second per format
_EMPTY = {(True, False): EOF_LINE, (True, True): gzip.compress(EOF_LINE, TAIL_GZIP_LEVEL, mtime=0),
          (False, False): b"", (False, True): b""}


def empty_tail(openmetrics: bool, compress: bool) -> bytes:
    """The tail of a body without process-wide families: OpenMetrics' EOF, or nothing."""
    return _EMPTY[(openmetrics, compress)]


def _render_one(family: Metric, openmetrics: bool) -> bytes:
    if openmetrics:  # generate_latest ends with "# EOF": written once, after every family
        return om_format.generate_latest(_Families([family]))[:-len(EOF_LINE)]
    return text_format.generate_latest(_Families([family]))


class Tail:
    """The process-wide families of `/metrics`, collected at most once per `max_age` seconds
    (of `clock`, a monotonic clock: the exposition's own clock may stand still in tests)."""

    def __init__(self, collectors: Iterable[Collector], *,
                 max_age: float = TAIL_MAX_AGE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._collectors = list(collectors)
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()  # one collection at a time; concurrent scrapes share it
        self._collected_at = float("-inf")
        self._families: list[Metric] = []
        self._bytes: dict[tuple[bool, bool], bytes] = {}  # (openmetrics, gzip) -> this tail
        # (openmetrics, family name) -> what the family said when last rendered, and its bytes
        self._rendered: dict[tuple[bool, str], tuple[tuple[object, ...], bytes]] = {}
        self.collections = 0

    def data(self, openmetrics: bool, compress: bool) -> bytes:
        """This scrape's tail in that format and encoding (a gzip member when compressed)."""
        with self._lock:
            now = self._clock()
            if not now - self._collected_at < self._max_age:
                collected = [f for c in self._collectors for f in c.collect() if f.samples]
                self._families = sorted(collected, key=lambda f: _order_key(_family_name(f)))
                self._collected_at = now
                self._bytes = {}
                self.collections += 1
            key = (openmetrics, compress)
            data = self._bytes.get(key)
            if data is None:
                data = self._render(openmetrics)
                if compress and data:
                    data = gzip.compress(data, TAIL_GZIP_LEVEL, mtime=0)
                self._bytes[key] = data
            return data

    def _render(self, openmetrics: bool) -> bytes:
        """The collected families, each re-rendered only when it changed. Caller holds the
        lock."""
        chunks = []
        for family in self._families:
            slot = (openmetrics, family.name)
            # A copy of what is rendered: a collector may hand out the same Metric, mutated.
            said = (family.documentation, family.type, family.unit, tuple(family.samples))
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
