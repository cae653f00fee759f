"""`ArrayAdapter` (api/adapter.py) sends over wire.py what requests would send, and gives back
the Response requests would build; a proxy, a client certificate or a streamed body take
requests' own path."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar

from qsan_exporter.api import wire
from qsan_exporter.api.adapter import MAX_IDLE, ArrayAdapter, origin
from qsan_exporter.api.transport import Transport, array_session

PATH = "/rest/v1/system/info"


@dataclass
class Seen:
    connections: int = 0
    lines: list[str] = field(default_factory=list)  # each request line as the server got it
    cookies: list[str | None] = field(default_factory=list)
    headers: list[list[tuple[str, str]]] = field(default_factory=list)  # each request's
    answer_headers: dict[str, str] = field(default_factory=dict)  # sent with every answer


def _handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    class Answer(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as an array answers

        def setup(self) -> None:
            seen.connections += 1  # once per TCP connection
            super().setup()

        def do_GET(self) -> None:
            seen.lines.append(self.requestline)
            seen.cookies.append(self.headers.get("Cookie"))
            seen.headers.append(list(self.headers.items()))
            self.send_response(200)
            for name, value in seen.answer_headers.items():
                self.send_header(name, value)
            if "content-type" not in {name.lower() for name in seen.answer_headers}:
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


def test_many_requests_take_one_connection_and_send_what_requests_sends(
        server: tuple[str, Seen]) -> None:
    url, seen = server
    transport = _transport(url)
    for _ in range(6):
        assert _get(transport).json() == {}
    assert seen.connections == 1
    assert seen.lines == [f"GET {PATH} HTTP/1.1"] * 6  # the path, not the whole URL
    theirs = requests.Session()
    theirs.trust_env = False
    theirs.get(url + PATH, headers={"Accept": "application/json"})
    assert seen.headers[0] == seen.headers[-1]  # requests' headers, Host included, in its order


def test_idle_connections_stay_bounded_and_close_with_the_adapter(
        server: tuple[str, Seen]) -> None:
    url, _ = server
    adapter = ArrayAdapter()
    key = ("http", "127.0.0.1", int(url.rsplit(":", 1)[1]), None)
    conns = [wire.Connection("127.0.0.1", key[2], None) for _ in range(MAX_IDLE + 2)]
    for conn in conns:
        conn.open(5.0)
        adapter.give_back(key, conn, reusable=True)
    assert adapter.idle_connections == MAX_IDLE
    assert [c.sock is None for c in conns] == [False] * MAX_IDLE + [True] * 2
    adapter.close()
    assert adapter.idle_connections == 0 and all(c.sock is None for c in conns)
    late = wire.Connection("127.0.0.1", key[2], None)
    late.open(5.0)
    adapter.give_back(key, late, reusable=True)  # an answer read after the close
    assert late.sock is None


@pytest.mark.parametrize("settings", [
    {"cert": "client.pem"},
    {"proxies": {"http": "http://proxy.test:3128"}},
    {"body": iter([b"streamed"])},
    {"timeout": urllib3.Timeout(connect=1.0, read=2.0)},
])
def test_what_wire_does_not_do_goes_through_requests(
        settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[requests.PreparedRequest] = []
    monkeypatch.setattr(HTTPAdapter, "send", lambda self, request, *a, **k: taken.append(request))
    request = _prepared("http://array.test/x")
    if "body" in settings:
        request.body = settings.pop("body")
    settings.setdefault("timeout", 1.0)
    ArrayAdapter().send(request, **settings)
    assert taken == [request]


def test_a_proxy_goes_through_requests_own_path(server: tuple[str, Seen]) -> None:
    proxy, seen = server  # the local server stands in for the proxy
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


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain; charset=latin-1", "X-Array": "1"},
    {"content-type": "application/json"},
    {"Content-Type": "text/html", "Set-Cookie": "a=b; Path=/"},
    {},
])
def test_the_response_is_what_requests_builds(
        server: tuple[str, Seen], headers: dict[str, str]) -> None:
    url, seen = server
    seen.answer_headers = headers
    ours = array_session(None).get(url + PATH + "?y=1", allow_redirects=False)
    session = requests.Session()
    session.trust_env = False
    theirs = session.get(url + PATH + "?y=1", allow_redirects=False)
    for name in ("status_code", "encoding", "reason", "url", "content"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert {k: v for k, v in ours.headers.items() if k != "Date"} == {
        k: v for k, v in theirs.headers.items() if k != "Date"}
    assert type(ours.headers) is type(theirs.headers)
    assert ours.headers.get("CONTENT-TYPE") == theirs.headers.get("content-type")
    assert isinstance(ours.connection, ArrayAdapter)
    assert dict(ours.cookies) == dict(theirs.cookies)
    assert ours.json() == {}


def test_the_responses_library_intercepts_where_it_is_pointed(
        rsps: responses.RequestsMock) -> None:
    rsps.get("https://array.test" + PATH, json={"ok": 1},
             headers={"Set-Cookie": "sid=xyz; Path=/"})
    transport = _transport("https://array.test")
    assert isinstance(transport.session.get_adapter("https://array.test"), ArrayAdapter)
    answer = _get(transport)
    assert answer.json() == {"ok": 1} and answer.headers["content-type"] == "application/json"
    assert len(rsps.calls) == 1
    assert transport.session.cookies.get("sid") == "xyz"


@pytest.mark.parametrize(("url", "expected"), [
    ("http://a.test/x/y?z=/w", "http://a.test"),
    ("https://user:pw@A.test:8443/", "https://user:pw@A.test:8443"),
    ("http://a.test", "http://a.test"),
    ("http://a.test?x=/y", "http://a.test?x="),  # longer than the origin, never ambiguous
])
def test_origin(url: str, expected: str) -> None:
    assert origin(url) == expected


def test_an_unpickled_adapter_sends_over_its_own_connections(server: tuple[str, Seen]) -> None:
    url, seen = server
    adapter = pickle.loads(pickle.dumps(ArrayAdapter()))
    session = array_session(None)
    session.mount("http://", adapter)
    assert _get(_transport(url, session)).json() == {}
    assert adapter.idle_connections == 1 and seen.connections == 1
