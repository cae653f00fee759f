"""The fleet: one apscheduler job per array, snapshots published to the exposition.

Each array gets one interval job (max_instances=1 so a slow array never piles up polls against
itself, coalesce so a backlog collapses into one poll). Its first poll comes within the first few
seconds (a stable hash of the name spreads them), so `/-/ready` is soon true; every later poll
keeps a phase spread over the whole interval by another hash of the name, counted from the end of
the first poll, so 1,000 arrays make a steady trickle of polls instead of one burst per interval
on one GIL, even when their first polls queued behind each other.
Clients are kept across polls and across reloads of an unchanged array: one token set per array.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from qsan_exporter.api.factory import make_source
from qsan_exporter.api.guard import GlobalLimit, RequestGuard
from qsan_exporter.api.source import Closable
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.token_ledger import TokenLedger
from qsan_exporter.api.watchdog import Watchdog
from qsan_exporter.config import ArrayConfig, Config
from qsan_exporter.exposition import Exposition
from qsan_exporter.poll.array import ArrayPoll
from qsan_exporter.poll.heap import HeapTrimmer

log = logging.getLogger(__name__)

MAX_START_SPREAD_SECONDS = 5.0
# Poll threads for the whole fleet. concurrent.futures starts a thread only when no idle one is
# free, so a fixed cap costs a small fleet nothing and needs no resizing when a reload grows it
# from 4 arrays to 300 (sizing from the first config left a few hung arrays starving the rest).
MAX_POLL_WORKERS = 64


@dataclass
class Member:
    poll: ArrayPoll
    client: Closable  # the array's source, which owns and closes its API clients
    attempted: bool = False
    # The grid's first poll fetches every area (see Poller._first_run).
    every_area_next: bool = False
    # The first poll (its own one-off job) and the interval job never poll at once: a slow
    # first poll delays the second instead of apscheduler skipping it (a whole interval lost).
    running: threading.Lock = field(default_factory=threading.Lock)


def start_offset(name: str, interval: float) -> float:
    """A stable offset in [0, min(interval, 5 s)) for the first poll of an array."""
    fraction = zlib.crc32(name.encode()) / 2**32
    return fraction * min(interval, MAX_START_SPREAD_SECONDS)


def phase_offset(name: str, interval: float) -> float:
    """When the second poll comes after the first: a stable point in [gap, interval].

    Over a fleet these are spread evenly over the interval, and so are the phases of all later
    polls. The gap (at most 5 s, at most half the interval) keeps the second poll off the first.
    """
    fraction = zlib.crc32(b"phase:" + name.encode()) / 2**32
    gap = min(interval / 2, MAX_START_SPREAD_SECONDS)
    return gap + fraction * (interval - gap)


def _first_job(name: str) -> str:
    return name + "\x00first"


def build_member(config: ArrayConfig, global_limit: GlobalLimit | None = None,
                 ledger: TokenLedger | None = None,
                 watchdog: Watchdog | None = None) -> Member:
    stats = ApiStats()
    guard = RequestGuard(config.name, per_array=config.max_concurrent_requests,
                         global_limit=global_limit, watchdog=watchdog)
    # By the config's `api:`; `ledger` counts (and records) every array's token sets.
    source = make_source(config, stats=stats, guard=guard, ledger=ledger)
    poll = ArrayPoll(config, source, stats, guard=guard)
    return Member(poll=poll, client=source)


class Poller:
    def __init__(
        self,
        exposition: Exposition,
        *,
        member_factory: Callable[[ArrayConfig], Member] | None = None,
        max_workers: int | None = None,
        global_limit: GlobalLimit | None = None,
        ledger: TokenLedger | None = None,
    ) -> None:
        self._exposition = exposition
        # One ledger for every client: a client replacing another (reload) is counted with it.
        # One watchdog thread for the fleet's request deadlines, not one per array.
        self._watchdog = Watchdog()
        self._factory = member_factory or functools.partial(
            build_member, global_limit=global_limit,
            ledger=ledger if ledger is not None else TokenLedger(), watchdog=self._watchdog)
        self._members: dict[str, Member] = {}
        self._lock = threading.RLock()
        self._max_workers = max_workers
        self._scheduler: BackgroundScheduler | None = None
        self._heap = HeapTrimmer()  # what a poll's parsed answers leave free goes back to the OS

    # --- lifecycle --------------------------------------------------------------------------

    def start(self, config: Config) -> None:
        workers = self._max_workers or MAX_POLL_WORKERS
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._scheduler.start()
        self._exposition.start()  # bodies are built in the background from now on
        self.apply(config)

    def apply(self, config: Config) -> None:
        """Start new arrays, stop removed ones, restart changed ones; keep the unchanged.

        All or nothing: every new client is built before anything running is touched, so a
        config that cannot be built (it raises) leaves the running arrays and tokens as they were.
        """
        wanted = {a.name: a for a in config.arrays}
        with self._lock:
            stale = [
                name for name, m in self._members.items()
                if name not in wanted or m.poll.config != wanted[name]
            ]
            fresh = [a for name, a in wanted.items() if name not in self._members or name in stale]
        built: dict[str, Member] = {}
        try:
            for array in fresh:
                built[array.name] = self._factory(array)
        except BaseException:
            _close_all(list(built.values()))
            raise
        with self._lock:
            removed = [self._members.pop(name) for name in stale if name in self._members]
            for name in stale:
                self._remove_job(name)
                if name not in wanted:
                    self._exposition.remove(name)
            for array in fresh:
                self._members[array.name] = built[array.name]
                self._add_job(array)
        _close_all(removed)
        if stale:
            log.info("stopped polling %s", ", ".join(sorted(stale)))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling, then revoke every array's token set (in parallel, bounded)."""
        with self._lock:
            members = list(self._members.values())
            self._members.clear()
        for member in members:
            member.poll.closing = True
        self._watchdog.cut_all()  # a poll stuck on a trickling array ends now
        scheduler = self._scheduler
        if scheduler is not None:
            done = threading.Event()

            def shutdown() -> None:
                scheduler.shutdown(wait=True)
                done.set()

            threading.Thread(target=shutdown, daemon=True).start()
            if not done.wait(timeout):
                log.warning("polls still running after %.0f s; revoking tokens anyway", timeout)
        _close_all(members)
        self._exposition.close()

    # --- state for HTTP ---------------------------------------------------------------------

    def array_names(self) -> list[str]:
        with self._lock:
            return sorted(self._members)

    def ready(self) -> bool:
        """True once every configured array has completed its first poll attempt."""
        with self._lock:
            return all(m.attempted for m in self._members.values())

    def configs(self) -> dict[str, ArrayConfig]:
        with self._lock:
            return {name: m.poll.config for name, m in self._members.items()}

    # --- jobs ---------------------------------------------------------------------------------

    def _add_job(self, array: ArrayConfig) -> None:
        assert self._scheduler is not None
        offset = start_offset(array.name, array.interval_seconds)
        first = datetime.now(UTC) + timedelta(seconds=offset)
        # A one-off first poll (however late the scheduler gets to it); the phased grid starts
        # when it ends (_first_run).
        self._scheduler.add_job(self._first_run, "date", run_date=first,
                                id=_first_job(array.name), args=[array.name],
                                misfire_grace_time=None)

    def _first_run(self, name: str) -> None:
        """The first poll, then the array's grid from its end, at the array's phase.

        The grid's first poll fetches every area, however soon after the first poll it comes:
        nothing would be due yet, and the array would go a whole extra interval without new
        data (a cold start of 1,000 arrays left most of them so). One extra poll per array at
        start buys a fleet spread evenly over the interval, and fresh, from the start."""
        with self._lock:
            polled = self._members.get(name)
        self._run(name)
        with self._lock:
            member = self._members.get(name)
            if member is None or member is not polled or member.poll.closing \
                    or self._scheduler is None:
                return  # removed or replaced meanwhile (a replacement has its own first job)
            member.every_area_next = True
            interval = member.poll.config.interval_seconds
            grid = datetime.now(UTC) + timedelta(seconds=phase_offset(name, interval))
            self._scheduler.add_job(
                self._run, "interval", seconds=interval, start_date=grid, id=name,
                args=[name], misfire_grace_time=max(1, int(interval)), replace_existing=True)

    def next_poll_at(self, name: str) -> datetime | None:
        """When the array's grid polls it next; None before its first poll has ended."""
        with self._lock:
            job = self._scheduler.get_job(name) if self._scheduler is not None else None
            return job.next_run_time if job is not None else None

    def _remove_job(self, name: str) -> None:
        for job in (name, _first_job(name)):
            if self._scheduler is not None and self._scheduler.get_job(job) is not None:
                self._scheduler.remove_job(job)

    def _run(self, name: str) -> None:
        with self._lock:
            member = self._members.get(name)
        if member is None or member.poll.closing:
            return
        self._heap.started()
        try:
            self._poll(name, member)
        finally:
            self._heap.ended()

    def _poll(self, name: str, member: Member) -> None:
        with member.running:
            try:
                every_area, member.every_area_next = member.every_area_next, False
                snapshot = member.poll.poll(every_area=True) if every_area else member.poll.poll()
                if snapshot is self._exposition.snapshot(name):
                    return  # nothing new (backoff): nothing to render
                # Rendered outside the fleet lock: /probe, / and /-/ready take that lock and
                # must not queue behind other arrays' rendering.
                rendered = self._exposition.prepare(snapshot)
                with self._lock:  # the swap only, so a removed array is never re-published
                    if self._members.get(name) is member:
                        self._exposition.publish_rendered(rendered)
            except Exception:  # never let one array's bug end its job
                log.exception("array=%s: poll failed unexpectedly", name)
            finally:
                member.attempted = True

    def poll_now(self, name: str) -> None:
        """Run one poll of `name` synchronously, as its job would (a seam for tests)."""
        self._run(name)


def _close_all(members: list[Member], budget: float = 5.0) -> None:
    """Revoke every token set in parallel; give up after `budget` seconds (daemon threads, so
    a dead array cannot hold the process: each revoke is itself bounded to a few seconds)."""
    if not members:
        return
    started = time.monotonic()
    threads = [threading.Thread(target=_close, args=(m,), daemon=True) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, budget - (time.monotonic() - started)))
    left = sum(t.is_alive() for t in threads)
    if left:
        log.warning("%d array client(s) still closing after %.0f s; exiting anyway", left, budget)
    log.debug("closed %d array clients in %.2f s", len(members), time.monotonic() - started)


def _close(member: Member) -> None:
    member.poll.close()
    try:
        member.client.close()
    except Exception:
        log.exception("array=%s: closing the API client failed", member.poll.config.name)
