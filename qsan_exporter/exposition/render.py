"""Metric families -> exposition bytes, once per poll, and bodies assembled from those bytes.

prometheus_client renders each family (it stays the source of truth for escaping and number
formatting) in both formats; the output is split into header and sample lines so a body can
merge one family's samples across arrays, contiguous as both formats require.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.openmetrics import parser as om_parser

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from qsan_exporter.snapshot import RenderedFamily, Snapshot

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = om_format.CONTENT_TYPE_LATEST
EOF_LINE = b"# EOF\n"
# Families in a fixed order: the catalogue's, then anything else (process metrics) by name.
_ORDER = {name: i for i, name in enumerate([*GLOBAL_METRICS, *METRICS])}


class _Families:
    """The minimal 'registry' prometheus_client's renderers accept."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


def _split(rendered: bytes) -> tuple[bytes, bytes]:
    # Only b"\n" ends a line in either format; splitlines() would also cut at a bare "\r",
    # which prometheus_client leaves unescaped inside a label value.
    lines = [line + b"\n" for line in rendered.split(b"\n")[:-1]]
    lines = [line for line in lines if line != EOF_LINE]
    header = b"".join(line for line in lines if line.startswith(b"# "))
    samples = b"".join(line for line in lines if not line.startswith(b"# ") and line.strip())
    return header, samples


def _family_name(family: Metric) -> str:
    return family.name + "_total" if family.type == "counter" else family.name


def _order_key(name: str) -> tuple[int, str]:
    return _ORDER.get(name, len(_ORDER)), name


def render_families(families: Iterable[Metric]) -> tuple[RenderedFamily, ...]:
    """Render each family in both formats with prometheus_client and keep the pieces."""
    rendered = []
    for family in families:
        if not family.samples:
            continue
        one = _Families([family])
        text_header, text_samples = _split(text_format.generate_latest(one))
        om_header, om_samples = _split(om_format.generate_latest(one))
        # Most families read the same in both formats: keep one copy of the bytes then.
        om_header = text_header if om_header == text_header else om_header
        om_samples = text_samples if om_samples == text_samples else om_samples
        rendered.append(RenderedFamily(_family_name(family), text_header, text_samples,
                                       om_header, om_samples))
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
    ordered = sorted(merged, key=_order_key)
    return b"".join(b"".join([merged[n][0], *merged[n][1]]) for n in ordered)


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


class Collector(Protocol):
    """What prometheus_client's registries collect from: the process-wide metrics."""

    def collect(self) -> Iterable[Metric]: ...

