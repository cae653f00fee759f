"""A request ends at its timeout or the poll deadline, however the array trickles; answers are
parsed only when their shape is sane. Counts and bytes only, never durations."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator

import pytest

from qsan_exporter.api import answer
from qsan_exporter.api.errors import ApiFormatError, ApiUnreachable
from qsan_exporter.api.guard import GlobalLimit, RequestGuard
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.api.watchdog import Watchdog
from qsan_exporter.simulator import Fault, SimulatedArray, SimulatorConfig
from tests.conftest import wait_for

DISKS = "/rest/v1/storage/disk/list"


@pytest.fixture
def sim() -> Iterator[SimulatedArray]:
    sim = SimulatedArray(SimulatorConfig(username="monitor", password="pw"), port=0).start()
    yield sim
    sim.faults.clear()
    sim.stop()


def client(sim: SimulatedArray, guard: RequestGuard | None = None,
           **options: object) -> UnifiedClient:
    return UnifiedClient(sim.url, "monitor", "pw", guard=guard, **options)  # type: ignore[arg-type]


def watchdog_threads() -> int:
    return sum(t.name == "qsan-watchdog" for t in threading.enumerate())


@pytest.mark.slow
@pytest.mark.parametrize("route", [DISKS, "/auth/get"])  # a trickled body, trickled headers
def test_a_trickling_answer_ends_at_the_timeout(sim: SimulatedArray, route: str) -> None:
    c = client(sim, timeout=0.5)
    if route == DISKS:
        c.get("/rest/v1/hardware/info")  # logged in at normal speed first
    sim.faults.add(Fault("trickle", route, seconds=0.2, chunk_bytes=1))
    with pytest.raises(ApiUnreachable, match=r"no complete answer within 0\.5 s"):
        c.get(DISKS)
    assert c.stats.snapshot().requests[(route, "error")] == 1
    c.close()
    wait_for(lambda: watchdog_threads() == 0, 10, "the idle watchdog thread to end")


def test_the_poll_deadline_cuts_before_the_timeout_and_frees_the_global_slot(
        sim: SimulatedArray) -> None:
    limit = GlobalLimit(1)
    guard = RequestGuard("a", global_limit=limit)
    c = client(sim, guard=guard, timeout=30)
    c.get("/rest/v1/hardware/info")
    sim.faults.add(Fault("trickle", DISKS, seconds=0.2, chunk_bytes=1))
    guard.deadline = time.time() + 0.5
    with pytest.raises(ApiUnreachable, match="poll deadline exceeded"):
        c.get(DISKS)
    assert limit.semaphore.acquire(timeout=0)  # the slot is free again
    limit.semaphore.release()
    guard.deadline = None
    c.close()


def test_cut_all_ends_every_watched_request_now(sim: SimulatedArray) -> None:
    watchdog = Watchdog()
    c = client(sim, guard=RequestGuard("a", watchdog=watchdog), timeout=600)
    c.get("/rest/v1/hardware/info")
    sim.faults.add(Fault("trickle", DISKS, seconds=0.2, chunk_bytes=1))
    errors: list[Exception] = []

    def fetch() -> None:
        try:
            c.get(DISKS)
        except ApiUnreachable as exc:
            errors.append(exc)

    thread = threading.Thread(target=fetch)
    thread.start()
    wait_for(lambda: sim.stats_snapshot()["requests_by_path"].get(DISKS), 10, "the request")
    watchdog.cut_all()
    thread.join(30)
    assert not thread.is_alive() and len(errors) == 1
    sim.faults.clear()
    c.close()


def test_an_announced_oversized_answer_is_refused_unread(sim: SimulatedArray) -> None:
    c = client(sim, max_response_bytes=1024 * 1024)
    c.get("/rest/v1/hardware/info")
    sim.faults.add(Fault("huge", DISKS, megabytes=2, count=1))
    with pytest.raises(ApiFormatError, match="larger than 1 MiB, not read"):
        c.get(DISKS)
    assert c.get(DISKS)  # the next one, normal, is read
    c.close()


@pytest.mark.parametrize(("body", "error"), [
    (b"[" * 65 + b"]" * 65, "nested deeper than 64"),
    (b"[" * 200_000 + b"]" * 200_000, "nested deeper than 64"),
    (b"[" + b",".join([b"0"] * 200_001) + b"]", "more than 200000 JSON values"),
    (b"[" * 64 + b"]" * 63, "not JSON"),  # unbalanced: the parser's error, not a traceback
])
def test_pathological_json_is_refused_in_one_line(body: bytes, error: str) -> None:
    with pytest.raises(ApiFormatError, match=error) as info:
        answer.parse(body, "GET /x at http://a", 200)
    assert "\n" not in str(info.value)


def test_brackets_in_strings_and_normal_answers_pass() -> None:
    nested = b"[" * 64 + b"]" * 64
    assert answer.parse(nested, "x", 200) is not None
    text = {"message": "[[[[" * 100 + '\\"{{{{' * 100, "list": [{"a": [1, 2, {"b": None}]}] * 70}
    assert answer.parse(json.dumps(text).encode(), "x", 200) == text


def test_an_earlier_deadline_wakes_the_watchdog_a_later_one_does_not() -> None:
    """The thread sleeps until the earliest deadline: a new earliest one must wake it (else a
    short request behind a long one would not be cut in time); a later one need not."""
    dog = Watchdog()
    with contextlib.ExitStack() as watches:
        long_watch = watches.enter_context(dog.watching(60.0))
        time.sleep(0.5)  # set-up, not a measurement: let the thread settle into its long wait
        watches.enter_context(dog.watching(90.0))  # later: no wake needed
        short = watches.enter_context(dog.watching(0.05))
        wait_for(lambda: short.fired, 10.0, "the short watch to fire")
        assert not long_watch.fired
