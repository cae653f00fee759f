"""What one array keeps between polls, and handing freed heap back: same behaviour, less memory."""

from __future__ import annotations

import pickle
import random
from typing import cast

from qsan_exporter.api.adapter import ArrayAdapter
from qsan_exporter.api.auto import AutoSource
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.config import ArrayConfig
from qsan_exporter.poll.backoff import Backoff
from qsan_exporter.poll.carry import NeededAnswers
from qsan_exporter.poll.fleet import build_member
from qsan_exporter.poll.heap import TRIM_AT_LEAST_EVERY_SECONDS, HeapTrimmer

POOLS = {"pools": [{"name": "P1", "id": "7", "totalSize": 1024, "raidsets": [(1, 2.5, None)]}]}
VOLUMES = {"volumes": [{"id": 1, "name": "v1", "poolID": "7"}]}


def test_a_needed_answer_comes_back_equal_when_its_area_was_not_fetched() -> None:
    needed = NeededAnswers(["pools", "volumes", "tasks"])
    assert needed.complete({"pools": POOLS, "volumes": VOLUMES}) == {
        "pools": POOLS, "volumes": VOLUMES}
    later = needed.complete({"volumes": VOLUMES})  # pools failed or is on a longer interval
    assert later["pools"] == POOLS
    assert later["pools"]["pools"][0]["raidsets"] == [(1, 2.5, None)]  # tuples stay tuples


def test_the_kept_answer_is_bytes_smaller_than_the_parsed_answer() -> None:
    big = {"volumes": [{"id": i, "name": f"v{i}", "poolID": "7", "health": "Optimal",
                        "status": "Online", "totalSize": 1 << 40} for i in range(64)]}
    needed = NeededAnswers(["tasks"])
    needed.complete({"volumes": big})
    assert needed.kept_sizes()["volumes"] < len(pickle.dumps(big)) / 4


def test_a_later_change_to_the_handed_answer_does_not_reach_the_kept_one() -> None:
    pools = {"pools": [{"name": "P1", "id": "7"}]}
    needed = NeededAnswers(["volumes"])
    needed.complete({"pools": pools})
    pools["pools"].clear()
    assert needed.complete({})["pools"] == {"pools": [{"name": "P1", "id": "7"}]}


def test_nothing_is_kept_of_an_area_nobody_needs() -> None:
    needed = NeededAnswers(["pools", "disks"])
    needed.complete({"pools": POOLS, "disks": {"disks": []}})
    assert needed.kept_sizes() == {}


def test_backoff_jitter_is_the_per_array_seeded_sequence_and_seeded_only_when_needed() -> None:
    config = ArrayConfig(name="a1", url="http://127.0.0.1:1", username="u", password="p",
                         interval_seconds=60, timeout_seconds=5)
    backoff = Backoff(config)
    backoff.record(1000.0, failed=False, guard=None)
    backoff.record(1000.0, failed=True, guard=None)
    assert not backoff.jitter_seeded  # a healthy array, or one failure, holds no generator
    expected = random.Random("a1")
    for failures in range(2, 6):
        backoff.record(1000.0, failed=True, guard=None)
        full = min(config.backoff_max_seconds, 60 * 2 ** (failures - 1))
        assert backoff.next_attempt == 1000.0 + full * expected.uniform(0.75, 1.0)


class FakeTrim:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, pad: int) -> int:
        assert pad == 0
        self.calls += 1
        return 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_heap_is_trimmed_when_the_last_poll_in_flight_ends() -> None:
    trim, clock = FakeTrim(), Clock()
    heap = HeapTrimmer(trim, clock)
    heap.started()
    heap.started()
    heap.ended()
    assert trim.calls == 0  # another poll still runs, and no second has passed
    heap.ended()
    assert trim.calls == 1


def test_while_polls_overlap_the_heap_is_trimmed_once_a_second() -> None:
    trim, clock = FakeTrim(), Clock()
    heap = HeapTrimmer(trim, clock)
    heap.started()  # one long poll stays in flight throughout
    for _ in range(10):
        heap.started()
        clock.now += TRIM_AT_LEAST_EVERY_SECONDS / 4
        heap.ended()
    assert trim.calls == 2  # 2.5 s of overlapping polls
    assert heap.trims == 2


def test_the_real_trimmer_runs_here_or_is_a_no_op() -> None:
    heap = HeapTrimmer()
    heap.started()
    heap.ended()
    assert heap.trims in (0, 1)


def test_auto_clients_share_connection_pools_not_cookies(simulators) -> None:
    sim = simulators("san")
    config = ArrayConfig(name="a", url=sim.url, username="monitor", password="secret-pw",
                         api="auto", interval_seconds=30, timeout_seconds=5)
    member = build_member(config)
    try:
        snapshot = member.poll.poll()
        assert snapshot.up, snapshot.error
        source = member.client
        assert isinstance(source, AutoSource)
        unified_client, legacy_client = source.clients
        unified = cast(UnifiedClient, unified_client).session
        legacy = legacy_client.session
        assert unified is not legacy and unified.cookies is not legacy.cookies
        for prefix, adapter in unified.adapters.items():
            assert legacy.adapters[prefix] is adapter
        # The probe (legacy client) and the Unified calls went over one connection.
        adapter = unified.adapters["http://"]
        assert isinstance(adapter, ArrayAdapter)
        assert adapter.contexts == [None] and adapter.idle_connections == 1
    finally:
        member.client.close()

