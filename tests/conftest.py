"""Shared fixtures: simulated arrays over real HTTP, and the real exporter as a subprocess."""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
import yaml

from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent
# The manual's two readings (qsan_exporter/readings.py): with QSAN_SIM_LITERAL=1 every simulated
# array of the end-to-end tests answers in the literal one (`simulate --literal`). scripts/test
# runs the suite, then the simulator-backed tests (marker `simulated`) again in that reading.
SIM_LITERAL = os.environ.get("QSAN_SIM_LITERAL") == "1"
# How a simulated array refuses a wrong password: 401, or 400 in the literal reading
# (`login-refused-status` in qsan_exporter/readings.py).
REFUSED_STATUS = 400 if SIM_LITERAL else 401


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "simulated: runs against simulated arrays (QSAN_SIM_LITERAL switches reading)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "simulators" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.simulated)
    if SIM_LITERAL:
        # The literal rerun is about simulated arrays only; deselecting here (not with `-m`)
        # keeps any `-m` the caller gave, e.g. scripts/test -m "not slow".
        other = [item for item in items if item.get_closest_marker("simulated") is None]
        if other:
            config.hook.pytest_deselected(items=other)
            items[:] = [item for item in items if item.get_closest_marker("simulated")]


# The exporter's own sessions send through this adapter's `send`, not requests' HTTPAdapter.send,
# which is where `responses` intercepts by default.
ARRAY_ADAPTER_SEND = "qsan_exporter.api.adapter.ArrayAdapter.send"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """A mocked array (`responses`), in front of the exporter's own sessions' adapter."""
    with responses.RequestsMock(target=ARRAY_ADAPTER_SEND,
                                assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port nothing listens on for the whole test: it stays bound (never listening)
    by this fixture, so no other process can take it and a connection to it is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


# `msg="Listening on" address=HOST:PORT` (logfmt) or `"msg": "Listening on", "address": ...`
# (JSON): the line the exporter, Prometheus and Alertmanager all log once they are bound.
LISTENING = re.compile(r'Listening on\W.*?address\W+\S*:(\d+)')


def bound_port(log_path: Path, process: subprocess.Popen, timeout: float = 20) -> int:
    """The port a daemon started on port 0 bound, read back from its `Listening on` log line
    (no bind-close-reuse race: the daemon itself holds the port from the start)."""
    def port() -> int | None:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited early:\n"
                                 f"{log_path.read_text(errors='replace')}")
        found = LISTENING.search(log_path.read_text(errors="replace"))
        return int(found.group(1)) if found else None

    return wait_for(port, timeout, f"a 'Listening on' line in {log_path}")  # type: ignore[return-value]


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `predicate` until it returns something truthy; bounded, never wall-clock asserted."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except (requests.RequestException, OSError, ValueError) as exc:
            last_error = exc
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last_error})")


def status_card(page: str, array: str) -> str:
    """The text of one array's card on the status page (tags stripped, entities decoded)."""
    mark = re.compile(r"""data-array=["']""" + re.escape(html.escape(array)) + r"""["']""")
    cards = [c for c in page.split("<section")[1:] if mark.search(c.split(">", 1)[0])]
    assert len(cards) == 1, f"one card for {array}"
    card = cards[0].split("</section>")[0]
    return html.unescape(re.sub(r"<[^>]+>", " ", card))


@pytest.fixture
def simulators() -> Iterator[Callable[..., SimulatedArray]]:
    """Start simulated arrays on loopback: `simulators("san", token_lifetime=5)`."""
    started: list[SimulatedArray] = []

    def start(profile: str, **options: object) -> SimulatedArray:
        options.setdefault("username", "monitor")
        options.setdefault("password", "secret-pw")
        options.setdefault("literal", SIM_LITERAL)
        sim = SimulatedArray(SimulatorConfig(profile=profile, **options),  # type: ignore[arg-type]
                             host="127.0.0.1", port=0)
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def write_config(path: Path, arrays: dict[str, SimulatedArray],
                 per_array: Mapping[str, Mapping[str, Any]] | None = None,
                 **defaults: object) -> Path:
    """A config file (mode 0600) polling `arrays`; `per_array`: keys of some arrays' own."""
    document = {
        "defaults": {"username": "monitor", "password": "secret-pw", **defaults},
        "arrays": [{"name": name, "url": sim.url, **(per_array or {}).get(name, {})}
                   for name, sim in arrays.items()],
    }
    path.write_text(yaml.safe_dump(document))
    os.chmod(path, 0o600)
    return path


class Exporter:
    """The real `qsan-exporter` CLI in a subprocess, on loopback port 0 (the port read back from
    its `Listening on` line). Its state directory (token sets) is its own, beside its log,
    unless `--state.directory` is given."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {**os.environ, "STATE_DIRECTORY": str(log_path.with_suffix(".state"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qsan_exporter.cli", *args,
             "--web.listen-address=127.0.0.1:0", "--log.level=debug"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
        )
        self.port = bound_port(log_path, self.process)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(self._healthy, 20, "the exporter to answer /-/healthy")

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"exporter exited early:\n{self.log_path.read_text()}")
        return requests.get(self.url + "/-/healthy", timeout=2).status_code == 200

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(lambda: self.get("/-/ready").status_code == 200, timeout, "/-/ready")

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    running: list[Exporter] = []

    def start(*args: str) -> Exporter:
        e = Exporter(list(args), tmp_path / f"exporter-{len(running)}.log")
        running.append(e)
        return e

    yield start
    for e in running:
        e.stop()


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[list[dict]], str]]:
    """A real Prometheus (Debian package) on loopback: `prometheus(scrape_configs)` -> URL."""
    from tests.e2e_helpers import Daemon, start_prometheus  # it imports this module

    started: list[Daemon] = []

    def start(scrape_configs: list[dict]) -> str:
        daemon = start_prometheus(tmp_path / f"prometheus-{len(started)}", {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": scrape_configs,
        })
        started.append(daemon)
        return daemon.url

    yield start
    for daemon in started:
        daemon.stop()


def query(url: str, expr: str) -> list[dict]:
    answer = requests.get(url + "/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]
