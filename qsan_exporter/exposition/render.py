"""Metric families -> exposition bytes, once per poll.

A poll's families are written straight from the builder's samples (write.py holds the
escaping and number formatting, byte for byte as prometheus_client writes them), in both
formats, as header and sample lines, so a body can merge one family's samples across arrays,
contiguous as both formats require (parts.py). The process-wide families of the tail still go
through prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.openmetrics import parser as om_parser

from qsan_exporter.collectors.base import Family
from qsan_exporter.exposition import write
from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from qsan_exporter.snapshot import RenderedFamily

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
