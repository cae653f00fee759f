"""The whole exporter in-process (service.Exporter): start against simulated arrays, reload a
changed config, re-shard, stop — arrays polled, served, and every token set revoked at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from qsan_exporter.config import load_config
from qsan_exporter.service import Exporter, Options
from qsan_exporter.sharding import shard_of
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig
from tests.conftest import wait_for

CANDIDATES = ("east", "west", "north", "south", "core", "edge", "lab", "dr")
# One array in each half of a 2-shard split, so re-sharding to N=2 drops exactly one of them.
STAY = next(n for n in CANDIDATES if shard_of(n, 2) == 0)
MOVE = next(n for n in CANDIDATES if shard_of(n, 2) == 1)


@pytest.fixture
def sims() -> Iterator[dict[str, SimulatedArray]]:
    started = {name: SimulatedArray(SimulatorConfig(username="monitor", password="pw"),
                                    port=0).start() for name in (STAY, MOVE)}
    try:
        yield started
    finally:
        for sim in started.values():
            sim.stop()


def write(path: Path, sims: dict[str, SimulatedArray], names: tuple[str, ...]) -> None:
    document: dict[str, Any] = {
        "defaults": {"username": "monitor", "password": "pw", "api": "unified",
                     "interval_seconds": 2, "timeout_seconds": 1},
        "arrays": [{"name": n, "url": sims[n].url} for n in names],
    }
    path.write_text(yaml.safe_dump(document))


def served(exporter: Exporter, name: str) -> bool:
    text = requests.get(exporter.url + "/metrics", timeout=5).text
    return f'qsan_up{{array="{name}"}} 1.0' in text


def test_start_reload_reshard_stop(tmp_path: Path, sims: dict[str, SimulatedArray]) -> None:
    path = tmp_path / "config.yml"
    write(path, sims, (STAY,))
    exporter = Exporter(load_config(path), Options(config_path=path, shard=(0, 1)))
    assert [a.name for a in exporter.start().arrays] == [STAY]
    try:
        wait_for(lambda: served(exporter, STAY), 30, f"{STAY} polled and served")

        write(path, sims, (STAY, MOVE))
        result = exporter.reload()
        assert result.ok and exporter.reload_successful, result.message
        wait_for(lambda: served(exporter, MOVE), 30, f"{MOVE} polled after the reload")

        path.write_text("arrays: [")  # broken: the running config stays, whole
        result = exporter.reload()
        assert not result.ok and not exporter.reload_successful
        assert set(exporter.poller.configs()) == {STAY, MOVE}
        assert sims[MOVE].live_token_sets() == 1
        status = requests.get(exporter.url + "/", timeout=5).text
        assert "FAILED, the previous config keeps running" in status

        exporter.reshard(2)  # this instance is 0/2 now: MOVE belongs to instance 1
        assert set(exporter.poller.configs()) == {STAY}
        wait_for(lambda: sims[MOVE].live_token_sets() == 0, 15, f"{MOVE}'s tokens revoked")
        assert sims[STAY].live_token_sets() == 1
    finally:
        exporter.stop()
    assert [sim.live_token_sets() for sim in sims.values()] == [0, 0]  # revoked at stop
    assert sims[MOVE].stats.logins >= 1


def test_reshard_needs_a_shard_index(tmp_path: Path, sims: dict[str, SimulatedArray]) -> None:
    path = tmp_path / "config.yml"
    write(path, sims, (STAY,))
    with Exporter(load_config(path), Options()) as exporter, pytest.raises(ValueError):
        exporter.reshard(2)
    assert not exporter.reload().ok  # no config file: nothing to reload from
