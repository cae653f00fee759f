"""Helpers shared by the end-to-end and usage tests: the shipped dashboards and rules as data, the
metric names a PromQL expression reads, Grafana variable substitution, a fleet of faulty
simulated arrays under one exporter, and the Debian `prometheus` / `prometheus-alertmanager`
daemons on loopback ports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families as parse_text

from qsan_exporter.simulator import Fault, SimulatedArray, SimulatorConfig
from tests.conftest import Exporter, bound_port, wait_for, write_config

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "deploy" / "prometheus" / "qsan_alerts.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"


# --- the shipped dashboards and rules as data -----------------------------------------------------

@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # file name
    panel_id: int
    title: str
    ref_id: str
    expr: str
    instant: bool

    @property
    def where(self) -> str:
        return f"{self.dashboard} panel {self.panel_id} {self.title!r} {self.ref_id}"


@dataclass(frozen=True)
class VariableQuery:
    dashboard: str
    name: str
    query: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text())
            for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def panel_queries() -> list[PanelQuery]:
    found = []
    for name, dashboard in dashboards().items():
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append(PanelQuery(name, panel["id"], panel.get("title", ""),
                                            target.get("refId", ""), target["expr"],
                                            bool(target.get("instant"))))
    return found


def variable_queries() -> list[VariableQuery]:
    """Template variables that run a query (type `query`); `datasource` variables pick a data
    source and query nothing."""
    found = []
    for name, dashboard in dashboards().items():
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("type") == "query":
                query = var.get("query", "")
                text = query.get("query", "") if isinstance(query, dict) else str(query)
                found.append(VariableQuery(name, var["name"], text))
    return found


def rule_documents(path: Path = RULES_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def rules(path: Path = RULES_FILE) -> list[dict[str, Any]]:
    return [rule for group in rule_documents(path)["groups"] for rule in group["rules"]]


# --- which metrics an expression reads ------------------------------------------------------------

_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
             "bool", "offset", "inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: string literals, label matchers `{...}`, label
    lists (`by (...)`, `on (...)`, ...), ranges `[...]` and function names removed, what is left
    is metric names. A `__name__` matcher is refused rather than guessed."""
    if "__name__" in expr:
        raise ValueError(f"__name__ matchers are not supported: {expr!r}")
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = re.sub(r"\b\d[\w.]*", " ", text)  # numbers, 1e3, durations after `offset`
    names = set()
    for name, call in _IDENTIFIER.findall(text):
        if not call and name not in _KEYWORDS:
            names.add(name)
    return names


# --- Grafana variables ----------------------------------------------------------------------------

def grafana_regex_escape(value: str) -> str:
    """What Grafana's Prometheus data source does to each selected value before joining them
    into `(a|b)` for `=~`: a regex escape, written as a PromQL string escape (`.` -> `\\.`)."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value)


def all_values_regex(values: list[str]) -> str:
    """The value Grafana substitutes for a multi-select variable set to All (no custom
    allValue): every value, escaped, in one alternation."""
    escaped = [grafana_regex_escape(v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace `$name`, `${name}` and `[[name]]`; longest names first so `$__rate_interval` never
    loses to a `$__rate` and `$array` never to `$a`."""
    for name in sorted(values, key=len, reverse=True):
        for form in (f"${{{name}}}", f"[[{name}]]", f"${name}"):
            expr = expr.replace(form, values[name])
    return expr


def label_values_call(query: str) -> tuple[str | None, str]:
    """`label_values(selector, label)` or `label_values(label)` -> (selector or None, label)."""
    match = re.fullmatch(r"\s*label_values\(\s*(?:(.+?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*",
                         query)
    if not match:
        raise ValueError(f"unsupported variable query {query!r} (only label_values is handled)")
    return match.group(1), match.group(2)


# --- what the exporter serves -------------------------------------------------------------------

# Families a product cannot have (SPEC §4, manual): the only ones allowed to be missing.
NOT_ON = {
    "nas": {
        "qsan_disk_throughput_bytes_per_second",  # NAS disks have no performance object
        "qsan_disk_latency_seconds",
        "qsan_disk_ssd_life_remaining_ratio",  # "NAS: always 0" = no data
        "qsan_disk_written_bytes_total",
        "qsan_raidset_size_bytes",  # "NAS: always 0"
        "qsan_raidset_used_bytes",
        "qsan_cache_to_flash_health",  # cacheToFlash: "Only for SAN, FAS"
        "qsan_volume_qos_max_iops",  # isQosEnable "NAS always false"
        "qsan_volume_qos_max_throughput_bytes_per_second",
        "qsan_replication_path_health",  # NAS destination lines carry no status
        "qsan_raidset_ee_spares",  # eeSpareNum "NAS: always 0"
    },
    # loginTime: "Only for NAS" (manual 002 l.1055); the `spare` list is "Only for NAS"
    "san": {"qsan_iscsi_session_login_timestamp_seconds", "qsan_raidset_spare_disks"},
    # The simulated XEVO firmware sends sensor readings without a status field (the manual shows
    # both forms); qsan_sensor_health exists only where the device gives a status.
    "fas": {"qsan_sensor_health", "qsan_iscsi_session_login_timestamp_seconds",
            "qsan_raidset_spare_disks"},
    # SANOS 4.0's API has no task list (snapshot spaces only: no status, no schedule), no disk
    # performance, no pool cache fields (docs/legacy-api.md, "Not available in legacy"); its
    # RAID groups have no dedicated spare list (a NAS field).
    "legacy": {
        "qsan_task_health", "qsan_task_next_run_timestamp_seconds",
        "qsan_disk_latency_seconds", "qsan_disk_throughput_bytes_per_second",
        "qsan_pool_cache_size_bytes", "qsan_raidset_spare_disks",
        "qsan_iscsi_session_login_timestamp_seconds",
        "qsan_iscsi_connection_info", "qsan_iscsi_connection_health",  # no connection status
        "qsan_replication_path_info", "qsan_replication_path_health",  # no task list
    },
}


