"""A candidate change to `qsan_exporter/exposition.py`, measured by the bench, not shipped.

What it changes, and why (see bench/README.md for the figures):

1. A gzip scrape no longer builds the uncompressed `data + tail` (a 10 MiB copy per scrape at
   100 arrays) - `Exposition.body` builds it even when only the gzip body is sent.
2. The full `/metrics` body is rebuilt by one background thread after a publish, at most once
   per `period` seconds; a scrape serves the newest built body and never assembles or compresses
   the fleet's data itself. In a fleet some array finishes a poll between nearly every two
   scrapes, so today's per-version cache misses on almost every scrape and each one pays
   assembly + gzip of the whole body (~90 ms at 100 arrays, growing with the fleet).
3. gzip level 1 instead of 6 for that body: ~3x less CPU per build, ~25 % more bytes.

`/probe` and other array subsets keep today's path; `body()` falls back to it whenever no body
newer than `max_lag` seconds is ready (first scrape, builder behind).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterable, Sequence

from qsan_exporter.exposition import (
    _EOF,
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Body,
    Exposition,
    RenderedFamily,
    _assemble,
    render_families,
)
from qsan_exporter.snapshot import Snapshot


class PrebuiltExposition(Exposition):
    def __init__(self, extra: Iterable[object] = (), *, period: float = 5.0,
                 max_lag: float = 30.0, level: int = 1, clock=time.time) -> None:
        super().__init__(extra)
        self._period = period
        self._max_lag = max_lag
        self._level = level
        self._clock = clock
        self._wanted: set[bool] = {True}  # formats asked for (OpenMetrics until text is)
        self._prebuilt: dict[bool, tuple[float, bytes]] = {}  # format -> (built at, gzip)
        self._dirty = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self.builds = 0
        self.build_seconds = 0.0
        self._thread = threading.Thread(target=self._builder, daemon=True, name="body-builder")
        self._thread.start()

    def publish(self, snapshot: Snapshot) -> None:
        super().publish(snapshot)
        self._idle.clear()
        self._dirty.set()

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()
        self._thread.join(5)

    def wait_idle(self, timeout: float = 30.0) -> None:
        self._idle.wait(timeout)

    def _builder(self) -> None:
        while not self._stop.is_set():
            if not self._dirty.wait(1.0):
                continue
            self._dirty.clear()
            started = time.perf_counter()
            for openmetrics in list(self._wanted):
                self._prebuilt[openmetrics] = (self._clock(), self._build(openmetrics))
            self.builds += 1
            self.build_seconds += time.perf_counter() - started
            if not self._dirty.is_set():
                self._idle.set()
            self._stop.wait(self._period)

    def _build(self, openmetrics: bool) -> bytes:
        now = self._clock()
        rendered = self._rendered
        parts: list[Iterable[RenderedFamily]] = []
        for name in sorted(rendered):
            r = rendered[name]
            parts.append(r.exporter)
            parts.extend(r.collectors[c.name] for c in r.snapshot.live_collectors(now)
                         if c.name in r.collectors)
        return gzip.compress(_assemble(parts, openmetrics), compresslevel=self._level, mtime=0)

    def body(self, now: float, *, openmetrics: bool, compress: bool,
             arrays: Sequence[str] | None = None, include_extra: bool = True) -> Body:
        self._wanted.add(openmetrics)
        built = self._prebuilt.get(openmetrics)
        if arrays is not None or not compress or built is None or now - built[0] > self._max_lag:
            return super().body(now, openmetrics=openmetrics, compress=compress, arrays=arrays,
                                include_extra=include_extra)
        tail = b""
        if include_extra and self._extra:
            tail = _assemble(
                [render_families(f for c in self._extra for f in c.collect())], openmetrics)
        if openmetrics:
            tail += _EOF
        content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
        # The uncompressed body is never materialised for a gzip scrape (change 1); a real
        # change would make Body.data lazy instead of empty.
        return Body(content_type, b"", built[1] + gzip.compress(tail, compresslevel=6, mtime=0))
