"""Fault injection in the simulator, over real HTTP: every kind, matching, expiry, the three ways
to switch faults, and the stats the exporter's own tests rely on (concurrency, arrival times)."""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from qsan_exporter.simulator import (
    Fault,
    SimulatedArray,
    SimulatorConfig,
    Stats,
    mangle,
    parse_fault,
)
from qsan_exporter.simulator import cli as simulator_cli
from qsan_exporter.simulator.stats import REQUEST_TIMES_KEPT

DISKS = "/rest/v1/storage/disk/list"
POOLS = "/rest/v1/storage/pool/list"  # a static body: byte-identical between requests
HARDWARE = "/rest/v1/hardware/info"
LOGIN = {"user": "admin", "password": "admin", "offlineAccess": True}


class Client:
    """A logged-in session against one simulated array."""

    def __init__(self, sim: SimulatedArray) -> None:
        self.sim = sim
        self.session = requests.Session()
        response = self.session.post(sim.url + "/auth/get", json=LOGIN, timeout=5)
        assert response.status_code == 200, response.text
        self.tokens = response.json()

    def get(self, path: str, timeout: float = 5, **kwargs: Any) -> requests.Response:
        return self.session.get(self.sim.url + path, timeout=timeout,
                                headers={"Authorization": self.tokens["accessToken"]}, **kwargs)


@pytest.fixture
def start() -> Iterator[Callable[..., SimulatedArray]]:
    started: list[SimulatedArray] = []

    def _start(**options: Any) -> SimulatedArray:
        sim = SimulatedArray(SimulatorConfig(**options)).start()
        started.append(sim)
        return sim

    yield _start
    for sim in started:
        sim.faults.clear()
        sim.stop()


@pytest.fixture
def client(start: Callable[..., SimulatedArray]) -> Client:
    return Client(start())


