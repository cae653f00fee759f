"""`python -m bench.run --quick` completes and writes every key; no timing is asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOP_KEYS = {"schema", "command", "started_at", "finished_at", "duration_seconds", "machine",
            "config", "poll_cost", "latency", "fleet", "memory", "targets"}
MACHINE_KEYS = {"cpu_model", "logical_cpus", "usable_cpus", "python", "platform",
                "prometheus_client", "load_average_at_start", "load_average_at_end"}
POLL_KEYS = {"polls", "failed_polls", "cpu_seconds_per_poll",
             "cpu_seconds_per_fetch_and_translate", "cpu_seconds_per_publish", "wall_seconds"}
SERVERS = ("exporter_after_publish", "exporter_cached", "baseline", "static")
BUILDER_KEYS = {"builds", "build_seconds_mean", "scrapes_served_previous_body",
                "scrapes_that_built", "gzip_level"}
LATENCY_KEYS = {"scrapes", "p50_seconds", "p99_seconds", "mean_seconds", "max_seconds", "bytes",
                "content_type", "content_encoding"}
FLEET_KEYS = {"arrays", "interval_seconds", "window_seconds", "polls", "failed_polls",
              "cpu_seconds", "cpu_utilisation", "cpu_seconds_per_poll", "max_age_seconds",
              "arrays_never_polled_in_window", "poll_wall_mean_seconds",
              "poll_wall_max_seconds", "workers", "latency_per_request_seconds", "scale_factor",
              "equivalent_arrays_at_60s", "cpu_cores_at_60s", "fresh_limit_seconds", "fresh",
              "max_arrays_cpu_bound_at_60s", "max_arrays_concurrency_bound_at_60s",
              "max_arrays_at_60s"}
MEMORY_POINT_KEYS = {"arrays", "rss_bytes", "rss_before_bytes", "series"}
TARGET_NAMES = 6


@pytest.mark.slow
def test_quick_bench_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- bench:begin (generated) -->\nold\n<!-- bench:end -->\ny\n")
    before = (ROOT / "README.md").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--json", str(out),
         "--readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MET" in done.stdout or "MISSED" in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results.keys() >= TOP_KEYS
    assert results["machine"].keys() >= MACHINE_KEYS
    assert results["poll_cost"].keys() >= POLL_KEYS
    for server in SERVERS:
        assert results["latency"][server].keys() >= LATENCY_KEYS, server
        assert results["latency"][server]["scrapes"] >= 1
    assert results["latency"]["same_series_as_baseline"] is True
    assert results["latency"]["builder"].keys() >= BUILDER_KEYS
    assert results["latency"]["exporter_after_publish"]["content_encoding"] == "gzip"
    assert results["fleet"].keys() >= FLEET_KEYS
    assert results["fleet"]["polls"] >= 1
    assert results["memory"]["points"] and "growth_per_array_bytes" in results["memory"]
    for point in results["memory"]["points"]:
        assert point.keys() >= MEMORY_POINT_KEYS
    assert len(results["targets"]) == TARGET_NAMES
    for target in results["targets"]:
        assert {"name", "value", "target", "met", "shown"} <= target.keys()
        assert isinstance(target["met"], bool)
    # --quick never touches a README, neither the given one nor the project's.
    assert "old" in readme.read_text(encoding="utf-8")
    assert (ROOT / "README.md").read_text(encoding="utf-8") == before


def test_readme_rewrite_keeps_everything_outside_the_markers() -> None:
    """bench/report.py's examples (doctest), run as the bench runs: its own process."""
    done = subprocess.run([sys.executable, "-m", "doctest", "bench/report.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
