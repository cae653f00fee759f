"""The areas table (qsan_exporter/areas.py) against what it describes: the collectors that
translate each area and the endpoints the simulator serves, in both API flavours."""

from __future__ import annotations

import re

from qsan_exporter import collectors
from qsan_exporter.areas import AREAS, NAMES
from qsan_exporter.collectors import COLLECTORS
from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.device import Device
from qsan_exporter.simulator.legacy import GET_APIS


def _template(path: str) -> str:
    """`{id}` and `<id>` both name a path parameter: compare the paths' shapes only."""
    return re.sub(r"\{[^}]+\}|<[^>]+>", "*", path)


def test_every_area_has_its_collector_module_and_only_those() -> None:
    assert tuple(name for name, _ in COLLECTORS) == NAMES
    for name, collect in COLLECTORS:
        module = getattr(collectors, name)
        assert name == module.NAME and collect is module.collect


def test_every_unified_endpoint_is_served_by_the_simulator() -> None:
    for profile in ("san", "nas"):
        device = Device(SimulatorConfig(profile=profile))
        for area in AREAS:
            for path in area.unified:
                route, status, _ = device.get(path, {}, device.started + 1)
                # A product lacks one task type (404), but the route is a known one.
                assert route != "unknown", (profile, area.name, path)
                assert status == 200 or "/backup/" in path, (profile, path, status)


def test_every_legacy_endpoint_is_in_the_simulated_api_list() -> None:
    listed = {_template(path) for path in GET_APIS}
    for area in AREAS:
        for path in area.legacy:
            assert _template(path) in listed, (area.name, path)
