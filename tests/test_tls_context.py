"""Arrays reached over HTTPS share one TLS context per `verify` setting (api/tls.py): not one
per connection, and never one context for a verifying and a non-verifying array."""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from qsan_exporter.api import tls
from qsan_exporter.api.adapter import ArrayAdapter
from qsan_exporter.api.errors import ApiUnreachable
from qsan_exporter.api.transport import Transport

PATH = "/rest/v1/hardware/info"
UNTRUSTED = "TLS: certificate signed by an unknown CA"
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as an array answers

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _serve(ca: trustme.CA, name: str = "127.0.0.1") -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(name).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def url(ca: trustme.CA) -> Iterator[str]:
    yield from _serve(ca)


@pytest.fixture
def stranger_url() -> Iterator[str]:
    """A server whose certificate comes from a CA nobody here trusts."""
    yield from _serve(trustme.CA())


@pytest.fixture
def misnamed_url(ca: trustme.CA) -> Iterator[str]:
    """A server whose certificate the trusted CA signed for another host."""
    yield from _serve(ca, "array.example")


@pytest.fixture
def bundle(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tls, "_contexts", {})


def transport(url: str, verify: bool | str) -> Transport:
    """One array's transport, with its own session and pools, as make_source makes them."""
    return Transport.for_array(url, verify=verify, timeout=5, stats=None, guard=None,
                               session=None, clock=time.time, max_bytes=1 << 20)


def fetch(array: Transport) -> int:
    return array.send("GET", PATH, PATH, headers={}).status_code


def contexts(array: Transport) -> list[ssl.SSLContext]:
    """The TLS contexts the array's HTTPS connections were given."""
    adapter = array.session.get_adapter("https://")
    assert isinstance(adapter, ArrayAdapter)
    return [context for context in adapter.contexts if context is not None]


def test_arrays_with_the_same_ca_bundle_share_one_context(url: str, bundle: str) -> None:
    first, second = transport(url, bundle), transport(url, bundle)
    assert fetch(first) == fetch(second) == 200
    (one,) = contexts(first)
    assert contexts(second) == [one] and one is tls.shared_context(bundle)
    assert one.verify_mode == ssl.CERT_REQUIRED and one.check_hostname


def test_a_non_verifying_array_never_weakens_a_verifying_one(
        url: str, stranger_url: str, bundle: str) -> None:
    lax, strict = transport(stranger_url, False), transport(stranger_url, bundle)
    trusting = transport(url, bundle)
    for _ in range(2):  # interleaved: urllib3 sets a context's mode again on every connect
        assert fetch(lax) == 200
        with pytest.raises(ApiUnreachable) as caught:
            fetch(strict)
        message = str(caught.value)  # the words it had before contexts were shared
        assert message.startswith(f"GET {PATH} at {stranger_url}: {UNTRUSTED} (subject O=")
        assert message.endswith("signed the array's certificate, or verify_tls: false")
        assert fetch(trusting) == 200
        (loose,), (verifying,) = contexts(lax), contexts(trusting)
        assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname
        assert verifying.verify_mode == ssl.CERT_REQUIRED and verifying.check_hostname
        assert contexts(strict) == [verifying]
        for array in (lax, strict, trusting):
            array.session.close()  # new connections next round


def test_new_connections_make_one_context_per_setting(
        url: str, bundle: str, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[ssl.SSLContext] = []
    plain_new = ssl.SSLContext.__new__

    def counted(cls: type[ssl.SSLContext], *args: object, **kwargs: object) -> ssl.SSLContext:
        made.append(context := plain_new(cls, *args, **kwargs))
        return context

    monkeypatch.setattr(ssl.SSLContext, "__new__", counted)
    arrays = [transport(url, verify) for verify in (bundle, False) for _ in range(10)]
    assert [fetch(array) for array in arrays] == [200] * 20
    assert len(made) == 2


def test_a_shared_context_still_checks_the_host_name(misnamed_url: str, bundle: str) -> None:
    array = transport(misnamed_url, bundle)
    wrong_name = r"TLS: certificate not valid for the name '127\.0\.0\.1'"
    with pytest.raises(ApiUnreachable, match=wrong_name):
        fetch(array)
    assert contexts(array) == [tls.shared_context(bundle)]


def test_a_replaced_bundle_is_read_again_and_the_cache_stays_bounded(
        ca: trustme.CA, bundle: str, tmp_path: Path) -> None:
    first = tls.shared_context(bundle)
    assert tls.shared_context(bundle) is first and tls.shared_context(False) is not first
    trustme.CA().cert_pem.write_to_path(bundle)  # the operator rotated the CA
    stat = os.stat(bundle)
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert tls.shared_context(bundle) is not first
    assert tls.shared_context(str(tmp_path / "gone.pem")) is None  # requests reports it
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert tls.shared_context(str(tmp_path / "junk.pem")) is None
    for number in range(tls.MAX_CONTEXTS + 3):
        other = tmp_path / f"ca-{number}.pem"
        ca.cert_pem.write_to_path(str(other))
        tls.shared_context(str(other))
    assert tls.cached() == tls.MAX_CONTEXTS
