"""Regression tests for three concurrency bugs of the poll path.

- the poll thread pool was sized from the first config and never grew on reload;
- a snapshot was rendered under the fleet lock, so /probe, / and /-/ready queued behind it;
- AutoSource's flavour and failure streak were changed from several threads at once.
Each test counts events (peak polls in flight, calls that got through); none times anything.
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from qsan_exporter.api import auto
from qsan_exporter.api.errors import ApiUnreachable
from qsan_exporter.config import ArrayConfig, Config
from qsan_exporter.exposition import Exposition
from qsan_exporter.poll.fleet import Member, Poller

WAIT = 15.0  # an upper bound for things that happen within a second or two, never asserted


def _config(names: list[str]) -> Config:
    arrays = tuple(
        ArrayConfig(name=n, url="http://127.0.0.1:1", username="u", password="p",
                    interval_seconds=2.0, timeout_seconds=1.0)
        for n in names)
    return Config(arrays=arrays)


class _GatedPoll:
    """Stands in for ArrayPoll: each poll waits for the gate, counting polls in flight."""

    def __init__(self, config: ArrayConfig, fleet: _Fleet) -> None:
        self.config, self.closing, self._fleet = config, False, fleet

    def poll(self, *, every_area: bool = False) -> Any:
        with self._fleet.lock:
            self._fleet.calls.append(every_area)
            self._fleet.in_flight += 1
            self._fleet.peak = max(self._fleet.peak, self._fleet.in_flight)
        self._fleet.gate.wait(WAIT)
        with self._fleet.lock:
            self._fleet.in_flight -= 1
        return None  # "nothing new": the poller publishes nothing

    def close(self) -> None:
        pass


class _Fleet:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.gate = threading.Event()
        self.in_flight = self.peak = 0
        self.calls: list[bool] = []  # each poll's every_area

    def member(self, config: ArrayConfig) -> Member:
        return Member(poll=_GatedPoll(config, self), client=_GatedPoll(config, self))  # type: ignore[arg-type]

    def wait_for_peak(self, target: int) -> int:
        deadline = time.monotonic() + WAIT
        while self.peak < target and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.peak


@pytest.mark.slow
def test_a_reload_that_grows_the_fleet_gets_enough_poll_threads() -> None:
    fleet = _Fleet()
    poller = Poller(Exposition(), member_factory=fleet.member)
    poller.start(_config(["a0", "a1"]))
    try:
        assert fleet.wait_for_peak(2) == 2
        # 12 hung arrays after the reload: every one of them must be polled at once, not 4
        # (the pool the 2-array start sized) while the rest wait behind the hung ones.
        poller.apply(_config([f"a{i}" for i in range(12)]))
        assert fleet.wait_for_peak(12) == 12
    finally:
        fleet.gate.set()
        poller.stop(timeout=5)


class _SlowRender(Exposition):
    """Renders only once another thread has called the poller while rendering."""

    def __init__(self) -> None:
        super().__init__()
        self.poller: Poller | None = None
        self.answered_while_rendering = 0

    def prepare(self, snapshot: Any) -> Any:  # type: ignore[override]
        assert self.poller is not None
        probe = threading.Thread(target=self.poller.ready)
        probe.start()
        probe.join(WAIT)  # blocks for WAIT if the fleet lock is held while rendering
        if not probe.is_alive():
            self.answered_while_rendering += 1
        return super().prepare(snapshot)


@pytest.mark.slow
def test_rendering_does_not_hold_the_fleet_lock() -> None:
    from qsan_exporter.snapshot import Snapshot

    exposition = _SlowRender()
    fleet = _Fleet()
    fleet.gate.set()

    class _NewSnapshotPoll(_GatedPoll):
        def poll(self, *, every_area: bool = False) -> Any:
            return Snapshot(array=self.config.name, generation=1, started_at=0.0, duration=0.0,
                            up=True, error=None, last_success=None, identity=None,
                            collectors={}, exporter_families=())

    def member(config: ArrayConfig) -> Member:
        return Member(poll=_NewSnapshotPoll(config, fleet), client=_GatedPoll(config, fleet))  # type: ignore[arg-type]

    poller = Poller(exposition, member_factory=member)
    exposition.poller = poller
    poller.start(_config(["r0"]))
    try:
        deadline = time.monotonic() + WAIT
        while "r0" not in exposition.snapshots() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "r0" in exposition.snapshots()
        assert exposition.answered_while_rendering >= 1
    finally:
        poller.stop(timeout=5)


class _FailingSource:
    """Every area's fetch fails, all of them in flight together (parallel areas of one poll)."""

    def __init__(self, parties: int) -> None:
        self.together = threading.Barrier(parties)

    def fetch(self, area: str) -> Any:
        self.together.wait(WAIT)
        raise ApiUnreachable("down")


class _Client:
    base_url = "http://127.0.0.1:1"

    def close(self) -> None:
        pass


def test_auto_source_probes_once_and_counts_failures_under_threads(monkeypatch) -> None:
    probes = []
    barrier = threading.Barrier(8)

    def detect(client: Any, name: str) -> str:
        probes.append(name)
        time.sleep(0.2)  # widens the race: every area's thread arrives while this one probes
        return "unified"

    monkeypatch.setattr(auto, "detect", detect)
    unified = _FailingSource(8)
    source = auto.AutoSource(unified, _Client(), _FailingSource(8), _Client(),  # type: ignore[arg-type]
                             name="a")
    errors = []

    def area() -> None:
        barrier.wait(WAIT)
        try:
            source.fetch("system")
        except ApiUnreachable:
            errors.append(1)

    threads = [threading.Thread(target=area) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(errors) == 8
    # One probe for the 8 parallel areas; 8 failures (>= REPROBE_AFTER_FAILURES) reset the
    # flavour exactly once, so the next fetch probes exactly once more.
    assert len(probes) == 1
    assert source.api is None
    unified.together = threading.Barrier(1)  # one more poll, one area
    with contextlib.suppress(ApiUnreachable):
        source.fetch("system")
    assert len(probes) == 2


@pytest.mark.slow
def test_the_grid_starts_when_a_late_first_poll_ends() -> None:
    """A cold start of many arrays queues first polls; a grid laid at start would fire the
    second poll right after a late first one. The grid starts when the first poll ends, and
    its first poll fetches every area: nothing is due yet, and an array whose second poll
    fetched nothing would go a whole extra interval without data."""
    fleet = _Fleet()
    poller = Poller(Exposition(), member_factory=fleet.member)
    poller.start(_config(["g0"]))
    try:
        assert fleet.wait_for_peak(1) == 1  # the first poll, held at the gate
        assert poller.next_poll_at("g0") is None  # no grid while it runs
        released = datetime.now(UTC)
        fleet.gate.set()
        deadline = time.monotonic() + WAIT
        while poller.next_poll_at("g0") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        next_poll = poller.next_poll_at("g0")
        assert next_poll is not None
        # At least the gap after the first poll's end (interval 2 s: gap 1 s).
        assert next_poll >= released + timedelta(seconds=1)
        # The grid's first poll fetches every area (nothing would be due so soon); later
        # polls fetch what is due.
        while len(fleet.calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fleet.calls[:3] == [False, True, False]
    finally:
        fleet.gate.set()
        poller.stop(timeout=5)
