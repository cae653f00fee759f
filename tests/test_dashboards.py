"""Static lint of the Grafana dashboards and their provisioning files.

Each rule is a pure function `dashboard -> problems`, run against every dashboard in its own test so
a failure names the rule, the dashboard and the panel. The negative tests at the bottom feed a
deliberately broken dashboard to each rule to show that it can fail.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD_DIR = ROOT / "grafana" / "dashboards"
PROVISIONING = ROOT / "grafana" / "provisioning"
EXPECTED_DASHBOARDS = ("qsan-array.json", "qsan-exporter.json", "qsan-fleet.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
ARRAY_MATCHER = 'array=~"$array"'
HEALTH_TEXT = {"0": ("OK", "green"), "1": ("Warning", "orange"), "2": ("Critical", "red")}
RATE_FUNCTIONS = re.compile(r"\b(rate|irate|increase)\s*\(")
SELECTOR = re.compile(r"\b(qsan_[a-z0-9_]+)\s*(\{[^}]*\})?")
NAMED_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")

Dashboard = dict[str, Any]
Panel = dict[str, Any]


def load(name: str) -> Dashboard:
    return json.loads((DASHBOARD_DIR / name).read_text())


def panels(dashboard: Dashboard) -> Iterator[Panel]:
    """Every panel, including those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def data_panels(dashboard: Dashboard) -> Iterator[Panel]:
    return (panel for panel in panels(dashboard) if panel.get("type") != "row")


def where(panel: Panel) -> str:
    return f"panel {panel.get('id')} {panel.get('title')!r}"


def expressions(dashboard: Dashboard) -> Iterator[tuple[Panel, str]]:
    for panel in data_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target.get("expr", "")


def variable(dashboard: Dashboard, name: str) -> dict[str, Any] | None:
    found = [v for v in dashboard.get("templating", {}).get("list", []) if v.get("name") == name]
    return found[0] if found else None


def variable_query(var: dict[str, Any]) -> str:
    query = var.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else str(query)


def balanced_call(expr: str, start: int) -> str:
    """The text of a function call's argument list, from the '(' at or after `start`."""
    opening = expr.index("(", start)
    depth = 0
    for index in range(opening, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[index], 0)
        if depth == 0:
            return expr[opening:index + 1]
    return expr[opening:]


def is_health_panel(panel: Panel) -> bool:
    """A panel that shows health values (0/1/2): it reads a *_health gauge, raw or via min/max,
    rather than counting components (count ... > 0)."""
    return any(re.search(r"qsan_[a-z0-9_]+_health\b", t.get("expr", ""))
               and not re.match(r"\s*count\b", t.get("expr", ""))
               for t in panel.get("targets", []))


# --- rules ----------------------------------------------------------------------------------------

def schema_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    if not 36 <= dashboard.get("schemaVersion", 0) <= 41:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')} is not a Grafana 10/11 "
                        "schema (36-41); export the dashboard from a current Grafana")
    for key in ("uid", "title"):
        if not dashboard.get(key):
            problems.append(f"dashboard has no {key}")
    if not list(data_panels(dashboard)):
        problems.append("dashboard has no panels")
    return problems


def panel_id_problems(dashboard: Dashboard) -> list[str]:
    ids = [panel.get("id") for panel in panels(dashboard)]
    problems = [f"{where(p)} has no integer id" for p in panels(dashboard)
                if not isinstance(p.get("id"), int)]
    duplicates = sorted({i for i in ids if ids.count(i) > 1 and i is not None})
    if duplicates:
        problems.append(f"panel ids used more than once: {duplicates}")
    return problems


def datasource_variable_problems(dashboard: Dashboard) -> list[str]:
    var = variable(dashboard, "datasource")
    if var is None:
        return ["no `datasource` template variable"]
    problems = []
    if var.get("type") != "datasource":
        problems.append("`datasource` variable must have type 'datasource'")
    if var.get("query") != "prometheus":
        problems.append("`datasource` variable must query 'prometheus' datasources")
    return problems


