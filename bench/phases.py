"""Poll cost, fleet freshness and memory: the exporter's side, measured with its own clocks.

The simulators always live in another process (`fleet.SimFleet`), so `time.process_time()` here
counts the exporter alone: HTTP client, JSON parsing, translation, rendering and scheduling.
The fleet and memory phases each run in a fresh spawned process, so earlier phases leave no
garbage, threads or caches behind in what is measured.
"""

from __future__ import annotations

import concurrent.futures
import cProfile
import dataclasses
import gc
import logging
import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prometheus_client import REGISTRY

from bench.fleet import PASSWORD, USERNAME
from qsan_exporter import runtime
from qsan_exporter.config import ArrayConfig, Config
from qsan_exporter.exposition import Exposition, families_of
from qsan_exporter.poll.fleet import Member, Poller, build_member
from qsan_exporter.snapshot import Snapshot

T = TypeVar("T")
SAMPLE_EVERY_SECONDS = 0.1
FIRST_POLL_WAIT_SECONDS = 180.0


def array_configs(urls: list[str], interval: float, timeout: float) -> list[ArrayConfig]:
    return [
        ArrayConfig(name=f"bench-{index:03d}", url=url, username=USERNAME, password=PASSWORD,
                    interval_seconds=interval, timeout_seconds=timeout,
                    labels={"site": "bench"})
        for index, url in enumerate(urls)
    ]


def series_count(exposition: Exposition, now: float) -> int:
    total = 0
    for snapshot in exposition.snapshots().values():
        families = [*snapshot.exporter_families]
        for state in snapshot.live_collectors(now):
            families.extend(state.families)
        total += sum(len(f.samples) for f in families_of(families))
    return total


# --- d. poll cost ------------------------------------------------------------------------------

@dataclass
class PollCost:
    polls: int
    failed_polls: int
    cpu_seconds_per_poll: float  # poll + publish, the exporter's whole per-poll work
    cpu_seconds_per_fetch_and_translate: float  # ArrayPoll.poll(): HTTP, JSON, collectors
    cpu_seconds_per_publish: float  # Exposition.publish(): rendering both formats
    wall_seconds: float


POLL_COST_INTERVAL_SECONDS = 2.0  # every collector is due again after 1.5 s (poll/array.py _due)


def _poll_and_publish(member: Member, exposition: Exposition,
                      profiler: cProfile.Profile | None) -> tuple[Snapshot, float, float]:
    """One poll and its publish as `Poller` runs them; CPU seconds of each."""
    if profiler is not None:
        profiler.enable()
    c0 = time.process_time()
    snapshot = member.poll.poll()
    c1 = time.process_time()
    exposition.publish(snapshot)
    c2 = time.process_time()
    if profiler is not None:
        profiler.disable()
    return snapshot, c1 - c0, c2 - c1


def measure_poll_cost(urls: list[str], rounds: int,
                      profiler: cProfile.Profile | None = None) -> tuple[PollCost, Exposition]:
    """Poll every array `rounds` times, one after another, on this thread; publish each.

    Runs the exporter's own code (`build_member`, `ArrayPoll.poll`, `Exposition.publish`) in
    the order `Poller._run` does, without the scheduler, so the CPU clock holds nothing else.
    The first round (logins, the log history) is a warm-up: not counted, not profiled.
    """
    runtime.tune_process()  # as the daemon's process is (cli._serve)
    exposition = Exposition(extra=[REGISTRY])
    configs = array_configs(urls, POLL_COST_INTERVAL_SECONDS, timeout=1.5)
    members = [build_member(config) for config in configs]
    last_start = [0.0] * len(members)
    polls = failed = 0
    poll_cpu = publish_cpu = 0.0
    wall = time.perf_counter()
    try:
        for round_index in range(rounds + 1):
            for index, member in enumerate(members):
                # Small fleets come round faster than the interval: wait (no CPU) until due.
                wait = last_start[index] + POLL_COST_INTERVAL_SECONDS - time.time()
                if wait > 0:
                    time.sleep(wait)
                last_start[index] = time.time()
                snapshot, poll_s, publish_s = _poll_and_publish(
                    member, exposition, profiler if round_index else None)
                if round_index == 0:
                    wall = time.perf_counter()
                    continue
                polls += 1
                failed += not (snapshot.up and all(s.success for s in snapshot.collectors.values()))
                poll_cpu += poll_s
                publish_cpu += publish_s
        wall = time.perf_counter() - wall
    finally:
        for member in members:
            member.poll.close()
            member.client.close()
    polls = max(polls, 1)
    return PollCost(polls, failed, (poll_cpu + publish_cpu) / polls, poll_cpu / polls,
                    publish_cpu / polls, wall), exposition


# --- d. fleet freshness with the real Poller -----------------------------------------------

