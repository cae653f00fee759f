"""The /metrics and /probe bodies: cached, built in the background, so a scrape only sends bytes.

Rendering with prometheus_client costs ~17 µs per series; a large site has 100,000+ series and
several Prometheus replicas scrape it. Nothing in a scrape needs computing at scrape time, so:

- each family is rendered once, by the poll that built it (`render_families`), straight to
  header and sample bytes (write.py, held byte for byte to prometheus_client's output by
  tests/test_render_bytes.py);
- once `start()`ed, one builder thread assembles the whole `/metrics` body after publishes
  (each family contiguous across arrays, as both formats require) and gzips it (level 1),
  compressing again only the families whose bytes changed since its previous build
  (chunks.py): at least `BUILD_GAP_FACTOR` times its own duration apart, and while scrapes
  keep a rhythm just before the next one (pacing.py), so the builder takes a small share of a
  core at most;
- a scrape sends the newest complete body (the previous one while a rebuild runs), never a
  partial body, never a wait - unless an array was added or removed since (start, reload): then
  it builds, so /-/ready and a reload show at once. A body is served only while every collector
  in it is fresh (SPEC §3 withdrawal): the builder wakes at the earliest expiry, and a scrape
  that finds the body past it builds one itself;
- the few process-wide metrics that change on every scrape are collected at scrape time, at most
  once a second (tail.py says why), and sent after the cached body (compressed, in the same
  gzip member: deflate.py).

`/probe` (one array) keeps a per-array-set cache built on demand. Without `start()` (tests,
tools) every body is built on demand and cached until a snapshot changes.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence

from qsan_exporter.exposition.body import Body
from qsan_exporter.exposition.build import GZIP_LEVEL, BuildStats, Built, build_body, encode
from qsan_exporter.exposition.chunks import FamilyChunks
from qsan_exporter.exposition.deflate import Gzipped
from qsan_exporter.exposition.pacing import ScrapePacer
from qsan_exporter.exposition.parts import RenderedSnapshot, live_parts, render_snapshot
from qsan_exporter.exposition.render import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE
from qsan_exporter.exposition.tail import (
    TAIL_MAX_AGE_SECONDS,
    Collector,
    Tail,
    empty_deflated,
    empty_tail,
)
from qsan_exporter.snapshot import Snapshot

BUILD_GAP_FACTOR = 10.0  # builder busy at most ~1/10 of the time
MIN_BUILD_GAP_SECONDS = 1.0
MAX_LAG_SECONDS = 30.0  # an out-of-date body older than this is never served: build instead
WANTED_FOR_SECONDS = 600.0  # a format nobody asked for in this long is no longer built
_DEFAULT_FORMAT = (True, True)  # Prometheus: OpenMetrics, gzip

class Exposition:
    """Holds the latest rendered snapshot per array and serves prebuilt bodies.

    `publish()` is called from poll threads, `body()` from HTTP threads: the rendered map is
    replaced, never mutated, and every cache is swapped under a lock.
    """

    def __init__(self, extra: Iterable[Collector] = (), *,
                 clock: Callable[[], float] = time.time,
                 tail_max_age: float = TAIL_MAX_AGE_SECONDS) -> None:
        # Collectors whose families change on every scrape (process metrics, build info).
        self.tail = Tail(extra, max_age=tail_max_age)
        self._clock = clock
        self._rendered: dict[str, RenderedSnapshot] = {}
        self._version = 0  # bumped by every publish and removal
        self._members = 0  # bumped when an array appears or goes
        self._lock = threading.Condition(threading.Lock())
        self._build_lock = threading.Lock()  # one full-body build at a time
        self._built: dict[tuple[bool, bool], Built] = {}  # (openmetrics, gzip) -> body
        # openmetrics -> the latest full gzipped build's families; used under the build lock
        self._chunks = {om: FamilyChunks(GZIP_LEVEL) for om in (True, False)}
        self._wanted: dict[tuple[bool, bool], float] = {_DEFAULT_FORMAT: float("inf")}
        self._pacer = ScrapePacer()  # when the full body is asked for: builds wait for that
        # (openmetrics, gzip, arrays) -> (version, body): /probe's cache
        self._subsets: dict[tuple[bool, bool, tuple[str, ...]],
                            tuple[object, bytes | Gzipped]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        # True while the builder waits with nothing to build: only then does new data need to
        # wake it. While it waits out the gap between builds, waking it on every publish would
        # only make it and the scrape threads take turns at the GIL for nothing.
        self._builder_idle = False
        self.stats = BuildStats()

    # --- data in --------------------------------------------------------------------------

    def publish(self, snapshot: Snapshot) -> None:
        self.publish_rendered(self.prepare(snapshot))

    def prepare(self, snapshot: Snapshot) -> RenderedSnapshot:
        """The first half of `publish`, holding no lock of anyone's (the poll rendered): its
        families' bytes compared with the array's published ones, which keep their serials
        where equal (parts.py)."""
        return render_snapshot(snapshot, self._rendered.get(snapshot.array))

    def publish_rendered(self, rendered: RenderedSnapshot) -> None:
        """The cheap half: swap the array's rendered families in and wake the builder."""
        snapshot = rendered.snapshot
        with self._lock:
            self._members += snapshot.array not in self._rendered
            self._rendered = {**self._rendered, snapshot.array: rendered}
            self._version += 1
            if self._builder_idle:
                self._lock.notify_all()

    def remove(self, array: str) -> None:
        with self._lock:
            self._members += array in self._rendered
            self._rendered = {k: v for k, v in self._rendered.items() if k != array}
            self._version += 1
            if self._builder_idle:
                self._lock.notify_all()

    def snapshots(self) -> dict[str, Snapshot]:
        return {name: r.snapshot for name, r in self._rendered.items()}

    def snapshot(self, array: str) -> Snapshot | None:
        """One array's published snapshot (a poll asks after every poll: no copy of all)."""
        rendered = self._rendered.get(array)
        return rendered.snapshot if rendered is not None else None

    # --- read-only views (status, tests) ------------------------------------------------------

    @property
    def version(self) -> int:
        """Bumped by every publish and removal."""
        return self._version

    def built(self, openmetrics: bool, compress: bool) -> tuple[int, bytes] | None:
        """The newest full body built in that format, and the `version` of the data it holds."""
        with self._lock:
            built = self._built.get((openmetrics, compress))
        if built is None or (built.gzipped if compress else built.plain) is None:
            return None
        body = built.data(compress)
        if isinstance(body, Gzipped):
            body = b"".join(body.ended())
        return built.version, body

    @property
    def build_lock(self) -> threading.Lock:
        """Held while a full body is built: whoever holds it stands in for a long build."""
        return self._build_lock

    @property
    def builder(self) -> threading.Thread | None:
        """The background builder's thread, once `start()`ed and until `close()`."""
        return self._thread

    # --- the background builder ---------------------------------------------------------------

    def start(self) -> None:
        """Build bodies in a background thread from now on (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            # The thread holds only a weak reference, so a forgotten Exposition still goes away.
            self._thread = threading.Thread(target=_builder_loop, args=(weakref.ref(self),),
                                            name="exposition-builder", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
            self._lock.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _next_work(self) -> tuple[bool, float, bool]:
        """(build now?, else seconds to wait, idle: nothing stale to build). Caller holds the
        lock."""
        now = self._clock()
        stale_formats = [k for k in self._wanted if self._built.get(k) is None
                         or self._built[k].version != self._version]
        expiry = min((b.valid_until for b in self._built.values()), default=float("inf"))
        if expiry < now:
            return True, 0.0, False
        wait = expiry - now + 0.001
        if stale_formats:
            gap = max(MIN_BUILD_GAP_SECONDS, BUILD_GAP_FACTOR * self.stats.last_seconds)
            ready_in = max(self.stats.last_end + gap - time.monotonic(),
                           self._pacer.wait(now, self.stats.last_seconds))
            if ready_in <= 0:
                return True, 0.0, False
            wait = min(wait, ready_in)
        return False, min(wait, 60.0), not stale_formats

    def build_now(self) -> None:
        """Build every wanted format of the full body for the current data (the builder's job)."""
        started = time.monotonic()
        with self._lock:
            now = self._clock()
            for key, asked in list(self._wanted.items()):
                if now - asked > WANTED_FOR_SECONDS:
                    del self._wanted[key]
                    self._built.pop(key, None)
            formats = {om for om, _ in self._wanted}
        for openmetrics in sorted(formats):
            self._build_full(openmetrics, now)
        elapsed = time.monotonic() - started
        with self._lock:
            self.stats.builds += 1
            self.stats.seconds += elapsed
            self.stats.last_seconds = elapsed
            self.stats.last_end = time.monotonic()

    def _build_full(self, openmetrics: bool, now: float) -> None:
        with self._build_lock:
            with self._lock:
                version, members, rendered = self._version, self._members, self._rendered
                kinds = {gz for om, gz in self._wanted if om == openmetrics}
            built = build_body(rendered, version, members, now, openmetrics,
                               plain=False in kinds, gzipped=True in kinds,
                               chunks=self._chunks[openmetrics])
            with self._lock:
                self._count(built)
                for compress in kinds:
                    current = self._built.get((openmetrics, compress))
                    if current is None or current.version <= version:
                        self._built[(openmetrics, compress)] = built

    # --- bodies out -------------------------------------------------------------------------

    def _count(self, built: Built) -> None:
        """Caller holds the lock."""
        self.stats.families_compressed += built.families_compressed
        self.stats.families_reused += built.families_reused

    def _full(self, now: float, openmetrics: bool, compress: bool) -> bytes | Gzipped:
        key = (openmetrics, compress)
        with self._lock:
            if key not in self._wanted:
                self._lock.notify_all()  # a new format: the builder keeps it from now on
            self._wanted[key] = max(self._wanted.get(key, now), now)
            self._pacer.asked(now)
            built = self._built.get(key)
            if built is not None and built.serves(now, compress):
                if built.version == self._version:
                    return built.data(compress)
                if (self._thread is not None and built.members == self._members
                        and now - built.built_at <= MAX_LAG_SECONDS):
                    self.stats.served_previous += 1
                    return built.data(compress)
        # Nothing servable (first scrape, a collector just expired, no builder): build it here.
        with self._build_lock:
            with self._lock:
                built = self._built.get(key)
                if (built is not None and built.serves(now, compress)
                        and built.version == self._version):
                    return built.data(compress)
                version, members, rendered = self._version, self._members, self._rendered
            built = build_body(rendered, version, members, now, openmetrics,
                               plain=not compress, gzipped=compress,
                               chunks=self._chunks[openmetrics])
            with self._lock:
                self._count(built)
                self.stats.on_demand += 1
                self._built[key] = built
        return built.data(compress)

    def _subset(self, arrays: Sequence[str], now: float, openmetrics: bool,
                compress: bool) -> bytes | Gzipped:
        rendered = self._rendered
        selected = [rendered[a] for a in sorted(set(arrays)) if a in rendered]
        parts, _, version = live_parts(selected, now)
        slot = (openmetrics, compress, tuple(r.snapshot.array for r in selected))
        with self._lock:
            cached = self._subsets.get(slot)
        if cached is not None and cached[0] == version:
            return cached[1]
        plain, gzipped = encode(parts, openmetrics, plain=not compress, gzipped=compress)
        data: bytes | Gzipped | None = gzipped if compress else plain
        assert data is not None  # encode() made the one asked for
        with self._lock:
            # One entry per array set and format; sets of arrays that no longer exist go away.
            self._subsets = {k: v for k, v in self._subsets.items()
                             if all(a in rendered for a in k[2])}
            self._subsets[slot] = (version, data)
        return data

    def body(
        self,
        now: float,
        *,
        openmetrics: bool,
        compress: bool,
        arrays: Sequence[str] | None = None,
        include_extra: bool = True,
    ) -> Body:
        """The exposition for `arrays` (default: all), plus the process-wide metrics."""
        if arrays is None:
            main = self._full(now, openmetrics, compress)
        else:
            main = self._subset(arrays, now, openmetrics, compress)
        content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
        if isinstance(main, Gzipped):
            last = (self.tail.deflated(openmetrics) if include_extra
                    else empty_deflated(openmetrics))
            return Body(content_type, main.ended(last), compressed=True)
        tail = self.tail.data(openmetrics) if include_extra else empty_tail(openmetrics)
        return Body(content_type, (main, tail), compressed=False)


def _builder_loop(ref: weakref.ref[Exposition]) -> None:
    while True:
        exposition = ref()
        if exposition is None:
            return
        with exposition._lock:
            if exposition._stopping or exposition._thread is not threading.current_thread():
                return
            due, wait, idle = exposition._next_work()
            if not due:
                # Woken early by publish() or remove() (when idle), a new format or close():
                # re-evaluate.
                exposition._builder_idle = idle
                exposition._lock.wait(min(wait, 5.0))
                exposition._builder_idle = False
                due = False
        if due:
            exposition.build_now()
        del exposition