def array_variable_problems(dashboard: Dashboard) -> list[str]:
    var = variable(dashboard, "array")
    if var is None:
        return ["no `array` template variable"]
    problems = []
    if variable_query(var).replace(" ", "") != "label_values(qsan_up,array)":
        problems.append(f"`array` variable must query label_values(qsan_up, array), "
                        f"not {variable_query(var)!r}")
    if var.get("multi") is not True:
        problems.append("`array` variable must be multi-select")
    if var.get("includeAll") is not True:
        problems.append("`array` variable must offer 'All' (includeAll)")
    if var.get("datasource") != DATASOURCE:
        problems.append(f"`array` variable must use datasource {DATASOURCE}")
    return problems


def datasource_usage_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    for panel in data_panels(dashboard):
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{where(panel)}: datasource must be {DATASOURCE}, "
                            f"got {panel.get('datasource')}")
        if not panel.get("targets"):
            problems.append(f"{where(panel)}: has no queries")
        for target in panel.get("targets", []):
            if target.get("datasource") != DATASOURCE:
                problems.append(f"{where(panel)} target {target.get('refId')}: datasource must "
                                f"be {DATASOURCE}, got {target.get('datasource')}")
    for row in (p for p in panels(dashboard) if p.get("type") == "row"):
        if row.get("targets"):
            problems.append(f"{where(row)}: a row must not carry queries")
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query" and var.get("datasource") != DATASOURCE:
            problems.append(f"variable {var.get('name')}: datasource must be {DATASOURCE}")
    return problems


def hardcoded_uid_problems(dashboard: Dashboard) -> list[str]:
    """Any datasource reference must go through ${datasource}; the only exception is Grafana's
    built-in annotation source."""
    problems = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "datasource":
                    builtin = isinstance(value, dict) and value.get("type") == "grafana"
                    if isinstance(value, str) or (
                        isinstance(value, dict) and not builtin
                        and value.get("uid") != "${datasource}"
                    ):
                        problems.append(f"{path}.datasource is hard-coded: {value!r}")
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(dashboard, "$")
    return problems


def array_selector_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    for panel, expr in expressions(dashboard):
        for name, braces in SELECTOR.findall(expr):
            if name in METRICS and ARRAY_MATCHER not in (braces or ""):
                problems.append(f"{where(panel)}: {name} is not filtered by {ARRAY_MATCHER}")
    return problems


