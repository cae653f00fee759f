"""The exporter under its file limit and under reload storms, as a real subprocess on loopback.

Counts only: answered scrapes, file descriptors and threads from /proc, token sets and the
peak of requests in flight on each simulated array.
"""

from __future__ import annotations

import logging
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from qsan_exporter.web import server as web_server
from tests.conftest import bound_port, wait_for, write_config


def test_connection_cap_stays_below_the_file_limit(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(web_server.resource, "getrlimit", lambda _: (1024, 4096))
    assert web_server.connection_cap(512) == 512
    caplog.set_level(logging.WARNING)
    assert web_server.connection_cap(2000) == 1024 - web_server.FD_RESERVE
    assert "file limit 1024" in caplog.text


def _limit_files(soft: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, soft))


class Proc:
    """`qsan-exporter` in a subprocess under a file limit; fds, threads and RSS from /proc."""

    def __init__(self, args: list[str], log: Path, nofile: int | None = None) -> None:
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qsan_exporter.cli", *args,
             "--web.listen-address=127.0.0.1:0"],
            stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=(lambda: _limit_files(nofile)) if nofile else None,
        )
        self.port = bound_port(log, self.process)  # the port the exporter itself bound
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._ready, 60, "/-/ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the exporter exited: {self._log.name}")
        return self.get("/-/ready").status_code == 200

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=10)

    def fds(self) -> int:
        return len(list(Path(f"/proc/{self.process.pid}/fd").iterdir()))

    def status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(field)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
        return self.process.returncode


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Proc]:
    proc = Proc(["--demo", "--web.read-timeout=30"], tmp_path / "exporter.log", nofile=1024)
    yield proc
    proc.stop()


def _connect(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(10)
        sock.connect(("127.0.0.1", port))
        socks.append(sock)
    return socks


@pytest.mark.slow
def test_1100_idle_connections_under_a_1024_file_limit(demo: Proc) -> None:
    fds_before = demo.fds()
    socks = _connect(demo.port, 1100)
    try:
        answers = [demo.get("/metrics").status_code for _ in range(10)]
        assert answers == [200] * 10
        assert demo.fds() < 1024
        assert demo.status("Threads") <= 64
    finally:
        for sock in socks:
            sock.close()
    wait_for(lambda: demo.fds() <= fds_before + 5, 30, "fds back to baseline")
    assert demo.get("/metrics").status_code == 200


@pytest.mark.slow
def test_100_unfinished_header_floods_leave_rss_near_its_baseline(demo: Proc) -> None:
    demo.get("/metrics")
    rss_before = demo.status("VmRSS")
    socks = _connect(demo.port, 100)
    line = b"X-Flood: " + b"f" * 65000 + b"\r\n"
    refused = 0
    try:
        for sock in socks:
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        for sock in socks:
            try:
                for _ in range(99):  # ~6 MB each, never finished
                    sock.sendall(line)
            except OSError:
                refused += 1  # cut off by the server at the header limit
        answers = [demo.get("/metrics").status_code for _ in range(5)]
        assert answers == [200] * 5
    finally:
        for sock in socks:
            sock.close()
    assert refused == 100
    wait_for(lambda: demo.status("VmRSS") < rss_before + 30_000, 30, "RSS back near baseline")


def _scraper(url: str, stop: threading.Event, results: list[int]) -> None:
    session = requests.Session()
    while not stop.is_set() and len(results) < 20_000:
        try:
            results.append(session.get(url + "/metrics", timeout=10).status_code)
        except requests.RequestException:
            results.append(0)


@pytest.mark.slow
def test_reload_storm_while_scraping(simulators, tmp_path: Path) -> None:
    a, b = simulators("san"), simulators("nas")
    path = write_config(tmp_path / "c.yml", {"ra": a, "rb": b}, interval_seconds=2,
                        timeout_seconds=1)
    proc = Proc([f"--config.file={path}", "--web.enable-lifecycle"], tmp_path / "e.log")
    try:
        wait_for(lambda: 'qsan_up{array="rb"} 1.0' in proc.get("/metrics").text, 30, "polled")
        fds_before, threads_before = proc.fds(), proc.status("Threads")
        stop, results = threading.Event(), []
        scrapers = [threading.Thread(target=_scraper, args=(proc.url, stop, results))
                    for _ in range(4)]
        for t in scrapers:
            t.start()
        for i in range(100):
            if i % 4 == 1:  # a changed file: rb leaves, and comes back next time
                arrays = {"ra": a} if i % 8 == 1 else {"ra": a, "rb": b}
                write_config(path, arrays, interval_seconds=2, timeout_seconds=1)
            if i % 2:
                proc.process.send_signal(signal.SIGHUP)
            else:
                assert requests.post(proc.url + "/-/reload", timeout=10).status_code == 200
            time.sleep(0.05)
        write_config(path, {"ra": a, "rb": b}, interval_seconds=2, timeout_seconds=1)
        assert requests.post(proc.url + "/-/reload", timeout=10).status_code == 200
        stop.set()
        for t in scrapers:
            t.join(30)
        wait_for(lambda: 'qsan_up{array="rb"} 1.0' in proc.get("/metrics").text, 30, "rb back")
        assert len(results) > 0 and results.count(200) == len(results)
        wait_for(lambda: proc.status("Threads") <= threads_before + 2, 30, "threads back")
        wait_for(lambda: proc.fds() <= fds_before + 4, 30, "fds back")
        assert a.live_token_sets() == 1 and b.live_token_sets() == 1
        assert a.stats.max_concurrent_requests == 1 and b.stats.max_concurrent_requests == 1
    finally:
        assert proc.stop() == 0
    assert a.live_token_sets() == 0 and b.live_token_sets() == 0
