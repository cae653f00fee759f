"""Every failure to reach an array names its cause and the fix (api/diagnose.py): untrusted,
self-signed, expired and wrong-name certificates (with subject and issuer), https:// to a
plain-HTTP port, a closed port, DNS, a wrong password, a 404 where the API should be; in the
error, in the log line and on the status page, never with a secret."""

from __future__ import annotations

import datetime
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme
import yaml

from qsan_exporter.api.diagnose import FIX_TLS, status_hint, unreachable_reason
from qsan_exporter.api.errors import ApiUnreachable
from qsan_exporter.api.transport import Transport
from tests.conftest import REFUSED_STATUS, status_card, wait_for

PLAIN_HTTP = "the array answers plain HTTP: use http://"
REFUSED = "connection refused"


class TlsServer:
    """A TLS listener on loopback that completes handshakes and closes: enough for a client
    to see (and refuse) its certificate. Bounded: it stops with the test."""

    def __init__(self, cert_pem: bytes, key_pem: bytes, tmp: Path) -> None:
        (tmp / "server.pem").write_bytes(cert_pem)
        (tmp / "server.key").write_bytes(key_pem)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(tmp / "server.pem", tmp / "server.key")
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            conn.settimeout(2)
            try:
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
            except OSError:
                pass  # the client refused the certificate: what the test wants
            finally:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def tls_servers(tmp_path: Path) -> Iterator:
    started: list[TlsServer] = []

    def start(cert_pem: bytes, key_pem: bytes) -> TlsServer:
        folder = tmp_path / f"tls-{len(started)}"
        folder.mkdir()
        server = TlsServer(cert_pem, key_pem, folder)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def self_signed(start) -> tuple[TlsServer, trustme.CA]:
    """A CA's own certificate is self-signed: served as is, it is what QSAN arrays ship."""
    ca = trustme.CA()
    return start(ca.cert_pem.bytes(), ca.private_key_pem.bytes()), ca


def served(start, ca: trustme.CA, *names: str, **options: object) -> TlsServer:
    leaf = ca.issue_cert(*names, **options)
    return start(b"".join(b.bytes() for b in leaf.cert_chain_pems),
                 leaf.private_key_pem.bytes())


def failure(url: str, verify: bool | str = True) -> str:
    transport = Transport.for_array(url, verify=verify, timeout=3, stats=None, guard=None,
                                    session=None, clock=time.time, max_bytes=1 << 20)
    with pytest.raises(ApiUnreachable) as caught:
        transport.send("GET", "/rest/v1/hardware/info", "/rest/v1/hardware/info", headers={})
    return str(caught.value)


def test_self_signed_certificate_names_subject_issuer_and_the_fix(tls_servers) -> None:
    server, _ = self_signed(tls_servers)
    message = failure(f"https://127.0.0.1:{server.port}")
    assert "self-signed certificate" in message and FIX_TLS in message
    assert re.search(r"subject O=trustme[^,]*, OU=Testing CA #\S+, issuer O=trustme", message)


def test_unknown_ca_expired_and_wrong_name(tls_servers, tmp_path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    unknown = served(tls_servers, ca, "127.0.0.1")
    message = failure(f"https://127.0.0.1:{unknown.port}")
    assert "signed by an unknown CA" in message and FIX_TLS in message
    assert "issuer O=trustme" in message

    wrong_name = served(tls_servers, ca, "qsan-array.example")
    message = failure(f"https://127.0.0.1:{wrong_name.port}", str(ca_file))
    assert "certificate not valid for the name '127.0.0.1'" in message
    assert "use a host name the certificate names in url, or verify_tls: false" in message

    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    expired = served(tls_servers, ca, "127.0.0.1", not_after=past)
    message = failure(f"https://127.0.0.1:{expired.port}", str(ca_file))
    assert "certificate expired" in message and "valid until" in message


def test_plain_http_port_over_https_closed_port_and_dns(simulators, closed_port) -> None:
    sim = simulators("san")
    message = failure(sim.url.replace("http://", "https://"))
    assert PLAIN_HTTP in message
    port = closed_port
    message = failure(f"http://127.0.0.1:{port}")
    assert f"{REFUSED} by 127.0.0.1:{port}" in message and "check the port" in message
    # DNS is not tried for real (no resolver is guaranteed): the classification is.
    exc = requests.exceptions.ConnectionError(
        "HTTPSConnectionPool(host='nas.invalid', port=443): Max retries exceeded "
        "(Caused by NameResolutionError: Failed to resolve 'nas.invalid' "
        "([Errno -2] Name or service not known))")
    assert unreachable_reason(exc, "https://nas.invalid", 5, True) == (
        "DNS lookup of 'nas.invalid' failed: check the host name in url")


def test_http_status_hints() -> None:
    assert "is this a QSAN array" in status_hint(404, "/auth/get")
    assert "check username and password" in status_hint(401, "/auth/get")
    assert "use an account with API access" in status_hint(403, "/rest/v1/storage/pool/list")
    assert status_hint(500, "/rest/v1/storage/pool/list") == ""


@pytest.mark.slow
def test_each_failure_names_cause_and_fix_in_log_and_status_page(
    simulators, exporter, tls_servers, tmp_path, closed_port
) -> None:
    server, _ = self_signed(tls_servers)
    plain, locked, legacy = simulators("san"), simulators("nas", password="other"), simulators(
        "legacy")
    arrays = {
        "dx-selfsigned": (f"https://127.0.0.1:{server.port}", {}),
        "dx-plainhttp": (plain.url.replace("http://", "https://"), {}),
        "dx-closed": (f"http://127.0.0.1:{closed_port}", {}),
        "dx-password": (locked.url, {}),
        "dx-notunified": (legacy.url, {"api": "unified"}),
    }
    expected = {
        "dx-selfsigned": ("self-signed certificate", FIX_TLS),
        "dx-plainhttp": ("no TLS at", PLAIN_HTTP),
        "dx-closed": (REFUSED, "check the port in url"),
        "dx-password": (f"rejected (HTTP {REFUSED_STATUS})", "check username and password"),
        "dx-notunified": ("HTTP 404 from POST /auth/get", "is this a QSAN array"),
    }
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump({
        "defaults": {"username": "monitor", "password": "secret-pw", "timeout_seconds": 3},
        "arrays": [{"name": n, "url": u, **extra} for n, (u, extra) in arrays.items()],
    }))
    os.chmod(config, 0o600)
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    wait_for(lambda: all(f"array={n}" in e.log_text() for n in arrays), 20, "a log line each")
    page = e.get("/").text
    for name, (cause, fix) in expected.items():
        lines = [line for line in e.log_text().splitlines()
                 if f"array={name}" in line and "poll failed" in line]
        assert lines and all(cause in line and fix in line for line in lines), (name, lines)
        card = status_card(page, name)
        assert "DOWN" in card and cause in card and fix in card, card
        assert card.count(cause) == 1, card  # once per array, not once per collector
    assert "secret-pw" not in e.log_text() + page
