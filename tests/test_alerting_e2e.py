"""End to end: simulated arrays -> the real exporter -> a real Prometheus (Debian package) with the
shipped alert rules -> a real Alertmanager (Debian prometheus-alertmanager) with the shipped
routes and inhibitions -> a loopback webhook standing in for the pager and the ticket system.

Checked against the simulator's default scenario (failed disk, degraded RAID set, failed PSU,
replication task in error, ...), an array with a wrong password, and an array stopped mid-test:
  * the scenario's alerts reach Alertmanager with the labels the rules promise, critical ones are
    notified to the pager receiver, warnings to the ticket receiver, and the inhibitions hold;
  * every rule's health is ok;
  * every dashboard panel query and variable query returns data, except an explicit allow-list.

One module-scoped stack serves every test; the stages (scenario seen, array stopped) are fixtures,
so each test runs alone too. Every wait is bounded; no assertion is about speed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from qsan_exporter.simulator import SimulatedArray, SimulatorConfig
from tests.conftest import SIM_LITERAL, Exporter
from tests.e2e_helpers import (
    ALERTMANAGER_CONFIG,
    Daemon,
    WebhookRecorder,
    all_values_regex,
    label_values_call,
    panel_queries,
    rule_documents,
    start_alertmanager,
    start_prometheus,
    substitute,
    variable_queries,
)

# QSAN_SIM_LITERAL=1 reruns it in the other reading; an end-to-end fleet: not the inner loop.
pytestmark = [pytest.mark.simulated, pytest.mark.slow]
PASSWORD = "secret-pw"
STOPPED = "e2e-fas"  # stopped during the test: QsanArrayUnreachable
BAD_LOGIN = "e2e-badlogin"  # configured with a wrong password: QsanArrayLoginRejected
HEALTHY_PROFILES = {"e2e-san": "san", "e2e-nas": "nas", STOPPED: "fas"}
# Grafana's $__rate_interval is max(4 × scrape interval, $__interval + scrape interval); with the
# 1 s scrape below, 10 s spans several scrapes and several exporter polls (every 2 s).
GRAFANA_BUILTINS = {"__rate_interval": "10s", "__interval": "2s", "__range": "1m",
                    "__range_s": "60", "interval": "2s"}
RANGE_SECONDS = 60

# Panels allowed to return nothing in this scenario, each with the reason. Keys are
# (dashboard, panel id, refId). Empty: with one array stopped and one refusing logins, even the
# "failing" and "error" panels have something to show.
EMPTY_PANELS_ALLOWED: dict[tuple[str, int, str], str] = {}


def shortened_rules(target: Path) -> Path:
    """The shipped rules with every `for:` set to 0s. The real `for:` durations (5 to 60 minutes)
    are covered by the promtool unit tests (deploy/prometheus/qsan_alerts.test.yml); here only the
    expressions, labels and the path to Alertmanager are under test, within seconds."""
    document = rule_documents()
    for group in document["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    return target


def alertmanager_config(webhook: str) -> dict[str, Any]:
    """The shipped Alertmanager configuration (routes, receivers' names, inhibitions unchanged)
    with each webhook pointed at the recorder under the receiver's name, and group_wait cut from
    30 s so notifications arrive during the test."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook}/{receiver['name']}"
    config["route"]["group_wait"] = "1s"
    config["route"]["group_interval"] = "2s"
    return config


@dataclass
class Stack:
    sims: dict[str, SimulatedArray]
    exporter: Exporter
    prometheus: Daemon
    alertmanager: Daemon
    webhook: WebhookRecorder
    notes: dict[str, Any] = field(default_factory=dict)

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = requests.get(self.prometheus.url + "/api/v1/query", params={"query": expr},
                              timeout=10).json()
        assert answer["status"] == "success", f"{expr}: {answer}"
        return answer["data"]["result"]

    def query_range(self, expr: str) -> list[dict[str, Any]]:
        end = time.time()
        answer = requests.get(self.prometheus.url + "/api/v1/query_range", timeout=10, params={
            "query": expr, "start": end - RANGE_SECONDS, "end": end, "step": "2s"}).json()
        assert answer["status"] == "success", f"{expr}: {answer}"
        return answer["data"]["result"]

    def label_values(self, label: str, selector: str | None) -> list[str]:
        params = {"match[]": selector} if selector else {}
        answer = requests.get(f"{self.prometheus.url}/api/v1/label/{label}/values",
                              params=params, timeout=10).json()
        assert answer["status"] == "success", answer
        return answer["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's active alerts, inhibited ones included (status.inhibitedBy)."""
        response = requests.get(self.alertmanager.url + "/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return response.json()


def poll(check: Callable[[], bool], timeout: float) -> bool:
    """Call `check` until it is true or `timeout` seconds pass; count-based, then report."""
    for _ in range(int(timeout / 0.5)):
        try:
            if check():
                return True
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    return check()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("alerting-e2e")
    cleanup: list[Callable[[], None]] = []
    try:
        sims = {}
        for name, profile in HEALTHY_PROFILES.items():
            sim = SimulatedArray(SimulatorConfig(profile=profile, username="monitor",
                                                 password=PASSWORD, literal=SIM_LITERAL),
                                 host="127.0.0.1", port=0)
            sim.start()
            cleanup.append(sim.stop)
            sims[name] = sim
        config = workdir / "exporter.yml"
        config.write_text(yaml.safe_dump({
            "defaults": {"username": "monitor", "password": PASSWORD, "interval_seconds": 2,
                         "timeout_seconds": 1},
            "arrays": [
                *({"name": name, "url": sim.url, "labels": {"site": "lab"}}
                  for name, sim in sims.items()),
                {"name": BAD_LOGIN, "url": sims["e2e-nas"].url, "password": "wrong-password"},
            ],
        }))
        os.chmod(config, 0o600)
        exporter = Exporter([f"--config.file={config}"], workdir / "exporter.log")
        cleanup.append(exporter.stop)
        webhook = WebhookRecorder()
        cleanup.append(webhook.stop)
        alertmanager = start_alertmanager(workdir / "alertmanager",
                                          alertmanager_config(webhook.url))
        cleanup.append(alertmanager.stop)
        prometheus = start_prometheus(workdir / "prometheus", {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": [str(shortened_rules(workdir / "qsan_alerts.yml"))],
            "alerting": {"alertmanagers": [{"static_configs": [
                {"targets": [alertmanager.url.removeprefix("http://")]}]}]},
            "scrape_configs": [{"job_name": "qsan", "static_configs": [
                {"targets": [exporter.url.removeprefix("http://")]}]}],
        })
        cleanup.append(prometheus.stop)
        yield Stack(sims, exporter, prometheus, alertmanager, webhook)
    finally:
        for stop in reversed(cleanup):
            stop()


def labelled(alerts: list[dict[str, Any]], name: str, array: str) -> list[dict[str, Any]]:
    return [a for a in alerts
            if a["labels"].get("alertname") == name and a["labels"].get("array") == array]


def expected_scenario_alerts(stack: Stack, array: str) -> dict[str, dict[str, str]]:
    """The default scenario's faults as alerts, with the identity labels each rule carries."""
    facts = stack.sims[array].facts
    common = {"array": array, "site": "lab", "job": "qsan"}
    return {
        "QsanPsuFailed": {**common, "severity": "critical", "psu": facts.failed_psu},
        "QsanDiskFailed": {**common, "severity": "warning", "disk": str(facts.failed_disk)},
        "QsanRaidSetDegraded": {**common, "severity": "warning",
                                "raidset": str(facts.degraded_raidset),
                                "pool": facts.degraded_pool},
        "QsanReplicationFailed": {**common, "severity": "warning", "task_type": "replication",
                                  "task": facts.error_replication_task},
        "QsanPoolUnhealthy": {**common, "severity": "warning", "pool": facts.degraded_pool},
    }


# The stopped fan: profiles that report a fan status (san, nas) raise QsanFanFailed; FAS reports
# only the speed, so QsanFanStopped fires instead. Never both for one fan.
FAN_ALERT = {"san": ("QsanFanFailed", "sensor"), "nas": ("QsanFanFailed", "sensor"),
             "fas": ("QsanFanStopped", "fan")}
# The only other alert a healthy scenario array may raise: the simulator's log may contain error
# events (info, routed nowhere).
TOLERATED = {"QsanLogErrors"}


def scenario_seen(stack: Stack) -> bool:
    alerts = stack.alerts()
    return all(labelled(alerts, name, array)
               for array in HEALTHY_PROFILES
               for name in expected_scenario_alerts(stack, array)) and bool(
        labelled(alerts, "QsanArrayLoginRejected", BAD_LOGIN))


@pytest.fixture(scope="module")
def before_stop(stack: Stack) -> list[dict[str, Any]]:
    """Alertmanager's alerts once every scenario fault of every array has arrived (or 60 s)."""
    poll(lambda: scenario_seen(stack), 60)
    return stack.alerts()


@pytest.fixture(scope="module")
def after_stop(stack: Stack, before_stop: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stop one array, then Alertmanager's alerts once its unreachable alert is in and has muted
    its other alerts (or 60 s)."""
    stack.sims[STOPPED].stop()

    def unreachable_and_inhibiting() -> bool:
        alerts = stack.alerts()
        others = [a for a in alerts if a["labels"].get("array") == STOPPED
                  and a["labels"]["alertname"] in ("QsanCollectorFailing", "QsanArrayBackingOff")]
        return bool(labelled(alerts, "QsanArrayUnreachable", STOPPED)) and len(
            {a["labels"]["alertname"] for a in others}) == 2 and all(
            a["status"]["inhibitedBy"] for a in others)

    poll(unreachable_and_inhibiting, 60)
    alerts = stack.alerts()
    for alert in sorted(alerts, key=lambda a: sorted(a["labels"].items())):  # evidence for -s
        identity = {k: v for k, v in alert["labels"].items() if k not in ("instance", "job")}
        print("alertmanager:", identity, "inhibited" if alert["status"]["inhibitedBy"] else "")
    return alerts


# --- alerts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("array", sorted(HEALTHY_PROFILES))
def test_scenario_alerts_reach_alertmanager(stack: Stack, before_stop: list[dict[str, Any]],
                                            array: str) -> None:
    for name, labels in expected_scenario_alerts(stack, array).items():
        found = labelled(before_stop, name, array)
        assert len(found) == 1, (f"{name} for {array}: expected one alert, got "
                                 f"{[a['labels'] for a in found]}; all: "
                                 f"{sorted({a['labels']['alertname'] for a in before_stop})}")
        got = found[0]["labels"]
        assert {key: got.get(key) for key in labels} == labels, f"{name} labels: {got}"
        assert got["instance"] == stack.exporter.url.removeprefix("http://")
        assert found[0]["annotations"]["runbook_url"].endswith("#" + name.lower())
        assert not found[0]["status"]["inhibitedBy"], f"{name} for {array} is inhibited"
    fan_alert, fan_label = FAN_ALERT[HEALTHY_PROFILES[array]]
    fans = labelled(before_stop, "QsanFanFailed", array) + labelled(
        before_stop, "QsanFanStopped", array)
    assert [(a["labels"]["alertname"], a["labels"].get(fan_label)) for a in fans] == [
        (fan_alert, stack.sims[array].facts.stopped_fan)], [a["labels"] for a in fans]
    # Nothing else: no threshold or health rule misfires on a healthy part.
    raised = {a["labels"]["alertname"] for a in before_stop if a["labels"].get("array") == array}
    unexpected = raised - set(expected_scenario_alerts(stack, array)) - {fan_alert} - TOLERATED
    assert not unexpected, f"{array}: unexpected alerts {sorted(unexpected)}"


def test_login_rejection_reaches_alertmanager_unmuted(
        stack: Stack, before_stop: list[dict[str, Any]]) -> None:
    rejected = labelled(before_stop, "QsanArrayLoginRejected", BAD_LOGIN)
    unreachable = labelled(before_stop, "QsanArrayUnreachable", BAD_LOGIN)
    assert len(rejected) == 1 and len(unreachable) == 1, [a["labels"] for a in before_stop]
    assert rejected[0]["labels"]["severity"] == "warning"
    assert unreachable[0]["labels"]["severity"] == "critical"
    # The cause stays visible next to the page it explains.
    assert not rejected[0]["status"]["inhibitedBy"]
    # The wrong password does not make the other arrays' alerts appear on the bad array.
    assert not labelled(before_stop, "QsanPsuFailed", BAD_LOGIN)


def test_stopped_array_pages_and_mutes_its_other_alerts(
        stack: Stack, after_stop: list[dict[str, Any]]) -> None:
    unreachable = labelled(after_stop, "QsanArrayUnreachable", STOPPED)
    assert len(unreachable) == 1, sorted(
        (a["labels"]["alertname"], a["labels"].get("array")) for a in after_stop)
    assert unreachable[0]["labels"]["severity"] == "critical"
    assert unreachable[0]["labels"]["site"] == "lab"
    assert not unreachable[0]["status"]["inhibitedBy"]
    muted = {a["labels"]["alertname"]: a["status"]["inhibitedBy"] for a in after_stop
             if a["labels"].get("array") == STOPPED and a is not unreachable[0]}
    assert {"QsanCollectorFailing", "QsanArrayBackingOff"} <= set(muted), muted
    assert all(muted.values()), f"not inhibited by QsanArrayUnreachable: {muted}"
    # The other arrays keep alerting.
    assert labelled(after_stop, "QsanPsuFailed", "e2e-san")
    assert not labelled(after_stop, "QsanArrayUnreachable", "e2e-san")


def test_notifications_follow_the_severity_routes(
        stack: Stack, after_stop: list[dict[str, Any]]) -> None:
    def notified(path: str, name: str, array: str) -> bool:
        return any(a["labels"]["alertname"] == name and a["labels"].get("array") == array
                   and a["status"] == "firing" for a in stack.webhook.alerts(path))

    expected = [("/pager", "QsanPsuFailed", "e2e-san"), ("/pager", "QsanArrayUnreachable", STOPPED),
                ("/ticket", "QsanDiskFailed", "e2e-nas"),
                ("/ticket", "QsanReplicationFailed", "e2e-san"),
                ("/ticket", "QsanArrayLoginRejected", BAD_LOGIN)]
    poll(lambda: all(notified(*case) for case in expected), 30)
    missing = [case for case in expected if not notified(*case)]
    assert not missing, f"not notified: {missing}"
    pager = {a["labels"]["severity"] for a in stack.webhook.alerts("/pager")}
    ticket = {a["labels"]["severity"] for a in stack.webhook.alerts("/ticket")}
    assert pager == {"critical"} and ticket == {"warning"}, (pager, ticket)
    # An inhibited alert is never notified.
    assert not any(a["labels"]["alertname"] == "QsanCollectorFailing"
                   and a["labels"].get("array") == STOPPED
                   for a in stack.webhook.alerts("/ticket"))


# --- rules --------------------------------------------------------------------------------------

def test_every_rule_is_healthy(stack: Stack, after_stop: list[dict[str, Any]]) -> None:
    def rules() -> list[dict[str, Any]]:
        answer = requests.get(stack.prometheus.url + "/api/v1/rules", timeout=10).json()
        return [rule for group in answer["data"]["groups"] for rule in group["rules"]]

    poll(lambda: all(rule["health"] != "unknown" for rule in rules()), 30)
    loaded = rules()
    shipped = [rule for group in rule_documents()["groups"] for rule in group["rules"]]
    assert len(loaded) == len(shipped), "Prometheus did not load every shipped rule"
    unhealthy = [(rule["name"], rule["health"], rule.get("lastError")) for rule in loaded
                 if rule["health"] != "ok"]
    print(f"{len(loaded)} rules loaded, {len(unhealthy)} not ok")  # evidence for -s
    assert not unhealthy, f"rules not healthy: {unhealthy}"


# --- dashboards ---------------------------------------------------------------------------------

def variable_values(stack: Stack) -> dict[tuple[str, str], list[str]]:
    """Each query variable's values, asked the way Grafana asks (label values API)."""
    values = {}
    for var in variable_queries():
        selector, label = label_values_call(var.query)
        values[(var.dashboard, var.name)] = stack.label_values(label, selector)
    return values


def test_every_variable_query_has_data(stack: Stack, after_stop: list[dict[str, Any]]) -> None:
    values = variable_values(stack)
    empty = [key for key, found in values.items() if not found]
    assert not empty, f"variables without values: {empty}"
    arrays = {v for (_, name), found in values.items() if name == "array" for v in found}
    assert arrays == {*HEALTHY_PROFILES, BAD_LOGIN}, arrays


def test_every_panel_query_has_data(stack: Stack, after_stop: list[dict[str, Any]]) -> None:
    values = variable_values(stack)
    empty, checked = [], []
    for panel in panel_queries():
        substitutions = dict(GRAFANA_BUILTINS)
        for (dashboard, name), found in values.items():
            if dashboard == panel.dashboard:  # every variable set to All
                substitutions[name] = all_values_regex(found)
        expr = substitute(panel.expr, substitutions)
        assert "$" not in expr, f"{panel.where}: unsubstituted variable in {expr!r}"
        result = stack.query(expr) if panel.instant else stack.query_range(expr)
        checked.append(panel.where)
        if not result and (panel.dashboard, panel.panel_id, panel.ref_id) \
                not in EMPTY_PANELS_ALLOWED:
            empty.append(f"{panel.where}: {expr}")
    print(f"{len(checked)} panel queries checked, {len(empty)} empty")  # evidence for -s
    assert len(checked) == len(panel_queries()) > 50
    assert not empty, "panel queries without data:\n  " + "\n  ".join(empty)


def test_allow_list_is_not_stale() -> None:
    known = {(p.dashboard, p.panel_id, p.ref_id) for p in panel_queries()}
    assert set(EMPTY_PANELS_ALLOWED) <= known, set(EMPTY_PANELS_ALLOWED) - known
