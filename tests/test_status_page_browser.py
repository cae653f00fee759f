"""The status page in a real browser: headless Chromium renders `/` of the exporter polling
simulated arrays (the simulator's hardware has a failed disk, a failed PSU and fan, a degraded
pool) and an array on a closed port. The rendered DOM must show the version, each array's
problems by name, its error once and its /probe links; screenshots are kept for a person."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from qsan_exporter import __version__
from tests.conftest import status_card, wait_for

CHROMIUM = "/usr/bin/chromium"  # the Debian package scripts/test installs


def chromium(profile: Path, url: str, *args: str) -> str:
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args, url],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_status_page_renders_in_headless_chromium(simulators, exporter, tmp_path,
                                                   closed_port) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("chromium is not installed (scripts/test installs the Debian package)")
    sims = {"br-san": simulators("san"), "br-legacy": simulators("legacy")}
    closed = f"http://127.0.0.1:{closed_port}"
    config = tmp_path / "c.yml"
    arrays = [{"name": n, "url": s.url} for n, s in sims.items()]
    arrays[0].update(interval_seconds=4, timeout_seconds=3)  # br-san: the injected event soon
    config.write_text(yaml.safe_dump({
        "defaults": {"username": "monitor", "password": "secret-pw", "api": "auto"},
        "arrays": [*arrays, {"name": "br-closed", "url": closed}],
    }))
    os.chmod(config, 0o600)
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    url = e.url + "/"
    injected = requests.post(sims["br-san"].url + "/_sim/events", timeout=5, json={
        "level": "error", "message": "Disk <3> failed & was removed."})
    assert injected.status_code == 201
    wait_for(lambda: "Disk &lt;3&gt; failed" in e.get("/").text, 30, "the event on the page")

    dom = chromium(tmp_path / "profile", url, "--dump-dom")
    assert f"version {__version__}" in dom
    assert str(config) in dom  # the config file and its load state
    for name in ("br-san", "br-legacy"):
        card = status_card(dom, name)
        assert "UP" in card and "DOWN" not in card
        failed, _, degraded = card.partition("failed:")[2].partition("degraded:")
        for part in ("disk 1", "PSU PSU2", "fan FAN2"):
            assert part in failed, (part, card)
        assert "pool Pool-1" in degraded, card
        assert f'href="/probe?target={name}"' in dom
        assert f'href="/probe?target={name}&amp;debug=true"' in dom
    assert "replication task" in status_card(dom, "br-san")  # the legacy API has no tasks
    events = status_card(dom, "br-san").split("latest array errors and warnings (")[1]
    assert events.startswith("1, newest first)") and "Disk <3> failed & was removed." in events
    assert "legacy · san" in status_card(dom, "br-legacy")
    down = status_card(dom, "br-closed")
    assert "DOWN" in down and "connection refused" in down and "check the port" in down
    assert down.count("connection refused") == 1  # once per array, not once per collector

    shots = {"desktop": "1200,1500", "phone": "412,1400"}
    for kind, size in shots.items():
        path = tmp_path / f"status-page-{kind}.png"
        chromium(tmp_path / "profile", url, f"--screenshot={path}", f"--window-size={size}",
                 "--hide-scrollbars")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 20_000  # a rendered page, not a blank one
        print(f"status page screenshot ({kind}): {path}")
