"""`--shard.statefulset`: N from the StatefulSet's replica count, followed as it is scaled.

No Kubernetes runs here, so a small fake API server stands in for it: HTTPS on loopback with a
generated CA (as a pod sees its API server), the bearer token checked against the service
account's token file, and the `scale` subresource of one StatefulSet. The exporter is the real
CLI in a subprocess, pointed at it through the same environment a pod has.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import trustme
from prometheus_client.parser import text_string_to_metric_families

from qsan_exporter.cli import main
from qsan_exporter.sharding import shard_of
from qsan_exporter.sharding.kube import KubeError, ShardCountWatcher, StatefulSetReplicas
from tests.conftest import wait_for, write_config

NAMESPACE = "monitoring"
STATEFULSET = "qsan-exporter"
SCALE_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets/{STATEFULSET}/scale"


class FakeApi:
    """The part of a Kubernetes API server the exporter reads."""

    def __init__(self, ca: trustme.CA, account: Path) -> None:
        self.replicas = 2
        self.status = 200
        self.account = account
        self.requests: list[tuple[str, str]] = []  # (path, authorization)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                api.requests.append((self.path, auth))
                token = (api.account / "token").read_text().strip()
                if auth != f"Bearer {token}":
                    status, body = 401, {"kind": "Status", "code": 401}
                elif self.path != SCALE_PATH:
                    status, body = 404, {"kind": "Status", "code": 404}
                elif api.status != 200:
                    status, body = api.status, {"kind": "Status", "code": api.status}
                else:
                    status, body = 200, {"kind": "Scale", "apiVersion": "autoscaling/v1",
                                         "spec": {"replicas": api.replicas},
                                         "status": {"replicas": api.replicas}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}"
        # A short poll: shutdown() waits for it, at every test's teardown.
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def account(tmp_path: Path) -> tuple[trustme.CA, Path]:
    """A pod's service-account mount: token, namespace, the API server's CA."""
    ca = trustme.CA()
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("token-1\n")
    (directory / "namespace").write_text(NAMESPACE)
    ca.cert_pem.write_to_path(str(directory / "ca.crt"))
    return ca, directory


@pytest.fixture
def api(account: tuple[trustme.CA, Path]) -> Iterator[FakeApi]:
    fake = FakeApi(*account)
    yield fake
    fake.stop()


def test_reads_the_replica_count_with_the_pod_credentials(api: FakeApi, account) -> None:
    replicas = StatefulSetReplicas(STATEFULSET, api_url=api.url, account_dir=account[1])
    assert replicas.get() == 2
    assert api.requests == [(SCALE_PATH, "Bearer token-1")]


def test_the_token_is_read_again_for_every_request(api: FakeApi, account) -> None:
    replicas = StatefulSetReplicas(STATEFULSET, api_url=api.url, account_dir=account[1])
    assert replicas.get() == 2
    (account[1] / "token").write_text("token-2")  # the kubelet rotated it
    api.replicas = 5
    assert replicas.get() == 5
    assert [auth for _, auth in api.requests] == ["Bearer token-1", "Bearer token-2"]


def test_forbidden_says_which_permission_is_missing(api: FakeApi, account) -> None:
    api.status = 403
    replicas = StatefulSetReplicas(STATEFULSET, api_url=api.url, account_dir=account[1])
    with pytest.raises(KubeError, match=r"needs 'get' on statefulsets/scale 'qsan-exporter'"):
        replicas.get()


def test_an_api_server_with_another_ca_is_refused(api: FakeApi, account, tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    for name in ("token", "namespace"):
        (other / name).write_text((account[1] / name).read_text())
    trustme.CA().cert_pem.write_to_path(str(other / "ca.crt"))
    replicas = StatefulSetReplicas(STATEFULSET, api_url=api.url, account_dir=other)
    with pytest.raises(KubeError, match="unreachable: SSLError"):
        replicas.get()
    assert api.requests == []


def test_watcher_keeps_the_count_through_an_outage_and_reports_a_change(
        api: FakeApi, account, caplog) -> None:
    replicas = StatefulSetReplicas(STATEFULSET, api_url=api.url, account_dir=account[1])
    changes: list[int] = []
    watcher = ShardCountWatcher(replicas, 2, changes.append)
    watcher.check()
    assert changes == []
    api.status = 503
    watcher.check()
    watcher.check()
    assert changes == [] and watcher.current == 2
    assert sum("keeping 2 shards" in r.message for r in caplog.records) == 1  # once an outage
    api.status, api.replicas = 200, 3
    watcher.check()
    assert changes == [3] and watcher.current == 3


def test_outside_kubernetes_it_is_a_usage_error(monkeypatch, capsys) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert main(["--demo", "--shard=0", "--shard.statefulset=x"]) == 1
    assert "works only inside a Kubernetes pod" in capsys.readouterr().err
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    assert main(["--demo", "--shard=0/3", "--shard.statefulset=x"]) == 1
    assert "needs --shard=I" in capsys.readouterr().err


def served_arrays(url: str) -> set[str]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {s.labels["array"] for f in text_string_to_metric_families(text)
            for s in f.samples if s.name == "qsan_up"}


@pytest.mark.slow
def test_kubectl_scale_reshards_a_running_exporter(api: FakeApi, account, simulators, exporter,
                                                   tmp_path, monkeypatch) -> None:
    sims = {f"k{i}": simulators("san", enclosures=1, disks=8, pools=1, volumes=2)
            for i in range(8)}
    before = {n for n in sims if shard_of(n, 2) == 0}
    after = {n for n in sims if shard_of(n, 3) == 0}
    assert before and after and before != after, "the names must move between shards"
    config = write_config(tmp_path / "c.yml", sims, interval_seconds=2, timeout_seconds=1)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
    monkeypatch.setenv("QSAN_KUBERNETES_SA_DIR", str(account[1]))
    e = exporter(f"--config.file={config}", "--shard=0", f"--shard.statefulset={STATEFULSET}",
                 "--shard.refresh-interval=0.5")
    e.wait_ready()
    assert served_arrays(e.url) == before
    assert all(sims[n].live_token_sets() == 1 for n in before)
    assert all(sims[n].stats.logins == 0 for n in set(sims) - before)

    api.replicas = 3  # kubectl scale statefulset qsan-exporter --replicas=3
    wait_for(lambda: served_arrays(e.url) == after, 30, "the exporter to re-shard")
    # Arrays that moved to another shard were let go: tokens revoked, no more polls.
    for name in before - after:
        wait_for(lambda n=name: sims[n].live_token_sets() == 0, 10, f"{name}'s token revoked")
    assert "scaled from 2 to 3 replicas" in e.log_text()
