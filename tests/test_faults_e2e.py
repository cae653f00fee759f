"""Every fault of the simulator against the real exporter: what the exporter does about it.

One exporter subprocess (the real CLI, real HTTP both sides) polls a fleet on loopback where
each array has one fault and two arrays are healthy; each test looks at its array through
`/metrics`, `/probe`, the status page and the simulator's own counters. Every assertion is a
count or a bound derived from the exporter's schedule (backoff, Retry-After, login budget), never
a speed: the machine is small and shared. The fleet runs for the whole module, each test on its
own array(s) (one that needs more history than it has waits for it, bounded), so the tests run
in any order; the SIGTERM test stops an exporter of its own.
"""

from __future__ import annotations

import itertools
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qsan_exporter.api.guard import LOGIN_BACKOFF_START_SECONDS
from qsan_exporter.simulator import Fault, SimulatedArray, SimulatorConfig
from tests.conftest import SIM_LITERAL, Exporter, status_card, wait_for, write_config
from tests.e2e_helpers import SimFleet, backoff_attempts_bound, requests_to

# QSAN_SIM_LITERAL=1 reruns it in the other reading; an end-to-end fleet: not the inner loop.
pytestmark = [pytest.mark.simulated, pytest.mark.slow]
PASSWORD = "e2e-secret"
INTERVAL = 2.0
TIMEOUT = 1.0
BACKOFF_MAX = 8.0
RETRY_AFTER = 4
HUGE_MB = 20.0  # above the client's default 8 MiB cap (max_response_mib)
LOGIN = "/auth/get"
HARDWARE = "/rest/v1/hardware/info"  # the first request of a poll once logged in
DISKS = "/rest/v1/storage/disk/list"
LOGS = "/rest/v1/log/list"  # the last request of a poll
HEALTHY = ("ok-a", "ok-b")

# name -> (faults armed before the exporter starts, per-array config overrides)
FLEET: dict[str, tuple[list[Fault], dict[str, Any]]] = {
    "ok-a": ([], {}),
    "ok-b": ([], {}),
    # A request timeout above the 1.6 s poll deadline: the deadline is what ends the hang.
    "hang": ([Fault("hang", "*")], {"timeout_seconds": 1.9}),
    "latency": ([Fault("latency", "*", seconds=0.05)], {}),
    # 0.5 s per call, 1.6 s of deadline (80 % of 2 s): no poll can reach the last endpoint.
    "slow": ([Fault("latency", "/rest/v1/*", seconds=0.5)], {"timeout_seconds": 1.9}),
    "5xx": ([Fault("status", "/rest/v1/*", status=500)], {}),
    "429": ([Fault("rate_limit", "/rest/v1/*", retry_after=RETRY_AFTER)], {}),
    "malformed": ([Fault("malformed_json", DISKS)], {}),
    "truncated": ([Fault("truncated", DISKS)], {}),
    "wrongtypes": ([Fault("wrong_types", DISKS, seed=1)], {}),
    "missing": ([Fault("missing_fields", DISKS, seed=1)], {}),
    # Armed by its test, for one request (20 MB per poll is costly); a longer deadline, so
    # reading 8 MiB on a busy machine ends at the size cap, not at the deadline.
    "huge": ([], {"interval_seconds": 4, "timeout_seconds": 3}),
    "reset": ([Fault("reset", DISKS)], {}),
    "loginfail": ([Fault("login_fail", LOGIN)], {}),
    "revoked": ([], {}),  # its test revokes every token behind the exporter's back
    "parallel": ([Fault("latency", "/rest/v1/*", seconds=0.1)],
                 {"max_concurrent_requests": 3}),
}


class Fleet(SimFleet):
    def __init__(self, tmp: Path, names: tuple[str, ...] = tuple(FLEET)) -> None:
        super().__init__(tmp, FLEET, password=PASSWORD, names=names, literal=SIM_LITERAL,
                         interval_seconds=INTERVAL, timeout_seconds=TIMEOUT,
                         backoff_max_seconds=BACKOFF_MAX)
        self.exporter.wait_ready(60)

    def scrape(self, path: str = "/metrics") -> dict[str, list]:
        """Samples by sample name (counters keep `_total`); asserts the answer was 200."""
        response = self.exporter.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
        out: dict[str, list] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                out.setdefault(sample.name, []).append(sample)
        return out


