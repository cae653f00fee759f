"""--web.config.file: parsing, real TLS on loopback (trustme certificates), basic auth, headers."""

from __future__ import annotations

import base64
import logging
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests
import trustme
import yaml

from qsan_exporter import cli
from qsan_exporter.web import auth as web_auth
from qsan_exporter.web.config import WebConfig, WebConfigError, load_web_config, ssl_context
from qsan_exporter.web.conn import Limits
from qsan_exporter.web.server import HttpServer
from tests.conftest import ROOT, bound_port, wait_for

PASSWORD = "s3cret-Scrape-pw"
# Cost 4: the minimum, so tests stay fast; the cache logic does not depend on the cost.
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # a client certificate from another CA
    stranger_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("prometheus.example.net")
    stranger = other_ca.issue_cert("prometheus.example.net")
    ca.cert_pem.write_to_path(str(d / "ca.crt"))
    for name, leaf in (("server", server), ("client", client), ("stranger", stranger)):
        (d / f"{name}.crt").write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
        leaf.private_key_pem.write_to_path(str(d / f"{name}.key"))
    return Pki(d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt",
               d / "client.key", d / "stranger.crt", d / "stranger.key")


def write(tmp_path: Path, document: Any, name: str = "web.yml") -> Path:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    return path


def tls_section(pki: Pki, **extra: Any) -> dict[str, Any]:
    return {"cert_file": str(pki.cert), "key_file": str(pki.key), **extra}


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    body = f"hello {environ.get('wsgi.url_scheme')} {environ.get('REMOTE_USER', '-')}\n"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body.encode()]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., HttpServer]]:
    """Start an HttpServer on loopback port 0 from a web-config document."""
    servers: list[HttpServer] = []

    def start(document: Any, **options: Any) -> HttpServer:
        config = load_web_config(write(tmp_path, document, f"web-{len(servers)}.yml"))
        server = HttpServer(hello, "127.0.0.1:0", web_config=config, **options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# --- parsing --------------------------------------------------------------------------------

def test_empty_file_is_plain_http_without_auth(tmp_path: Path) -> None:
    config = load_web_config(write(tmp_path, ""))
    assert config == WebConfig()
    assert config.tls is None and not config.basic_auth_users and not config.headers
    assert ssl_context(config) is None


def test_full_file_parses_and_resolves_paths_against_its_directory(
    tmp_path: Path, pki: Pki
) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    for source in (pki.cert, pki.key, pki.ca):
        (sub / source.name).write_bytes(source.read_bytes())
    path = write(sub, {
        "tls_server_config": {
            "cert_file": "server.crt", "key_file": "server.key", "client_ca_file": "ca.crt",
            "client_auth_type": "RequireAndVerifyClientCert", "min_version": "TLS13",
            "max_version": "TLS13", "prefer_server_cipher_suites": False,
            "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
            "client_allowed_sans": ["prometheus.example.net"],
        },
        "http_server_config": {"headers": {"X-Frame-Options": "deny",
                                           "Strict-Transport-Security": "max-age=60"}},
        "basic_auth_users": {"alice": HASH},
    })
    config = load_web_config(path)
    assert config.tls is not None
    assert config.tls.cert_file == sub / "server.crt"
    assert config.tls.client_ca_file == sub / "ca.crt"
    assert config.tls.min_version == config.tls.max_version == "TLS13"
    assert config.tls.prefer_server_cipher_suites is False
    assert config.tls.client_allowed_sans == ("prometheus.example.net",)
    assert dict(config.headers) == {"X-Frame-Options": "deny",
                                    "Strict-Transport-Security": "max-age=60"}
    assert dict(config.basic_auth_users) == {"alice": HASH}
    assert HASH not in repr(config)
    context = ssl_context(config)
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert not context.options & ssl.OP_CIPHER_SERVER_PREFERENCE


@pytest.mark.parametrize("client_auth, mode", [
    ("RequestClientCert", ssl.CERT_OPTIONAL),
    ("VerifyClientCertIfGiven", ssl.CERT_OPTIONAL),
    ("RequireAnyClientCert", ssl.CERT_REQUIRED),
    ("RequireAndVerifyClientCert", ssl.CERT_REQUIRED),
])
def test_client_auth_type_sets_the_verify_mode(
    tmp_path: Path, pki: Pki, client_auth: str, mode: ssl.VerifyMode
) -> None:
    path = write(tmp_path, {"tls_server_config": tls_section(
        pki, client_auth_type=client_auth, client_ca_file=str(pki.ca))})
    context = ssl_context(load_web_config(path))
    assert context is not None and context.verify_mode == mode


def test_bcrypt_hash_prefixes_2a_2b_2y_are_accepted(tmp_path: Path) -> None:
    users = {f"u{p}": f"$2{p}$" + HASH[4:] for p in "aby"}
    assert dict(load_web_config(write(tmp_path, {"basic_auth_users": users}))
                .basic_auth_users) == users


def test_the_example_file_is_valid(tmp_path: Path, pki: Pki) -> None:
    text = (ROOT / "config" / "web-config.example.yml").read_text()
    for name, source in (("server.crt", pki.cert), ("server.key", pki.key),
                         ("prometheus-ca.crt", pki.ca)):
        text = text.replace(f"/etc/qsan-exporter/tls/{name}", str(source))
    config = load_web_config(write(tmp_path, text))
    assert config.tls is not None and config.tls.client_auth_type == "RequireAndVerifyClientCert"
    assert bcrypt.checkpw(b"change-me", config.basic_auth_users["prometheus"].encode())


ERROR_CASES: dict[str, tuple[str, list[str]]] = {
    # name: (YAML with {cert}/{key}/{ca} placeholders, substrings expected in the problems)
    "unknown_top_key": ("tls_config: {{}}\n", ["tls_config: unknown key"]),
    "unknown_tls_key": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                        "certfile: x}}\n", ["tls_server_config.certfile: unknown key"]),
    "unknown_http_key": ("http_server_config: {{header: {{}}}}\n",
                         ["http_server_config.header: unknown key"]),
    "inline_cert": ("tls_server_config: {{cert: abc, key_file: {key}}}\n",
                    ["tls_server_config.cert: inline certificates are not supported",
                     "tls_server_config.cert_file: required"]),
    "missing_key_file": ("tls_server_config: {{cert_file: {cert}}}\n",
                         ["tls_server_config.key_file: required"]),
    "unreadable_cert": ("tls_server_config: {{cert_file: nope.crt, key_file: {key}}}\n",
                        ["tls_server_config.cert_file: cannot read", "nope.crt"]),
    "unreadable_ca": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                      "client_auth_type: RequireAndVerifyClientCert, client_ca_file: no-ca.crt}}\n",
                      ["tls_server_config.client_ca_file: cannot read"]),
    "client_auth_without_ca": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                               "client_auth_type: RequireAndVerifyClientCert}}\n",
                               ["tls_server_config.client_ca_file: required by client_auth_type "
                                "RequireAndVerifyClientCert"]),
    "ca_without_client_auth": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                               "client_ca_file: {ca}}}\n",
                               ["client_ca_file: set, but client_auth_type is NoClientCert"]),
    "unknown_client_auth": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                            "client_auth_type: Sometimes}}\n",
                            ["tls_server_config.client_auth_type: 'Sometimes' is not one of"]),
    "unknown_tls_version": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                            "min_version: TLS14, max_version: [x]}}\n",
                            ["tls_server_config.min_version: 'TLS14' is not one of",
                             "tls_server_config.max_version: ['x'] is not one of"]),
    "min_above_max": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                      "min_version: TLS13, max_version: TLS12}}\n",
                      ["min_version: TLS13 is above max_version TLS12"]),
    "sans_without_required_cert": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                                   "client_auth_type: VerifyClientCertIfGiven, "
                                   "client_ca_file: {ca}, client_allowed_sans: [a]}}\n",
                                   ["client_allowed_sans: needs client_auth_type"]),
    "all_ciphers_unknown": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                            "cipher_suites: [TLS_MADE_UP]}}\n",
                            ["cipher_suites: none of the listed suites is known"]),
    "bad_curve": ("tls_server_config: {{cert_file: {cert}, key_file: {key}, "
                  "curve_preferences: [P999]}}\n", ["curve_preferences: unknown curve 'P999'"]),
    "key_does_not_match": ("tls_server_config: {{cert_file: {cert}, key_file: {ca}}}\n",
                           ["tls_server_config: cannot load"]),
    "plain_password": ("basic_auth_users: {{alice: hunter2-plain}}\n",
                       ["basic_auth_users.alice: must be a bcrypt hash"]),
    "user_with_colon": ("basic_auth_users: {{'a:b': '" + HASH + "'}}\n",
                        ["basic_auth_users.a:b: a user name must be"]),
    "users_not_mapping": ("basic_auth_users: [alice]\n", ["basic_auth_users: must be a mapping"]),
    "header_not_allowed": ("http_server_config: {{headers: {{Server: x}}}}\n",
                           ["http_server_config.headers.Server: this header cannot be configured"]),
    "header_bad_value": ("http_server_config: {{headers: {{X-Frame-Options: allow}}}}\n",
                         ["headers.X-Frame-Options: 'allow' is not one of deny, sameorigin"]),
    "not_yaml": ("tls_server_config: [\n", ["not valid YAML"]),
    "not_a_mapping": ("- a\n- b\n", ["the file must be a mapping"]),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_error_cases_name_the_key(tmp_path: Path, pki: Pki, case: str) -> None:
    text, expected = ERROR_CASES[case]
    path = write(tmp_path, text.format(cert=pki.cert, key=pki.key, ca=pki.ca), f"{case}.yml")
    with pytest.raises(WebConfigError) as info:
        load_web_config(path)
    joined = "\n".join(info.value.problems)
    for fragment in expected:
        assert fragment in joined, joined
    assert "hunter2" not in joined  # a plain password put in by mistake is never echoed


