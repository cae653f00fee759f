"""The real exporter process and its token sets: crashes, restarts, and a literal array.

Counted at the simulator, never inferred from the exporter's logs: live token sets (refresh
tokens neither revoked nor rotated out), their high-water mark, logins and refreshes.
"""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, Exporter, wait_for, write_config

POOLS = "/rest/v1/storage/pool/list"


def _polled_since(sim, before: int) -> bool:
    return sim.stats.requests_by_path.get(POOLS, 0) > before


@pytest.mark.slow
def test_ten_kill_9_restarts_leave_at_most_one_token_set_per_array(
        simulators, tmp_path: Path) -> None:
    """Issue 11: ten `kill -9` left ten live sets and evicted an administrator. With the state
    directory each start reuses the set the killed one held: one set, one login, all along."""
    sims = {"crash-san": simulators("san"), "crash-nas": simulators("nas")}
    config = write_config(tmp_path / "c.yml", sims, interval_seconds=1, timeout_seconds=0.5)
    state = tmp_path / "state"
    for n in range(10):
        before = {name: sim.stats.requests_by_path.get(POOLS, 0) for name, sim in sims.items()}
        e = Exporter([f"--config.file={config}", f"--state.directory={state}"],
                     tmp_path / f"exporter-{n}.log")
        try:
            wait_for(lambda before=before: all(_polled_since(s, before[k])
                                               for k, s in sims.items()),
                     20, "a poll of every array")
        finally:
            e.process.send_signal(signal.SIGKILL)
            e.process.wait(10)
            e.stop()
        for name, sim in sims.items():
            assert sim.live_token_sets() <= 1, (n, name, sim.stats_snapshot())
    for sim in sims.values():
        assert sim.stats.max_live_token_sets == 1, sim.stats_snapshot()
        assert sim.stats.logins == 1 and sim.stats.evicted_token_sets == 0
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = list(state.iterdir())
    assert len(files) == 2 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    # A last, clean run ends what the killed ones left: nothing on the arrays, nothing on disk.
    e = Exporter([f"--config.file={config}", f"--state.directory={state}"],
                 tmp_path / "exporter-last.log")
    e.wait_ready()
    assert e.stop() == 0
    for sim in sims.values():
        assert sim.live_token_sets() == 0
    assert list(state.iterdir()) == []
    logs = "".join((tmp_path / f"exporter-{n}.log").read_text() for n in range(10))
    assert "secret-pw" not in logs and "Traceback" not in logs


@pytest.mark.slow
def test_a_bad_state_file_is_a_warning_not_a_crash(simulators, tmp_path: Path) -> None:
    sims = {"bad-state": simulators("san")}
    config = write_config(tmp_path / "c.yml", sims, interval_seconds=1, timeout_seconds=0.5)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    e = Exporter([f"--config.file={config}", f"--state.directory={state}"], tmp_path / "a.log")
    e.wait_ready()
    e.process.send_signal(signal.SIGKILL)
    e.process.wait(10)
    e.stop()
    [path] = list(state.iterdir())
    path.write_text("{garbage")
    e = Exporter([f"--config.file={config}", f"--state.directory={state}"], tmp_path / "b.log")
    e.wait_ready()
    assert e.get("/metrics").status_code == 200
    assert e.stop() == 0
    text = e.log_text()
    assert "token state file" in text and "ignored" in text and "Traceback" not in text


def _sim_stats(url: str) -> dict:
    return requests.get(url + "/_sim/stats", timeout=5).json()


@pytest.mark.slow
def test_literal_array_with_4_s_tokens_end_to_end(exporter, tmp_path: Path) -> None:
    """Issue 10: against the example's `"refreshToken "` at a 4 s token lifetime, 20 s gave
    0 refreshes, 13 logins and 10 live sets. Now: refreshes succeed, at most 2 live sets at
    every moment (sampled, and the simulator's own high-water mark), none after SIGTERM."""
    log = (tmp_path / "sim.log").open("wb")
    sim = subprocess.Popen(
        [sys.executable, "-m", "qsan_exporter.cli", "simulate", "--literal",
         "--token-lifetime=4", "--listen=127.0.0.1:0", "--username=monitor",
         "--password=secret-pw"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        # The banner names the URL with the port the simulator bound (port 0: no port race).
        banner = wait_for(lambda: re.search(r"serving on (http://\S+)",
                                            (tmp_path / "sim.log").read_text()), 20, "the banner")
        url = banner.group(1)  # type: ignore[attr-defined]
        wait_for(lambda: _sim_stats(url), 20, "the literal simulator")
        config = tmp_path / "c.yml"
        config.write_text(f"defaults: {{username: monitor, password: secret-pw, "
                          f"interval_seconds: 1, timeout_seconds: 0.5}}\n"
                          f"arrays: [{{name: literal, url: '{url}'}}]\n")
        os.chmod(config, 0o600)
        e = exporter(f"--config.file={config}")
        e.wait_ready()
        samples: list[int] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                samples.append(_sim_stats(url)["live_token_sets"])

        sampler = threading.Thread(target=sample)
        sampler.start()
        # The window: until the array saw the four refreshes asserted below (bounded), not a
        # fixed 16 s.
        wait_for(lambda: _sim_stats(url)["refreshes"] >= 4, 40, "four refreshes")
        stop.set()
        sampler.join()
        stats = _sim_stats(url)
        metrics = e.get("/metrics").text
        assert e.stop() == 0
        after = _sim_stats(url)
    finally:
        sim.terminate()
        sim.wait(10)
        log.close()
    assert samples and max(samples) <= 2 and stats["max_live_token_sets"] <= 2, stats
    assert stats["refreshes"] >= 4, stats  # a refresh every ~2 s once the spelling is known
    assert stats["logins"] == 1, stats
    assert stats["bad_auth_requests"] == 1, stats  # the table's spelling, tried once
    assert 'qsan_up{array="literal"} 1.0' in metrics or 'qsan_up{array="literal"} 1' in metrics
    assert after["live_token_sets"] == 0 and after["revokes"] == 1, after
