"""bench/soak.py in miniature: every fault of its plan, a few polls, its own checks must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

# bench/soak.py's FAULT_PLAN, as the soak must exercise it: one array per fault kind.
FAULTS = ("hang", "5xx", "429", "login_fail", "mixed")


def test_schedule_bounds_follow_the_exporter_schedule() -> None:
    """bench/soak.py's bounds (login budget, backoff attempts, slope) by their examples
    (doctest), run as the soak runs: its own process."""
    done = subprocess.run([sys.executable, "-m", "doctest", "bench/soak.py"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.slow
def test_soak_smoke(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    faulty = len(FAULTS)
    result = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "0.3", "--arrays", str(faulty + 2),
         "--faulty", str(faulty), "--interval", "2", "--timeout", "1", "--backoff-max", "8",
         "--scrape-every", "1", "--revoke-every", "8", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.exists(), result.stdout + result.stderr
    report = json.loads(out.read_text())
    failed = {k: c["detail"] for k, c in report["checks"].items() if not c["ok"]}
    assert not failed, failed
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert report["scrapes"] >= 5 and report["forced_revokes"] >= 1
    faults = {row["fault"] for row in report["arrays"]}
    assert faults == {"-", *FAULTS}
    healthy = [row for row in report["arrays"] if row["fault"] == "-"]
    assert all(row["logins"] == 1 and row["qsan_up"] == 1 for row in healthy), healthy
    assert all(row["live_tokens_after_exit"] == 0 for row in report["arrays"])
    assert "fds" in report["resources"] and "rss_kib" in report["resources"]
