"""The naive exporter the goals compare with: everything rendered by prometheus_client per scrape.

`SnapshotCollector` is a prometheus_client custom collector over the same snapshots the exporter
serves. At every scrape it merges each family across arrays (both formats need a family's samples
together) and prometheus_client's `make_wsgi_app` renders and compresses the result. It is
generous to the baseline: translation (raw JSON -> families) stays at poll time and only the
rendering happens per scrape; an exporter calling the array per scrape would be far slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.core import Metric

from qsan_exporter.exposition import Exposition, families_of


class SnapshotCollector:
    def __init__(self, exposition: Exposition, clock: Callable[[], float]) -> None:
        self._exposition = exposition
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        merged: dict[str, Metric] = {}
        snapshots = self._exposition.snapshots()
        for name in sorted(snapshots):
            snapshot = snapshots[name]
            rendered = [*snapshot.exporter_families]
            for state in snapshot.live_collectors(now):
                rendered.extend(state.families)
            families = families_of(rendered)  # the naive way keeps Metric objects: rebuild them
            for family in families:
                target = merged.get(family.name)
                if target is None:
                    target = Metric(family.name, family.documentation, family.type, family.unit)
                    merged[family.name] = target
                target.samples.extend(family.samples)
        yield from merged.values()


def baseline_app(exposition: Exposition, clock: Callable[[], float]) -> Callable:
    """A WSGI app serving the snapshots the naive way, plus the same process metrics."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(exposition, clock))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return make_wsgi_app(registry)
