"""README command 1: `qsan-exporter --demo` serves every SPEC family for each profile
(legacy: those its API has)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from tests.e2e_helpers import NOT_ON, families_of, samples_of


@pytest.mark.slow
def test_demo_serves_every_family_and_passes_promtool(exporter) -> None:
    e = exporter("--demo")
    e.wait_ready()
    body = e.get("/metrics", headers={"Accept-Encoding": "identity"}).content
    families = families_of(body.decode())
    assert all(name in families for name in GLOBAL_METRICS)
    for profile in ("san", "fas", "nas", "legacy"):
        array = f"demo-{profile}"
        missing = [n for n in METRICS
                   if n not in NOT_ON[profile] and not samples_of(families, n, array)]
        assert not missing, f"{array} lacks {missing}"
    # The legacy array is configured `api: auto`: the flavour was detected, not given.
    (info,) = samples_of(families, "qsan_array_info", "demo-legacy")
    assert (info.labels["api"], info.labels["product"]) == ("legacy", "san")
    promtool = shutil.which("promtool")
    assert promtool
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                           timeout=60)
    assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), (
        check.stdout.decode() + check.stderr.decode())
    assert "demo-san" in e.get("/").text
    assert e.stop() == 0
