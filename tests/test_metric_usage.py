"""Metrics against their users, in both directions.

* Every metric a dashboard panel, a dashboard variable or an alert rule reads is exported: listed
  in the catalogue (qsan_exporter/metrics.py) and present on a real exporter's /metrics.
* Every exported metric is read by a dashboard or a rule, or is listed below as deliberately
  unused, with the reason. A stale entry in either list fails too.
"""

from __future__ import annotations

import re

import pytest

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from tests.e2e_helpers import (
    label_values_call,
    metric_names,
    panel_queries,
    rules,
    variable_queries,
)

CATALOGUE = set(METRICS) | set(GLOBAL_METRICS)
FROM_PROMETHEUS = {"up"}  # written by Prometheus for every scrape, not by the exporter

DELIBERATELY_UNUSED: dict[str, str] = {
    # Catalogue families.
    "qsan_pool_info": "pool features (thin, SED, auto-tier) and the raw status behind "
                      "qsan_pool_health; for ad-hoc joins, e.g. "
                      "qsan_pool_health * on (array, pool) group_left (status) qsan_pool_info",
    "qsan_raidset_info": "RAID level and the raw status behind qsan_raidset_health; for ad-hoc "
                         "joins",
    "qsan_iscsi_target_info": "target IQN, alias and auth mode; for ad-hoc joins, the Targets "
                              "table shows sessions, portals and free LUNs per target",
    "qsan_disk_size_bytes": "static inventory; capacity panels and alerts use pool and RAID-set "
                            "sizes, which is what fills up",
    # prometheus_client's runtime families (present on /metrics, not in the catalogue).
    "process_max_fds": "generic process metric; the exporter holds a handful of sockets",
    "process_open_fds": "generic process metric; the exporter holds a handful of sockets",
    "process_start_time_seconds": "generic process metric; restarts show in qsan_up and "
                                  "scrape gaps",
    "process_virtual_memory_bytes": "address space says little for Python; the Process memory "
                                    "panel shows resident memory",
    "python_gc_collections_total": "interpreter internals",
    "python_gc_objects_collected_total": "interpreter internals",
    "python_gc_objects_uncollectable_total": "interpreter internals",
    "python_info": "interpreter version; qsan_exporter_build_info carries python_version",
}


def used_metrics() -> dict[str, set[str]]:
    """metric name -> where it is read (rule alert name, dashboard panel, variable)."""
    used: dict[str, set[str]] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(f"rule {rule.get('alert') or rule.get('record')}")
    for query in panel_queries():
        for name in metric_names(query.expr):
            used.setdefault(name, set()).add(query.where)
    for var in variable_queries():
        selector, _ = label_values_call(var.query)
        for name in metric_names(selector or ""):
            used.setdefault(name, set()).add(f"{var.dashboard} variable {var.name}")
    return used


def exposed_families(body: str) -> set[str]:
    """Sample names on a /metrics page, counters' `_created` samples folded away."""
    names = {re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)  # type: ignore[union-attr]
             for line in body.splitlines() if line and not line.startswith("#")}
    return {name for name in names if not name.endswith("_created")}


def test_used_metrics_are_found() -> None:
    used = used_metrics()
    assert len(used) > 50 and "qsan_up" in used and "qsan_psu_health" in used


def test_every_used_metric_is_in_the_catalogue() -> None:
    unknown = {name: sorted(places) for name, places in used_metrics().items()
               if name not in CATALOGUE | FROM_PROMETHEUS and not name.startswith("process_")}
    assert not unknown, f"read by dashboards or rules but not exported: {unknown}"


def test_every_catalogue_metric_is_used_or_listed() -> None:
    used = set(used_metrics())
    unused = CATALOGUE - used
    unlisted = unused - set(DELIBERATELY_UNUSED)
    assert not unlisted, (f"exported but read by no dashboard or rule: {sorted(unlisted)}; use "
                          f"them or add them to DELIBERATELY_UNUSED with the reason")
    stale = {name for name in DELIBERATELY_UNUSED if name in used}
    assert not stale, f"listed as unused but used: {sorted(stale)}"


@pytest.mark.slow
def test_real_exposition_matches_both_directions(exporter) -> None:
    """The demo (simulated san, fas and nas arrays) as Prometheus would scrape it."""
    e = exporter("--demo")
    e.wait_ready()
    exposed = exposed_families(e.get("/metrics").text)
    used = set(used_metrics())
    missing = sorted(used - exposed - FROM_PROMETHEUS)
    assert not missing, f"read by dashboards or rules but absent from /metrics: {missing}"
    unused = sorted(exposed - used - set(DELIBERATELY_UNUSED))
    assert not unused, f"on /metrics but neither used nor listed as deliberately unused: {unused}"
    stale = sorted(set(DELIBERATELY_UNUSED) - exposed)
    assert not stale, f"DELIBERATELY_UNUSED lists names /metrics does not have: {stale}"


# --- the extraction the checks rely on can fail -------------------------------------------------

@pytest.mark.parametrize(("expr", "expected"), [
    ('qsan_up{array=~"$array"} == 0', {"qsan_up"}),
    ('sum by (array, code) (rate(qsan_api_requests_total{code!~"2.."}[$__rate_interval]))',
     {"qsan_api_requests_total"}),
    ('qsan_fan_speed_rpm == 0 unless on (array, enclosure, fan) label_replace('
     'qsan_sensor_health{sensor_type="fan"} == 2, "fan", "$1", "sensor", "(.*)")',
     {"qsan_fan_speed_rpm", "qsan_sensor_health"}),
    ("time() - qsan_last_poll_success_timestamp_seconds > 3 * 60",
     {"qsan_last_poll_success_timestamp_seconds"}),
    ("predict_linear(qsan_pool_used_bytes[6h], 4 * 24 * 3600) > qsan_pool_size_bytes",
     {"qsan_pool_used_bytes", "qsan_pool_size_bytes"}),
    ("x > 0 unless x offset 75m or vector(0) and absent(qsan_exporter_build_info)",
     {"x", "qsan_exporter_build_info"}),
    ("up", {"up"}),
])
def test_metric_names(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


def test_metric_names_refuses_name_matchers() -> None:
    with pytest.raises(ValueError):
        metric_names('{__name__=~"qsan_.+"}')