def unit_problems(dashboard: Dashboard) -> list[str]:
    return [f"{where(panel)}: fieldConfig.defaults.unit is not set"
            for panel in data_panels(dashboard)
            if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit")]


def health_panel_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    for panel in filter(is_health_panel, data_panels(dashboard)):
        defaults = panel.get("fieldConfig", {}).get("defaults", {})
        options: dict[str, Any] = {}
        for mapping in defaults.get("mappings", []):
            if mapping.get("type") == "value":
                options.update(mapping.get("options", {}))
        for value, (text, color) in HEALTH_TEXT.items():
            got = options.get(value, {})
            if (got.get("text"), got.get("color")) != (text, color):
                problems.append(f"{where(panel)}: health value {value} must map to {text} "
                                f"({color}), got {got or 'nothing'}")
        steps = [(s.get("value"), s.get("color"))
                 for s in defaults.get("thresholds", {}).get("steps", [])]
        if steps != [(None, "green"), (1, "orange"), (2, "red")]:
            problems.append(f"{where(panel)}: health thresholds must be green / orange at 1 / "
                            f"red at 2, got {steps}")
    return problems


def rate_interval_problems(dashboard: Dashboard) -> list[str]:
    problems = []
    for panel, expr in expressions(dashboard):
        for match in RATE_FUNCTIONS.finditer(expr):
            ranges = re.findall(r"\[([^\]]*)\]", balanced_call(expr, match.start()))
            if not ranges or any(r != "$__rate_interval" for r in ranges):
                problems.append(f"{where(panel)}: {match.group(1)}() must use "
                                f"[$__rate_interval], got {ranges} in {expr!r}")
    return problems


def metric_problems(dashboard: Dashboard) -> list[str]:
    known = set(METRICS) | set(GLOBAL_METRICS) | {"up"}
    problems = []
    queries = [(where(panel), expr) for panel, expr in expressions(dashboard)]
    queries += [(f"variable {v.get('name')}", variable_query(v))
                for v in dashboard.get("templating", {}).get("list", [])
                if v.get("type") == "query"]
    for place, expr in queries:
        names = set(re.findall(r"\bqsan_[a-z0-9_]+", expr)) | set(NAMED_SELECTOR.findall(expr))
        names |= set(re.findall(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,", expr))
        for name in sorted(names):
            if name not in known and not name.startswith("process_"):
                problems.append(f"{place}: metric {name!r} is not in qsan_exporter.metrics")
    return problems


def layout_problems(dashboard: Dashboard) -> list[str]:
    problems, cells = [], {}
    for panel in dashboard.get("panels", []):
        grid = panel.get("gridPos") or {}
        if not all(isinstance(grid.get(k), int) for k in ("x", "y", "w", "h")):
            problems.append(f"{where(panel)}: gridPos incomplete")
            continue
        if grid["x"] + grid["w"] > 24:
            problems.append(f"{where(panel)}: wider than the 24-column grid")
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}
        overlapped = sorted({cells[cell] for cell in area if cell in cells})
        if overlapped:
            problems.append(f"{where(panel)} overlaps {', '.join(overlapped)}")
        cells.update(dict.fromkeys(area, where(panel)))
    return problems


RULES: dict[str, Callable[[Dashboard], list[str]]] = {
    "schema": schema_problems,
    "unique panel ids": panel_id_problems,
    "datasource variable": datasource_variable_problems,
    "array variable": array_variable_problems,
    "every panel and target uses ${datasource}": datasource_usage_problems,
    "no hard-coded datasource uid": hardcoded_uid_problems,
    'selectors use array=~"$array"': array_selector_problems,
    "every panel has a unit": unit_problems,
    "health panels have value mappings and thresholds": health_panel_problems,
    "rate()/increase() use $__rate_interval": rate_interval_problems,
    "metrics exist in the catalogue": metric_problems,
    "panels do not overlap": layout_problems,
}


# --- the dashboards -------------------------------------------------------------------------------

def test_expected_dashboards_exist() -> None:
    found = sorted(path.name for path in DASHBOARD_DIR.glob("*.json"))
    assert found == sorted(EXPECTED_DASHBOARDS), f"dashboards in {DASHBOARD_DIR}: {found}"


def test_dashboard_uids_are_unique() -> None:
    uids = [load(name)["uid"] for name in EXPECTED_DASHBOARDS]
    assert len(set(uids)) == len(uids), f"duplicate dashboard uids: {uids}"


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", EXPECTED_DASHBOARDS)
def test_dashboard_rule(name: str, rule: str) -> None:
    problems = RULES[rule](load(name))
    assert not problems, f"{name} breaks rule '{rule}':\n  " + "\n  ".join(problems)


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (Grafana variables substituted) as a recording rule."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool must be installed (Debian package 'prometheus')"
    substitutions = {"$__rate_interval": "4m", "$array": ".+", "$instance": ".+"}
    rules = []
    for name in EXPECTED_DASHBOARDS:
        for panel, expr in expressions(load(name)):
            for variable_name, value in substitutions.items():
                expr = expr.replace(variable_name, value)
            assert "$" not in expr, f"{name} {where(panel)}: unknown variable in {expr!r}"
            rules.append({"record": f"dashboard:query:{len(rules)}", "expr": expr})
    rule_file = tmp_path / "dashboard_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(rule_file)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"invalid PromQL in a dashboard:\n{result.stdout}{result.stderr}"


def test_array_dashboard_has_a_row_per_area() -> None:
    rows = {p["title"] for p in panels(load("qsan-array.json")) if p["type"] == "row"}
    missing = {"Hardware", "Capacity", "Disks", "Volumes", "iSCSI", "Tasks", "Logs"} - rows
    assert not missing, f"qsan-array.json lacks rows {sorted(missing)}"


@pytest.mark.parametrize(("name", "metrics"), [
    ("qsan-fleet.json", {"qsan_up", "qsan_pool_used_bytes", "qsan_pool_size_bytes",
                         "qsan_disk_latency_seconds", "qsan_collector_success",
                         "qsan_disk_health", "qsan_enclosure_health"}),
    ("qsan-array.json", {
        "qsan_temperature_celsius", "qsan_fan_speed_rpm", "qsan_voltage_volts",
        "qsan_psu_health", "qsan_cache_to_flash_health", "qsan_pool_used_bytes",
        "qsan_raidset_health", "qsan_disk_health", "qsan_disk_temperature_celsius",
        "qsan_disk_ssd_life_remaining_ratio", "qsan_disk_latency_seconds",
        "qsan_disk_throughput_bytes_per_second", "qsan_volume_health",
        "qsan_volume_qos_max_iops", "qsan_volume_lun_mappings", "qsan_iscsi_sessions",
        "qsan_iscsi_session_info", "qsan_task_health", "qsan_task_next_run_timestamp_seconds",
        "qsan_snapshot_space_used_bytes", "qsan_log_events_total"}),
    ("qsan-exporter.json", {
        "qsan_up", "qsan_poll_duration_seconds", "qsan_collector_success",
        "qsan_collector_duration_seconds", "qsan_api_requests_total", "qsan_auth_logins_total",
        "qsan_auth_refreshes_total", "process_cpu_seconds_total",
        "process_resident_memory_bytes", "qsan_poll_backoff", "qsan_poll_consecutive_failures",
        "qsan_poll_next_attempt_timestamp_seconds", "qsan_auth_login_failures_total"}),
])
def test_dashboard_shows_its_metrics(name: str, metrics: set[str]) -> None:
    used = set()
    for _, expr in expressions(load(name)):
        used |= set(re.findall(r"\b(?:qsan|process)_[a-z0-9_]+", expr))
    assert not metrics - used, f"{name} does not show {sorted(metrics - used)}"


def test_dashboard_provisioning() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "qsan.yml").read_text())
    (entry,) = provider["providers"]
    assert entry["type"] == "file", "dashboards must be provisioned by the file provider"
    assert entry["options"]["path"] == "/var/lib/grafana/dashboards/qsan"


