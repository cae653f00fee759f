"""Metric families -> exposition bytes, once per poll, and bodies assembled from those bytes.

A poll's families are written straight from the builder's samples (write.py holds the
escaping and number formatting, byte for byte as prometheus_client writes them), in both
formats, as header and sample lines, so a body can merge one family's samples across arrays,
contiguous as both formats require. The process-wide families of the tail still go through
prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.openmetrics import parser as om_parser

from qsan_exporter.collectors.base import Family
from qsan_exporter.exposition import write
from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from qsan_exporter.snapshot import RenderedFamily, Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = om_format.CONTENT_TYPE_LATEST
EOF_LINE = b"# EOF\n"
# Families in a fixed order: the catalogue's, then anything else (process metrics) by name.
_ORDER = {name: i for i, name in enumerate([*GLOBAL_METRICS, *METRICS])}


def order_key(name: str) -> tuple[int, str]:
    return _ORDER.get(name, len(_ORDER)), name


def render_families(families: Iterable[Family]) -> tuple[RenderedFamily, ...]:
    """Write each family in both formats: its header (cached per definition) and its samples,
    which read the same in both formats (one bytes object)."""
    rendered = []
    const: tuple[Mapping[str, str], dict[str, str]] | None = None
    for family in families:
        if not family.samples:
            continue
        if const is None or const[0] is not family.const_labels:  # one builder: the same
            const = family.const_labels, write.const_parts(family.const_labels)
        definition = family.definition
        name = write.text_name(definition.name, definition.type)
        text_header, om_header = write.headers(definition.name, definition.type, definition.help)
        line = write.sample_format(name, const[1], definition.labels)
        samples = write.sample_lines(line, family.samples, write.in_name_order(definition.labels))
        rendered.append(RenderedFamily(name, text_header, samples, om_header, samples))
    return tuple(rendered)


def families_of(rendered: Iterable[RenderedFamily]) -> list[Metric]:
    """Rendered families read back into Metric objects, with prometheus_client's OpenMetrics
    parser: for tests and tools that inspect what a poll produced. Nothing on the serve path
    or the status page parses metrics back."""
    return [metric for family in rendered for metric in om_parser.text_string_to_metric_families(
        (family.om_header + family.om_samples + EOF_LINE).decode("utf-8"))]


@dataclass(frozen=True)
class RenderedSnapshot:
    """A snapshot's bytes: its exporter families, and each collector's families."""

    snapshot: Snapshot
    exporter: tuple[RenderedFamily, ...]
    collectors: dict[str, tuple[RenderedFamily, ...]]


def render_snapshot(snapshot: Snapshot) -> RenderedSnapshot:
    """The snapshot's families as the assembly reads them (the poll rendered them already)."""
    return RenderedSnapshot(
        snapshot=snapshot,
        exporter=snapshot.exporter_families,
        collectors={name: state.families for name, state in snapshot.collectors.items()},
    )


def assemble(parts: Sequence[Iterable[RenderedFamily]], openmetrics: bool) -> bytes:
    """Merge families by name across parts, keeping each family's samples contiguous."""
    return b"".join(assembled_families(parts, openmetrics))


def assembled_families(parts: Sequence[Iterable[RenderedFamily]],
                       openmetrics: bool) -> Iterator[bytes]:
    """`assemble` one family at a time: a compressor can take the body without it ever being
    joined whole (80 MB for 1,000 arrays)."""
    merged: dict[str, tuple[bytes, list[bytes]]] = {}
    for part in parts:
        for family in part:
            samples = family.om_samples if openmetrics else family.text_samples
            entry = merged.get(family.name)
            if entry is None:
                header = family.om_header if openmetrics else family.text_header
                merged[family.name] = (header, [samples])
            else:
                entry[1].append(samples)
    for name in sorted(merged, key=order_key):
        head, lines = merged[name]
        yield b"".join([head, *lines])


def live_parts(
    selected: Iterable[RenderedSnapshot], now: float
) -> tuple[list[Iterable[RenderedFamily]], float, tuple[object, ...]]:
    """The families to serve at `now`, the time the first of them goes stale, and a version."""
    parts: list[Iterable[RenderedFamily]] = []
    valid_until = float("inf")
    version = []
    for r in selected:
        parts.append(r.exporter)
        names = []
        for state in r.snapshot.live_collectors(now):
            assert state.data_at is not None  # live_collectors() guarantees it
            valid_until = min(valid_until, state.data_at + state.stale_after)
            names.append(state.name)
            if state.name in r.collectors:
                parts.append(r.collectors[state.name])
        version.append((r.snapshot.array, r.snapshot.generation, tuple(names)))
    return parts, valid_until, tuple(version)
