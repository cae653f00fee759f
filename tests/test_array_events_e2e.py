"""The real exporter: events injected into a simulated array come out once each as log lines in
the chosen --log.format, and show on the status page and in the debug view."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import requests
import yaml

from qsan_exporter.api.unified.source import LOG_PATH
from tests.conftest import status_card, wait_for

LOGGER = "qsan_exporter.array_events"
_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')


def parse_logfmt(line: str) -> dict[str, str]:
    """Enough logfmt for these lines: bare values and quoted ones with \\" and \\\\ escapes."""
    pairs = {}
    for key, value in _PAIR.findall(line):
        if value.startswith('"'):
            value = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value[1:-1])
        pairs[key] = value
    return pairs


def event_lines(text: str, fmt: str) -> list[dict[str, str]]:
    """The array event lines of an exporter's output, parsed back."""
    if fmt == "json":
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    else:
        records = [parse_logfmt(line) for line in text.splitlines() if line.startswith("ts=")]
    return [r for r in records if r.get("logger") == LOGGER]


def _config(path: Path, url: str) -> Path:
    path.write_text(yaml.safe_dump({
        "defaults": {"username": "monitor", "password": "secret-pw", "interval_seconds": 2,
                     "timeout_seconds": 1},
        "arrays": [{"name": "ev-san", "url": url, "labels": {"site": "dc1"}}],
    }))
    os.chmod(path, 0o600)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fmt,lines_on", [("logfmt", True), ("json", True), ("json", False)])
def test_injected_events_reach_the_log_the_status_page_and_the_debug_view(
    simulators, exporter, tmp_path, fmt, lines_on
) -> None:
    sim = simulators("san", log_interval=0)
    flag = "--log.array-events" if lines_on else "--no-log.array-events"
    e = exporter(f"--config.file={_config(tmp_path / 'c.yml', sim.url)}",
                 f"--log.format={fmt}", flag)
    e.wait_ready()
    wait_for(lambda: sim.stats.request_times(LOG_PATH), 10, "the first (history) log fetch")
    assert event_lines(e.log_text(), fmt) == []  # the array's history is never replayed

    second = int(time.time())
    answer = requests.post(sim.url + "/_sim/events", timeout=5, json=[
        {"level": "error", "message": "Disk 3 failed.", "timestamp": second, "count": 2},
        {"level": "warning", "message": "Fan 'FAN2' speed is low.", "timestamp": second}])
    assert answer.status_code == 201
    card = wait_for(lambda: "Fan 'FAN2'" in (c := status_card(e.get("/").text, "ev-san")) and c,
                    20, "the events on the status page")
    assert card.count("Disk 3 failed.") == 2 and "latest array errors and warnings (3" in card
    fetches = len(sim.stats.request_times(LOG_PATH))
    wait_for(lambda: len(sim.stats.request_times(LOG_PATH)) >= fetches + 2, 20, "two more polls")

    lines = event_lines(e.log_text(), fmt)
    if not lines_on:
        assert lines == []
    else:
        assert [(r["level"], r["event_level"], r["msg"]) for r in lines] == [
            ("error", "error", "Disk 3 failed."), ("error", "error", "Disk 3 failed."),
            ("warn", "warning", "Fan 'FAN2' speed is low.")]
        assert {(r["array"], r["site"]) for r in lines} == {("ev-san", "dc1")}
        assert {r["event_time"] for r in lines} == {
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))}
    debug = e.get("/probe?target=ev-san&debug=true").text
    section = debug.split("Latest array errors and warnings (3, newest first):\n")[1]
    assert [line.split("UTC  ")[1] for line in section.splitlines()[:3]] == [
        "warning  Fan 'FAN2' speed is low.", "error    Disk 3 failed.",
        "error    Disk 3 failed."]
    assert "secret-pw" not in e.log_text() + debug
