"""Basic auth under attack (web/auth.py): bounded bcrypt work, cached verdicts, quiet timing."""

from __future__ import annotations

import base64
import http.client
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import pytest
import requests

from qsan_exporter.web import auth as web_auth
from qsan_exporter.web.auth import BasicAuth
from qsan_exporter.web.config import WebConfig
from qsan_exporter.web.server import HttpServer

PASSWORD = "s3cret-scrape"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(6)).decode()


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"up 1\n"]


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(web_auth.bcrypt, "checkpw", counting)
    return calls


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_a_flood_of_failures_never_evicts_a_good_credential(checks: list[bytes]) -> None:
    auth = BasicAuth(hello, {"prometheus": HASH})
    assert auth.check(b"prometheus", PASSWORD.encode(), "10.0.0.9") is True
    for i in range(300):  # more distinct failures than the success cache holds entries
        auth.check(b"prometheus", f"guess-{i}".encode(), f"10.1.{i // 250}.{i % 250}")
    before = len(checks)
    assert auth.check(b"prometheus", PASSWORD.encode(), "10.0.0.9") is True
    assert len(checks) == before  # still cached: no bcrypt


def test_a_guessing_address_is_refused_unchecked_while_bcrypt_is_busy(
    checks: list[bytes], monkeypatch: pytest.MonkeyPatch,
) -> None:
    auth = BasicAuth(hello, {"prometheus": HASH})
    for i in range(3):
        assert auth.check(b"prometheus", f"guess-{i}".encode(), "10.6.6.6") is False
    assert len(checks) == 3
    busy, free = threading.Event(), threading.Event()
    counting = web_auth.bcrypt.checkpw

    def held(password: bytes, hashed: bytes) -> bool:
        if password == PASSWORD.encode():  # the other client's check holds bcrypt
            busy.set()
            free.wait(10)
        return counting(password, hashed)

    monkeypatch.setattr(web_auth.bcrypt, "checkpw", held)
    other = threading.Thread(target=auth.check,
                             args=(b"prometheus", PASSWORD.encode(), "10.0.0.9"))
    other.start()
    try:
        assert busy.wait(10)  # another check is running
        assert auth.check(b"prometheus", b"guess-x", "10.6.6.6") is None
    finally:
        free.set()
        other.join(10)
    assert len(checks) == 4  # the other client's check; the guess was not checked
    # A refused guess is not cached as a failure: it is checked once bcrypt is free.
    assert auth.check(b"prometheus", b"guess-x", "10.6.6.6") is False
    assert len(checks) == 5


def test_unknown_users_are_checked_against_a_dummy_hash_of_the_same_cost(
    checks: list[bytes],
) -> None:
    auth = BasicAuth(hello, {"prometheus": HASH})
    assert auth.check(b"mallory", PASSWORD.encode(), "10.0.0.1") is False
    assert checks[-1] != HASH.encode()
    assert checks[-1].split(b"$")[2] == HASH.encode().split(b"$")[2]


def test_failures_are_warned_with_the_address_at_most_once_per_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    auth = BasicAuth(hello, {"prometheus": HASH})
    for i in range(20):
        auth.check(b"prometheus", f"guess-{i}".encode(), "192.0.2.7")
    warnings = [r for r in caplog.records if "failed login" in r.getMessage()]
    assert len(warnings) == 1 and "192.0.2.7" in warnings[0].getMessage()
    assert PASSWORD not in caplog.text and "guess-" not in caplog.text


@pytest.mark.slow  # waits out a real deadline or a bcrypt flood (~1 s)
def test_bcrypt_flood_beside_scrapes_fails_no_scrape(checks: list[bytes]) -> None:
    config = WebConfig(basic_auth_users={"prometheus": HASH})
    server = HttpServer(hello, "127.0.0.1:0", web_config=config)
    server.start()
    stop = threading.Event()
    attempts: list[int] = []

    def attacker(n: int) -> None:
        session = requests.Session()
        for i in range(30):
            if stop.is_set():
                return
            answer = session.get(server.url + "/metrics", auth=("prometheus", f"x{n}-{i}"),
                                 timeout=10)
            attempts.append(answer.status_code)

    token = base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()

    def scraper(_: int) -> int:
        # Prometheus scrapes from another address than the attackers, with a credential the
        # exporter has not verified yet when the flood starts.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10,
                                          source_address=("127.0.0.2", 0))
        conn.request("GET", "/metrics", headers={"Authorization": f"Basic {token}"})
        status = conn.getresponse().status
        conn.close()
        return status

    try:
        with ThreadPoolExecutor(24) as pool:
            flood = [pool.submit(attacker, n) for n in range(16)]
            scrapes = list(pool.map(scraper, range(60)))
            stop.set()
            for f in flood:
                f.result()
    finally:
        server.stop()
    assert scrapes == [200] * 60
    assert set(attempts) <= {401, 429} and len(attempts) > 0
    assert len(checks) <= len(attempts) + 1  # never more than one bcrypt per attempt
