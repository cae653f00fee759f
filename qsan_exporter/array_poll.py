"""One array: fetch every due area, translate each with its collector, build the snapshot.

Failure isolation lives here: an API error fails only its area's collector; an unreachable or
unauthenticated array stops the poll at the first such error (asking a dead array six more times
only delays the answer) and sets `qsan_up` 0; a collector that cannot translate its answer fails
alone. Data of a failed collector is carried from its last success until it is older than three
of its intervals (SPEC §3), so a single timeout does not punch holes in every graph.
"""

from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from qsan_exporter.api.errors import ApiAuthError, ApiError, ApiUnreachable
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.areas import NAMES as FETCH_ORDER
from qsan_exporter.array_events import ArrayEvents, secrets_of
from qsan_exporter.collectors import COLLECTORS
from qsan_exporter.collectors.base import FamilyBuilder, PollData, field, text
from qsan_exporter.collectors.logs import LogTally, fold
from qsan_exporter.collectors.system import enclosure_info, enclosure_list
from qsan_exporter.config import ArrayConfig
from qsan_exporter.snapshot import CollectorState, Identity, Snapshot

log = logging.getLogger(__name__)

_COLLECT = dict(COLLECTORS)
STALE_INTERVALS = 3
_PRODUCT_BY_PREFIX = {"XS": "san", "XF": "fas", "XN": "nas"}


class Source(Protocol):
    def fetch(self, area: str) -> Any: ...


def product_from_model(model: str) -> str | None:
    """SPEC §2: XS… san, XF… fas, XN… nas."""
    return _PRODUCT_BY_PREFIX.get(model.strip()[:2].upper())


def identify(system_raw: Any) -> tuple[str, str]:
    """Model and serial of the array: those of its local enclosure (the first listed)."""
    try:  # every shape the system collector reads (readings `enclosures-top-level`, ...)
        enclosures = enclosure_list(system_raw)
    except (TypeError, ValueError):
        return "", ""  # identity is best effort: a malformed list must not fail the poll
    for enclosure in enclosures:
        info = enclosure_info(enclosure)
        model = field(info, "modelName")
        if model:
            return text(model), text(field(info, "serialNumber", default=""))
    return "", ""


