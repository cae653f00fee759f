"""The example Alertmanager configuration: valid, routes by severity, and inhibits as documented.

Routing is checked offline with `amtool config routes test`; inhibition needs a running
Alertmanager (Debian `prometheus-alertmanager`), which answers in about a second on loopback.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import bound_port

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RULES_FILE = ROOT / "deploy" / "prometheus" / "qsan_alerts.yml"


def binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} must be installed (Debian packages prometheus-alertmanager / amtool)"
    return path


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("amtool"), *args], capture_output=True, text=True, timeout=30)


def route(*labels: str) -> str:
    result = amtool("config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_amtool_check_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, f"amtool check-config failed:\n{result.stdout}{result.stderr}"
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("severity", "receiver"), [
    ("critical", "pager"),
    ("warning", "ticket"),
    ("info", "null"),
    ("unexpected", "ticket"),  # a rule without a known severity must still reach a human
])
def test_routes_by_severity(severity: str, receiver: str) -> None:
    got = route(f"severity={severity}", "alertname=QsanDiskFailed", "array=san-a")
    assert got == receiver, f"severity={severity} routed to {got!r}, expected {receiver!r}"


def test_every_rule_severity_has_a_route() -> None:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    severities = {rule["labels"]["severity"] for group in groups for rule in group["rules"]}
    expected = {"critical": "pager", "warning": "ticket", "info": "null"}
    for severity in severities:
        assert route(f"severity={severity}") == expected[severity], severity


def test_grouping_keeps_arrays_apart() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["route"]["group_by"] == ["alertname", "array"]


# --- inhibition, against a real Alertmanager ----------------------------------------------------

@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("alertmanager")
    log = (data / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [binary("prometheus-alertmanager"), f"--config.file={CONFIG}",
         f"--storage.path={data}", "--web.listen-address=127.0.0.1:0",
         "--cluster.listen-address="],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{bound_port(data / 'alertmanager.log', process, 15)}"
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, (data / "alertmanager.log").read_text()
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "alertmanager did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def alert(name: str, severity: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, **labels}}


def inhibited_after_posting(url: str, alerts: list[dict]) -> dict[str, bool]:
    """Post alerts, then map each alert's `case` label to whether Alertmanager inhibits it."""
    requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()
    cases = {a["labels"]["case"] for a in alerts}
    deadline = time.monotonic() + 10
    while True:
        got = requests.get(f"{url}/api/v2/alerts", timeout=5).json()
        state = {a["labels"]["case"]: bool(a["status"]["inhibitedBy"])
                 for a in got if a["labels"].get("case") in cases}
        # The inhibitor learns sources asynchronously; wait until every source is known.
        if len(state) == len(cases) and all(
            state[case] for case in cases if case.startswith("expect-inhibited")
        ):
            return state
        if time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def test_unreachable_array_mutes_only_its_own_alerts(alertmanager: str) -> None:
    state = inhibited_after_posting(alertmanager, [
        alert("QsanArrayUnreachable", "critical", array="san-a", case="source-unreachable"),
        alert("QsanDiskFailed", "warning", array="san-a", disk="0-3",
              case="expect-inhibited-disk-same-array"),
        alert("QsanArrayDataStale", "warning", array="san-a", case="expect-inhibited-stale"),
        alert("QsanDiskFailed", "warning", array="san-b", disk="0-3", case="other-array"),
        # The cause of the unreachable page stays visible.
        alert("QsanArrayLoginRejected", "warning", array="san-a", case="login-rejected-shown"),
    ])
    assert state == {
        "source-unreachable": False,
        "expect-inhibited-disk-same-array": True,
        "expect-inhibited-stale": True,
        "other-array": False,
        "login-rejected-shown": False,
    }


def test_exporter_down_with_array_label_mutes_that_array(alertmanager: str) -> None:
    state = inhibited_after_posting(alertmanager, [
        alert("QsanExporterDown", "critical", array="nas-c", job="qsan-probe",
              case="source-down"),
        alert("QsanPoolAlmostFull", "warning", array="nas-c", pool="P1",
              case="expect-inhibited-pool"),
        alert("QsanExporterConfigReloadFailed", "warning", instance="x:9747",
              case="no-array-not-muted"),
    ])
    assert state == {"source-down": False, "expect-inhibited-pool": True,
                     "no-array-not-muted": False}


def test_critical_tier_mutes_matching_warning_only(alertmanager: str) -> None:
    state = inhibited_after_posting(alertmanager, [
        alert("QsanTemperatureHigh", "critical", array="san-d", enclosure="0", sensor="CPU",
              case="source-critical"),
        alert("QsanTemperatureHigh", "warning", array="san-d", enclosure="0", sensor="CPU",
              case="expect-inhibited-same-sensor"),
        alert("QsanTemperatureHigh", "warning", array="san-d", enclosure="0",
              sensor="Backplane", case="other-sensor"),
        alert("QsanDiskHot", "warning", array="san-d", enclosure="0", sensor="CPU",
              case="other-alertname"),
    ])
    assert state == {
        "source-critical": False,
        "expect-inhibited-same-sensor": True,
        "other-sensor": False,
        "other-alertname": False,
    }
