"""Collector contract tests shared by every area (their helpers: tests/collector_helpers.py).

Fixtures in `tests/fixtures/api/` are the manual's example bodies, widened with every spelling
variant the manual shows (raidsets/raidSets, encId/encID, " cacheToFlash ", ids as int or text,
numbers as strings) plus a NAS variant per area.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from qsan_exporter.api.log_cursor import LogTally, fold
from qsan_exporter.collectors.base import FamilyBuilder, PollData
from qsan_exporter.metrics import COLLECTOR_NAMES, METRICS
from tests.collector_helpers import COLLECT, POLLED_AT, Samples, fixture, names, run


def fixture_runs() -> dict[str, list[Samples]]:
    """Every area's fixtures run through its collector (SAN and NAS variants)."""
    logs = fold(fold(None, {"events": [{"type": "info", "timestamp": 1, "message": "a"}],
                            "baseline": True}),
                {"events": [{"type": "error", "timestamp": 2, "message": "b"}],
                 "baseline": False})
    runs: dict[str, list[Samples]] = {"logs": [run("logs", logs)]}
    for area in ("system", "pools", "disks", "volumes", "iscsi", "tasks"):
        runs[area] = [
            run(area, fixture(f"{area}_{product}"), product=product,
                extra={"pools": fixture(f"pools_{product}")} if area == "volumes" else None)
            for product in ("san", "nas")
        ]
    return runs


def test_every_catalogue_metric_is_produced_by_some_fixture() -> None:
    runs = fixture_runs()
    for area in COLLECTOR_NAMES:
        wanted = {d.name for d in METRICS.values() if d.area == area}
        produced = set().union(*(names(s) for s in runs[area]))
        assert wanted - produced == set(), f"{area}: never emitted"
        assert produced - wanted == set(), f"{area}: emits another area's metrics"


def test_fixture_values_are_finite_and_health_is_0_1_2() -> None:
    for area, area_runs in fixture_runs().items():
        for samples in area_runs:
            assert samples, area
            for (name, _), v in samples.items():
                assert math.isfinite(v), name
                if name.endswith("_health"):
                    assert v in (0, 1, 2), name
                if name.endswith("_info"):
                    assert v == 1, name


GARBAGE: list[tuple[str, Any]] = [
    ("system", "not json object"),
    ("system", [{"encId": 0, "info": {}}]),
    ("system", {"info": {}}),
    ("system", {"enclosures": "x"}),
    ("pools", "x"),
    ("pools", [{"name": "p"}]),
    ("pools", {"pools": "x"}),
    ("pools", {"error": "not found"}),
    ("disks", None),
    ("disks", {"disks": "e0d0"}),
    ("volumes", ["x"]),
    ("volumes", {}),
    ("iscsi", "x"),
    ("iscsi", {"targets": [], "sessions": {"iscsi": []}}),
    ("iscsi", {"targets": {"iscsi": []}, "sessions": {"iscsi": "x"}}),
    ("tasks", ["snapshot"]),
    ("tasks", {"snapshot": "x"}),
    ("tasks", {"snapshot": {"tasks": 5}}),
    ("logs", {"events": [], "baseline": True}),
    ("logs", None),
]


def test_iscsi_without_session_data_omits_the_counts_only() -> None:
    """No session list at all (legacy arrays may lack one): targets stay, counts are unknown."""
    names = {name for name, _ in run("iscsi", {"targets": {"iscsi": [
        {"ctrlID": 0, "targets": [{"id": 1, "name": "iqn.x"}]}]}})}
    assert "qsan_iscsi_target_info" in names
    assert "qsan_iscsi_sessions" not in names


@pytest.mark.parametrize(("area", "raw"), GARBAGE)
def test_garbage_top_level_fails_the_collector(area: str, raw: Any) -> None:
    with pytest.raises((TypeError, ValueError, KeyError)):
        run(area, raw)


@pytest.mark.parametrize("area", ["system", "pools", "disks", "volumes", "iscsi", "tasks"])
def test_a_missing_area_fails_the_collector(area: str) -> None:
    data = PollData("a1", "san", POLLED_AT, {})
    with pytest.raises(KeyError):
        COLLECT[area](data, FamilyBuilder({"array": "a1"}))


def test_empty_lists_are_no_series_not_an_error() -> None:
    assert run("pools", {"pools": []}) == {}
    assert run("disks", {"disks": None}) == {}
    assert run("iscsi", {"targets": {"iscsi": []}, "sessions": {"iscsi": []}}) == {}
    assert run("tasks", {"snapshot": {"tasks": []}, "cloud": None}) == {}
    assert run("system", {"enclosures": []}) == {}
    assert names(run("logs", LogTally())) == {"qsan_log_events_total"}