def raw_get(sim: SimulatedArray, path: str, token: str) -> bytes:
    """Everything the server sends before it closes, read off a plain socket."""
    with socket.create_connection((sim.host, sim.port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def count_keys(node: Any) -> int:
    if isinstance(node, dict):
        return len(node) + sum(count_keys(v) for v in node.values())
    if isinstance(node, list):
        return sum(count_keys(v) for v in node)
    return 0


# -- one test per kind --------------------------------------------------------------------------
def test_status_answers_the_error_code_with_a_json_body(client: Client) -> None:
    client.sim.faults.add(Fault(kind="status", route=DISKS, status=502))
    response = client.get(DISKS)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == 502
    assert client.get(POOLS).status_code == 200  # another route is untouched
    assert client.sim.stats.faults_injected == 1


def test_rate_limit_answers_429_with_retry_after(client: Client) -> None:
    client.sim.faults.add(Fault(kind="rate_limit", route="*", retry_after=17))
    response = client.get(DISKS)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "17"
    assert response.json()["code"] == 429


def test_latency_delays_a_normal_answer(client: Client) -> None:
    client.sim.faults.add(Fault(kind="latency", route=POOLS, seconds=0.25))
    began = time.monotonic()
    response = client.get(POOLS)
    assert time.monotonic() - began >= 0.25
    assert response.status_code == 200 and "pools" in response.json()
    began = time.monotonic()
    assert client.get(HARDWARE).status_code == 200
    assert time.monotonic() - began < 0.25


def test_hang_holds_the_request_until_cleared(client: Client) -> None:
    client.sim.faults.add(Fault(kind="hang", route=DISKS))
    with pytest.raises(requests.Timeout):
        client.get(DISKS, timeout=0.3)
    assert client.sim.stats.concurrent_requests == 1  # still held by the simulator
    client.sim.faults.clear()
    assert client.get(DISKS).status_code == 200
    deadline = time.monotonic() + 2
    while client.sim.stats.concurrent_requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.sim.stats.concurrent_requests == 0  # the hung one was released


def test_malformed_json_is_200_and_not_json(client: Client) -> None:
    client.sim.faults.add(Fault(kind="malformed_json", route=POOLS))
    response = client.get(POOLS)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(response.content)


def test_truncated_announces_the_full_length_and_sends_part(client: Client) -> None:
    full = client.get(POOLS).content
    client.sim.faults.add(Fault(kind="truncated", route=POOLS))
    raw = raw_get(client.sim, POOLS, client.tokens["accessToken"])
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert int(re.search(rb"Content-Length: (\d+)", head).group(1)) == len(full)  # type: ignore[union-attr]
    assert 0 < len(body) < len(full) and full.startswith(body)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.get(POOLS)


def test_wrong_types_is_valid_json_with_other_types_and_deterministic(client: Client) -> None:
    real = client.get(POOLS).content
    client.sim.faults.add(Fault(kind="wrong_types", route=POOLS, seed=4))
    first, second = client.get(POOLS), client.get(POOLS)
    assert first.status_code == 200
    assert first.content == second.content == mangle.wrong_types(real, 4)
    assert first.content != real
    wrong = first.json()["pools"][0]
    right = json.loads(real)["pools"][0]
    retyped = [k for k in right if k in wrong and type(wrong[k]) is not type(right[k])]
    assert retyped, (right, wrong)
    assert mangle.wrong_types(real, 5) != mangle.wrong_types(real, 4)


def test_missing_fields_drops_keys_deterministically(client: Client) -> None:
    real = client.get(POOLS).content
    client.sim.faults.add(Fault(kind="missing_fields", route=POOLS, seed=2))
    first, second = client.get(POOLS), client.get(POOLS)
    assert first.status_code == 200
    assert first.content == second.content == mangle.missing_fields(real, 2)
    assert count_keys(first.json()) < count_keys(json.loads(real))
    depths = {len(p) for p in _missing_key_paths(json.loads(real), first.json())}
    assert max(depths) >= 3, depths  # removed inside the pool entries, not only at the top
    assert mangle.missing_fields(b'{"a": 1}', 0) == b"{}"  # at least one key always goes


def _missing_key_paths(real: Any, got: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(real, dict) and isinstance(got, dict):
        missing = [(*path, k) for k in real if k not in got]
        return missing + [p for k in real if k in got
                          for p in _missing_key_paths(real[k], got[k], (*path, k))]
    if isinstance(real, list) and isinstance(got, list):
        return [p for i, (r, g) in enumerate(zip(real, got, strict=False))
                for p in _missing_key_paths(r, g, (*path, i))]
    return []


def test_huge_is_valid_json_of_twenty_megabytes_by_default(client: Client) -> None:
    real = client.get(POOLS).json()
    client.sim.faults.add(Fault(kind="huge", route=POOLS))
    response = client.get(POOLS)
    assert response.status_code == 200
    assert len(response.content) >= 20 * 1024 * 1024
    body = response.json()
    assert body["pools"] == real["pools"]
    assert len(body[mangle.PADDING_KEY]) > 20_000  # 1 KiB strings


def test_deep_and_many_keys_are_valid_json_of_that_shape(client: Client) -> None:
    client.sim.faults.add(Fault(kind="deep", route=POOLS, depth=50, count=1))
    client.sim.faults.add(Fault(kind="many_keys", route=POOLS, keys=1000, count=1))
    body = client.get(POOLS).json()
    for _ in range(49):
        (body,) = body
    assert body == []
    assert client.get(POOLS).json() == {f"k{i}": 0 for i in range(1000)}
    assert parse_fault("deep:*:7").depth == 7 and parse_fault("many_keys:*:9").keys == 9


def test_trickle_sends_headers_and_body_a_piece_at_a_time(client: Client) -> None:
    real = client.get(POOLS).content
    client.sim.faults.add(Fault(kind="trickle", route=POOLS, seconds=0.005, chunk_bytes=64))
    pieces: list[bytes] = []
    raw = socket.create_connection((client.sim.host, client.sim.port), timeout=5)
    with raw:
        raw.sendall(f"GET {POOLS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    f"Authorization: {client.tokens['accessToken']}\r\n\r\n".encode())
        while chunk := raw.recv(65536):
            pieces.append(chunk)
    answer = b"".join(pieces)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(real)
    # Many small pieces (a busy reader may find a few merged): never the answer in one.
    assert len(answer) > 640 and len(pieces) >= 5 and max(map(len, pieces)) < len(answer) // 2
    # Cleared: the connection's next answer goes out at normal speed.
    client.sim.faults.clear()
    assert client.get(POOLS).content == real


def test_reset_closes_with_rst(client: Client) -> None:
    client.sim.faults.add(Fault(kind="reset", route=DISKS))
    with socket.create_connection((client.sim.host, client.sim.port), timeout=5) as s:
        s.sendall(f"GET {DISKS} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        with pytest.raises(ConnectionResetError):  # a FIN would read b"" instead
            s.recv(65536)
    with pytest.raises(requests.ConnectionError):
        client.get(DISKS)
    assert client.get(POOLS).status_code == 200


def test_login_fail_refuses_right_credentials_and_counts_them(start: Any) -> None:
    sim = start()
    sim.faults.add(Fault(kind="login_fail", route="*"))
    for _ in range(2):
        assert requests.post(sim.url + "/auth/get", json=LOGIN, timeout=5).status_code == 401
    assert sim.stats.failed_logins == 2 and sim.stats.logins == 0
    assert sim.live_token_sets() == 0
    sim.faults.clear()
    assert requests.post(sim.url + "/auth/get", json=LOGIN, timeout=5).status_code == 200


def test_revoke_all_tokens_makes_the_next_get_401(client: Client) -> None:
    assert client.get(DISKS).status_code == 200
    assert client.sim.revoke_all_tokens() == 1
    assert client.get(DISKS).status_code == 401
    refresh = client.session.post(client.sim.url + "/auth/refresh", timeout=5,
                                  json={"refreshToken": client.tokens["refreshToken"]})
    assert refresh.status_code == 401
    stats = client.sim.stats
    assert stats.forced_revokes == 1 and stats.revokes == 0
    assert client.sim.live_token_sets() == 0
    assert Client(client.sim).get(DISKS).status_code == 200  # a new login works


# -- matching and expiry ------------------------------------------------------------------------
def test_count_expires_the_fault(client: Client) -> None:
    faults = client.sim.faults
    faults.add(Fault(kind="status", route=DISKS, status=500, count=2))
    assert client.get(DISKS).status_code == 500
    assert faults.active()[0].count == 1  # what remains
    assert client.get(DISKS).status_code == 500
    assert faults.active() == [] and not faults.armed
    assert client.get(DISKS).status_code == 200


def test_probability_is_a_seeded_deterministic_sequence(start: Any) -> None:
    outcomes = []
    for _ in range(2):
        c = Client(start())
        c.sim.faults.add(Fault(kind="status", route=DISKS, status=503, probability=0.5, seed=7))
        outcomes.append([c.get(DISKS).status_code for _ in range(30)])
    rng = random.Random(7)
    expected = [503 if rng.random() < 0.5 else 200 for _ in range(30)]
    assert outcomes[0] == outcomes[1] == expected
    assert 503 in expected and 200 in expected


def test_routes_exact_prefix_star_and_first_match_wins(client: Client) -> None:
    faults = client.sim.faults
    faults.add(Fault(kind="status", route="/rest/v1/backup/*", status=502))
    faults.add(Fault(kind="status", route=DISKS, status=500))
    faults.add(Fault(kind="status", route="/rest/v1/storage/*", status=503))
    assert client.get("/rest/v1/backup/snapshot/list").status_code == 502
    assert client.get("/rest/v1/backup/clone/list").status_code == 502
    assert client.get(DISKS).status_code == 500  # added before the broader prefix
    assert client.get(POOLS).status_code == 503
    assert client.get(HARDWARE).status_code == 200
    faults.clear()
    faults.add(Fault(kind="malformed_json", route="*"))
    assert client.session.post(client.sim.url + "/auth/get", json=LOGIN, timeout=5).json()
    with pytest.raises(ValueError):
        client.get(HARDWARE).json()
    faults.clear()
    faults.add(Fault(kind="status", route="*", status=500))  # answering kinds do hit /auth/*
    assert client.session.post(client.sim.url + "/auth/get", json=LOGIN,
                               timeout=5).status_code == 500
    faults.clear()
    faults.add(Fault(kind="login_fail", route="*"))
    assert client.get(HARDWARE).status_code == 200  # login_fail only touches /auth/get
    assert Fault(kind="wrong_types", route="/auth/*").matches("/auth/get")
    assert not Fault(kind="status", route=DISKS).matches(DISKS + "x")


def test_fault_values_are_validated() -> None:
    for bad in ({"kind": "nope"}, {"kind": "revoke_tokens"}, {"kind": "status", "status": 200},
                {"kind": "status", "route": "rest"}, {"kind": "status", "route": "/a*b"},
                {"kind": "hang", "count": 0}, {"kind": "hang", "probability": 0},
                {"kind": "latency", "seconds": -1}, {"kind": "huge", "megabytes": 0}):
        with pytest.raises(ValueError):
            Fault(**bad)
    with pytest.raises(TypeError):
        SimulatedArray(SimulatorConfig()).faults.add("status:*:500")  # type: ignore[arg-type]


# -- switching: admin endpoint and CLI ----------------------------------------------------------
def test_admin_endpoint_round_trip(client: Client) -> None:
    sim, url = client.sim, client.sim.url + "/_sim/faults"
    added = requests.post(url, json={"kind": "status", "route": DISKS, "status": 500, "count": 3},
                          timeout=5)
    assert added.status_code == 201 and added.json()["fault"]["status"] == 500
    assert requests.post(url, json="latency:*:0.01", timeout=5).status_code == 201
    listed = requests.get(url, timeout=5).json()["faults"]
    assert [(f["kind"], f["count"]) for f in listed] == [("status", 3), ("latency", None)]
    assert sim.faults.active()[1].seconds == 0.01
    assert client.get(DISKS).status_code == 500
    assert requests.get(url, timeout=5).json()["faults"][0]["count"] == 2
    for bad in ({"kind": "status", "colour": "red"}, {"kind": "revoke_tokens"}, {"route": "*"},
                ["status"], "status"):
        response = requests.post(url, json=bad, timeout=5)
        assert response.status_code == 400 and response.json()["message"], bad
    assert requests.delete(url, timeout=5).json() == {"cleared": 2}
    assert sim.faults.active() == []
    assert client.get(DISKS).status_code == 200
    revoked = requests.post(sim.url + "/_sim/revoke-tokens", timeout=5)
    assert revoked.status_code == 200 and revoked.json()["revoked_access_tokens"] == 1
    assert client.get(DISKS).status_code == 401
    stats = requests.get(sim.url + "/_sim/stats", timeout=5).json()
    assert stats["forced_revokes"] == 1 and stats["live_token_sets"] == 0
    assert stats["requests"] == 4 and stats["logins"] == 1  # /_sim/* is not counted
    assert stats["requests_by_path"] == {"/auth/get": 1, DISKS: 3}
    assert {"max_concurrent_requests", "concurrent_requests", "failed_logins", "refreshes",
            "revokes", "max_live_token_sets"} <= set(stats)
    assert requests.put(url, timeout=5).status_code == 405
    assert requests.get(sim.url + "/_sim/nothing", timeout=5).status_code == 404


def test_parse_fault_cli_syntax() -> None:
    assert parse_fault("latency:*:0.05") == Fault(kind="latency", route="*", seconds=0.05)
    assert parse_fault(f"status:{DISKS}:500") == Fault(kind="status", route=DISKS, status=500)
    assert parse_fault("rate_limit:*:30").retry_after == 30
    assert parse_fault("huge:/rest/v1/log/list:2").megabytes == 2.0
    assert parse_fault("wrong_types:*:9").seed == 9
    assert parse_fault("hang:/rest/v1/backup/*") == Fault(kind="hang", route="/rest/v1/backup/*")
    assert parse_fault("status:*:502:count=3:probability=0.5:seed=7") == Fault(
        kind="status", route="*", status=502, count=3, probability=0.5, seed=7)
    for bad in ("latency", "latency:", "reset:*:3", "status:*:abc", "status:*:500:colour=red",
                "status:*:500:status=502", "teleport:*", "latency:nowhere:1"):
        with pytest.raises(ValueError):
            parse_fault(bad)
    parser = argparse.ArgumentParser()
    simulator_cli.add_arguments(parser)
    args = parser.parse_args(["--fault", "latency:*:0.05", "--fault", "rate_limit:*:30"])
    assert args.fault == ["latency:*:0.05", "rate_limit:*:30"]


CLI = ("import argparse, sys\nfrom qsan_exporter.simulator import cli\n"
       "p = argparse.ArgumentParser()\ncli.add_arguments(p)\n"
       "sys.exit(cli.run(p.parse_args(sys.argv[1:])))")


def test_cli_starts_with_faults_in_order_and_refuses_bad_ones() -> None:
    bad = subprocess.run([sys.executable, "-c", CLI, "--listen=127.0.0.1:0", "--fault=oops:*"],
                         capture_output=True, text=True, timeout=20)
    assert bad.returncode == 1 and "kind must be one of" in bad.stderr
    process = subprocess.Popen([sys.executable, "-c", CLI, "--listen=127.0.0.1:0",
                                f"--fault=status:{DISKS}:500", "--fault=rate_limit:*:30"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = re.search(r"http://\S+", process.stdout.readline()).group(0)  # type: ignore[union-attr]
        listed = requests.get(url + "/_sim/faults", timeout=5).json()["faults"]
        assert [(f["kind"], f["route"]) for f in listed] == [("status", DISKS),
                                                             ("rate_limit", "*")]
        assert requests.get(url + DISKS, timeout=5).status_code == 500
        assert requests.get(url + POOLS, timeout=5).headers["Retry-After"] == "30"
    finally:
        process.terminate()
        process.wait(10)


# -- stats for the exporter's tests -------------------------------------------------------------
def test_max_concurrent_requests_counts_requests_in_flight(start: Any) -> None:
    sim = start()
    for _ in range(5):
        assert requests.get(sim.url + HARDWARE, timeout=5).status_code == 401  # one at a time
    assert sim.stats.max_concurrent_requests == 1
    sim.faults.add(Fault(kind="latency", route=HARDWARE, seconds=0.3))
    barrier = threading.Barrier(4)

    def one() -> None:
        barrier.wait()
        requests.get(sim.url + HARDWARE, timeout=5)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sim.stats.max_concurrent_requests == 4
    assert sim.stats.concurrent_requests == 0


def test_request_times_show_the_gaps_between_requests(client: Client) -> None:
    for gap in (0.0, 0.1, 0.2):
        time.sleep(gap)
        client.get(DISKS)
    client.get(POOLS)
    times = client.sim.stats.request_times(DISKS)
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert 0.1 <= gaps[0] < gaps[1] and gaps[1] >= 0.2
    assert len(client.sim.stats.request_times()) == 5  # login, 3 disk lists, 1 pool list
    assert client.sim.stats.request_times("/nothing") == []


def test_request_times_keep_the_last_ten_thousand() -> None:
    stats = Stats()
    for i in range(REQUEST_TIMES_KEPT + 50):
        stats.arrive("/even" if i % 2 == 0 else "/odd", float(i))
    everything = stats.request_times()
    assert len(everything) == REQUEST_TIMES_KEPT
    assert everything[0] == 50.0 and everything[-1] == REQUEST_TIMES_KEPT + 49
    assert stats.request_times("/even")[:2] == [50.0, 52.0]
    assert stats.requests == REQUEST_TIMES_KEPT + 50


def test_stop_returns_promptly_with_a_hung_request_in_flight(start: Any) -> None:
    sim = start()
    sim.faults.add(Fault(kind="hang", route="*"))
    outcome: list[BaseException | int] = []

    def hung() -> None:
        try:
            outcome.append(requests.get(sim.url + DISKS, timeout=10).status_code)
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=hung)
    thread.start()
    deadline = time.monotonic() + 2
    while sim.stats.concurrent_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.stats.concurrent_requests == 1
    began = time.monotonic()
    sim.stop()
    assert time.monotonic() - began < 1.0
    thread.join(2)
    assert not thread.is_alive()
    assert isinstance(outcome[0], requests.ConnectionError)  # dropped, not answered
    deadline = time.monotonic() + 1
    while sim.stats.concurrent_requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.stats.concurrent_requests == 0  # the handler thread let go
