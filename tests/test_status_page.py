"""The status page at `/` (SPEC §3) against the real exporter: flavour, state, backoff."""

from __future__ import annotations

import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import status_card, wait_for, write_config


def sample(text: str, name: str, array: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels.get("array") == array:
                return s.value
    return None


@pytest.mark.slow
def test_status_page_shows_backoff_of_a_dead_array(simulators, exporter, tmp_path) -> None:
    sims = {"st-ok": simulators("san"), "st-dead": simulators("nas")}
    config = write_config(tmp_path / "c.yml", sims, interval_seconds=1, timeout_seconds=0.5)
    e = exporter(f"--config.file={config}")
    e.wait_ready()
    page = e.get("/").text
    assert "BACKING OFF" not in page
    assert "unified · san" in status_card(page, "st-ok")
    assert "unified · nas" in status_card(page, "st-dead")

    sims["st-dead"].stop()
    wait_for(lambda: sample(e.get("/metrics").text, "qsan_poll_backoff", "st-dead") == 1, 30,
             "the dead array to back off")
    page = e.get("/").text
    dead, ok = status_card(page, "st-dead"), status_card(page, "st-ok")
    assert "DOWN" in dead
    assert re.search(r"BACKING OFF after [2-9]\d* failed poll\(s\): next attempt in \d+ s", dead)
    assert "BACKING OFF" not in ok and "DOWN" not in ok
    assert re.search(r"next poll\s+in \d+ s\b", ok)


def test_page_shows_a_failed_reload_and_an_array_still_waiting() -> None:
    from qsan_exporter.config import ArrayConfig
    from qsan_exporter.web.status_page import ExporterState, render_status

    state = ExporterState("9.9.9", started_at=1000.0, config_file="/etc/qsan.yml")
    state.reloaded(False, "array 'x': url <must> be http(s)", at=4000.0)
    config = ArrayConfig(name="w&1", url="https://10.0.0.1", username="u", password="pw-secret")
    page = render_status(4600.0, state, {}, {"w&1": config})
    assert "version 9.9.9 · up 60 min" in page
    assert "FAILED, the previous config keeps running" in page
    assert "url &lt;must&gt; be http(s)" in page  # escaped, never raw HTML
    card = status_card(page, "w&1")
    assert "WAITING" in card and "waiting for the first poll" in card
    assert "href='/probe?target=w%261&amp;debug=true'" in page
    assert "pw-secret" not in page
