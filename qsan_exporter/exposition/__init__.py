"""Exposition: snapshots' rendered families -> the bytes `/metrics` and `/probe` send.

render.py renders families once per poll (write.py: the formats' escaping and numbers);
parts.py numbers them as they are published and merges them into bodies; cache.py keeps the
bodies and builds them in the background (it says why), build.py is one build, chunks.py keeps
its compressed families for the next one (deflate.py: the gzip pieces and their CRC), pacing.py
times builds to the scrapes; tail.py collects the process-wide families sent after them;
body.py is one answer's chunks; negotiate.py picks the format and encoding a scraper asked for.
"""

from qsan_exporter.exposition.body import Body
from qsan_exporter.exposition.build import GZIP_LEVEL, BuildStats
from qsan_exporter.exposition.cache import Exposition
from qsan_exporter.exposition.negotiate import Negotiated, negotiate
from qsan_exporter.exposition.render import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    families_of,
    render_families,
)

__all__ = [
    "GZIP_LEVEL",
    "OPENMETRICS_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "Body",
    "BuildStats",
    "Exposition",
    "Negotiated",
    "families_of",
    "negotiate",
    "render_families",
]
