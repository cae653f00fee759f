"""The API coverage table (qsan_exporter/coverage) accounts for every field the exporter meets.

For every covered area, each field of the fixtures (tests/fixtures/api) and of the simulator's
answers, in both readings of the manual, must have a row; each row's metric and labels must be
in the catalogue; docs/api-coverage.md must be generated from the current rows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qsan_exporter.coverage import AREAS, COVERED_AREAS, ROWS
from qsan_exporter.coverage.paths import normalised, observed, variants
from qsan_exporter.metrics import METRICS
from qsan_exporter.simulator import SimulatorConfig
from qsan_exporter.simulator.device import ALL_TASK_TYPES, Device

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "api"
T0 = 1_893_456_000.0
NUMBERS, ALL = "/rest/v1/hardware/info", "/rest/v1/hardware/all/info"
POOLS, DISKS = "/rest/v1/storage/pool/list", "/rest/v1/storage/disk/list"
VOLUMES = "/rest/v1/storage/volume/list"
TARGETS, SESSIONS = "/rest/v1/iscsi/target/list", "/rest/v1/iscsi/session/list"
LOGS = "/rest/v1/log/list"
TASKS = tuple(f"/rest/v1/backup/{kind}/list" for kind in ALL_TASK_TYPES)
# The Unified endpoints of each area (the legacy area's answers are not walked here).
AREA_ENDPOINTS = {"system": (NUMBERS, ALL), "pools": (POOLS,), "disks": (DISKS,),
                  "volumes": (VOLUMES,), "iscsi": (TARGETS, SESSIONS), "tasks": TASKS,
                  "logs": (LOGS,)}
# Every metric a row names, with the labels in braces right after it ("qsan_x{a,b=\"v\"}");
# `qsan_enclosure_*` names a family prefix. Rows may add prose around them.
_NAMED = re.compile(r"(qsan_[a-z0-9_]+\*?)(?:\{([^}]*)\})?")
_LABEL = re.compile(r"^label ([a-z_]+)\b")


def endpoints_of(area: str, raw: Any) -> Iterator[tuple[str, Any]]:
    """The endpoint answers inside one area's raw fixture (see api/unified/source.py)."""
    if area in ("pools", "disks", "volumes"):
        yield AREA_ENDPOINTS[area][0], raw
    elif area == "system":
        yield NUMBERS, raw["info"]
        yield ALL, raw["enclosures"]
    elif area == "iscsi":
        yield TARGETS, raw["targets"]
        yield SESSIONS, raw["sessions"]
    elif area == "tasks":
        for kind, answer in raw.items():
            yield f"/rest/v1/backup/{kind}/list", answer


def fixture_answers() -> Iterator[tuple[str, str, Any]]:
    for path in sorted(FIXTURES.glob("*.json")):
        area = path.stem.split("_")[0]
        if area in COVERED_AREAS:
            for endpoint, answer in endpoints_of(area, json.loads(path.read_text())):
                yield path.name, endpoint, answer


def simulator_answers() -> Iterator[tuple[str, str, Any]]:
    paths = [p for area in COVERED_AREAS for p in AREA_ENDPOINTS.get(area, ())]
    for profile in ("san", "fas", "nas"):
        for literal in (False, True):
            device = Device(SimulatorConfig(profile=profile, literal=literal), started=T0)
            for path in paths:
                _, status, body = device.get(path, {"moreInfo": ["true"]}, T0 + 60)
                if status == 200:
                    yield f"simulator {profile} literal={literal}", path, json.loads(body)


def rows_by_endpoint() -> dict[str, set[str]]:
    known: dict[str, set[str]] = {}
    for row in ROWS:
        known.setdefault(row.endpoint, set()).update(variants(row.path))
    return known


def covered_endpoints() -> set[str]:
    return {row.endpoint for area in COVERED_AREAS for row in AREAS[area].ROWS}


@pytest.mark.parametrize("source", ["fixtures", "simulator"])
def test_every_seen_field_of_a_covered_area_has_a_row(source: str) -> None:
    known = rows_by_endpoint()
    answers = list(fixture_answers() if source == "fixtures" else simulator_answers())
    endpoints = {endpoint for _, endpoint, _ in answers}
    assert endpoints <= covered_endpoints(), endpoints - covered_endpoints()
    missing = sorted({f"{where}: {endpoint} {path}"
                      for where, endpoint, answer in answers
                      for path in observed(answer)
                      if normalised(path) not in known.get(endpoint, set())})
    assert missing == [], "fields without a coverage row:\n" + "\n".join(missing)
    assert len(endpoints) >= (5 if source == "fixtures" else 8)


def test_the_walker_sees_nested_and_id_keyed_fields() -> None:
    paths = set(observed({"volumes": {"11": {"name": "a", "lunInfo": [{"fc": None}]}}}))
    assert paths == {"volumes", "volumes.name", "volumes.lunInfo", "volumes.lunInfo.fc"}
    assert set(observed({"disks": {"e0d1": {"id": "e0d1", "slot": 1}}})) == {
        "disks", "disks.id", "disks.slot"}
    assert set(observed({"qosInfo": {"method": "m", "setting": {"maxIOPS": 0}}})) == {
        "qosInfo", "qosInfo.method", "qosInfo.setting", "qosInfo.setting.maxIOPS"}
    assert normalised("volumes[].lunInfo.iscsi[].host") == "volumes.lunInfo.iscsi.host"
    assert normalised("[].info.cpuInfo") == "info.cpuInfo"


def test_every_row_becomes_a_catalogued_metric_and_labels() -> None:
    all_labels = {label for metric in METRICS.values() for label in metric.labels}
    for row in ROWS:
        where = f"{row.endpoint} {row.path}"
        if not row.becomes:
            continue
        label_row = _LABEL.match(row.becomes)
        if label_row:  # "label pool (every pool series)": a label, not a metric
            assert label_row.group(1) in all_labels, (where, row.becomes)
        for name, labels in _NAMED.findall(row.becomes):
            if name.endswith("*"):
                assert any(m.startswith(name[:-1]) for m in METRICS), (where, name)
                continue
            assert name in METRICS, f"{where}: {name} is not in the catalogue"
            for label in filter(None, (part.split("=")[0].strip() for part in labels.split(","))):
                assert label in METRICS[name].labels, (where, name, label)


def test_rows_of_covered_areas_are_unique_and_dropped_rows_say_why() -> None:
    seen = set()
    for area in COVERED_AREAS:
        for row in AREAS[area].ROWS:
            key = (row.endpoint, row.path)
            assert key not in seen, key
            seen.add(key)
            assert row.becomes or len(row.dropped) > 10, key
    assert len(seen) > 100


def test_the_coverage_document_is_current() -> None:
    script = ROOT / "scripts" / "generate_api_coverage.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
