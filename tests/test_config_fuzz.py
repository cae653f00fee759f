"""Hypothesis-made configs (every key, wrong types, extremes) through `--config.check` and
through a reload of a live exporter: never a traceback, never a half-applied state.

URLs are drawn from broken ones and loopback ones only: a config that happens to be valid is
really applied, and its arrays really polled, so no draw may point outside this host.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qsan_exporter.cli import main
from qsan_exporter.config import ALL_KEYS, load_config
from qsan_exporter.service import Exporter, Options
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

BAD_URLS = ["https://[::1", "https://[::1]:99999", "http://127.0.0.1:0", "ftp://127.0.0.1",
            "https://monitor:pw@127.0.0.1", "http://127.0.0.1/path", "", "http://", "::"]
LOOPBACK_URLS = ["http://127.0.0.1:1", "http://[::1]:1"]  # nothing listens: polls just fail

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, -1, 0.001, 1e308]),
    st.text(max_size=12), st.sampled_from(["unified", "legacy", "auto", "base64", "UTC",
                                           "system", "disks", "${NOPE}", "Mars/X"]),
)
values = st.one_of(scalars, st.lists(scalars, max_size=4),
                   st.dictionaries(st.sampled_from(["tasks", "logs", "site", "x-y", "array"]),
                                   scalars, max_size=3))


@st.composite
def arrays(draw: st.DrawFn, index: int) -> dict[str, Any]:
    array = {"name": f"f{index}", "username": "u", "password": "p",
             "url": draw(st.sampled_from(BAD_URLS + LOOPBACK_URLS * 4))}
    if draw(st.booleans()):  # half the arrays get wrong or extreme values, half stay valid
        for key in draw(st.lists(st.sampled_from(sorted(ALL_KEYS)), max_size=4, unique=True)):
            array[key] = draw(values)
    if draw(st.booleans()):  # a valid-looking timing pair, for more configs that pass
        array.update(interval_seconds=30, timeout_seconds=1)
    return array


@st.composite
def documents(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(values)  # not even a mapping
    count = draw(st.sampled_from([1, 1, 2, 0]))
    doc: dict[str, Any] = {"arrays": [draw(arrays(i)) for i in range(count)]}
    if draw(st.integers(0, 3)) == 0:
        doc["defaults"] = draw(st.dictionaries(st.sampled_from(sorted(ALL_KEYS)), values,
                                               max_size=3))
    return doc


def dump(path: Path, document: Any) -> None:
    path.write_text(yaml.safe_dump(document))
    os.chmod(path, 0o600)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_config_check_never_raises(tmp_path_factory: pytest.TempPathFactory,
                                   document: Any) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "c.yml"
    dump(path, document)
    code = main(["--config.file", str(path), "--config.check"])  # raising fails the test
    assert code in (0, 1)
    if code == 0:
        for array in load_config(path).arrays:
            assert math.isfinite(array.interval_seconds) and array.interval_seconds > 0
            assert "@" not in array.url


class Live:
    """An exporter in-process (service.Exporter, port 0) reloading a file the examples rewrite."""

    def __init__(self, tmp: Path, sim: SimulatedArray) -> None:
        self.path = tmp / "live.yml"
        self.good = {"defaults": {"username": "monitor", "password": "pw", "api": "unified",
                                  "interval_seconds": 30, "timeout_seconds": 2},
                     "arrays": [{"name": "healthy", "url": sim.url}]}
        dump(self.path, self.good)
        self.exporter = Exporter(load_config(self.path), Options(config_path=self.path))
        self.poller = self.exporter.poller
        self.reload = self.exporter.reload
        self.exporter.start()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, SimulatedArray]]:
    sim = SimulatedArray(SimulatorConfig(username="monitor", password="pw"), port=0).start()
    live = Live(tmp_path_factory.mktemp("live"), sim)
    live.poller.poll_now("healthy")
    assert sim.live_token_sets() == 1
    try:
        yield live, sim
    finally:
        live.exporter.stop()
        sim.stop()


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(documents())
def test_a_reload_is_whole_or_not_at_all(live: tuple[Live, SimulatedArray],
                                         document: Any) -> None:
    live_, sim = live
    dump(live_.path, live_.good)
    assert live_.reload().ok  # back to the known-good config first
    if sim.live_token_sets() == 0:  # it was replaced by the last example: log in again now
        live_.poller.poll_now("healthy")
    before = live_.poller.configs()
    logins = sim.stats.logins
    dump(live_.path, document)
    result = live_.reload()  # raising fails the test
    if result.ok:
        assert live_.exporter.reload_successful
        assert live_.poller.configs() == {a.name: a for a in load_config(live_.path).arrays}
    else:
        assert not live_.exporter.reload_successful
        assert result.message.startswith("reload failed: ")
        assert live_.poller.configs() == before  # the old config, whole
        assert sim.stats.logins == logins and sim.live_token_sets() == 1  # tokens untouched
