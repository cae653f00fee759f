"""The request path of both clients: what it sends, and that polls reuse one connection.

The transport prepares its own session's requests without `Session.request` (api/transport.py);
these tests hold it to what `Session.request` would have sent, and to keep-alive: an array's
small embedded web server must not see a new TCP connection per request.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import responses

from qsan_exporter.api.factory import make_source
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.transport import Transport
from qsan_exporter.config import ArrayConfig
from qsan_exporter.poll.array import ArrayPoll
from qsan_exporter.simulator import server

POLLS = 3


def _transport(url: str, session: requests.Session | None = None) -> Transport:
    return Transport.for_array(url, verify=True, timeout=5.0, stats=None, guard=None,
                               session=session, clock=time.time, max_bytes=1 << 20)


@pytest.mark.parametrize(("profile", "api"), [("san", "unified"), ("nas", "unified"),
                                              ("legacy", "legacy"), ("san", "auto")])
def test_every_poll_reuses_one_keep_alive_connection(simulators, monkeypatch, profile: str,
                                                     api: str) -> None:
    accepted: list[Any] = []
    setup = server._Handler.setup

    def counting_setup(handler: Any) -> None:  # once per TCP connection the array accepts
        accepted.append(handler.client_address)
        setup(handler)

    monkeypatch.setattr(server._Handler, "setup", counting_setup)
    # Our sessions skip Session.request's per-call merging, also the two that an `api: auto`
    # array's clients share.
    merged: list[str] = []
    request = requests.Session.request

    def counting_request(session: requests.Session, method: str, url: str, **kw: Any) -> Any:
        merged.append(url)
        return request(session, method, url, **kw)

    monkeypatch.setattr(requests.Session, "request", counting_request)
    sim = simulators(profile)
    config = ArrayConfig(name="keep", url=sim.url, username="monitor", password="secret-pw",
                         api=api)
    stats, guard, now = ApiStats(), RequestGuard("keep"), [time.time()]
    source = make_source(config, stats=stats, guard=guard)
    poll = ArrayPoll(config, source, stats, guard=guard, clock=lambda: now[0])
    try:
        for _ in range(POLLS):
            snapshot = poll.poll()
            assert snapshot.up and all(s.success for s in snapshot.collectors.values())
            now[0] += config.interval_seconds
    finally:
        poll.close()
    sent = sum(stats.snapshot().requests.values())
    assert sent >= POLLS * len(config.collectors)  # every area fetched on every poll
    assert len(accepted) == 1, f"{len(accepted)} connections for {sent} requests"
    assert merged == []


def test_a_request_carries_the_session_headers_ours_and_the_url_with_its_parameters(
        rsps: responses.RequestsMock) -> None:
    rsps.get("https://array.test/rest/v1/log/list", json={"logs": []})
    transport = _transport("https://array.test/")
    for page in (1, 2, 2):  # the third comes from the kept URL
        transport.send("GET", "/rest/v1/log/list", "/rest/v1/log/list",
                       headers={"Accept": "application/json", "Authorization": "T"},
                       params={"pageSize": 50, "pageNumber": page, "skip": None})
    urls = [call.request.url for call in rsps.calls]
    assert urls == [f"https://array.test/rest/v1/log/list?pageSize=50&pageNumber={page}"
                    for page in (1, 2, 2)]
    headers = rsps.calls[0].request.headers
    assert headers["Accept"] == "application/json" and headers["Authorization"] == "T"
    assert headers["User-Agent"] == requests.utils.default_user_agent()
    assert transport.cached_urls == 2


def test_kept_headers_are_what_requests_prepares_and_a_new_token_is_sent(
        rsps: responses.RequestsMock) -> None:
    rsps.get("https://array.test/x", json={})
    transport = _transport("https://array.test/")
    for token in ("T1", "T1", "T2", "T1"):
        transport.send("GET", "/x", "/x", headers={"Authorization": token, "X-None": None})
    session = requests.Session()
    for call, token in zip(rsps.calls, ("T1", "T1", "T2", "T1"), strict=True):
        expected = session.prepare_request(requests.Request(
            "GET", "https://array.test/x", headers={"Authorization": token, "X-None": None}))
        assert dict(call.request.headers) == dict(expected.headers)
    assert transport.cached_header_sets == 2  # T1 and T2; each request sends its own copy


def test_a_post_sends_its_json_body_and_credentials_in_the_url_become_basic_auth(
        rsps: responses.RequestsMock) -> None:
    rsps.post("https://user:p%40ss@array.test/auth/get", json={"ok": True})
    transport = _transport("https://user:p%40ss@array.test")
    transport.send("POST", "/auth/get", "/auth/get", headers={}, body={"a": 1})
    request = rsps.calls[0].request
    assert request.body == b'{"a": 1}'
    assert request.headers["Content-Type"] == "application/json"
    expected = requests.Request("POST", "https://array.test", auth=("user", "p@ss")).prepare()
    assert request.headers["Authorization"] == expected.headers["Authorization"]


def test_cookies_the_array_sets_are_sent_back(
        rsps: responses.RequestsMock) -> None:
    rsps.get("https://array.test/a", json={}, headers={"Set-Cookie": "sid=42; Path=/"})
    rsps.get("https://array.test/b", json={})
    transport = _transport("https://array.test")
    for path in ("/a", "/b"):
        transport.send("GET", path, path, headers={})
    assert transport.session.cookies.get("sid") == "42"
    assert "Cookie" not in rsps.calls[0].request.headers
    assert rsps.calls[1].request.headers["Cookie"] == "sid=42"


def test_the_environment_is_read_once_and_only_by_a_session_that_trusts_it(
        monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ca.pem")
    ours = _transport("https://array.test")
    assert ours.direct and ours.settings["proxies"] == {} and ours.settings["verify"] is True
    trusting = requests.Session()  # a caller's session: sent through its own request()
    theirs = _transport("https://array.test", session=trusting)
    assert not theirs.direct
    assert theirs.settings["proxies"].get("https") == "http://proxy.test:3128"
    assert theirs.settings["verify"] == "/etc/ca.pem"
