"""The real exporter CLI against simulated arrays over HTTP: the whole data path, end to end."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from qsan_exporter.metrics import GLOBAL_METRICS, METRICS
from tests.conftest import wait_for, write_config
from tests.e2e_helpers import NOT_ON, families_of, samples_of

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)

@pytest.fixture
def three_arrays(simulators, tmp_path: Path):
    sims = {f"it-{p}": simulators(p) for p in ("san", "fas", "nas")}
    config = write_config(tmp_path / "config.yml", sims, interval_seconds=2, timeout_seconds=1)
    return sims, config


def test_every_spec_family_for_every_profile(three_arrays, exporter) -> None:
    sims, config = three_arrays
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    families = families_of(e.get("/metrics").text)
    for name in GLOBAL_METRICS:
        assert name in families, f"{name} missing"
    missing = {}
    for array in sims:
        profile = array.removeprefix("it-")
        absent = [n for n in METRICS
                  if n not in NOT_ON[profile] and not samples_of(families, n, array)]
        if absent:
            missing[array] = absent
        for name in NOT_ON[profile]:
            assert not samples_of(families, name, array), f"{array} must not have {name}"
    assert not missing, f"families missing: {missing}"
    for array in sims:
        (up,) = samples_of(families, "qsan_up", array)
        assert up.value == 1
        assert {s.value for s in samples_of(families, "qsan_collector_success", array)} == {1.0}


@pytest.mark.slow
def test_promtool_check_metrics_is_clean(three_arrays, exporter) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) must be installed by scripts/test"
    _, config = three_arrays
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    body = e.get("/metrics").content
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                            timeout=60)
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout.decode() + result.stderr.decode()
    )


@pytest.mark.slow
def test_content_negotiation_and_gzip(three_arrays, exporter) -> None:
    _, config = three_arrays
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    om = e.get("/metrics", headers={"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"},
               stream=True)
    assert om.headers["Content-Type"].startswith("application/openmetrics-text")
    assert om.headers["Content-Encoding"] == "gzip"
    raw = om.raw.read(decode_content=False)
    text = gzip.decompress(raw).decode()
    assert text.endswith("# EOF\n")
    names = {f.name for f in parse_om(text)}
    assert "qsan_disk_health" in names and "qsan_api_requests" in names
    plain = e.get("/metrics", headers={"Accept": "text/plain", "Accept-Encoding": "identity"})
    assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "Content-Encoding" not in plain.headers
    assert "# EOF" not in plain.text


@pytest.mark.slow
def test_probe_and_status_routes(three_arrays, exporter) -> None:
    sims, config = three_arrays
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    probe = e.get("/probe?target=it-fas")
    assert probe.status_code == 200
    families = families_of(probe.text)
    arrays = {s.labels["array"] for samples in families.values() for s in samples
              if "array" in s.labels}
    assert arrays == {"it-fas"}
    assert "qsan_exporter_build_info" not in families
    unknown = e.get("/probe?target=nope")
    assert unknown.status_code == 400 and "unknown target 'nope'" in unknown.text
    assert e.get("/probe").status_code == 400
    status = e.get("/")
    assert status.status_code == 200
    for name in sims:
        assert name in status.text
    assert "unified" in status.text
    assert e.get("/-/reload").status_code == 405


@pytest.mark.slow
def test_a_dead_array_only_downs_itself(three_arrays, exporter) -> None:
    sims, config = three_arrays
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    sims["it-fas"].stop()

    def fas_down() -> dict | None:
        families = families_of(e.get("/metrics").text)
        (up,) = samples_of(families, "qsan_up", "it-fas")
        return families if up.value == 0 else None

    families = wait_for(fas_down, 20, "qsan_up{array=it-fas} to drop to 0")
    for array in ("it-san", "it-nas"):
        assert [s.value for s in samples_of(families, "qsan_up", array)] == [1.0]
        assert samples_of(families, "qsan_disk_health", array)
        assert {s.value for s in samples_of(families, "qsan_collector_success", array)} == {1.0}
    requests_fas = samples_of(families, "qsan_api_requests_total", "it-fas")
    assert any(s.labels["code"] == "error" for s in requests_fas)


@pytest.mark.slow
def test_token_lifecycle_one_login_then_refreshes_and_revoke_on_sigterm(
    simulators, exporter, tmp_path: Path
) -> None:
    sims = {f"tok-{p}": simulators(p, token_lifetime=5) for p in ("san", "nas")}
    config = write_config(tmp_path / "c.yml", sims, interval_seconds=1, timeout_seconds=0.5)
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    # Polling every second through more than two token lifetimes: bounded, on the array's count.
    wait_for(lambda: all(sim.stats.refreshes >= 2 for sim in sims.values()), 30,
             "two refreshes on every array")
    for sim in sims.values():
        assert sim.stats.logins == 1, sim.stats
        assert sim.stats.refreshes >= 2, sim.stats
        assert sim.stats.max_live_token_sets == 1
        assert sim.live_token_sets() == 1
    assert e.stop() == 0
    for sim in sims.values():
        assert sim.live_token_sets() == 0
        assert sim.stats.revokes == 1
    assert "secret-pw" not in e.log_text()
