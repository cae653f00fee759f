"""Token sets bounded whatever fails, in both readings of the manual, on a fake clock.

The simulator's token state and the client share one injected clock and talk real HTTP on
loopback, so 24 simulated hours of mixed faults take seconds. What is counted is what the array
sees (`live_token_sets`, `max_live_token_sets`, `failed_logins`), never the client's own view.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator

import pytest

from qsan_exporter.api.errors import ApiError, ApiUnreachable
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.token_ledger import MAX_LIVE_TOKEN_SETS, TokenLedger
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.readings import AUTH_READINGS
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig
from qsan_exporter.simulator.faults import Fault

USER, PASSWORD = "monitor", "secret-pw"
PATH = "/rest/v1/storage/pool/list"
T0 = 1_800_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def array() -> Iterator[Callable[..., SimulatedArray]]:
    started: list[SimulatedArray] = []

    def start(clock: FakeClock, **options: object) -> SimulatedArray:
        options = {"username": USER, "password": PASSWORD, **options}
        sim = SimulatedArray(SimulatorConfig(**options), clock=clock)  # type: ignore[arg-type]
        started.append(sim.start())
        return sim

    yield start
    for sim in started:
        sim.stop()


def client_for(sim: SimulatedArray, clock: FakeClock, ledger: TokenLedger | None = None, *,
               password: str = PASSWORD, timeout: float = 2.0) -> UnifiedClient:
    return UnifiedClient(sim.url, USER, password, clock=clock, timeout=timeout,
                         guard=RequestGuard("a", clock=clock), ledger=ledger, name="a")


def test_every_auth_reading_names_the_module_that_reads_both_ways() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    assert {r.name for r in AUTH_READINGS} == {"refresh-body-key", "login-refused-status"}
    for reading in AUTH_READINGS:
        assert reading.name in (root / reading.where).read_text(), reading.name


# --- the literal simulator ----------------------------------------------------------------------


@pytest.mark.parametrize("literal", [False, True])
def test_the_literal_array_takes_the_other_reading_of_each_auth_contradiction(
        array, literal) -> None:
    import requests

    sim = array(FakeClock(), literal=literal)
    login = requests.post(sim.url + "/auth/get", json={
        "user": USER, "password": PASSWORD, "offlineAccess": True}, timeout=5).json()
    refresh = login["refreshToken"]
    table = requests.post(sim.url + "/auth/refresh", json={"refreshToken": refresh}, timeout=5)
    example = requests.post(sim.url + "/auth/refresh", json={"refreshToken ": refresh},
                            timeout=5)
    assert (table.status_code, example.status_code) == ((400, 200) if literal else (200, 200))
    wrong = requests.post(sim.url + "/auth/get", json={"user": USER, "password": "nope"},
                          timeout=5)
    assert wrong.status_code == (400 if literal else 401)
    sim.faults.add(Fault(kind="login_fail", route="/auth/get", count=1))
    refused = requests.post(sim.url + "/auth/get", json={"user": USER, "password": PASSWORD},
                            timeout=5)
    assert refused.status_code == (400 if literal else 401)
    revoke_table = requests.post(sim.url + "/auth/revoke", json={"refreshToken": refresh},
                                 timeout=5)
    assert revoke_table.status_code == (400 if literal else 200)
    assert sim.stats.bad_auth_requests == (2 if literal else 0)
    assert sim.stats.failed_logins == 2


# --- a login whose answer was lost -------------------------------------------------------------


def test_only_a_login_that_may_have_reached_the_array_counts_as_a_lost_set(
        array, tmp_path, closed_port) -> None:
    clock = FakeClock()
    nobody = UnifiedClient(f"http://127.0.0.1:{closed_port}", USER, PASSWORD, clock=clock,
                           timeout=1)
    with pytest.raises(ApiUnreachable) as refused:
        nobody.get(PATH)
    assert refused.value.may_have_acted is False
    sim = array(clock)
    sim.faults.add(Fault(kind="hang", route="/auth/get", count=1))
    ledger = TokenLedger(clock=clock)
    client = client_for(sim, clock, ledger, timeout=0.2)
    with pytest.raises(ApiUnreachable) as timed_out:
        client.get(PATH)
    assert timed_out.value.may_have_acted is True
    assert ledger.count("a") == 1  # counted, though this array never made it
    sim.faults.clear()


# --- the login budget, whatever status refuses the password -------------------------------------


def logins_with_a_wrong_password(array, literal: bool, hours: float) -> int:
    """Poll every 10 s for `hours` with a wrong password; the logins the array saw."""
    clock = FakeClock()
    sim = array(clock, literal=literal)
    client = client_for(sim, clock, password="wrong")
    for _ in range(int(hours * 360)):
        with pytest.raises(ApiError):
            client.get(PATH)
        clock.now += 10
    return sim.stats.failed_logins


def test_a_wrong_password_answered_400_costs_no_more_logins_than_one_answered_401(
        array) -> None:
    """Issue 10: 6 attempts in 20 s with 400. Over two hours of 10 s polls the budget allows
    attempts at 0, 5, 15, 35 and 75 minutes, whichever status the array refuses with."""
    answered_401 = logins_with_a_wrong_password(array, literal=False, hours=2)
    answered_400 = logins_with_a_wrong_password(array, literal=True, hours=2)
    assert answered_401 == 5
    assert answered_400 == answered_401


# --- 24 hours of mixed faults ------------------------------------------------------------------


def _fault(rng: random.Random) -> Fault | str:
    """One misfortune; strings are actions (the array or the exporter restarting)."""
    count = rng.randint(1, 4)
    return rng.choice([
        Fault(kind="status", route="/auth/refresh", status=500, count=count),
        Fault(kind="status", route="/auth/refresh", status=400, count=count),
        Fault(kind="status", route="/auth/revoke", status=500, count=count),
        Fault(kind="status", route="/auth/revoke", status=400, count=count),
        Fault(kind="status", route="/auth/get", status=503, count=1),
        Fault(kind="malformed_json", route="/auth/refresh", count=count),
        Fault(kind="truncated", route="/auth/refresh", count=count),
        Fault(kind="wrong_types", route="/auth/revoke", count=count),
        Fault(kind="reset", route="/auth/*", count=count),
        Fault(kind="rate_limit", route="*", retry_after=30, count=1),
        Fault(kind="status", route="*", status=502, count=count),
        Fault(kind="login_fail", route="/auth/get", count=1),
        "array restart", "array restart",
        "exporter restart", "exporter crash", "reload",
    ])


def _lost_login(rng: random.Random) -> Fault:
    """A login the array carries out but whose answer the client never reads."""
    return rng.choice([
        Fault(kind="malformed_json", route="/auth/get", count=1),
        Fault(kind="truncated", route="/auth/get", count=1),
        Fault(kind="latency", route="/auth/get", seconds=0.4, count=1),  # > the client timeout
    ])


@pytest.mark.slow
@pytest.mark.parametrize("literal", [False, True], ids=["lenient", "literal"])
def test_24_hours_of_mixed_faults_never_hold_more_than_two_token_sets(
        array, tmp_path, literal) -> None:
    clock = FakeClock()
    sim = array(clock, token_lifetime=600, literal=literal)
    rng = random.Random(10 + literal)
    ledger = TokenLedger(tmp_path, clock=clock)

    def fresh(led: TokenLedger) -> UnifiedClient:
        return client_for(sim, clock, led, timeout=0.3)

    client = fresh(ledger)
    ok = steps = 0
    worst = 0
    step, day = 30.0, 86400.0
    lost_logins_at = {T0 + hour * 3600 for hour in (20, 21, 22, 23)}
    while clock.now < T0 + day:
        steps += 1
        if clock.now in lost_logins_at:
            # Last, as each one costs offline access for the refresh token's 180 days: the
            # array forgets every token, and the login that follows loses its answer.
            sim.faults.add(_lost_login(rng))
            sim.revoke_all_tokens()
        elif rng.random() < 0.04:
            event = _fault(rng)
            if isinstance(event, Fault):
                sim.faults.add(event)
            elif event == "array restart":
                sim.revoke_all_tokens()
            elif event == "exporter restart":
                client.close()
                client = fresh(ledger)
            elif event == "exporter crash":  # no close; the next process reads the state
                ledger = TokenLedger(tmp_path, clock=clock)
                client = fresh(ledger)
            elif event == "reload":  # the replacement starts before the old one is closed
                old, client = client, fresh(ledger)
                with contextlib.suppress(ApiError):
                    client.get(PATH)
                old.close()
        try:
            client.get(PATH)
            ok += 1
        except ApiError:
            pass
        worst = max(worst, sim.live_token_sets())
        assert sim.live_token_sets() <= MAX_LIVE_TOKEN_SETS, f"at {clock.now - T0:.0f} s"
        clock.now += step

    assert sim.stats.max_live_token_sets <= MAX_LIVE_TOKEN_SETS  # at every moment
    # It kept working, mostly by refreshing, and revoked what it replaced.
    assert ok > 0.85 * steps, (ok, steps)
    assert sim.stats.refreshes > 100 and sim.stats.revokes > 0, sim.stats_snapshot()
    assert sim.stats.logins < sim.stats.refreshes
    assert sim.stats.evicted_token_sets == 0  # nobody's session was pushed out
    if literal:
        assert sim.stats.bad_auth_requests < 60  # the spelling is remembered
    sim.faults.clear()
    client.close()
    # What is left on the array is at most the logins whose answer was lost: the only sets the
    # exporter can never name; and the ledger still counts every one of them.
    leftover = ledger.count("a")
    assert sim.live_token_sets() <= leftover == MAX_LIVE_TOKEN_SETS
    assert worst == MAX_LIVE_TOKEN_SETS
