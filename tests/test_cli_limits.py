"""`--api.max-concurrent-requests`: the cap on requests in flight to all arrays together.

The simulators run in this process, so the test can add up their in-flight counters while the
real exporter (a subprocess) polls them. Every request is slowed to 0.1 s so that requests to
different arrays would overlap if nothing stopped them - the uncapped run proves they do.
"""

from __future__ import annotations

import time

import pytest

from qsan_exporter.cli import main
from qsan_exporter.simulator.faults import Fault
from tests.conftest import write_config

ARRAYS = 4
LATENCY = 0.1
REQUESTS_EACH = 5  # observe until every array has answered this many


def peak_in_flight(sims: list) -> int:
    """Sample the sum of in-flight requests until each array served REQUESTS_EACH more."""
    start = [sim.stats.requests for sim in sims]
    peak = 0
    for _ in range(6000):  # 10 ms apart: at most ~60 s, normally a few seconds
        peak = max(peak, sum(sim.stats.concurrent_requests for sim in sims))
        if all(sim.stats.requests - s >= REQUESTS_EACH for sim, s in zip(sims, start,
                                                                         strict=True)):
            return peak
        time.sleep(0.01)
    raise AssertionError(f"arrays did not serve {REQUESTS_EACH} requests each")


@pytest.mark.parametrize(("flag", "expect_overlap"), [("1", False), ("0", True)])
def test_global_cap_across_arrays(simulators, exporter, tmp_path, flag, expect_overlap) -> None:
    sims = [simulators("san", enclosures=1, disks=8, pools=1, volumes=2) for _ in range(ARRAYS)]
    for sim in sims:
        sim.faults.add(Fault("latency", seconds=LATENCY))
    config = write_config(tmp_path / "c.yml", {f"a{i}": s for i, s in enumerate(sims)},
                          interval_seconds=5, timeout_seconds=2)
    exporter(f"--config.file={config}", f"--api.max-concurrent-requests={flag}")
    peak = peak_in_flight(sims)
    # Each array alone never has more than one request in flight (the per-array default).
    assert all(sim.stats.max_concurrent_requests == 1 for sim in sims)
    if expect_overlap:
        assert peak > 1, "without a global cap, requests to different arrays overlap"
    else:
        assert peak == 1


def test_negative_cap_is_a_usage_error(capsys) -> None:
    assert main(["--demo", "--api.max-concurrent-requests=-1"]) == 1
    assert "--api.max-concurrent-requests must be >= 0" in capsys.readouterr().err