def test_every_problem_is_listed_at_once(tmp_path: Path, pki: Pki) -> None:
    path = write(tmp_path, {
        "tls_server_config": {"cert_file": "missing.crt", "key_file": str(pki.key),
                              "min_version": "SSL3"},
        "http_server_config": {"headers": {"X-Powered-By": "x"}},
        "basic_auth_users": {"bob": "plain"},
        "extra": 1,
    })
    with pytest.raises(WebConfigError) as info:
        load_web_config(path)
    assert len(info.value.problems) == 5, info.value.problems


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WebConfigError, match="cannot read"):
        load_web_config(tmp_path / "absent.yml")


def test_unknown_cipher_is_skipped_with_a_warning(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, {"tls_server_config": tls_section(pki, cipher_suites=[
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_NOT_A_SUITE", "TLS_AES_128_GCM_SHA256"])})
    with caplog.at_level(logging.WARNING):
        context = ssl_context(load_web_config(path))
    assert "TLS_NOT_A_SUITE" in caplog.text
    assert context is not None
    tls12 = {c["name"] for c in context.get_ciphers() if c["protocol"] != "TLSv1.3"}
    assert tls12 == {"ECDHE-ECDSA-AES256-GCM-SHA384"}


# --- TLS ------------------------------------------------------------------------------------

def test_tls_serving_verified_against_the_ca(serve: Callable[..., HttpServer], pki: Pki) -> None:
    server = serve({"tls_server_config": tls_section(pki)})
    assert server.url.startswith("https://127.0.0.1:")
    response = requests.get(server.url + "/metrics", verify=str(pki.ca), timeout=5)
    assert response.status_code == 200
    assert response.text == "hello https -\n"
    with pytest.raises(requests.exceptions.SSLError):  # an unknown CA is refused by the client
        requests.get(server.url + "/metrics", timeout=5)


def test_plain_http_config_keeps_plain_http(serve: Callable[..., HttpServer]) -> None:
    server = serve("")
    assert server.url.startswith("http://")
    assert requests.get(server.url + "/", timeout=5).text == "hello http -\n"


def _handshake(port: int, pki: Pki, maximum: ssl.TLSVersion | None = None) -> str | None:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if maximum is not None:
        context.maximum_version = maximum
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return tls.version()


def test_min_version_tls13_refuses_a_tls12_only_client(
    serve: Callable[..., HttpServer], pki: Pki
) -> None:
    server = serve({"tls_server_config": tls_section(pki, min_version="TLS13")})
    assert _handshake(server.port, pki) == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        _handshake(server.port, pki, ssl.TLSVersion.TLSv1_2)


def test_default_min_version_accepts_tls12(serve: Callable[..., HttpServer], pki: Pki) -> None:
    server = serve({"tls_server_config": tls_section(pki)})
    assert _handshake(server.port, pki, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"


def test_require_and_verify_client_cert(serve: Callable[..., HttpServer], pki: Pki) -> None:
    server = serve({"tls_server_config": tls_section(
        pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.ca))})
    url = server.url + "/metrics"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(pki.ca), timeout=5)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(pki.ca), timeout=5,
                     cert=(str(pki.stranger_cert), str(pki.stranger_key)))
    ok = requests.get(url, verify=str(pki.ca), timeout=5,
                      cert=(str(pki.client_cert), str(pki.client_key)))
    assert ok.status_code == 200


def test_client_allowed_sans(serve: Callable[..., HttpServer], pki: Pki) -> None:
    def server_for(sans: list[str]) -> str:
        return serve({"tls_server_config": tls_section(
            pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.ca),
            client_allowed_sans=sans)}).url + "/"

    client = {"verify": str(pki.ca), "timeout": 5,
              "cert": (str(pki.client_cert), str(pki.client_key))}
    assert requests.get(server_for(["prometheus.example.net"]), **client).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(server_for(["grafana.example.net"]), **client)


@pytest.mark.slow
def test_silent_client_does_not_block_other_scrapes(
    serve: Callable[..., HttpServer], pki: Pki
) -> None:
    server = serve({"tls_server_config": tls_section(pki)}, limits=Limits(read_timeout=1.0))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as silent:
        # The silent client is accepted first and never sends a ClientHello.
        time.sleep(0.2)
        response = requests.get(server.url + "/metrics", verify=str(pki.ca), timeout=3)
        assert response.status_code == 200
        silent.settimeout(5)
        assert silent.recv(1) == b""  # closed by the server after the handshake timeout


def test_plain_http_on_the_tls_port_gets_a_400_naming_https(
    serve: Callable[..., HttpServer], pki: Pki
) -> None:
    server = serve({"tls_server_config": tls_section(pki)})
    answer = requests.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
    assert answer.status_code == 400 and "https" in answer.text
    assert requests.get(server.url + "/", verify=str(pki.ca), timeout=5).status_code == 200


# --- basic auth and headers -----------------------------------------------------------------

@pytest.fixture
def checkpw_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(web_auth.bcrypt, "checkpw", counting)
    return calls


def test_basic_auth(serve: Callable[..., HttpServer], pki: Pki, checkpw_calls: list[bytes]
                    ) -> None:
    server = serve({"tls_server_config": tls_section(pki),
                    "basic_auth_users": {"prometheus": HASH}})
    get = lambda path, **kw: requests.get(server.url + path, verify=str(pki.ca),  # noqa: E731
                                          timeout=5, **kw)
    for path in ("/metrics", "/-/healthy", "/"):
        anonymous = get(path)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith('Basic realm="qsan-exporter"')
    assert get("/metrics", auth=("prometheus", "wrong")).status_code == 401
    assert get("/metrics", auth=("nobody", PASSWORD)).status_code == 401
    assert get("/metrics", headers={"Authorization": "Basic !!notbase64"}).status_code == 401
    response = get("/metrics", auth=("prometheus", PASSWORD))
    assert response.status_code == 200
    assert response.text == "hello https prometheus\n"


def test_bcrypt_runs_once_per_credential_not_per_scrape(
    serve: Callable[..., HttpServer], checkpw_calls: list[bytes]
) -> None:
    server = serve({"basic_auth_users": {"prometheus": HASH}})
    for _ in range(5):
        response = requests.get(server.url + "/metrics", auth=("prometheus", PASSWORD), timeout=5)
        assert response.status_code == 200
    assert len(checkpw_calls) == 1
    for _ in range(3):
        assert requests.get(server.url + "/metrics", auth=("prometheus", "bad"),
                            timeout=5).status_code == 401
    assert len(checkpw_calls) == 2
    # An unknown user is checked against a dummy hash too: timing does not reveal user names.
    requests.get(server.url + "/metrics", auth=("mallory", PASSWORD), timeout=5)
    assert len(checkpw_calls) == 3 and checkpw_calls[-1] != HASH.encode()


def test_parallel_scrapes_with_the_same_credentials_run_bcrypt_once(
    serve: Callable[..., HttpServer], checkpw_calls: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = web_auth.bcrypt.checkpw

    def slow(password: bytes, hashed: bytes) -> bool:
        time.sleep(0.3)  # so the parallel requests all arrive while the first check runs
        return counting(password, hashed)

    monkeypatch.setattr(web_auth.bcrypt, "checkpw", slow)
    server = serve({"basic_auth_users": {"prometheus": HASH}})
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(
            lambda _: requests.get(server.url + "/metrics", auth=("prometheus", PASSWORD),
                                   timeout=5).status_code, range(4)))
    assert codes == [200] * 4
    assert len(checkpw_calls) == 1


def test_password_never_logged(
    serve: Callable[..., HttpServer], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server = serve({"basic_auth_users": {"prometheus": HASH}})
    requests.get(server.url + "/metrics", auth=("prometheus", PASSWORD + "x"), timeout=5)
    requests.get(server.url + "/metrics", auth=("prometheus", PASSWORD), timeout=5)
    requests.get(server.url + "/metrics", timeout=5)
    assert "unauthorized request" in caplog.text  # the debug log did run
    for secret in (PASSWORD, HASH, base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()):
        assert secret not in caplog.text


def test_custom_headers_on_every_response(serve: Callable[..., HttpServer]) -> None:
    server = serve({"http_server_config": {"headers": {
        "X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000",
        "X-Content-Type-Options": "nosniff"}},
        "basic_auth_users": {"prometheus": HASH}})
    for auth in (None, ("prometheus", PASSWORD)):
        response = requests.get(server.url + "/metrics", auth=auth, timeout=5)
        assert response.headers["X-Frame-Options"] == "deny"
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- command line ---------------------------------------------------------------------------

def test_cli_bad_web_config_exits_1_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, {"arrays": [{"name": "a", "url": "http://127.0.0.1:9",
                                          "username": "u", "password": "p"}]}, "qsan.yml")
    bad = write(tmp_path, {"basic_auth_users": {"alice": "plain"}, "tls_server_config": {
        "cert_file": "absent.crt", "key_file": "absent.key"}}, "web.yml")

    def must_not_start(*_: object, **__: object) -> None:
        raise AssertionError("started despite a bad web config")

    monkeypatch.setattr(cli, "Exporter", must_not_start)  # neither polls nor serves
    for extra in ([], ["--config.check"]):
        code = cli.main(["--config.file", str(config), "--web.config.file", str(bad),
                         "--web.listen-address=127.0.0.1:0", *extra])
        assert code == 1
        err = capsys.readouterr().err
        assert f"{bad}: invalid web configuration" in err
        assert "basic_auth_users.alice: must be a bcrypt hash" in err
        assert "tls_server_config.cert_file: cannot read" in err
        assert "tls_server_config.key_file: cannot read" in err


@pytest.mark.slow
def test_cli_demo_serves_https_with_basic_auth(tmp_path: Path, pki: Pki) -> None:
    web = write(tmp_path, {"tls_server_config": tls_section(pki),
                           "basic_auth_users": {"prometheus": HASH}})
    out = tmp_path / "exporter.log"
    with out.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "qsan_exporter.cli", "--demo", f"--web.config.file={web}",
             "--web.listen-address=127.0.0.1:0"],
            stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        url = f"https://127.0.0.1:{bound_port(out, process)}"
        def scrape() -> requests.Response | None:
            if process.poll() is not None:
                raise AssertionError(f"exporter exited:\n{out.read_text()}")
            response = requests.get(url + "/metrics", auth=("prometheus", PASSWORD),
                                    verify=str(pki.ca), timeout=5)
            return response if response.status_code == 200 else None

        response = wait_for(scrape, 15, "an authenticated HTTPS scrape")
        assert "qsan_exporter_build_info" in response.text  # type: ignore[union-attr]
        assert requests.get(url + "/metrics", verify=str(pki.ca), timeout=5).status_code == 401
        assert f"{url}/metrics" in out.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