def test_datasource_provisioning() -> None:
    config = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    (source,) = config["datasources"]
    assert (source["type"], source["uid"], source["url"]) == (
        "prometheus", "prometheus", "http://prometheus:9090")


# --- the rules can fail --------------------------------------------------------------------------

def broken_dashboard() -> Dashboard:
    """One dashboard that breaks every rule once."""
    bad_panel = {
        "id": 1, "type": "stat", "title": "Disk health",
        "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4},
        "datasource": {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"},
        "targets": [
            {"refId": "A", "datasource": "Prometheus",
             "expr": 'qsan_disk_health{array="san-a"}'},
            {"refId": "B", "datasource": DATASOURCE,
             "expr": 'rate(qsan_api_requests_total{array=~"$array"}[5m])'},
            {"refId": "C", "datasource": DATASOURCE, "expr": 'qsan_disk_healthy{array=~"$array"}'},
        ],
        "fieldConfig": {"defaults": {"mappings": [], "thresholds": {"steps": []}}},
    }
    return {
        "schemaVersion": 16, "uid": "", "title": "broken",
        "templating": {"list": [
            {"name": "datasource", "type": "custom", "query": "influxdb"},
            {"name": "array", "type": "query", "query": "label_values(up, array)",
             "multi": False, "includeAll": False, "datasource": "Prometheus"},
        ]},
        "panels": [bad_panel, {**bad_panel, "gridPos": {"x": 6, "y": 0, "w": 12, "h": 4}}],
    }


@pytest.mark.parametrize("rule", RULES)
def test_rule_rejects_a_broken_dashboard(rule: str) -> None:
    assert RULES[rule](broken_dashboard()), f"rule '{rule}' accepted a dashboard that breaks it"


def test_count_panels_are_not_health_panels() -> None:
    panel = {"targets": [{"expr": 'count(qsan_disk_health{array=~"$array"} > 0)'}]}
    assert not is_health_panel(panel)
    assert is_health_panel({"targets": [{"expr": 'max by (array) (qsan_pool_health{a="b"})'}]})


def test_alerts_and_dashboards_doc_is_up_to_date() -> None:
    """docs/alerts-and-dashboards.md is generated from the rules and the dashboards."""
    script = ROOT / "scripts" / "generate_alerts_doc.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    text = (ROOT / "docs" / "alerts-and-dashboards.md").read_text()
    for name in EXPECTED_DASHBOARDS:
        for panel in data_panels(load(name)):
            assert f"| {panel['title']} |" in text, f"{name} {where(panel)} not documented"
