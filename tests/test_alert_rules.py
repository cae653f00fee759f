"""The alerting rules: promtool validity and unit tests, plus the conventions promtool cannot check.

Conventions (monitoring mixins): CamelCase `Qsan*` names, a known `severity`, a static `summary`, a
templated `description`, a `runbook_url` whose anchor exists in docs/runbook.md, and only metric
names the exporter actually exposes. Each check is a pure function returning a list of problems, so
the negative tests at the bottom can show that it really catches what it claims to.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "deploy" / "prometheus" / "qsan_alerts.yml"
UNIT_TEST_FILE = ROOT / "deploy" / "prometheus" / "qsan_alerts.test.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
# The one declared runbook address (deploy/prometheus/runbook_urls.py builds every URL from it).
RUNBOOK_PREFIX = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"][
    "Runbook"] + "#"
SEVERITIES = ("critical", "warning", "info")  # most to least urgent
NON_CATALOGUE_METRICS = {"up"}  # set by Prometheus itself
AGGREGATION = re.compile(
    r"\b(sum|min|max|avg|count|group|stddev|stdvar|topk|bottomk|quantile|count_values)\s*(\(|by\b|without\b)"
)
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

Rule = dict[str, Any]


def promtool() -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool must be installed (Debian package 'prometheus')"
    return binary


def seconds(duration: str) -> int:
    match = DURATION.match(duration or "0s")
    assert match and duration, f"unsupported duration {duration!r}"
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def load_alerts(path: Path = RULES_FILE) -> list[Rule]:
    groups = yaml.safe_load(path.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def runbook_anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads: every qsan_* token, plus any name before a `{` selector."""
    names = set(re.findall(r"\bqsan_[a-z0-9_]+", expr))
    names |= set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{", expr))
    return names


def rule_problems(alerts: list[Rule], anchors: set[str]) -> list[str]:
    known = set(METRICS) | set(GLOBAL_METRICS) | NON_CATALOGUE_METRICS
    problems = []
    for rule in alerts:
        name = rule.get("alert", "")
        where = f"{name} ({rule.get('labels', {}).get('severity')})"
        labels = rule.get("labels") or {}
        annotations = rule.get("annotations") or {}
        expr = rule.get("expr", "")
        if not re.fullmatch(r"Qsan(?:[A-Z][a-z0-9]*)+", name):
            problems.append(f"{where}: alert name must be CamelCase and start with 'Qsan'")
        if labels.get("severity") not in SEVERITIES:
            problems.append(f"{where}: severity must be one of {SEVERITIES}")
        for key in ("summary", "description", "runbook_url"):
            if not str(annotations.get(key, "")).strip():
                problems.append(f"{where}: annotation {key!r} is missing or empty")
        if "{{" in str(annotations.get("summary", "")):
            problems.append(f"{where}: summary must be static (put templates in description)")
        labelless = expr.strip().startswith("absent(")  # absent() has no labels to show
        if "{{" not in str(annotations.get("description", "")) and not labelless:
            problems.append(f"{where}: description must be templated ($labels, $value)")
        uses_array_metric = any(metric in METRICS for metric in metric_names(expr))
        if uses_array_metric and "$labels.array" not in str(annotations.get("description", "")):
            problems.append(f"{where}: description must name the array ($labels.array)")
        url = str(annotations.get("runbook_url", ""))
        if not url.startswith(RUNBOOK_PREFIX):
            problems.append(f"{where}: runbook_url must start with {RUNBOOK_PREFIX}")
        elif url.removeprefix(RUNBOOK_PREFIX) not in anchors:
            problems.append(f"{where}: runbook anchor #{url.removeprefix(RUNBOOK_PREFIX)} "
                            f"has no heading in docs/runbook.md")
        elif url.removeprefix(RUNBOOK_PREFIX) != name.lower():
            problems.append(f"{where}: runbook anchor must be the lower-cased alert name")
        for metric in sorted(metric_names(expr) - known):
            problems.append(f"{where}: metric {metric!r} is not in qsan_exporter.metrics")
        if AGGREGATION.search(expr):
            problems.append(f"{where}: expression aggregates; array/site labels must pass through")
    return problems


def tier_problems(alerts: list[Rule]) -> list[str]:
    """Within one alert name, `for` must not shrink as severity drops (critical acts fastest)."""
    problems = []
    by_name: dict[str, list[Rule]] = {}
    for rule in alerts:
        by_name.setdefault(rule["alert"], []).append(rule)
    for name, rules in by_name.items():
        severities = [rule["labels"]["severity"] for rule in rules]
        if len(set(severities)) != len(severities):
            problems.append(f"{name}: two rules with the same name and severity")
        ranked = sorted(rules, key=lambda rule: SEVERITIES.index(rule["labels"]["severity"]))
        for more, less in itertools.pairwise(ranked):
            if seconds(more.get("for", "0s")) > seconds(less.get("for", "0s")):
                problems.append(f"{name}: {less['labels']['severity']} has a shorter `for` than "
                                f"{more['labels']['severity']}")
    return problems


def coverage_problems(alerts: list[Rule], unit_tests: dict[str, Any]) -> list[str]:
    """Every (alert, severity) must be seen firing in a unit test, and seen NOT firing one
    evaluation interval earlier in the same test (the `for` boundary), at or after its `for`."""
    interval = seconds(unit_tests.get("evaluation_interval", "1m"))
    problems = []
    for rule in alerts:
        name, severity = rule["alert"], rule["labels"]["severity"]
        hold = seconds(rule.get("for", "0s"))
        covered = False
        for case in unit_tests.get("tests", []):
            checks = [check for check in case.get("alert_rule_test", [])
                      if check.get("alertname") == name]
            quiet = {seconds(check["eval_time"]) for check in checks
                     if not any(alert.get("exp_labels", {}).get("severity") == severity
                                for alert in check.get("exp_alerts", []))}
            for check in checks:
                fired = [alert for alert in check.get("exp_alerts", [])
                         if alert.get("exp_labels", {}).get("severity") == severity]
                at = seconds(check["eval_time"])
                if fired and at >= hold and at - interval in quiet and all(
                    alert.get("exp_annotations") for alert in fired
                ):
                    covered = True
        if not covered:
            problems.append(f"{name} ({severity}): no unit test shows it quiet one evaluation "
                            f"before its `for` ({rule.get('for', '0s')}) elapses and firing with "
                            f"exact annotations after it")
    return problems


@pytest.fixture(scope="module")
def alerts() -> list[Rule]:
    found = load_alerts()
    assert found, f"no alerting rules in {RULES_FILE}"
    return found


def test_promtool_check_rules() -> None:
    result = subprocess.run([promtool(), "check", "rules", str(RULES_FILE)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool check rules failed:\n{result.stdout}{result.stderr}"


@pytest.mark.slow
def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run([promtool(), "test", "rules", UNIT_TEST_FILE.name],
                            cwd=UNIT_TEST_FILE.parent, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool test rules failed:\n{result.stdout}{result.stderr}"


def test_example_prometheus_config_is_valid() -> None:
    result = subprocess.run([promtool(), "check", "config", str(PROMETHEUS_CONFIG)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"promtool check config failed:\n{result.stdout}{result.stderr}"
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert RULES_FILE.name in config["rule_files"], "example config must load the alert rules"
    for job in config["scrape_configs"]:
        assert re.fullmatch(".*qsan.*", job["job_name"]), (
            f"job {job['job_name']!r} would not match QsanExporterDown's up{{job=~\".*qsan.*\"}}")


def test_alerts_follow_conventions(alerts: list[Rule]) -> None:
    problems = rule_problems(alerts, runbook_anchors(RUNBOOK.read_text()))
    assert not problems, "alert rule problems:\n  " + "\n  ".join(problems)


def test_for_grows_as_severity_drops(alerts: list[Rule]) -> None:
    problems = tier_problems(alerts)
    assert not problems, "tier problems:\n  " + "\n  ".join(problems)


def test_every_alert_has_a_unit_test(alerts: list[Rule]) -> None:
    problems = coverage_problems(alerts, yaml.safe_load(UNIT_TEST_FILE.read_text()))
    assert not problems, "untested alerts:\n  " + "\n  ".join(problems)


def test_runbook_has_no_orphan_sections(alerts: list[Rule]) -> None:
    documented = set(re.findall(r"^## (Qsan\w+)\s*$", RUNBOOK.read_text(), flags=re.MULTILINE))
    orphans = documented - {rule["alert"] for rule in alerts}
    assert not orphans, f"runbook sections without an alert (renamed?): {sorted(orphans)}"


# --- the checks above can fail --------------------------------------------------------------------

GOOD_RULE: Rule = {
    "alert": "QsanDiskFailed",
    "expr": "qsan_disk_health == 2",
    "for": "15m",
    "labels": {"severity": "warning"},
    "annotations": {
        "summary": "A disk failed.",
        "description": "Disk {{ $labels.disk }} of {{ $labels.array }} failed.",
        "runbook_url": RUNBOOK_PREFIX + "qsandiskfailed",
    },
}


def test_rule_checks_accept_a_good_rule() -> None:
    assert rule_problems([GOOD_RULE], {"qsandiskfailed"}) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"alert": "qsan_disk_failed"}, "CamelCase"),
    ({"labels": {"severity": "page"}}, "severity must be one of"),
    ({"annotations": {"summary": "x", "description": "{{ $labels.array }}"}}, "'runbook_url'"),
    ({"annotations": {**GOOD_RULE["annotations"], "summary": "{{ $labels.disk }}"}}, "static"),
    ({"annotations": {**GOOD_RULE["annotations"], "description": "A disk."}}, "templated"),
    ({"annotations": {**GOOD_RULE["annotations"], "description": "{{ $labels.disk }}"}},
     "name the array"),
    ({"annotations": {**GOOD_RULE["annotations"], "runbook_url": RUNBOOK_PREFIX + "nope"}},
     "has no heading"),
    ({"expr": "qsan_disk_healthy == 2"}, "not in qsan_exporter.metrics"),
    ({"expr": "node_load1{job='x'} > 2"}, "'node_load1' is not in"),
    ({"expr": "max by (pool) (qsan_disk_health) == 2"}, "aggregates"),
])
def test_rule_checks_reject_bad_rules(change: Rule, expected: str) -> None:
    problems = rule_problems([{**GOOD_RULE, **change}], {"qsandiskfailed"})
    assert any(expected in problem for problem in problems), problems


def test_tier_check_rejects_a_slow_critical() -> None:
    critical = {**GOOD_RULE, "for": "30m", "labels": {"severity": "critical"}}
    assert tier_problems([GOOD_RULE, critical]), "critical slower than warning must be reported"


def test_coverage_check_rejects_missing_or_weak_tests() -> None:
    firing = {"exp_labels": {"severity": "warning"},
              "exp_annotations": {"summary": "A disk failed."}}
    good = {"evaluation_interval": "1m", "tests": [{"alert_rule_test": [
        {"eval_time": "19m", "alertname": "QsanDiskFailed", "exp_alerts": []},
        {"eval_time": "20m", "alertname": "QsanDiskFailed", "exp_alerts": [firing]},
    ]}]}
    assert coverage_problems([GOOD_RULE], good) == []
    assert coverage_problems([GOOD_RULE], {"tests": []}), "an untested alert must be reported"
    only_firing = {"tests": [{"alert_rule_test": good["tests"][0]["alert_rule_test"][1:]}]}
    assert coverage_problems([GOOD_RULE], only_firing), "no 'not yet' check must be reported"
    too_early = {"tests": [{"alert_rule_test": [
        {"eval_time": "9m", "alertname": "QsanDiskFailed", "exp_alerts": []},
        {"eval_time": "10m", "alertname": "QsanDiskFailed", "exp_alerts": [firing]},
    ]}]}
    assert coverage_problems([{**GOOD_RULE, "for": "1h"}], too_early), "firing before `for`"


def _runbook_urls_tool():
    spec = importlib.util.spec_from_file_location(
        "runbook_urls", ROOT / "deploy" / "prometheus" / "runbook_urls.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runbook_urls_come_from_one_configurable_base() -> None:
    tool = _runbook_urls_tool()
    assert tool.main(["--check"]) == 0, "run deploy/prometheus/runbook_urls.py"
    text = RULES_FILE.read_text()
    moved = tool.rewrite(text, "https://wiki.example.net/qsan-runbook")
    urls = re.findall(r"runbook_url: (\S+)", moved)
    assert len(urls) == len(re.findall(r"runbook_url:", text)) > 30
    assert all(re.fullmatch(r"https://wiki\.example\.net/qsan-runbook#[a-z0-9]+", u) for u in urls)
    assert moved.count("\n") == text.count("\n")  # only the URLs changed, comments kept