def value(samples: dict[str, list], name: str, array: str, **labels: str) -> float | None:
    found = [s.value for s in samples.get(name, []) if s.labels.get("array") == array
             and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, (name, array, labels, found)
    return found[0] if found else None


def collectors(samples: dict[str, list], array: str) -> dict[str, float]:
    return {s.labels["collector"]: s.value for s in samples.get("qsan_collector_success", [])
            if s.labels.get("array") == array}


def assert_healthy(fleet: Fleet, samples: dict[str, list]) -> None:
    """The healthy arrays in this scrape: up, every collector ok, data present; /probe too."""
    for name in HEALTHY:
        assert value(samples, "qsan_up", name) == 1, name
        assert set(collectors(samples, name).values()) == {1.0}, collectors(samples, name)
        assert any(s.labels.get("array") == name for s in samples.get("qsan_disk_health", []))
    probe = fleet.scrape(f"/probe?target={HEALTHY[0]}")
    assert value(probe, "qsan_up", HEALTHY[0]) == 1
    assert {s.labels.get("array") for v in probe.values() for s in v} == {HEALTHY[0]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path_factory.mktemp("faults-e2e"))
    try:
        # Every array has had at least two poll attempts' time before the tests look.
        wait_for(lambda: requests_to(fleet.sims["ok-a"], HARDWARE) >= 2, 30, "two polls")
        yield fleet
    finally:
        fleet.close()


def wait_polls(fleet: Fleet, name: str, path: str, more: int, timeout: float = 30) -> None:
    """Bounded wait until the simulator of `name` saw `more` further requests to `path`."""
    start = requests_to(fleet.sims[name], path)
    wait_for(lambda: requests_to(fleet.sims[name], path) >= start + more, timeout,
             f"{more} more requests to {path} on {name}")


# --- no answer -----------------------------------------------------------------------------------

def test_hang_ends_the_poll_and_never_delays_scrapes_or_other_arrays(fleet: Fleet) -> None:
    hung = fleet.sims["hang"]
    healthy_before = requests_to(fleet.sims["ok-a"], HARDWARE)
    scrapes_during_hang = 0
    deadline = time.monotonic() + 30
    # Scrape until several scrapes were answered while a hung request had been sent and its
    # poll had not yet published its failure, two hangs have ended and a healthy array was
    # polled twice more meanwhile.
    while time.monotonic() < deadline:
        started_hangs = hung.stats_snapshot()["faults_injected"]
        samples = fleet.scrape()
        ended = value(samples, "qsan_api_requests_total", "hang", endpoint=LOGIN, code="error")
        if ended is not None and started_hangs > ended:
            scrapes_during_hang += 1
            assert_healthy(fleet, samples)
        healthy_polls = requests_to(fleet.sims["ok-a"], HARDWARE) - healthy_before
        if scrapes_during_hang >= 3 and (ended or 0) >= 2 and healthy_polls >= 2:
            break
        time.sleep(0.2)
    assert scrapes_during_hang >= 3, "no scrape was answered while a poll hung"
    assert (ended or 0) >= 2, "the hung polls never ended"
    assert healthy_polls >= 2, "the healthy array was not polled while the other hung"
    assert value(samples, "qsan_up", "hang") == 0
    assert collectors(samples, "hang")["system"] == 0
    # The hung login was given up when the poll deadline came, not after the 1.9 s timeout.
    row = status_card(fleet.exporter.get("/").text, "hang")
    waited = re.search(r"no (?:complete )?answer within ([0-9.]+) s", row)
    assert waited and float(waited.group(1)) <= 0.8 * INTERVAL, row


def test_connection_reset_fails_that_array_only_and_is_counted(fleet: Fleet) -> None:
    wait_for(lambda: requests_to(fleet.sims["reset"], DISKS) >= 2, 30, "two resets")
    samples = fleet.scrape()
    assert value(samples, "qsan_api_requests_total", "reset", endpoint=DISKS, code="error") >= 2
    assert value(samples, "qsan_up", "reset") == 0  # unreachable: the poll stops there
    states = collectors(samples, "reset")
    assert states["system"] == 1 and states["pools"] == 1 and states["disks"] == 0
    assert value(samples, "qsan_poll_consecutive_failures", "reset") >= 1
    assert_healthy(fleet, samples)


# --- slow ---------------------------------------------------------------------------------------

def test_latency_within_the_deadline_still_polls(fleet: Fleet) -> None:
    before = fleet.sims["latency"].stats_snapshot()
    wait_polls(fleet, "latency", LOGS, 2)
    after = fleet.sims["latency"].stats_snapshot()
    assert after["faults_injected"] > before["faults_injected"]
    samples = fleet.scrape()
    assert value(samples, "qsan_up", "latency") == 1
    assert set(collectors(samples, "latency").values()) == {1.0}
    assert value(samples, "qsan_poll_consecutive_failures", "latency") == 0


def test_the_poll_deadline_cuts_a_poll_too_slow_to_finish(fleet: Fleet) -> None:
    wait_for(lambda: requests_to(fleet.sims["slow"], HARDWARE) >= 3, 60, "three slow polls")
    samples = fleet.scrape()
    # 0.5 s per call, a 1.9 s request timeout that never fires, and a 1.6 s deadline: only
    # the deadline can keep every poll from reaching its last endpoint.
    assert requests_to(fleet.sims["slow"], HARDWARE) >= 3
    assert requests_to(fleet.sims["slow"], LOGS) == 0
    assert value(samples, "qsan_up", "slow") == 0
    assert collectors(samples, "slow")["logs"] == 0
    assert collectors(samples, "slow")["system"] == 1
    assert_healthy(fleet, samples)


# --- answered with an error ---------------------------------------------------------------------

def test_5xx_fails_the_collectors_and_backs_off(fleet: Fleet) -> None:
    sim = fleet.sims["5xx"]
    first = sim.stats.request_times(HARDWARE)[0]
    # Long enough a window that backoff must show: without it, one attempt per interval.
    wait_for(lambda: time.monotonic() - first >= 20, 30, "20 s since the first 5xx")
    times = sim.stats.request_times(HARDWARE)
    elapsed = time.monotonic() - first
    bound = backoff_attempts_bound(elapsed, INTERVAL, BACKOFF_MAX)
    without_backoff = int(elapsed // INTERVAL) + 1
    assert len(times) <= bound < without_backoff, (len(times), bound, without_backoff)
    samples = fleet.scrape()
    assert set(collectors(samples, "5xx").values()) == {0.0}
    assert value(samples, "qsan_api_requests_total", "5xx", endpoint=HARDWARE,
                 code="500") == len(times)
    assert value(samples, "qsan_poll_consecutive_failures", "5xx") >= 3
    assert value(samples, "qsan_poll_backoff", "5xx") == 1
    last_start = value(samples, "qsan_last_poll_success_timestamp_seconds", "5xx")
    assert last_start is None  # never a successful poll
    next_attempt = value(samples, "qsan_poll_next_attempt_timestamp_seconds", "5xx")
    assert next_attempt is not None and next_attempt > time.time() - BACKOFF_MAX
    row = status_card(fleet.exporter.get("/").text, "5xx")
    assert "BACKING OFF after" in row and "HTTP 500" in row, row  # the status page shows it
    # The token is kept through the failures: one login only.
    assert sim.stats.logins == 1
    assert_healthy(fleet, samples)


def test_429_nothing_is_sent_before_retry_after(fleet: Fleet) -> None:
    sim = fleet.sims["429"]
    wait_for(lambda: len(sim.stats.request_times(HARDWARE)) >= 3, 40, "three 429s")
    first = sim.stats.request_times(HARDWARE)[0]
    after_first = [t for t in sim.stats.request_times() if t >= first]  # every path
    gaps = [b - a for a, b in itertools.pairwise(after_first)]
    # Every call after the first 429 got a 429: the next request of any kind, to any path,
    # comes only after the Retry-After has run out (0.5 s for the two processes' clocks).
    assert len(gaps) >= 2 and min(gaps) >= RETRY_AFTER - 0.5, gaps
    samples = fleet.scrape()
    assert value(samples, "qsan_api_requests_total", "429", endpoint=HARDWARE,
                 code="429") >= 3
    assert value(samples, "qsan_up", "429") == 0
    assert_healthy(fleet, samples)


# --- a 2xx answer made bad ----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["malformed", "truncated", "wrongtypes", "missing"])
def test_a_bad_body_fails_at_most_its_own_collector(fleet: Fleet, name: str) -> None:
    wait_polls(fleet, name, DISKS, 1)
    wait_polls(fleet, name, LOGS, 1)  # a whole poll after the bad answer
    samples = fleet.scrape()
    assert fleet.sims[name].stats_snapshot()["faults_injected"] >= 1
    assert value(samples, "qsan_up", name) == 1
    states = collectors(samples, name)
    assert {c: v for c, v in states.items() if c != "disks"} == dict.fromkeys(
        ("system", "pools", "volumes", "iscsi", "tasks", "logs"), 1.0)
    if name in ("malformed", "truncated"):  # not JSON at all: the collector fails
        assert states["disks"] == 0
        code = "200" if name == "malformed" else "error"
        assert value(samples, "qsan_api_requests_total", name, endpoint=DISKS, code=code) >= 1
    # wrong types / missing fields: the collector may skip what it cannot read or fail alone;
    # either way the poll went on and the process is alive.
    assert fleet.exporter.get("/-/healthy").status_code == 200
    assert_healthy(fleet, samples)


def test_a_huge_answer_is_refused_without_harm(fleet: Fleet) -> None:
    sim = fleet.sims["huge"]
    sim.faults.add(Fault("huge", DISKS, megabytes=HUGE_MB, count=1))
    wait_for(lambda: not sim.faults.active(), 30, "the huge answer sent")
    wait_polls(fleet, "huge", DISKS, 1)  # a poll after them, answered normally
    wait_polls(fleet, "huge", LOGS, 1)
    # Recovered: on a loaded machine the poll right after the 20 MB answer may still run out
    # of its deadline, so wait (bounded) for a fully green one rather than take the next.
    wait_for(lambda: set(collectors(fleet.scrape(), "huge").values()) == {1.0}, 30,
             "every collector of the huge array green again")
    samples = fleet.scrape()
    assert value(samples, "qsan_api_requests_total", "huge", endpoint=DISKS, code="error") == 1
    assert value(samples, "qsan_up", "huge") == 1
    assert "larger than 8 MiB" in fleet.exporter.log_text()
    assert_healthy(fleet, samples)


# --- authentication -----------------------------------------------------------------------------

def test_rejected_logins_stay_within_the_login_budget(fleet: Fleet) -> None:
    sim = fleet.sims["loginfail"]
    wait_polls(fleet, "ok-a", HARDWARE, 3)  # more poll intervals pass
    elapsed = time.monotonic() - sim.stats.request_times(LOGIN)[0]
    # api/guard.py: after a rejected login, none for LOGIN_BACKOFF_START_SECONDS.
    assert elapsed < LOGIN_BACKOFF_START_SECONDS
    assert requests_to(sim, LOGIN) == 1
    assert sim.stats.failed_logins == 1 and sim.stats.requests == 1
    samples = fleet.scrape()
    assert value(samples, "qsan_auth_login_failures_total", "loginfail") == 1
    assert value(samples, "qsan_up", "loginfail") == 0
    assert value(samples, "qsan_poll_backoff", "loginfail") == 1
    next_attempt = value(samples, "qsan_poll_next_attempt_timestamp_seconds", "loginfail")
    assert next_attempt > time.time() + LOGIN_BACKOFF_START_SECONDS / 2
    assert "suspended" in fleet.exporter.get("/").text or "rejected" in fleet.exporter.get(
        "/").text
    assert_healthy(fleet, samples)


def test_revoked_tokens_mean_exactly_one_new_login(fleet: Fleet) -> None:
    sim = fleet.sims["revoked"]
    assert sim.stats.logins == 1
    assert sim.revoke_all_tokens() >= 1
    wait_polls(fleet, "revoked", LOGS, 2)  # two whole polls after the revocation
    assert sim.stats.logins == 2
    assert sim.stats.max_live_token_sets == 1 and sim.live_token_sets() == 1
    samples = fleet.scrape()
    assert value(samples, "qsan_up", "revoked") == 1
    assert set(collectors(samples, "revoked").values()) == {1.0}
    assert value(samples, "qsan_auth_logins_total", "revoked") == 2
    assert value(samples, "qsan_api_requests_total", "revoked", endpoint=HARDWARE,
                 code="401") == 1


# --- request limits -----------------------------------------------------------------------------

def test_at_most_one_request_in_flight_per_array_unless_configured(fleet: Fleet) -> None:
    wait_polls(fleet, "parallel", LOGS, 2, timeout=40)
    wait_polls(fleet, "latency", LOGS, 2, timeout=40)
    for name, sim in fleet.sims.items():
        peak = sim.stats_snapshot()["max_concurrent_requests"]
        if name == "parallel":  # max_concurrent_requests: 3, and 0.1 s per call
            assert 2 <= peak <= 3, peak
        elif name == "slow":
            # The request the deadline abandons is still served (0.5 s) by the simulator when
            # the next poll may begin: one in flight from the exporter, two at the array.
            assert peak <= 2, peak
        elif name != "hang":  # a hung request stays "in flight" at the simulator for good
            assert peak == 1, (name, peak)


def test_global_request_cap_across_arrays(tmp_path: Path) -> None:
    """--api.max-concurrent-requests: the cap over all arrays together, each allowed 3."""
    sims = [SimulatedArray(SimulatorConfig(username="monitor", password=PASSWORD, seed=i),
                           host="127.0.0.1", port=0).start() for i in range(4)]
    try:
        for sim in sims:
            sim.faults.add(Fault("latency", "/rest/v1/*", seconds=0.05))
        peaks = {cap: _peak_in_flight(sims, cap, tmp_path / f"cap{cap}") for cap in (0, 2)}
    finally:
        for sim in sims:
            sim.faults.clear()
            sim.stop()
    assert peaks[0] >= 3, peaks  # without a cap the measurement sees more than 2...
    assert peaks[2] == 2, peaks  # ...with it, never more


def _peak_in_flight(sims: list[SimulatedArray], cap: int, tmp: Path) -> int:
    """Sampled peak of requests in flight at all the simulators together (a lower bound of
    the true peak; the simulator counts a request only while the client holds its slot)."""
    tmp.mkdir()
    config = write_config(tmp / "config.yml", {f"g{i}": sim for i, sim in enumerate(sims)},
                          password=PASSWORD, api="unified", interval_seconds=4,
                          timeout_seconds=3, max_concurrent_requests=3)
    stop = threading.Event()
    peak = 0

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, sum(s.stats.concurrent_requests for s in sims))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    logs = [s.stats.requests_by_path.get(LOGS, 0) for s in sims]
    exporter = Exporter([f"--config.file={config}", f"--api.max-concurrent-requests={cap}"],
                        tmp / "exporter.log")
    try:
        wait_for(lambda: all(s.stats.requests_by_path.get(LOGS, 0) >= n + 1
                             for s, n in zip(sims, logs, strict=True)), 30, "a poll each")
    finally:
        # Sampled while polling only: stopping cuts the polls in flight (the simulators still
        # count each for the rest of its latency) and sends every array's revoke at once.
        stop.set()
        sampler.join(2)
        assert exporter.stop() == 0
    return peak


# --- shutdown (an exporter of its own: the module's fleet keeps running) ------------------------

def test_sigterm_while_an_array_hangs_exits_and_revokes_the_others(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ("ok-a", "ok-b", "latency"))
    try:
        # Every array logged in (a poll reached the hardware), then ok-b hangs on everything,
        # so even its revoke will hang.
        wait_for(lambda: all(requests_to(sim, HARDWARE) >= 1 for sim in fleet.sims.values()),
                 30, "a poll of every array")
        fleet.sims["ok-b"].faults.add(Fault("hang", "*"))
        wait_for(lambda: fleet.sims["ok-b"].stats_snapshot()["faults_injected"] >= 1, 20,
                 "a poll of ok-b to hang")
        process = fleet.exporter.process
        process.send_signal(signal.SIGTERM)
        code = process.wait(15)  # a liveness bound, not a speed target
        assert code == 0
        holding = {name: sim.live_token_sets() for name, sim in fleet.sims.items()}
        assert holding.pop("ok-b") == 1  # could not be revoked: it hangs
        assert not any(holding.values()), holding
        assert fleet.sims["ok-a"].stats.revokes == 1
    finally:
        fleet.close()
