"""Reload (POST /-/reload and SIGHUP): arrays start and stop, a bad file keeps the old config."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests

from tests.conftest import wait_for, write_config


def _reload_gauge(text: str) -> str:
    return next(line for line in text.splitlines()
                if line.startswith("qsan_config_last_reload_successful"))


@pytest.mark.slow
def test_reload_adds_and_removes_arrays_and_survives_a_bad_file(
    simulators, exporter, tmp_path: Path
) -> None:
    a, b = simulators("san"), simulators("nas")
    path = write_config(tmp_path / "c.yml", {"ra": a}, interval_seconds=2, timeout_seconds=1)
    e = exporter(f"--config.file={path}", "--web.enable-lifecycle")
    e.wait_ready()
    assert a.live_token_sets() == 1

    write_config(path, {"rb": b}, interval_seconds=2, timeout_seconds=1)
    answer = requests.post(e.url + "/-/reload", timeout=10)
    assert answer.status_code == 200, answer.text
    wait_for(lambda: 'qsan_up{array="rb"} 1.0' in e.get("/metrics").text, 15, "rb polled")
    text = e.get("/metrics").text
    assert 'array="ra"' not in text  # removed array: its series are gone ...
    assert a.live_token_sets() == 0 and a.stats.revokes == 1  # ... and its token revoked
    assert _reload_gauge(text).endswith(" 1.0")
    assert e.get("/probe?target=ra").status_code == 400

    path.write_text("arrays: [{name: rb, url: 'not a url'}]\n")
    bad = requests.post(e.url + "/-/reload", timeout=10)
    assert bad.status_code == 500 and "url" in bad.text
    text = e.get("/metrics").text
    assert _reload_gauge(text).endswith(" 0.0")
    assert 'qsan_up{array="rb"} 1.0' in text  # the running config keeps polling

    write_config(path, {"rb": b, "ra": a}, interval_seconds=2, timeout_seconds=1)
    e.process.send_signal(signal.SIGHUP)
    wait_for(lambda: 'qsan_up{array="ra"} 1.0' in e.get("/metrics").text, 15, "ra back")
    assert _reload_gauge(e.get("/metrics").text).endswith(" 1.0")
    assert b.stats.logins == 1  # the unchanged array kept its token set across reloads
    assert e.stop() == 0
    assert a.live_token_sets() == 0 and b.live_token_sets() == 0
