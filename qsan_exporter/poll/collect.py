"""One area's collector run on a poll's answers, and what is served when it fails.

A collector that cannot translate its answer fails alone. Data of a failed collector is carried
from its last success until it is older than three of its intervals (SPEC §3), so a single
timeout does not punch holes in every graph; the log counters are the tally so far, so they
are served whole even when a fetch failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from qsan_exporter.collectors import COLLECTORS
from qsan_exporter.collectors.base import FamilyBuilder, PollData
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import render
from qsan_exporter.health import part_health
from qsan_exporter.snapshot import CollectorState, PartHealth, RenderedFamily

log = logging.getLogger(__name__)

_COLLECT = dict(COLLECTORS)
STALE_INTERVALS = 3


class CollectorRunner:
    """Runs the collectors of one array with its labels, rendering what they build."""

    def __init__(self, config: ArrayConfig, const_labels: Mapping[str, str]) -> None:
        self._config = config
        self._labels = const_labels

    def _collect(self, area: str,
                 data: PollData) -> tuple[tuple[RenderedFamily, ...], PartHealth | None]:
        """One run's families, rendered, and the part health they report; raises what the
        collector raises."""
        builder = FamilyBuilder(self._labels)
        try:
            _COLLECT[area](data, builder)
        finally:
            if builder.duplicates:
                log.info("array=%s collector=%s: dropped %d duplicate series",
                         self._config.name, area, builder.duplicates)
        families = builder.built()
        return render.render_families(families), part_health(families)

    def run(self, area: str, data: PollData, error: str | None, fetch_seconds: float,
            previous: CollectorState | None, *, running_total: bool = False) -> CollectorState:
        """The collector's state after this poll; `error` is its fetch's, if it failed.
        `running_total`: the area's data is a total kept across polls (the log tally)."""
        stale_after = STALE_INTERVALS * self._config.interval_for(area)
        t = time.perf_counter()
        families: tuple[RenderedFamily, ...] = ()
        health: PartHealth | None = None
        if error is None:
            try:
                families, health = self._collect(area, data)
            except Exception as exc:
                error = f"cannot translate the answer: {type(exc).__name__}: {exc}"
        duration = fetch_seconds + time.perf_counter() - t
        at = data.polled_at
        if error is None:
            return CollectorState(area, True, duration, None, at, at, stale_after, families,
                                  health)
        if running_total:
            # Log counters never vanish with one failed fetch: they are the tally so far.
            return CollectorState(area, False, duration, error, at, at, stale_after,
                                  *self._collect(area, data))
        if previous is None:
            return CollectorState(area, False, duration, error, at, None, stale_after)
        return CollectorState(area, False, duration, error, at, previous.data_at, stale_after,
                              previous.families, previous.health)