@dataclass
class FleetRun:
    arrays: int
    interval_seconds: float
    first_round_seconds: float  # from start until every array had published once
    settle_seconds: float  # then one interval, ages watched, CPU not counted: see run_fleet
    window_seconds: float
    polls: int
    failed_polls: int
    cpu_seconds: float
    cpu_utilisation: float  # cores, over the window
    cpu_seconds_per_poll: float
    max_age_seconds: float  # longest any array went without a new poll, settling included
    arrays_never_polled_in_window: int
    poll_wall_mean_seconds: float
    poll_wall_max_seconds: float
    workers: int | None
    scheduler_warnings: int  # apscheduler: runs missed or skipped, over the whole run
    scrapes: int = 0  # the scraper's, over the whole run
    builds: int = 0  # background body builds in the window
    build_seconds: float = 0.0  # their wall time (gzip releases the GIL: CPU on either core)


def quiet() -> None:
    """Polls cut short by the end of a run log 'skipped: shutting down'; not news here."""
    logging.getLogger("qsan_exporter").setLevel(logging.CRITICAL)


class _SchedulerWarnings(logging.Handler):
    """Counts apscheduler's warnings (a run missed, skipped while the last still runs)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1

    def __enter__(self) -> _SchedulerWarnings:
        logger = logging.getLogger("apscheduler")
        logger.addHandler(self)
        logger.propagate = False  # counted in the report, not printed a thousand times
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger("apscheduler").removeHandler(self)


def _workers(poller: Poller) -> int | None:
    """The scheduler's thread count, for the report (private attributes: None if they move)."""
    try:
        return poller._scheduler._executors["default"]._pool._max_workers  # type: ignore
    except AttributeError:
        return None


def _published_at(snapshot: Snapshot) -> float:
    return snapshot.started_at + snapshot.duration


@dataclass
class _Window:
    """What the samples of one fleet window saw."""

    polls: int = 0
    failed: int = 0
    max_age: float = 0.0
    durations: list[float] = field(default_factory=list)
    polled: set[str] = field(default_factory=set)
    cpu_seconds: float = 0.0
    seconds: float = 0.0


def _sample_window(exposition: Exposition, names: list[str], interval: float,
                   window: float) -> _Window:
    """Every 0.1 s for `window` seconds: new polls, failures, and each array's age."""
    snapshots = exposition.snapshots()
    seen = {n: snapshots[n].generation for n in names if n in snapshots}
    published = {n: _published_at(snapshots[n]) for n in names if n in snapshots}
    out = _Window()
    # This sampling thread's own CPU (1,000 arrays looked at 10 times a second) is the bench's,
    # not the exporter's: taken out of the window's process CPU.
    cpu0, own0, wall0 = time.process_time(), time.thread_time(), time.monotonic()
    while time.monotonic() - wall0 < window:
        time.sleep(SAMPLE_EVERY_SECONDS)
        now = time.time()
        snapshots = exposition.snapshots()
        for name in names:
            snapshot = snapshots.get(name)
            if snapshot is not None and snapshot.generation != seen.get(name):
                out.polls += snapshot.generation - seen.get(name, 0)
                out.failed += not snapshot.up
                out.durations.append(snapshot.duration)
                seen[name] = snapshot.generation
                published[name] = _published_at(snapshot)
                out.polled.add(name)
            # An array that never published is as old as the window plus one interval.
            age = now - published[name] if name in published else now - wall0 + interval
            out.max_age = max(out.max_age, age)
    own = time.thread_time() - own0
    out.cpu_seconds, out.seconds = time.process_time() - cpu0 - own, time.monotonic() - wall0
    return out


FLEET_SCRAPE_EVERY_SECONDS = 15.0  # one Prometheus at a common scrape interval


class _Scraper(threading.Thread):
    """Asks for the full OpenMetrics gzip body every FLEET_SCRAPE_EVERY_SECONDS, as Prometheus
    would (in process: the bytes are not sent), so the body builds a real fleet pays count."""

    def __init__(self, exposition: Exposition) -> None:
        super().__init__(name="bench-scraper", daemon=True)
        self.exposition, self.stop, self.scrapes = exposition, threading.Event(), 0

    def run(self) -> None:
        while not self.stop.wait(FLEET_SCRAPE_EVERY_SECONDS if self.scrapes else 0.0):
            self.exposition.body(time.time(), openmetrics=True, compress=True)
            self.scrapes += 1


