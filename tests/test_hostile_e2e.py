"""Hostile arrays against the real exporter: trickling answers, huge valid JSON, deep nesting,
many keys, each next to a healthy array that must not notice.

Every bound is a count (polls of the healthy array, requests, bytes of RSS), never a speed.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qsan_exporter.simulator import Fault
from tests.conftest import wait_for
from tests.e2e_helpers import SimFleet, requests_to

PASSWORD = "hostile-secret"
INTERVAL = 4.0
TIMEOUT = 1.0
LOGS = "/rest/v1/log/list"  # the last request of a poll
DISKS = "/rest/v1/storage/disk/list"
# One byte every half second: no read ever waits a whole TIMEOUT, no answer ever completes.
TRICKLE = Fault("trickle", "/rest/v1/*", seconds=0.5, chunk_bytes=1)


class Fleet(SimFleet):
    def __init__(self, tmp: Path, faults: dict[str, list[Fault]], *args: str) -> None:
        super().__init__(tmp, {name: (armed, {}) for name, armed in faults.items()}, *args,
                         password=PASSWORD, interval_seconds=INTERVAL, timeout_seconds=TIMEOUT)

    def polls(self, name: str, path: str = LOGS) -> int:
        return requests_to(self.sims[name], path)

    def scrape(self) -> dict[tuple[str, str, str], float]:
        """(sample name, array, collector or endpoint+code) -> value."""
        out: dict[tuple[str, str, str], float] = {}
        for family in text_string_to_metric_families(self.exporter.get("/metrics").text):
            for s in family.samples:
                extra = s.labels.get("collector") or (s.labels.get("endpoint", "")
                                                      + s.labels.get("code", ""))
                out[(s.name, s.labels.get("array", ""), extra)] = s.value
        return out


@pytest.fixture
def fleets(tmp_path: Path) -> Iterator[Any]:
    made: list[Fleet] = []

    def make(faults: dict[str, list[Fault]], *args: str) -> Fleet:
        fleet = Fleet(tmp_path / str(len(made)), faults, *args)
        made.append(fleet)
        return fleet

    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    yield make
    for fleet in made:
        fleet.close()


def assert_healthy(samples: dict[tuple[str, str, str], float], name: str) -> None:
    assert samples[("qsan_up", name, "")] == 1
    successes = {k[2]: v for k, v in samples.items() if k[:2] == ("qsan_collector_success", name)}
    assert successes and set(successes.values()) == {1.0}, successes
    assert not any(k[0] == "qsan_api_requests_total" and k[1] == name and k[2].endswith("error")
                   for k in samples), "the healthy array saw a failed request"


@pytest.mark.slow
@pytest.mark.parametrize("cap", [32, 2])
def test_trickling_arrays_fail_within_two_intervals_and_the_neighbour_never_notices(
        fleets: Any, cap: int) -> None:
    fleet = fleets({"ok": [], "drip-a": [TRICKLE], "drip-b": [TRICKLE]},
                   f"--api.max-concurrent-requests={cap}")
    # Two polls of the healthy array: two intervals of the schedule have passed.
    wait_for(lambda: fleet.polls("ok") >= 2, 60, "two polls of the healthy array")
    samples = fleet.scrape()
    for name in ("drip-a", "drip-b"):
        assert samples[("qsan_up", name, "")] == 0, name
        assert samples[("qsan_poll_consecutive_failures", name, "")] >= 1
    assert_healthy(samples, "ok")
    wait_for(lambda: fleet.polls("ok") >= 4, 60, "two more polls of the healthy array")
    assert_healthy(fleet.scrape(), "ok")
    log = fleet.exporter.log_text()
    assert "no complete answer within 1 s" in log and "Traceback" not in log
    # Logged once per failed poll at WARNING, not once per request.
    attempts = fleet.polls("drip-a", "/rest/v1/hardware/info")
    warned = sum(1 for line in log.splitlines()
                 if "level=warn " in line and "array=drip-a: poll failed" in line)
    assert 1 <= warned <= attempts
    # SIGTERM while both still trickle: exits, every token set revoked (the revoke is /auth/).
    fleet.exporter.process.send_signal(signal.SIGTERM)
    assert fleet.exporter.process.wait(20) == 0  # a liveness bound, not a speed target
    assert {name: sim.live_token_sets() for name, sim in fleet.sims.items()} == {
        "ok": 0, "drip-a": 0, "drip-b": 0}


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_huge_deep_and_wide_answers_fail_one_collector_with_bounded_memory(fleets: Any) -> None:
    fleet = fleets({"ok": [], "big": []})
    wait_for(lambda: fleet.polls("big") >= 1 and fleet.polls("ok") >= 1, 60, "a first poll")
    before = _peak_rss(fleet.exporter.process.pid)
    big = fleet.sims["big"]
    for fault in (Fault("huge", DISKS, megabytes=40, count=1),  # valid JSON, 40 MiB
                  Fault("deep", DISKS, depth=200_000, count=1),
                  Fault("many_keys", DISKS, keys=550_000, count=1)):  # 6.6 MB: under the cap
        big.faults.add(fault)
        wait_for(lambda: not big.faults.active(), 60, f"the {fault.kind} answer sent")
    start = fleet.polls("big", DISKS)
    wait_for(lambda: fleet.polls("big", DISKS) >= start + 1, 60, "a disk list after them")
    start = fleet.polls("big")
    wait_for(lambda: fleet.polls("big") >= start + 1, 60, "that poll's end")
    growth = _peak_rss(fleet.exporter.process.pid) - before
    print(f"peak RSS {before} -> +{growth} bytes")  # the figure bench/README.md quotes
    assert growth < 64 * 1024 * 1024, f"peak RSS grew by {growth} bytes"
    samples = fleet.scrape()
    # The huge one is refused while reading; the other two are answered, then refused unparsed.
    assert samples[("qsan_api_requests_total", "big", DISKS + "error")] == 1
    assert samples[("qsan_up", "big", "")] == 1
    assert samples[("qsan_collector_success", "big", "disks")] == 1  # recovered
    assert_healthy(samples, "ok")
    log = fleet.exporter.log_text()
    assert "Traceback" not in log
    for what in ("larger than 8 MiB", "nested deeper than", "more than 200000 JSON values"):
        assert sum(what in line for line in log.splitlines()) == 1, what
