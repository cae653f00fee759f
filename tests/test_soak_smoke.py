"""bench/soak.py in miniature: every fault of its plan, a few polls, its own checks must pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import FAULT_PLAN, backoff_attempts_bound, login_budget, slope_per_minute
from tests.conftest import ROOT


def test_schedule_bounds_follow_the_exporter_schedule() -> None:
    # api/guard.py: 300 s after the first rejected login, then 600, 1200, ... up to 3600.
    assert [login_budget(d) for d in (0, 299, 300, 899, 900, 2100)] == [1, 1, 2, 2, 3, 4]
    # array_poll.py with I=2, max 8: attempts at 0, 2, then gaps >= 3, 6, 6, ...
    assert backoff_attempts_bound(1.9, 2, 8) == 2
    assert backoff_attempts_bound(20, 2, 8) == 6
    assert backoff_attempts_bound(600, 2, 8) < 600 / 2
    assert slope_per_minute([(0, 10), (60, 12), (120, 14)]) == 2.0


@pytest.mark.slow
def test_soak_smoke(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    faulty = len(FAULT_PLAN)
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
    assert faults == {"-"} | {kind for kind, _, _ in FAULT_PLAN}
    healthy = [row for row in report["arrays"] if row["fault"] == "-"]
    assert all(row["logins"] == 1 and row["qsan_up"] == 1 for row in healthy), healthy
    assert all(row["live_tokens_after_exit"] == 0 for row in report["arrays"])
    assert "fds" in report["resources"] and "rss_kib" in report["resources"]
