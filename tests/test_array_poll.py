"""Failure isolation and data carry-over of one array's poll, with a scripted source."""

from __future__ import annotations

from typing import Any

import pytest

from qsan_exporter.api.errors import ApiAuthError, ApiHTTPError, ApiUnreachable
from qsan_exporter.api.log_cursor import LogAnswer, fold
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import families_of
from qsan_exporter.metrics import COLLECTOR_NAMES
from qsan_exporter.poll.array import ArrayPoll
from qsan_exporter.poll.identity import identify, product_from_model

RAW: dict[str, Any] = {
    "system": {
        "info": {"enclosureNumbers": [0]},
        "enclosures": [{"encId": 0, "info": {"modelName": "XN8008R", "serialNumber": "S1",
                                             "sysHealth": "Good", "controllerNum": 1}}],
    },
    "pools": {"pools": [{"name": "P1", "id": "7", "totalSize": 1024, "usedSize": 512,
                         "health": "Good", "status": "Online", "raidsets": []}]},
    "disks": {"disks": [{"id": "e0d0", "encID": "0", "slot": 0, "size": 1024,
                         "health": "Good", "status": "Online"}]},
    "volumes": {"volumes": [{"id": 1, "name": "v1", "poolID": "7", "health": "Optimal",
                             "status": "Online"}]},
    "iscsi": {"targets": {"iscsi": []}, "sessions": {"iscsi": []}},
    "tasks": {"snapshot": {"tasks": []}},
}
# The logs answer is the source's finished tally and the batch it counted (api/log_cursor.py).
LOG_BATCH = {"events": [{"type": "error", "timestamp": 100, "message": "x"}], "baseline": True}
RAW["logs"] = LogAnswer(fold(None, LOG_BATCH), LOG_BATCH)


class ScriptedSource:
    """Answers from RAW; `fail` maps an area to the exception to raise instead."""

    def __init__(self) -> None:
        self.fail: dict[str, Exception] = {}
        self.calls: list[str] = []

    def fetch(self, area: str) -> Any:
        self.calls.append(area)
        if area in self.fail:
            raise self.fail[area]
        return RAW[area]


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup():
    config = ArrayConfig(name="a1", url="http://127.0.0.1:1", username="u", password="p",
                         interval_seconds=60, timeout_seconds=5,
                         collector_intervals={"tasks": 300}, labels={"site": "dc1"})
    source, clock = ScriptedSource(), Clock()
    return ArrayPoll(config, source, ApiStats(), clock=clock), source, clock


def _names(snapshot) -> set[str]:
    return {f.name for c in snapshot.collectors.values() for f in families_of(c.families)}


def test_all_collectors_succeed_and_identity_is_known(setup) -> None:
    poll, source, _ = setup
    snap = poll.poll()
    assert snap.up and snap.error is None
    assert set(snap.collectors) == set(COLLECTOR_NAMES)
    assert all(c.success for c in snap.collectors.values()), {
        c.name: c.error for c in snap.collectors.values()}
    assert snap.identity is not None and snap.identity.product == "nas"
    assert snap.identity.model == "XN8008R" and snap.identity.serial == "S1"
    assert snap.last_success == 10_000.0
    assert source.calls[0] == "system"
    exporter = {f.name: f for f in families_of(snap.exporter_families)}
    assert exporter["qsan_up"].samples[0].value == 1
    assert exporter["qsan_up"].samples[0].labels == {"array": "a1", "site": "dc1"}
    assert exporter["qsan_array_info"].samples[0].labels["product"] == "nas"


def test_an_http_error_fails_only_its_collector(setup) -> None:
    poll, source, _ = setup
    source.fail["disks"] = ApiHTTPError("HTTP 500 from /rest/v1/storage/disk/list",
                                        status=500, endpoint="/rest/v1/storage/disk/list")
    snap = poll.poll()
    assert snap.up
    assert not snap.collectors["disks"].success
    assert "500" in (snap.collectors["disks"].error or "")
    assert all(c.success for n, c in snap.collectors.items() if n != "disks")
    assert snap.last_success is None  # not a fully successful poll


