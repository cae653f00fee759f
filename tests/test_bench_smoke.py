"""`python -m bench.run --quick` completes and writes every key; the profile split adds up.

No timing is asserted. Tests do not import bench: each check runs in a process of its own.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TOP_KEYS = {"schema", "command", "started_at", "finished_at", "duration_seconds", "machine",
            "config", "poll_cost", "profile", "latency", "fleet", "memory", "targets"}
MACHINE_KEYS = {"cpu_model", "logical_cpus", "usable_cpus", "python", "platform",
                "prometheus_client", "load_average_at_start", "load_average_at_end"}
POLL_KINDS = ("target", "wide", "mix")
POLL_KEYS = {"polls", "failed_polls", "cpu_seconds_per_poll",
             "cpu_seconds_per_fetch_and_translate", "cpu_seconds_per_publish", "wall_seconds"}
PROFILE_KEYS = {"polls", "failed_polls", "arrays", "profiled_ms_per_poll", "cpu_ms_per_poll",
                "parts_percent", "parts_ms_per_poll", "top_functions"}
SERVERS = ("exporter_after_publish", "exporter_cached", "baseline", "static")
BUILDER_KEYS = {"builds", "build_seconds_mean", "scrapes_served_previous_body",
                "scrapes_that_built", "gzip_level"}
LATENCY_KEYS = {"scrapes", "p50_seconds", "p99_seconds", "mean_seconds", "max_seconds", "bytes",
                "content_type", "content_encoding"}
FLEET_KEYS = {"arrays", "interval_seconds", "first_round_seconds", "window_seconds", "polls",
              "failed_polls",
              "cpu_seconds", "cpu_utilisation", "cpu_seconds_per_poll", "max_age_seconds",
              "arrays_never_polled_in_window", "poll_wall_mean_seconds",
              "poll_wall_max_seconds", "workers", "latency_per_request_seconds",
              "cpu_cores_at_60s", "cores_for_1000_at_60s", "fresh_limit_seconds", "fresh",
              "simulator_cores", "scheduler_warnings"}
MEMORY_KINDS = ("target", "wide")
MEMORY_POINT_KEYS = {"arrays", "rss_bytes", "rss_before_bytes", "series"}
TARGET_ROWS = 13  # goals and information rows of bench/targets.py
GOAL_ROWS = 10

# Profiles a little of each part's code, then prints the split next to cProfile's own total.
_SPLIT_SCRIPT = """
import cProfile, gzip, json, sys
from bench.profile import PART_NAMES, split
from prometheus_client.openmetrics.exposition import generate_latest
from qsan_exporter.collectors.base import FamilyBuilder

class Families:
    def __init__(self, builder): self.builder = builder
    def collect(self): return self.builder.families()

profiler = cProfile.Profile()
profiler.enable()
for index in range(200):
    answer = json.loads(json.dumps({"items": [{"id": i, "name": f"disk{i}"} for i in range(50)]}))
    builder = FamilyBuilder(const_labels={"array": f"a{index}"})
    builder.add("qsan_up", {}, len(answer["items"]))
    gzip.compress(generate_latest(Families(builder)))
profiler.disable()
profiler.create_stats()
stats = profiler.stats
print(json.dumps({"names": PART_NAMES, "parts": split(stats),
                  "total": sum(entry[2] for entry in stats.values())}))
"""


def test_profile_split_sums_to_the_total_and_every_part_is_known() -> None:
    done = subprocess.run([sys.executable, "-c", _SPLIT_SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert list(out["parts"]) == out["names"]
    assert len(set(out["names"])) == len(out["names"]) == 6
    assert math.isclose(sum(out["parts"].values()), out["total"], rel_tol=1e-9)
    for part in ("compression", "JSON decoding", "rendering"):
        assert out["parts"][part] > 0, part


@pytest.mark.slow
def test_quick_bench_writes_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- bench:begin (generated) -->\nold\n<!-- bench:end -->\ny\n")
    before = (ROOT / "README.md").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--json", str(out),
         "--readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MET" in done.stdout
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results.keys() >= TOP_KEYS
    assert results["machine"].keys() >= MACHINE_KEYS
    for kind in POLL_KINDS:
        assert results["poll_cost"][kind].keys() >= POLL_KEYS, kind
        assert results["poll_cost"][kind]["polls"] >= 1, kind
    _check_profile(results["profile"])
    for server in SERVERS:
        assert results["latency"][server].keys() >= LATENCY_KEYS, server
        assert results["latency"][server]["scrapes"] >= 1
    assert results["latency"]["same_series_as_baseline"] is True
    assert results["latency"]["builder"].keys() >= BUILDER_KEYS
    assert results["latency"]["exporter_after_publish"]["content_encoding"] == "gzip"
    assert results["fleet"].keys() >= FLEET_KEYS
    assert results["fleet"]["polls"] >= 1
    for kind in MEMORY_KINDS:
        memory = results["memory"][kind]
        assert memory["points"] and "growth_per_array_bytes" in memory, kind
        for point in memory["points"]:
            assert point.keys() >= MEMORY_POINT_KEYS
    _check_targets(results["targets"])
    # --quick never touches a README, neither the given one nor the project's.
    assert "old" in readme.read_text(encoding="utf-8")
    assert (ROOT / "README.md").read_text(encoding="utf-8") == before


def _check_profile(profile: dict[str, object]) -> None:
    assert profile.keys() >= PROFILE_KEYS
    percent = profile["parts_percent"]
    assert isinstance(percent, dict) and len(percent) == 6
    assert math.isclose(sum(percent.values()), 100.0, rel_tol=1e-6)
    assert profile["polls"] >= 1


def _check_targets(rows: list[dict[str, object]]) -> None:
    assert len(rows) == TARGET_ROWS
    assert sum(row["met"] is not None for row in rows) == GOAL_ROWS
    for row in rows:
        assert {"name", "value", "target", "met", "shown"} <= row.keys()
        assert row["met"] is None or isinstance(row["met"], bool)
        assert (row["met"] is None) == (row["target"] == "")


def test_readme_rewrite_keeps_everything_outside_the_markers() -> None:
    """bench/report.py's examples (doctest), run as the bench runs: its own process."""
    done = subprocess.run([sys.executable, "-m", "doctest", "bench/report.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
