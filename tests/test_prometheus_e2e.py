"""A real Prometheus server (Debian package) scrapes the real exporter on loopback."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from tests.conftest import free_port, wait_for, write_config


@pytest.fixture
def prometheus(tmp_path: Path):
    binary = shutil.which("prometheus")
    assert binary, "prometheus (Debian package) must be installed by scripts/test"
    started: list[subprocess.Popen] = []

    def start(scrape_configs: list[dict]) -> str:
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "scrape_configs": scrape_configs,
        }))
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(url + "/-/ready", timeout=2).ok, 30, "Prometheus ready")
        return url

    yield start
    for process in started:
        process.terminate()
        process.wait(15)


def query(url: str, expr: str) -> list[dict]:
    answer = requests.get(url + "/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


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
