"""Snapshots -> exposition bytes, rendered when a poll completes and cached until the next one.

Rendering with prometheus_client costs ~17 µs per series; a large site has 100,000+ series and
several Prometheus replicas scrape it. Nothing in a scrape needs computing at scrape time, so:

- each family of each snapshot is rendered once, at publish, by prometheus_client itself (it stays
  the source of truth for escaping and number formatting), then split into header and samples;
- a scrape concatenates the cached sample bytes family by family across arrays (both formats
  require a family's samples to be contiguous), and the whole body - and its gzip - are cached
  until a snapshot changes or a collector's data is withdrawn for age;
- the few process-wide metrics that change on every scrape are rendered per scrape and appended
  (as a second gzip member when compressing: gzip streams may be concatenated).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from qsan_exporter.snapshot import Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = om_format.CONTENT_TYPE_LATEST
_EOF = b"# EOF\n"
# Families in a fixed order: the catalogue's, then anything else (process metrics) by name.
_ORDER = {name: i for i, name in enumerate([*GLOBAL_METRICS, *METRICS])}


class _Families:
    """The minimal 'registry' prometheus_client's renderers accept."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


@dataclass(frozen=True)
class RenderedFamily:
    name: str
    text_header: bytes
    text_samples: bytes
    om_header: bytes
    om_samples: bytes


def _split(rendered: bytes) -> tuple[bytes, bytes]:
    # Only b"\n" ends a line in either format; splitlines() would also cut at a bare "\r",
    # which prometheus_client leaves unescaped inside a label value.
    lines = [line + b"\n" for line in rendered.split(b"\n")[:-1]]
    lines = [line for line in lines if line != _EOF]
    header = b"".join(line for line in lines if line.startswith(b"# "))
    samples = b"".join(line for line in lines if not line.startswith(b"# ") and line.strip())
    return header, samples


def render_families(families: Iterable[Metric]) -> tuple[RenderedFamily, ...]:
    """Render each family in both formats with prometheus_client and keep the pieces."""
    rendered = []
    for family in families:
        if not family.samples:
            continue
        one = _Families([family])
        text_header, text_samples = _split(text_format.generate_latest(one))
        om_header, om_samples = _split(om_format.generate_latest(one))
        name = family.name + "_total" if family.type == "counter" else family.name
        rendered.append(RenderedFamily(name, text_header, text_samples, om_header, om_samples))
    return tuple(rendered)


@dataclass(frozen=True)
class RenderedSnapshot:
    """A snapshot's bytes: its exporter families, and each collector's families."""

    snapshot: Snapshot
    exporter: tuple[RenderedFamily, ...]
    collectors: dict[str, tuple[RenderedFamily, ...]]


def render_snapshot(snapshot: Snapshot) -> RenderedSnapshot:
    return RenderedSnapshot(
        snapshot=snapshot,
        exporter=render_families(snapshot.exporter_families),
        collectors={
            name: render_families(state.families) for name, state in snapshot.collectors.items()
        },
    )


def _assemble(parts: Sequence[Iterable[RenderedFamily]], openmetrics: bool) -> bytes:
    """Merge families by name across parts, keeping each family's samples contiguous."""
    merged: dict[str, tuple[bytes, list[bytes]]] = {}
    for part in parts:
        for family in part:
            header = family.om_header if openmetrics else family.text_header
            samples = family.om_samples if openmetrics else family.text_samples
            entry = merged.get(family.name)
            if entry is None:
                merged[family.name] = (header, [samples])
            else:
                entry[1].append(samples)
    ordered = sorted(merged.items(), key=lambda kv: (_ORDER.get(kv[0], len(_ORDER)), kv[0]))
    return b"".join(header + b"".join(samples) for _, (header, samples) in ordered)


@dataclass(frozen=True)
class Body:
    content_type: str
    data: bytes
    gzipped: bytes | None


class Exposition:
    """Holds the latest rendered snapshot per array and serves cached bodies.

    `publish()` is called from poll threads, `body()` from HTTP threads: the rendered map is
    replaced, never mutated, and the cache is a dict swapped under a lock.
    """

    def __init__(self, extra: Iterable[object] = ()) -> None:
        # Collectors whose families change on every scrape (process metrics, build info).
        self._extra = list(extra)
        self._rendered: dict[str, RenderedSnapshot] = {}
        # (format, arrays) -> (generations and live collectors, body, gzipped body)
        self._cache: dict[tuple[object, ...], tuple[object, bytes, bytes | None]] = {}
        self._lock = threading.Lock()

    def publish(self, snapshot: Snapshot) -> None:
        rendered = render_snapshot(snapshot)
        with self._lock:
            self._rendered = {**self._rendered, snapshot.array: rendered}

    def remove(self, array: str) -> None:
        with self._lock:
            self._rendered = {k: v for k, v in self._rendered.items() if k != array}

    def snapshots(self) -> dict[str, Snapshot]:
        return {name: r.snapshot for name, r in self._rendered.items()}

    def has(self, array: str) -> bool:
        return array in self._rendered

    def _arrays_body(
        self, arrays: Sequence[str], now: float, openmetrics: bool, compress: bool
    ) -> tuple[bytes, bytes | None]:
        rendered = self._rendered
        selected = [rendered[a] for a in sorted(arrays) if a in rendered]
        live = [(r, tuple(c.name for c in r.snapshot.live_collectors(now))) for r in selected]
        slot = (openmetrics, tuple(r.snapshot.array for r in selected))
        version = tuple((r.snapshot.generation, names) for r, names in live)
        with self._lock:
            cached = self._cache.get(slot)
        if cached is not None and cached[0] == version and (cached[2] is not None or not compress):
            return cached[1], cached[2]
        if cached is not None and cached[0] == version:
            data = cached[1]
        else:
            parts: list[Iterable[RenderedFamily]] = []
            for r, names in live:
                parts.append(r.exporter)
                parts.extend(r.collectors[name] for name in names if name in r.collectors)
            data = _assemble(parts, openmetrics)
        gzipped = gzip.compress(data, compresslevel=6, mtime=0) if compress else None
        with self._lock:
            self._cache[slot] = (version, data, gzipped)
        return data, gzipped

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
        names = list(self._rendered) if arrays is None else list(arrays)
        data, gzipped = self._arrays_body(names, now, openmetrics, compress)
        tail = b""
        if include_extra and self._extra:
            tail = _assemble(
                [render_families(f for c in self._extra for f in c.collect())], openmetrics
            )
        if openmetrics:
            tail += _EOF
        content_type = OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE
        if compress:
            assert gzipped is not None
            tail_gz = gzip.compress(tail, compresslevel=6, mtime=0) if tail else b""
            return Body(content_type, data + tail, gzipped + tail_gz)
        return Body(content_type, data + tail, None)
