"""A real Prometheus server (Debian package) scrapes the real exporter on loopback."""

from __future__ import annotations

import pytest

from tests.conftest import query, wait_for, write_config


@pytest.mark.slow
def test_prometheus_scrapes_metrics_and_probe(simulators, exporter, prometheus, tmp_path) -> None:
    sims = {f"e2e-{p}": simulators(p) for p in ("san", "fas", "nas")}
    config = write_config(tmp_path / "c.yml", sims, interval_seconds=2, timeout_seconds=1)
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    target = e.url.removeprefix("http://")
    url = prometheus([
        {"job_name": "qsan", "static_configs": [{"targets": [target]}]},
        {"job_name": "qsan-probe", "metrics_path": "/probe",
         "static_configs": [{"targets": ["e2e-nas"]}],
         "relabel_configs": [
             {"source_labels": ["__address__"], "target_label": "__param_target"},
             {"source_labels": ["__param_target"], "target_label": "instance"},
             {"target_label": "__address__", "replacement": target},
         ]},
    ])
    wait_for(lambda: len(query(url, 'up{job=~"qsan.*"} == 1')) == 2, 30, "both jobs up")
    up = wait_for(lambda: query(url, 'qsan_up{job="qsan"} == 1'), 30, "qsan_up")
    assert {r["metric"]["array"] for r in up} == set(sims)
    # The scenario's faults are visible to PromQL as an admin would query them.
    failed_disks = query(url, 'qsan_disk_health{job="qsan"} == 2')
    assert {r["metric"]["array"] for r in failed_disks} == set(sims)
    failed_psus = query(url, 'qsan_psu_health{job="qsan"} == 2')
    assert {r["metric"]["array"] for r in failed_psus} == set(sims)
    probe = query(url, 'count by (array) (qsan_disk_health{job="qsan-probe"})')
    assert [r["metric"]["array"] for r in probe] == ["e2e-nas"]
    # Nothing was dropped by Prometheus as malformed or out of order.
    samples = query(url, 'scrape_samples_scraped{job="qsan"}')
    assert float(samples[0]["value"][1]) > 300