@pytest.mark.parametrize("error", [ApiUnreachable("connection refused"),
                                   ApiAuthError("login rejected for user 'u'")])
def test_unreachable_or_unauthenticated_stops_the_poll_at_once(setup, error) -> None:
    poll, source, _ = setup
    source.fail["system"] = error
    snap = poll.poll()
    assert not snap.up and snap.error == str(error)
    assert source.calls == ["system"]  # the dead array is not asked six more times
    assert not any(c.success for c in snap.collectors.values())
    up = next(f for f in families_of(snap.exporter_families) if f.name == "qsan_up")
    assert up.samples[0].value == 0


def test_a_collector_that_cannot_translate_fails_alone(setup) -> None:
    poll, _, _ = setup
    original = RAW["volumes"]
    RAW["volumes"] = "garbage"
    try:
        snap = poll.poll()
    finally:
        RAW["volumes"] = original
    assert not snap.collectors["volumes"].success
    assert "cannot translate" in (snap.collectors["volumes"].error or "")
    assert snap.collectors["disks"].success and snap.up


def test_failed_collector_data_is_carried_then_withdrawn(setup) -> None:
    poll, source, clock = setup
    first = poll.poll()
    assert "qsan_disk_health" in _names(first)
    clock.now += 60
    source.fail["disks"] = ApiHTTPError("HTTP 503", status=503, endpoint="x")
    second = poll.poll()
    disks = second.collectors["disks"]
    assert not disks.success and disks.data_at == 10_000.0
    assert "qsan_disk_health" in _names(second)
    assert "disks" in {c.name for c in second.live_collectors(clock.now)}
    assert "disks" not in {c.name for c in second.live_collectors(10_000.0 + 181)}
    assert second.generation == first.generation + 1


def test_collector_intervals_skip_areas_not_yet_due(setup) -> None:
    poll, source, clock = setup
    poll.poll()
    source.calls.clear()
    clock.now += 60
    snap = poll.poll()
    assert "tasks" not in source.calls and "disks" in source.calls
    assert snap.collectors["tasks"].success  # its last run stands
    clock.now += 240
    source.calls.clear()
    poll.poll()
    assert "tasks" in source.calls


def test_a_poll_that_started_late_does_not_make_the_next_look_early(setup) -> None:
    """In a big fleet a grid poll may start seconds late (queued behind others); the next grid
    poll, an interval after the last grid time, is then a few seconds less than an interval
    after it. Its areas are still due: otherwise the array would skip a whole interval. An
    area on a longer interval waits for the grid poll nearest to it."""
    poll, source, clock = setup
    start = clock.now
    poll.poll()
    clock.now = start + 68  # this poll queued 8 s behind its grid time...
    poll.poll()
    source.calls.clear()
    clock.now = start + 120  # ...and the next comes on the grid, 52 s later
    poll.poll()
    assert "disks" in source.calls and "tasks" not in source.calls
    source.calls.clear()
    clock.now = start + 269  # 269 s since tasks ran: nearer 240 than 300, not due
    poll.poll()
    assert "tasks" not in source.calls
    source.calls.clear()
    clock.now = start + 270  # the grid poll nearest to 300 s
    poll.poll()
    assert "tasks" in source.calls


def test_log_counters_survive_a_failed_log_fetch(setup) -> None:
    poll, source, clock = setup
    poll.poll()
    clock.now += 60
    source.fail["logs"] = ApiHTTPError("HTTP 500", status=500, endpoint="/rest/v1/log/list")
    snap = poll.poll()
    logs = snap.collectors["logs"]
    assert not logs.success
    names = {f.name for f in families_of(logs.families)}
    assert "qsan_log_events" in names  # counter family name without _total


def test_the_logs_area_takes_only_a_finished_tally(setup, monkeypatch) -> None:
    """A source must count its logs itself: a raw batch fails the logs collector alone."""
    poll, _, _ = setup
    monkeypatch.setitem(RAW, "logs", LOG_BATCH)
    snap = poll.poll()
    assert snap.collectors["logs"].error == (
        "cannot read log events: expected a LogAnswer, got dict")
    assert all(c.success for name, c in snap.collectors.items() if name != "logs")