def families_of(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in parse_text(text):
        out.setdefault(family.name, []).extend(family.samples)
    return out


def samples_of(families: dict[str, list], name: str, array: str) -> list:
    base = name[: -len("_total")] if name.endswith("_total") else name
    return [s for s in families.get(base, []) if s.labels.get("array") == array]


def backoff_attempts_bound(duration: float, interval: float, backoff_max: float) -> int:
    """Most poll attempts a failing array can get in `duration` under the exporter's backoff
    (qsan_exporter/poll/backoff.py): the first failure keeps the interval, failure k >= 2 waits
    >= 0.75 * min(max, I * 2^(k-1)) (jitter only shortens), and the job only fires on interval
    ticks. +1 for the edges. The test's own statement of the schedule, not the code's."""
    t, attempts = 0.0, 1
    while True:
        wait = interval if attempts == 1 else 0.75 * min(backoff_max,
                                                         interval * 2 ** (attempts - 1))
        if t + wait > duration:
            return attempts + 1
        t += wait
        attempts += 1


# --- a fleet of simulated arrays under one exporter -----------------------------------------------

# Per array: the faults armed before the exporter starts, and its own config keys.
FleetArrays = Mapping[str, tuple[Sequence[Fault], Mapping[str, Any]]]


def requests_to(sim: SimulatedArray, path: str) -> int:
    """Requests the simulator answered on `path` (a poll's last endpoint counts polls)."""
    return int(sim.stats_snapshot()["requests_by_path"].get(path, 0))


class SimFleet:
    """Simulated arrays on loopback, each with its faults armed, polled by one real exporter
    subprocess (the CLI, `api: unified`: `auto` would add a flavour probe to every attempt).

    An array's simulator seed is its place in `arrays`, whichever `names` are started, so an
    array looks the same in every fleet it is part of. `close()` stops everything.
    """

    def __init__(self, tmp: Path, arrays: FleetArrays, *args: str, password: str,
                 names: Iterable[str] | None = None, literal: bool = False,
                 **defaults: object) -> None:
        wanted = set(arrays if names is None else names)
        self.sims: dict[str, SimulatedArray] = {}
        try:
            for seed, (name, (faults, _)) in enumerate(arrays.items()):
                if name in wanted:
                    self.sims[name] = sim = SimulatedArray(SimulatorConfig(
                        username="monitor", password=password, seed=seed, literal=literal)).start()
                    for fault in faults:
                        sim.faults.add(fault)
            config = write_config(tmp / "config.yml", self.sims,
                                  {name: arrays[name][1] for name in self.sims},
                                  password=password, api="unified", **defaults)
            self.exporter = Exporter([f"--config.file={config}", *args], tmp / "exporter.log")
        except BaseException:
            self._stop_sims()
            raise

    def close(self) -> None:
        self.exporter.stop()
        self._stop_sims()

    def _stop_sims(self) -> None:
        for sim in self.sims.values():
            sim.faults.clear()
            sim.stop()


# --- the Debian daemons ---------------------------------------------------------------------------

def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} must be installed (Debian packages prometheus, prometheus-alertmanager)"
    return path


class Daemon:
    """One server process started on loopback port 0; its URL carries the port it logged
    binding. `stop()` terminates it and waits (kills if stuck)."""

    def __init__(self, argv: list[str], log_path: Path, ready_path: str,
                 timeout: float = 60) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self.url = f"http://127.0.0.1:{bound_port(log_path, self.process, timeout)}"
            wait_for(lambda: self._ready(ready_path), timeout, f"{argv[0]} ready")
        except BaseException:
            self.stop()
            raise

    def _ready(self, path: str) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.process.args[0]} exited:\n{self.log_text()}")
        return requests.get(self.url + path, timeout=2).status_code == 200

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


def start_prometheus(workdir: Path, config: dict[str, Any]) -> Daemon:
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Daemon([binary("prometheus"), f"--config.file={config_path}",
                   f"--storage.tsdb.path={workdir / 'tsdb'}",
                   "--web.listen-address=127.0.0.1:0"],
                  workdir / "prometheus.log", "/-/ready")


def start_alertmanager(workdir: Path, config: dict[str, Any]) -> Daemon:
    """Clustering off (`--cluster.listen-address=`): a lone instance needs no gossip port."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Daemon([binary("prometheus-alertmanager"), f"--config.file={config_path}",
                   f"--storage.path={workdir / 'data'}", "--web.listen-address=127.0.0.1:0",
                   "--cluster.listen-address="],
                  workdir / "alertmanager.log", "/-/ready")


class WebhookRecorder:
    """A loopback HTTP server that keeps every Alertmanager webhook notification it receives,
    keyed by the request path (one path per receiver)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.2,),
                                        daemon=True)
        self._thread.start()

    def alerts(self, path: str) -> list[dict[str, Any]]:
        """Every alert notified to `path`, firing or resolved, oldest first."""
        return [alert for got, body in list(self.received) if got == path
                for alert in body.get("alerts", [])]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
