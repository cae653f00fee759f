"""The RequestGuard in front of every request: what the exporter will not do to an array."""

from __future__ import annotations

import threading
import time
from email.utils import formatdate

import pytest
import responses

from qsan_exporter.api.errors import ApiAuthError, ApiFormatError, ApiHTTPError, ApiUnreachable
from qsan_exporter.api.guard import GlobalLimit, RequestGuard
from tests.client_helpers import BASE, POOLS, T0, Clock, add_login, calls_to, make


def test_rejected_login_suspends_logins_then_doubles(rsps) -> None:
    clock = Clock()
    add_login(rsps, status=401)
    client = make(clock)
    with pytest.raises(ApiAuthError, match="rejected"):
        client.get(POOLS)
    for _ in range(5):  # five more polls inside the budget window: nothing is sent
        clock.now += 50
        with pytest.raises(ApiAuthError, match="suspended"):
            client.get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 1
    clock.now = T0 + 301
    with pytest.raises(ApiAuthError, match="rejected"):
        client.get(POOLS)
    assert len(calls_to(rsps, "/auth/get")) == 2
    assert client.guard.login_blocked_until == pytest.approx(clock.now + 600)  # doubled
    assert client.guard.login_failures_total == 2


def test_accepted_login_resets_the_budget(rsps) -> None:
    clock = Clock()
    add_login(rsps, status=401)
    client = make(clock)
    with pytest.raises(ApiAuthError):
        client.get(POOLS)
    rsps.replace(responses.POST, BASE + "/auth/get",
                 json={"accessToken": "A", "refreshToken": "R", "expireTime": int(T0 + 7200)})
    rsps.add(responses.GET, BASE + POOLS, json={"pools": []})
    clock.now += 301
    assert client.get(POOLS) == {"pools": []}
    assert client.guard.login_failures == 0 and client.guard.login_blocked_until == 0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(rsps, status) -> None:
    clock = Clock()
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, status=status, json={},
             headers={"Retry-After": "120"})
    client = make(clock)
    with pytest.raises(ApiHTTPError):
        client.get(POOLS)
    clock.now += 60
    with pytest.raises(ApiUnreachable, match="Retry-After"):
        client.get(POOLS)
    assert len(calls_to(rsps, POOLS)) == 1  # nothing sent while asked to wait
    clock.now += 61
    with pytest.raises(ApiHTTPError):
        client.get(POOLS)
    assert len(calls_to(rsps, POOLS)) == 2


def test_close_revokes_even_inside_a_retry_after_wait(rsps) -> None:
    """Regression (found by bench/soak.py): the revoke at shutdown was refused by the guard
    while a 429's Retry-After ran, leaving the token set alive on the array."""
    clock = Clock()
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, status=429, json={}, headers={"Retry-After": "120"})
    rsps.add(responses.POST, BASE + "/auth/revoke", json={})
    client = make(clock)
    with pytest.raises(ApiHTTPError):
        client.get(POOLS)
    clock.now += 10  # still inside the wait: a poll would send nothing
    with pytest.raises(ApiUnreachable, match="Retry-After"):
        client.get(POOLS)
    client.close()
    assert len(calls_to(rsps, "/auth/revoke")) == 1
    assert len(calls_to(rsps, POOLS)) == 1


def test_a_request_queued_behind_a_429_is_not_sent() -> None:
    """Regression: Retry-After was checked only before waiting for the array's slot, so with
    max_concurrent_requests > 1 a request queued behind the one answered 429 went out at once."""
    clock = Clock()
    guard = RequestGuard("a", per_array=1, clock=clock)
    holding, answered = threading.Event(), threading.Event()
    outcome: list[str] = []

    def first() -> None:
        with guard.slot("GET /first"):
            holding.set()
            answered.wait(5)
            guard.retry_after("60")  # what the client does on a 429 before releasing

    def second() -> None:
        try:
            with guard.slot("GET /second"):
                outcome.append("sent")
        except ApiUnreachable as exc:
            outcome.append(str(exc))

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(5)
    threads.append(threading.Thread(target=second))
    threads[1].start()
    time.sleep(0.2)  # lets the second request queue for the slot (not a timing assertion)
    answered.set()
    for thread in threads:
        thread.join(5)
    assert len(outcome) == 1 and "Retry-After" in outcome[0], outcome


def test_retry_after_as_http_date_and_bounded() -> None:
    clock = Clock()
    guard = RequestGuard("a", clock=clock)
    assert guard.retry_after(formatdate(T0 + 20, usegmt=True)) == pytest.approx(20)
    assert guard.retry_after("99999999") == 3600  # never more than an hour
    assert guard.retry_after("soon") is None


def test_deadline_passed_sends_nothing(rsps) -> None:
    clock = Clock()
    add_login(rsps)
    client = make(clock)
    client.guard.deadline = clock.now - 1
    with pytest.raises(ApiUnreachable, match="deadline"):
        client.get(POOLS)
    assert len(rsps.calls) == 0


def test_request_timeout_is_cut_to_the_deadline(rsps) -> None:
    clock = Clock()
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, json={"pools": []})
    client = make(clock, timeout=10.0)
    client.guard.deadline = clock.now + 2.5
    client.get(POOLS)
    timeouts = [c.request.req_kwargs["timeout"] for c in rsps.calls]
    assert timeouts == [2.5, 2.5]


def test_oversized_answer_is_refused(rsps) -> None:
    clock = Clock()
    add_login(rsps)
    rsps.add(responses.GET, BASE + POOLS, body=b"[" + b"0," * 5000 + b"0]")
    client = make(clock, max_response_bytes=1000)
    with pytest.raises(ApiFormatError, match="larger than"):
        client.get(POOLS)


def _slow_pools(rsps, delay: float, counter: dict) -> None:
    lock = threading.Lock()

    def answer(request):
        with lock:
            counter["now"] += 1
            counter["peak"] = max(counter["peak"], counter["now"])
        time.sleep(delay)
        with lock:
            counter["now"] -= 1
        return 200, {}, '{"pools": []}'

    rsps.add_callback(responses.GET, BASE + POOLS, callback=answer)


def test_one_request_in_flight_per_array(rsps) -> None:
    add_login(rsps)
    counter = {"now": 0, "peak": 0}
    _slow_pools(rsps, 0.05, counter)
    client = make(time.time)  # type: ignore[arg-type]
    client.get(POOLS)  # log in first
    threads = [threading.Thread(target=client.get, args=(POOLS,)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert counter["peak"] == 1
    assert len(calls_to(rsps, POOLS)) == 7


def test_global_limit_across_arrays(rsps) -> None:
    add_login(rsps)
    counter = {"now": 0, "peak": 0}
    _slow_pools(rsps, 0.05, counter)
    limit = GlobalLimit(2)
    clients = [make(time.time, guard=RequestGuard(f"a{i}", global_limit=limit))  # type: ignore
               for i in range(5)]
    for client in clients:
        client.get(POOLS)
    threads = [threading.Thread(target=c.get, args=(POOLS,)) for c in clients for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert counter["peak"] == 2
