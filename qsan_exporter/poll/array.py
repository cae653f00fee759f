"""One array: fetch every due area, translate each with its collector, build the snapshot.

Failure isolation lives in fetch.py (an area's API error fails only its collector; a dead array
stops the poll and sets `qsan_up` 0) and collect.py (a collector that cannot translate its
answer fails alone, its last data carried for three intervals). This module only sequences a
poll and keeps what lasts across polls.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.areas import NAMES as FETCH_ORDER
from qsan_exporter.collectors.base import PollData
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import render
from qsan_exporter.poll.backoff import Backoff
from qsan_exporter.poll.carry import NeededAnswers
from qsan_exporter.poll.collect import CollectorRunner
from qsan_exporter.poll.fetch import Fetched, Fetcher, Source
from qsan_exporter.poll.identity import product_of, updated_identity
from qsan_exporter.poll.logs import LogRelay
from qsan_exporter.poll.own import exporter_families
from qsan_exporter.snapshot import ApiCounters, CollectorState, Identity, Snapshot

log = logging.getLogger(__name__)


class ArrayPoll:
    """The poll state of one array, kept across polls: client, log tally, last good data."""

    def __init__(self, config: ArrayConfig, source: Source, stats: ApiStats, *,
                 guard: RequestGuard | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.source = source
        self.stats = stats
        self.guard = guard
        self._clock = clock
        self._backoff = Backoff(config)
        self._fetcher = Fetcher(config.name, source, config.max_concurrent_requests,
                                lambda: self.closing)
        self._needed = NeededAnswers(config.collectors)
        self._logs = LogRelay(config)
        self._last: Snapshot | None = None
        self._states: dict[str, CollectorState] = {}
        self._identity: Identity | None = None
        self._last_success: float | None = None
        self._generation = 0
        self.closing = False
        self.const_labels: dict[str, str] = {"array": config.name, **config.labels}
        self._runner = CollectorRunner(config, self.const_labels)

    @property
    def last(self) -> Snapshot | None:
        """The latest snapshot (None before the first poll)."""
        return self._last

    @property
    def next_attempt(self) -> float:
        """No poll before this unix time (backoff, Retry-After, login budget)."""
        return self._backoff.next_attempt

    def _due(self, collector: str, now: float) -> bool:
        previous = self._states.get(collector)
        if previous is None:
            return True
        # Due at the grid's poll nearest to its interval: a poll that started late (it queued
        # behind others in a big fleet) must not make the next one, an interval after the last
        # grid time, look early, or the area would skip a whole interval.
        return now - previous.ran_at >= (self.config.interval_for(collector)
                                         - self.config.interval_seconds / 2)

    def poll(self, *, every_area: bool = False) -> Snapshot:
        """Poll the array, or return the last snapshot untouched while backing off.

        `every_area`: fetch every area, due or not (the fleet's second poll, see poll/fleet.py).
        """
        started = self._clock()
        if self._last is not None and (
            self._backoff.holds(started)
            # Nothing due: a poll that fetched nothing must not turn a failed array's qsan_up
            # back to 1.
            or not (every_area or any(self._due(c, started) for c in self.config.collectors))
        ):
            return self._last
        if self.guard is not None:
            self.guard.deadline = started + self.config.poll_deadline_seconds
        try:
            self._last = self._poll(started, every_area)
        finally:
            if self.guard is not None:
                self.guard.deadline = None
        return self._last

    def _poll(self, started: float, every_area: bool) -> Snapshot:
        t0 = time.perf_counter()
        due = [c for c in self.config.collectors if every_area or self._due(c, started)]
        # Table order: the system area goes first (it tells the product, whose NAS reports
        # "always 0" fields, and the identity), and an area's needs come before it.
        fetched = self._fetcher.fetch([a for a in FETCH_ORDER if a in due])
        self._identity = updated_identity(self._identity, fetched.answers.get("system"),
                                          self.config, getattr(self.source, "api", None))
        self._translate(due, started, fetched)
        up = fetched.fatal is None and not self.closing
        if all(s.success for s in self._states.values()) and up:
            self._last_success = started
        everything_failed = bool(due) and not any(self._states[a].success for a in due)
        self._backoff.record(started, failed=not up or everything_failed, guard=self.guard)
        self._generation += 1
        return self._snapshot(started, time.perf_counter() - t0, up, fetched)

    def _translate(self, due: list[str], started: float, fetched: Fetched) -> None:
        """Run the due collectors on this poll's answers and what they need besides."""
        raw = self._needed.complete(fetched.answers)
        if "logs" in fetched.answers:
            error = self._logs.add(fetched.answers["logs"])
            if error is not None:
                fetched.errors["logs"] = error
        if self._logs.tally is not None:
            raw["logs"] = self._logs.tally
        data = PollData(array=self.config.name, product=product_of(self.config, self._identity),
                        polled_at=started, raw=raw, timezone=self.config.timezone)
        for area in due:
            state = self._runner.run(area, data, fetched.errors.get(area),
                                     fetched.durations.get(area, 0.0), self._states.get(area),
                                     running_total=area == "logs" and self._logs.tally is not None)
            self._states[area] = state
            if not state.success and fetched.fatal is None:
                log.warning("array=%s collector=%s failed: %s",
                            self.config.name, area, state.error)
        if fetched.fatal is not None:
            log.warning("array=%s: poll failed: %s", self.config.name, fetched.fatal)

    def _snapshot(self, started: float, duration: float, up: bool, fetched: Fetched) -> Snapshot:
        stats = self.stats.snapshot()
        status = Snapshot(
            array=self.config.name, generation=self._generation, started_at=started,
            duration=duration, up=up, error=str(fetched.fatal) if fetched.fatal else None,
            last_success=self._last_success, identity=self._identity,
            collectors=dict(self._states), exporter_families=(),
            failures=self._backoff.failures, next_attempt=self._backoff.next_time(started),
            backoff=self._backoff.backing_off(started), requests=self.stats.take_requests(),
            token=self.stats.token, events=self._logs.recent, labels=self.const_labels,
            api=ApiCounters(stats.requests, stats.logins, stats.refreshes,
                            self.guard.login_failures_total if self.guard else None),
        )
        own = render.render_families(exporter_families(status))
        return dataclasses.replace(status, exporter_families=own)

    def close(self) -> None:
        self._fetcher.close()