class ArrayPoll:
    """The poll state of one array, kept across polls: client, log tally, last good data."""

    def __init__(
        self,
        config: ArrayConfig,
        source: Source,
        stats: ApiStats,
        *,
        guard: RequestGuard | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.source = source
        self.stats = stats
        self.guard = guard
        self._clock = clock
        self._random = random.Random(config.name)
        self._failures = 0  # consecutive failed polls
        self._next_attempt = 0.0  # no poll before this (backoff, Retry-After, login budget)
        self._last: Snapshot | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._states: dict[str, CollectorState] = {}
        self._tally: LogTally | None = None
        self._events = ArrayEvents(config.name, config.labels,
                                   secrets_of(config.password, config.password_encoding))
        self._pools_raw: Any = None
        self._volumes_raw: Any = None  # tasks name their volume through it
        self._identity: Identity | None = None
        self._last_success: float | None = None
        self._generation = 0
        self.closing = False
        self.const_labels: dict[str, str] = {"array": config.name, **config.labels}

    def _due(self, collector: str, now: float) -> bool:
        previous = self._states.get(collector)
        if previous is None:
            return True
        # Half a second of slack: a job fired by the scheduler a hair early is still due.
        return now - previous.ran_at >= self.config.interval_for(collector) - 0.5

    def poll(self) -> Snapshot:
        """Poll the array, or return the last snapshot untouched while backing off."""
        started = self._clock()
        if self._last is not None and started < self._next_attempt:
            return self._last
        if self._last is not None and not any(self._due(c, started)
                                              for c in self.config.collectors):
            # Nothing due (the grid's second poll can come soon after the first): a poll that
            # fetched nothing must not turn a failed array's qsan_up back to 1.
            return self._last
        if self.guard is not None:
            self.guard.deadline = started + self.config.poll_deadline_seconds
        try:
            snapshot = self._poll(started)
        finally:
            if self.guard is not None:
                self.guard.deadline = None
        self._last = snapshot
        return snapshot

    def _poll(self, started: float) -> Snapshot:
        t0 = time.perf_counter()
        due = [c for c in self.config.collectors if self._due(c, started)]
        fetched: dict[str, Any] = {}
        errors: dict[str, str] = {}
        durations: dict[str, float] = {}
        # Table order: the system area goes first (it tells the product, whose NAS reports "always
        # 0" fields, and the identity), and an area's needs come before it.
        order = [a for a in FETCH_ORDER if a in due]
        # One area first, alone: it logs in (once) and tells the product and identity.
        fatal = self._fetch(order[:1], fetched, errors, durations, None)
        if self.config.max_concurrent_requests > 1 and fatal is None and not self.closing:
            fatal = self._fetch_parallel(order[1:], fetched, errors, durations)
        else:
            fatal = self._fetch(order[1:], fetched, errors, durations, fatal)

        self._update_identity(fetched.get("system"))
        raw = dict(fetched)
        if "pools" in fetched:
            self._pools_raw = fetched["pools"]
        elif self._pools_raw is not None:
            raw["pools"] = self._pools_raw  # volumes name their pool through it
        if "volumes" in fetched:
            self._volumes_raw = fetched["volumes"]
        elif self._volumes_raw is not None:
            raw["volumes"] = self._volumes_raw  # snapshot/clone tasks name their volume
        if "logs" in fetched:
            try:
                self._tally = fold(self._tally, fetched["logs"])
            except Exception as exc:
                errors["logs"] = f"cannot read log events: {type(exc).__name__}: {exc}"
            else:
                self._events.add(fetched["logs"])  # the very events the tally just counted
        if self._tally is not None:
            raw["logs"] = self._tally
        product = self._product()
        data = PollData(
            array=self.config.name, product=product, polled_at=started, raw=raw,
            timezone=self.config.timezone,
        )
        for area in due:
            state = self._run_collector(area, data, errors.get(area), durations.get(area, 0.0))
            self._states[area] = state
            if not state.success and fatal is None:
                log.warning("array=%s collector=%s failed: %s",
                            self.config.name, area, state.error)
        if fatal is not None:
            log.warning("array=%s: poll failed: %s", self.config.name, fatal)

        up = fatal is None and not self.closing
        duration = time.perf_counter() - t0
        if all(s.success for s in self._states.values()) and up:
            self._last_success = started
        everything_failed = bool(due) and not any(self._states[a].success for a in due)
        self._schedule_next(started, failed=not up or everything_failed)
        self._generation += 1
        return Snapshot(
            array=self.config.name,
            generation=self._generation,
            started_at=started,
            duration=duration,
            up=up,
            error=str(fatal) if fatal else None,
            last_success=self._last_success,
            identity=self._identity,
            collectors=dict(self._states),
            exporter_families=tuple(self._exporter_families(up, duration, started)),
            failures=self._failures,
            next_attempt=self._next_time(started),
            backoff=self._next_attempt > started + self.config.interval_seconds,
            requests=self.stats.take_requests(),
            token=self.stats.token,
            events=self._events.recent,
        )

    def _fetch(
        self, areas: list[str], fetched: dict[str, Any], errors: dict[str, str],
        durations: dict[str, float], fatal: ApiError | None,
    ) -> ApiError | None:
        """Fetch areas one after another; stop at the first sign of a dead array."""
        for area in areas:
            if fatal is not None or self.closing:
                errors[area] = f"skipped: {fatal}" if fatal else "skipped: shutting down"
                durations[area] = 0.0
                continue
            t = time.perf_counter()
            try:
                fetched[area] = self.source.fetch(area)
            except (ApiUnreachable, ApiAuthError) as exc:
                fatal = exc
                errors[area] = str(exc)
            except ApiError as exc:
                errors[area] = str(exc)
            except Exception as exc:  # a bug in the source must not kill the poll
                log.exception("array=%s area=%s: unexpected error while fetching",
                              self.config.name, area)
                errors[area] = f"unexpected error: {type(exc).__name__}"
            durations[area] = time.perf_counter() - t
        return fatal

    def _fetch_parallel(
        self, areas: list[str], fetched: dict[str, Any], errors: dict[str, str],
        durations: dict[str, float],
    ) -> ApiError | None:
        """With max_concurrent_requests > 1: areas in parallel, the guard bounding the flight."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.config.max_concurrent_requests,
                                            thread_name_prefix=f"poll-{self.config.name}")
        parts = [({}, {}, {}) for _ in areas]
        futures = [self._pool.submit(self._fetch, [area], *part, None)
                   for area, part in zip(areas, parts, strict=True)]
        fatal: ApiError | None = None
        for future, (part_fetched, part_errors, part_durations) in zip(
            futures, parts, strict=True
        ):
            fatal = future.result() or fatal
            fetched.update(part_fetched)
            errors.update(part_errors)
            durations.update(part_durations)
        return fatal

    def _schedule_next(self, started: float, *, failed: bool) -> None:
        """Exponential backoff with jitter after failed polls; honour Retry-After and logins.

        The first failure keeps the normal schedule (one timeout is not a pattern); from the
        second on, the wait doubles from two intervals up to `backoff_max_seconds`, each wait
        jittered down by up to 25 % so arrays that failed together do not retry together.
        """
        self._failures = self._failures + 1 if failed else 0
        next_attempt = 0.0
        if self._failures >= 2:
            base = self.config.interval_seconds * 2 ** (self._failures - 1)
            wait = min(self.config.backoff_max_seconds, base)
            next_attempt = started + wait * self._random.uniform(0.75, 1.0)
        if self.guard is not None:
            next_attempt = max(next_attempt, self.guard.not_before,
                               self.guard.login_blocked_until)
        self._next_attempt = next_attempt
        if next_attempt > started + self.config.interval_seconds:
            log.warning("array=%s: %d failed poll(s) in a row; next attempt in %.0f s",
                        self.config.name, self._failures, next_attempt - started)

    def _next_time(self, started: float) -> float:
        """When the next poll comes: the held-back attempt, else one interval on."""
        return max(self._next_attempt, started + self.config.interval_seconds)

    def backing_off(self, now: float) -> bool:
        return self._next_attempt > now

    @property
    def next_attempt(self) -> float:
        return self._next_attempt

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def _run_collector(
        self, area: str, data: PollData, error: str | None, fetch_seconds: float
    ) -> CollectorState:
        previous = self._states.get(area)
        stale_after = STALE_INTERVALS * self.config.interval_for(area)
        t = time.perf_counter()
        families: tuple = ()
        if error is None:
            builder = FamilyBuilder(self.const_labels)
            try:
                _COLLECT[area](data, builder)
                families = tuple(builder.families())
            except Exception as exc:
                error = f"cannot translate the answer: {type(exc).__name__}: {exc}"
            if builder.duplicates:
                log.info("array=%s collector=%s: dropped %d duplicate series",
                         self.config.name, area, builder.duplicates)
        duration = fetch_seconds + time.perf_counter() - t
        if error is None:
            return CollectorState(area, True, duration, None, data.polled_at, data.polled_at,
                                  stale_after, families)
        carried = previous.families if previous else ()
        if area == "logs" and self._tally is not None:
            # Log counters never vanish with one failed fetch: they are the tally so far.
            builder = FamilyBuilder(self.const_labels)
            _COLLECT["logs"](data, builder)
            carried = tuple(builder.families())
            return CollectorState(area, False, duration, error, data.polled_at, data.polled_at,
                                  stale_after, carried)
        return CollectorState(area, False, duration, error, data.polled_at,
                              previous.data_at if previous else None, stale_after, carried)

    def _update_identity(self, system_raw: Any) -> None:
        if system_raw is None:
            return
        model, serial = identify(system_raw)
        if not model and self._identity is not None:
            return
        # The flavour the source speaks (api: auto decides at run time), else the config's.
        api = getattr(self.source, "api", None) or (
            "legacy" if self.config.api == "legacy" else "unified")
        product = self.config.product
        if product == "auto":
            product = product_from_model(model) or "unknown"
        self._identity = Identity(api=api, product=product, model=model, serial=serial)

    def _product(self) -> str:
        if self.config.product != "auto":
            return self.config.product
        return self._identity.product if self._identity else "unknown"

    def _exporter_families(self, up: bool, duration: float, started: float) -> list:
        out = FamilyBuilder(self.const_labels)
        out.add("qsan_up", {}, 1 if up else 0)
        for name, state in self._states.items():
            out.add("qsan_collector_success", {"collector": name}, 1 if state.success else 0)
            out.add("qsan_collector_duration_seconds", {"collector": name}, state.duration)
        out.add("qsan_poll_duration_seconds", {}, duration)
        if self._last_success is not None:
            out.add("qsan_last_poll_success_timestamp_seconds", {}, self._last_success)
        stats = self.stats.snapshot()
        for (endpoint, code), count in sorted(stats.requests.items()):
            out.add("qsan_api_requests_total", {"endpoint": endpoint, "code": code}, count)
        out.add("qsan_auth_logins_total", {}, stats.logins)
        out.add("qsan_auth_refreshes_total", {}, stats.refreshes)
        if self.guard is not None:
            out.add("qsan_auth_login_failures_total", {}, self.guard.login_failures_total)
        out.add("qsan_poll_consecutive_failures", {}, self._failures)
        backoff = self._next_attempt > started + self.config.interval_seconds
        out.add("qsan_poll_backoff", {}, 1 if backoff else 0)
        out.add("qsan_poll_next_attempt_timestamp_seconds", {}, self._next_time(started))
        if self._identity is not None:
            i = self._identity
            out.info("qsan_array_info",
                     {"api": i.api, "product": i.product, "model": i.model, "serial": i.serial})
        return out.families()


def python_version() -> str:
    return ".".join(str(p) for p in sys.version_info[:3])
