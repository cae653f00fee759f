"""`ArrayAdapter` (api/adapter.py) skips requests' per-request constant work, and only that:
one pool lookup per host while the pool manager still holds the pool, requests' own path for a
proxy or an answer that sets a cookie, and a Response as complete as requests builds it."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import trustme
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

from qsan_exporter.api import tls
from qsan_exporter.api.adapter import MAX_KEPT_POOLS, ArrayAdapter, origin
from qsan_exporter.api.transport import Transport, array_session

PATH = "/rest/v1/system/info"


@dataclass
class Seen:
    connections: int = 0
    lines: list[str] = field(default_factory=list)  # each request line as the server got it
    cookies: list[str | None] = field(default_factory=list)


def _handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as an array answers

        def setup(self) -> None:
            seen.connections += 1  # once per TCP connection
            super().setup()

        def do_GET(self) -> None:
            seen.lines.append(self.requestline)
            seen.cookies.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            if self.path.endswith("/cookie"):
                self.send_header("Set-Cookie", "sid=abc; Path=/")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    return Answer


@pytest.fixture
def server() -> Iterator[tuple[str, Seen]]:
    seen = Seen()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(seen))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _transport(url: str, session: requests.Session | None = None) -> Transport:
    return Transport.for_array(url, verify=True, timeout=5.0, stats=None, guard=None,
                               session=session, clock=time.time, max_bytes=1 << 20)


def _get(transport: Transport, path: str = PATH) -> requests.Response:
    return transport.send("GET", path, path, headers={"Accept": "application/json"})


def _prepared(url: str) -> requests.PreparedRequest:
    return requests.Request("GET", url).prepare()


def test_the_array_sessions_mount_it() -> None:
    session = array_session(None)
    assert isinstance(session.get_adapter("http://a"), ArrayAdapter)
    assert isinstance(session.get_adapter("https://a"), ArrayAdapter)


def test_many_requests_take_one_pool_lookup_and_one_connection(
        server: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = server
    transport = _transport(url)
    adapter = transport.session.get_adapter(url)
    assert isinstance(adapter, ArrayAdapter)
    lookups: list[Any] = []
    lookup = adapter.poolmanager.connection_from_host

    def counting(*args: Any, **kwargs: Any) -> Any:
        lookups.append(args or kwargs)
        return lookup(*args, **kwargs)

    monkeypatch.setattr(adapter.poolmanager, "connection_from_host", counting)
    for _ in range(6):
        assert _get(transport).json() == {}
    assert len(lookups) == 1
    assert seen.connections == 1
    assert adapter.kept_pools == 1
    assert seen.lines == [f"GET {PATH} HTTP/1.1"] * 6  # the path, not the whole URL


def test_a_pool_the_manager_dropped_or_closed_is_not_used_again() -> None:
    adapter = ArrayAdapter(pool_connections=1)  # the manager keeps one pool
    first = _prepared("http://array-a.test:8080/x")
    pool = adapter.get_connection_with_tls_context(first, True)
    assert adapter.get_connection_with_tls_context(_prepared("http://array-a.test:8080/y?z=1"),
                                                   True) is pool
    adapter.get_connection_with_tls_context(_prepared("http://array-b.test/x"), True)  # evicts
    again = adapter.get_connection_with_tls_context(first, True)
    assert again is not pool
    assert again is HTTPAdapter.get_connection_with_tls_context(adapter, first, True)
    adapter.close()
    assert adapter.kept_pools == 0
    assert adapter.get_connection_with_tls_context(first, True) is not again


def test_the_kept_pools_stay_bounded() -> None:
    adapter = ArrayAdapter()
    for number in range(MAX_KEPT_POOLS + 3):
        adapter.get_connection_with_tls_context(_prepared(f"http://a.test:{8000 + number}/"),
                                                True)
    assert 0 < adapter.kept_pools <= MAX_KEPT_POOLS


def test_different_tls_settings_get_their_own_pools() -> None:
    adapter = ArrayAdapter()
    request = _prepared("https://array.test/x")
    checking = adapter.get_connection_with_tls_context(request, True)
    trusting = adapter.get_connection_with_tls_context(request, False)
    assert checking is not trusting
    assert adapter.get_connection_with_tls_context(request, True) is checking
    assert adapter.get_connection_with_tls_context(request, False) is trusting


def _context(pool: Any) -> Any:
    return pool.conn_kw["ssl_context"]


def test_a_replaced_ca_bundle_gets_a_new_pool(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    adapter = ArrayAdapter()
    request = _prepared("https://array.test/x")
    pool = adapter.get_connection_with_tls_context(request, str(bundle))
    assert _context(pool) is tls.shared_context(str(bundle))
    trustme.CA().cert_pem.write_to_path(str(bundle))  # the operator rotated the CA
    stat = os.stat(bundle)
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    rotated = adapter.get_connection_with_tls_context(request, str(bundle))
    assert rotated is not pool
    assert _context(rotated) is tls.shared_context(str(bundle))


def test_a_proxy_goes_through_requests_own_path(server: tuple[str, Seen]) -> None:
    proxy, seen = server  # the local server stands in for the proxy
    adapter = ArrayAdapter()
    request = _prepared("http://array.invalid/rest/v1/x?page=2")
    proxies = {"http": proxy}
    pool = adapter.get_connection_with_tls_context(request, True, proxies)
    assert pool is not adapter.get_connection_with_tls_context(request, True)
    assert adapter.kept_pools == 1  # only the direct one
    assert adapter.request_url(request, proxies) == "http://array.invalid/rest/v1/x?page=2"
    assert adapter.request_url(request, {}) == "/rest/v1/x?page=2"
    assert adapter.request_url(request, {"https": proxy}) == "/rest/v1/x?page=2"

    session = array_session(None)
    session.proxies = {"http": proxy}
    assert _get(_transport("http://array.invalid", session)).json() == {}
    assert seen.lines == [f"GET http://array.invalid{PATH} HTTP/1.1"]


def test_a_cookie_the_array_sets_reaches_the_session_jar_and_the_response(
        server: tuple[str, Seen]) -> None:
    url, seen = server
    transport = _transport(url)
    plain = _get(transport)
    assert isinstance(plain.cookies, RequestsCookieJar) and not plain.cookies
    with_cookie = _get(transport, PATH + "/cookie")
    assert with_cookie.cookies.get("sid") == "abc"
    assert transport.session.cookies.get("sid") == "abc"
    _get(transport)
    assert seen.cookies == [None, None, "sid=abc"]


def _answer(headers: dict[str, str]) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(body=io.BytesIO(b"{}"), headers=headers, status=201,
                                reason="Created", preload_content=False)


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain; charset=latin-1", "X-Array": "1"},
    {"content-type": "application/json"},
    {"Content-Type": "text/html", "Set-Cookie": "a=b; Path=/"},
    {},
])
def test_the_response_is_what_requests_builds(headers: dict[str, str]) -> None:
    adapter = ArrayAdapter()
    request = _prepared("http://array.test/x?y=1")
    ours = adapter.build_response(request, _answer(headers))
    theirs = HTTPAdapter.build_response(adapter, request, _answer(headers))
    for name in ("status_code", "encoding", "reason", "url", "request", "connection"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert dict(ours.headers) == dict(theirs.headers)
    assert type(ours.headers) is type(theirs.headers)
    assert ours.headers.get("CONTENT-TYPE") == headers.get("Content-Type",
                                                           headers.get("content-type"))
    assert isinstance(ours.raw, urllib3.HTTPResponse)
    assert dict(ours.cookies) == dict(theirs.cookies)
    assert ours.json() == {}


@responses.activate
def test_the_responses_library_still_intercepts() -> None:
    responses.get("https://array.test" + PATH, json={"ok": 1},
                  headers={"Set-Cookie": "sid=xyz; Path=/"})
    transport = _transport("https://array.test")
    assert isinstance(transport.session.get_adapter("https://array.test"), ArrayAdapter)
    answer = _get(transport)
    assert answer.json() == {"ok": 1} and answer.headers["content-type"] == "application/json"
    assert len(responses.calls) == 1
    assert transport.session.cookies.get("sid") == "xyz"


@pytest.mark.parametrize(("url", "expected"), [
    ("http://a.test/x/y?z=/w", "http://a.test"),
    ("https://user:pw@A.test:8443/", "https://user:pw@A.test:8443"),
    ("http://a.test", "http://a.test"),
    ("http://a.test?x=/y", "http://a.test?x="),  # longer than the origin, never ambiguous
])
def test_origin(url: str, expected: str) -> None:
    assert origin(url) == expected