def test_product_and_identity_helpers() -> None:
    assert product_from_model("XS5226D") == "san"
    assert product_from_model("xf3126") == "fas"
    assert product_from_model("XN8008R") == "nas"
    assert product_from_model("Foo") is None
    assert identify({"enclosures": {"encId": 0, "info": {"modelName": " XS1 ",
                                                         "serialNumber": 5}}}) == ("XS1", "5")
    assert identify({"enclosures": "garbage"}) == ("", "")


def _exporter_value(snapshot, name: str) -> float:
    family = next(f for f in families_of(snapshot.exporter_families)
                  if f.name == name.removesuffix("_total"))
    return family.samples[0].value


def test_failed_polls_back_off_exponentially_with_jitter(setup) -> None:
    poll, source, clock = setup
    source.fail["system"] = ApiUnreachable("connection refused")
    first = poll.poll()
    assert _exporter_value(first, "qsan_poll_backoff") == 0  # one failure is not a pattern
    attempts = [clock.now]
    gaps = []
    for _ in range(240):  # poll every interval for four hours of fake time
        clock.now += 60
        calls = len(source.calls)
        snap = poll.poll()
        if len(source.calls) > calls:
            gaps.append(clock.now - attempts[-1])
            attempts.append(clock.now)
        else:
            assert snap is poll.last  # backing off: nothing sent, nothing re-rendered
    # 60, then waits of 2, 4, 8 intervals capped at 600 s, each jittered down by up to 25 %
    # (the scheduler's 60 s ticks round the jittered wait up to the next tick).
    assert gaps[:2] == [60, 120]
    assert 180 <= gaps[2] <= 240 and 360 <= gaps[3] <= 480
    assert all(450 <= gap <= 600 for gap in gaps[4:])
    assert len(set(gaps[4:])) > 1  # jitter: arrays that failed together do not retry together
    assert _exporter_value(snap, "qsan_poll_consecutive_failures") == len(attempts)
    assert _exporter_value(snap, "qsan_poll_backoff") == 1
    source.fail.clear()
    clock.now = poll.next_attempt
    recovered = poll.poll()
    assert recovered.up and _exporter_value(recovered, "qsan_poll_backoff") == 0
    assert _exporter_value(recovered, "qsan_poll_consecutive_failures") == 0


def test_every_collector_failing_counts_as_a_failed_poll(setup) -> None:
    poll, source, clock = setup
    for area in COLLECTOR_NAMES:
        source.fail[area] = ApiHTTPError("HTTP 503", status=503, endpoint="x")
    poll.poll()
    clock.now += 60
    snap = poll.poll()
    assert snap.up  # the array answers, it is just broken
    assert _exporter_value(snap, "qsan_poll_consecutive_failures") == 2
    assert _exporter_value(snap, "qsan_poll_backoff") == 1


def test_retry_after_and_login_budget_postpone_the_next_poll(setup) -> None:
    from qsan_exporter.api.guard import RequestGuard

    poll, source, clock = setup
    guard = RequestGuard("a1", clock=clock)
    poll.guard = guard
    guard.retry_after("900")
    source.fail["system"] = ApiHTTPError("HTTP 429", status=429, endpoint="x")
    snap = poll.poll()
    assert poll.next_attempt == pytest.approx(clock.now + 900)
    assert _exporter_value(snap, "qsan_poll_next_attempt_timestamp_seconds") == poll.next_attempt
    clock.now += 899
    calls = len(source.calls)
    poll.poll()
    assert len(source.calls) == calls
    guard.login_rejected()
    clock.now += 2
    poll.poll()
    assert poll.next_attempt >= clock.now + 290  # the login budget now rules


def test_poll_sets_and_clears_the_deadline(setup) -> None:
    from qsan_exporter.api.guard import RequestGuard

    poll, source, clock = setup
    poll.guard = RequestGuard("a1", clock=clock)
    seen = []
    original = source.fetch

    def fetch(area: str):
        seen.append(poll.guard.deadline)
        return original(area)

    source.fetch = fetch  # type: ignore[method-assign]
    poll.poll()
    assert set(seen) == {clock.now + 48}  # 80 % of the 60 s interval
    assert poll.guard.deadline is None
