"""A planted password must appear nowhere: logs at every level, metrics, status page, errors."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from tests.conftest import wait_for

PLANTED = "Pl4nted-S3cret!xyzzy"
FORMS = (PLANTED, base64.b64encode(PLANTED.encode()).decode(), quote(PLANTED, safe=""))


def _assert_clean(where: str, text: str) -> None:
    for form in FORMS:
        assert form not in text, f"the planted password ({form!r}) leaked into {where}"


@pytest.mark.slow
def test_planted_password_never_leaks(simulators, exporter, tmp_path: Path, monkeypatch) -> None:
    good = simulators("san", password=PLANTED)
    wrong = simulators("nas", password="the-array-expects-another")  # our login is rejected
    from_env = simulators("fas", password=PLANTED)
    (tmp_path / "pw").write_text(PLANTED + "\n")
    config = tmp_path / "c.yml"
    config.write_text(yaml.safe_dump({
        "defaults": {"username": "monitor", "interval_seconds": 2, "timeout_seconds": 1},
        "arrays": [
            {"name": "good", "url": good.url, "password_file": str(tmp_path / "pw")},
            {"name": "rejected", "url": wrong.url, "password": PLANTED},
            {"name": "env", "url": from_env.url, "password": "${QSAN_PLANTED}"},
            {"name": "dead", "url": "http://127.0.0.1:9", "password": PLANTED},
        ],
    }))
    os.chmod(config, 0o600)
    monkeypatch.setenv("QSAN_PLANTED", PLANTED)
    e = exporter(f"--config.file={config}")  # --log.level=debug: every level is written
    e.wait_ready()
    def rejected_down() -> str | None:
        text = e.get("/metrics").text
        return text if 'qsan_up{array="rejected"} 0.0' in text else None

    metrics = wait_for(rejected_down, 20, "the rejected array to be down")
    _assert_clean("/metrics", metrics)
    assert 'qsan_up{array="good"} 1.0' in metrics and 'qsan_up{array="env"} 1.0' in metrics
    status = e.get("/").text
    assert "rejected" in status and "login as user" in status  # the error is shown ...
    _assert_clean("the status page", status)  # ... without the secret
    for target in ("good", "rejected", "dead"):
        _assert_clean(f"/probe?target={target}", e.get(f"/probe?target={target}").text)
    assert e.stop() == 0
    log = e.log_text()
    assert "level=debug" in log and "rejected" in log
    _assert_clean("the exporter's log", log)
    assert wrong.stats.failed_logins == 1  # the login budget: no second try within 5 minutes
