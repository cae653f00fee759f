"""Small things an operator meets on the first day: cache-correct gzip answers, a banner that
counts in English and stays out of a JSON log, and an example Prometheus config that scrapes
each array once, with the `array` label the alerts and inhibitions key on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import write_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_gzip_answers_vary_and_the_banner_counts_one_array(simulators, exporter,
                                                           tmp_path) -> None:
    config = write_config(tmp_path / "c.yml", {"one": simulators("san")})
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    for path in ("/metrics", "/probe?target=one"):
        zipped = e.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in zipped.headers["Vary"]
        plain = e.get(path, headers={"Accept-Encoding": "identity"})
        assert "Accept-Encoding" in plain.headers["Vary"]
    assert "polling 1 array: one\n" in e.log_text()


@pytest.mark.slow
def test_json_logging_prints_no_plain_banner(simulators, exporter, tmp_path) -> None:
    config = write_config(tmp_path / "c.yml", {"a": simulators("san"), "b": simulators("nas")})
    e = exporter(f"--config.file={config}", "--log.format=json")
    e.wait_ready()
    assert e.stop() == 0
    lines = e.log_text().splitlines()
    assert len(lines) >= 3
    records = [json.loads(line) for line in lines]  # every line of output is a JSON record
    assert any("polling 2 arrays: a, b" in r.get("msg", "") for r in records)


def test_example_prometheus_config_scrapes_each_array_once_with_its_name() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]  # the alternative is commented out: never both
    assert job["metrics_path"] == "/probe" and job["honor_labels"] is True
    targets = {r.get("target_label") for r in job["relabel_configs"]}
    assert {"__param_target", "array", "instance", "__address__"} <= targets
    readme = (ROOT / "README.md").read_text()
    example = readme[readme.index("  - job_name: qsan-probe"):]
    example = example[:example.index("```")]
    (readme_job,) = yaml.safe_load(example)
    assert readme_job["honor_labels"] is True
    assert "array" in {r.get("target_label") for r in readme_job["relabel_configs"]}