def run_fleet(urls: list[str], interval: float, window_intervals: float) -> FleetRun:
    """The real Poller (apscheduler, its default worker pool) polling every URL each `interval`.

    After every array has published its first poll (logins and log history done), one interval
    settles: each array's second poll (its phase's first, see poll/fleet.py), queued behind the
    first round's backlog, can come late, so a window starting now would hold two polls of
    arrays whose third comes on time (1,148 polls in the first 60 s instead of 1,000). Then
    `window_intervals` intervals are measured: process CPU and polls. All along, every 0.1 s,
    each array's age - the time since its newest poll finished (`started_at + duration`) - is
    watched. Fresh means that age stays below the interval plus slack (see
    `targets.FRESH_SLACK`) and no poll failed, settling included. The CPU includes the exposition's
    background builder (`Poller.start()` starts it; it rebuilds the OpenMetrics gzip body after
    publishes while scrapes ask for it: a scraper asks every FLEET_SCRAPE_EVERY_SECONDS).
    """
    quiet()
    runtime.tune_process()  # as the daemon's process is (cli._serve)
    exposition = Exposition(extra=[REGISTRY])
    poller = Poller(exposition)
    configs = array_configs(urls, interval, timeout=min(10.0, interval / 2))
    names = [c.name for c in configs]
    started = time.monotonic()
    with _SchedulerWarnings() as warnings:
        poller.start(Config(arrays=tuple(configs)))
        workers = _workers(poller)
        scraper = _Scraper(exposition)
        scraper.start()
        try:
            deadline = started + FIRST_POLL_WAIT_SECONDS + interval
            while time.monotonic() < deadline and len(exposition.snapshots()) < len(names):
                time.sleep(SAMPLE_EVERY_SECONDS)
            first_round = time.monotonic() - started
            settle = _sample_window(exposition, names, interval, interval)
            built0 = dataclasses.replace(exposition.stats)
            w = _sample_window(exposition, names, interval, interval * window_intervals)
            builds = exposition.stats.builds - built0.builds
            build_seconds = exposition.stats.seconds - built0.seconds
        finally:
            scraper.stop.set()
            poller.stop()
    return FleetRun(
        arrays=len(names), interval_seconds=interval, first_round_seconds=first_round,
        settle_seconds=settle.seconds, window_seconds=w.seconds, polls=w.polls,
        failed_polls=settle.failed + w.failed,
        cpu_seconds=w.cpu_seconds, cpu_utilisation=w.cpu_seconds / w.seconds,
        cpu_seconds_per_poll=w.cpu_seconds / max(w.polls, 1),
        max_age_seconds=max(settle.max_age, w.max_age),
        arrays_never_polled_in_window=len(names) - len(w.polled),
        poll_wall_mean_seconds=statistics.fmean(w.durations) if w.durations else 0.0,
        poll_wall_max_seconds=max(w.durations, default=0.0), workers=workers,
        scheduler_warnings=warnings.count, scrapes=scraper.scrapes, builds=builds,
        build_seconds=build_seconds,
    )


# --- e. memory -----------------------------------------------------------------------------------

def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class MemoryPoint:
    arrays: int
    rss_bytes: int
    rss_before_bytes: int  # the same process with the exporter imported, before polling
    series: int


def measure_memory(urls: list[str]) -> MemoryPoint:
    """RSS of a fresh exporter process (Poller + Exposition) once every array has been polled.

    The interval is long, so after the first poll of each array nothing runs; one OpenMetrics
    gzip body is built, as the first scrape would, then a full GC, then VmRSS is read.
    """
    quiet()
    runtime.tune_process()  # as the daemon's process is (cli._serve); collects first
    before = rss_bytes()
    exposition = Exposition(extra=[REGISTRY])
    poller = Poller(exposition)
    configs = array_configs(urls, 3600.0, timeout=10.0)
    poller.start(Config(arrays=tuple(configs)))
    try:
        deadline = time.monotonic() + FIRST_POLL_WAIT_SECONDS
        while time.monotonic() < deadline and not (
            poller.ready() and len(exposition.snapshots()) == len(configs)
        ):
            time.sleep(SAMPLE_EVERY_SECONDS)
        now = time.time()
        exposition.body(now, openmetrics=True, compress=True)
        gc.collect()
        rss = rss_bytes()
        series = series_count(exposition, now)
    finally:
        poller.stop()
    return MemoryPoint(len(configs), rss, before, series)


def in_fresh_processes(function: Callable[..., T], calls: list[tuple[Any, ...]],
                       parallel: int = 1, timeout: float = 900.0) -> list[T]:
    """`function(*args)` for each args of `calls`, each in a newly spawned process of its own.

    At most `parallel` at once; one call per process (`max_tasks_per_child=1`), so nothing an
    earlier call allocated is in a later call's RSS or CPU clock.
    """
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max(1, parallel), mp_context=context,
                                                max_tasks_per_child=1) as executor:
        futures = [executor.submit(function, *args) for args in calls]
        return [future.result(timeout=timeout) for future in futures]


def in_fresh_process(function: Callable[..., T], *args: Any, timeout: float = 900.0) -> T:
    """Run `function(*args)` in a newly spawned process and return its result."""
    return in_fresh_processes(function, [args], 1, timeout)[0]
