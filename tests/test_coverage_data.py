"""Every field the system, pools and disks answers carry has a coverage row.

The answers are the API fixtures and the simulator's, in both of the manual's readings; they
are first brought to one shape by the collectors' own readers (a pool object becomes a list,
an enclosure's `info` array one object), which is how the coverage rows write their paths.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from qsan_exporter.api.readers import elements, field
from qsan_exporter.collectors.system import enclosure_info, enclosure_list
from qsan_exporter.coverage import Field
from qsan_exporter.coverage import disks as disk_rows
from qsan_exporter.coverage import legacy as legacy_rows
from qsan_exporter.coverage import pools as pool_rows
from qsan_exporter.coverage import system as system_rows
from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.device import Device

FIXTURES = Path(__file__).parent / "fixtures" / "api"
NUMBERS, ALL = "/rest/v1/hardware/info", "/rest/v1/hardware/all/info"
POOLS, DISKS = "/rest/v1/storage/pool/list", "/rest/v1/storage/disk/list"
ROWS: tuple[Field, ...] = system_rows.ROWS + pool_rows.ROWS + disk_rows.ROWS


def _expand(path: str) -> set[str]:
    """`a|b.c` -> {"a.c", "b.c"}: every spelling a row covers."""
    parts = path.split(".")
    choices = []
    for part in parts:
        tail = "[]" if part.endswith("[]") else ""
        names = part.removesuffix("[]").split("|")
        choices.append([name + tail for name in names])
    return {".".join(combo) for combo in itertools.product(*choices)}


COVERED = {(row.endpoint, p) for row in ROWS for p in _expand(row.path)}


def paths(value: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping):
                yield from paths(item, prefix + "[]")
        return
    if isinstance(value, Mapping):
        for key, inner in value.items():
            path = key.strip() if not prefix else f"{prefix}.{key.strip()}"
            yield path
            yield from paths(inner, path)


def _normal(endpoint: str, answer: Any) -> Any:
    """The answer in the shape the rows describe, read by the collectors' readers."""
    if endpoint == ALL:
        return [{**e, "info": enclosure_info(e)} for e in enclosure_list({"enclosures": answer})]
    key, markers = {POOLS: ("pools", ("name", "raidSets")), DISKS: ("disks", ("id", "slot"))
                    }.get(endpoint, (None, ()))
    if key is None:
        return answer
    found = elements(field(answer, key), *markers) or []
    if key == "pools":
        for pool in found:
            for spelling in ("raidSets", "raidsets"):
                if spelling in pool:
                    pool[spelling] = elements(pool[spelling], "id", "raidLevel")
    return {key: found}


def _answers() -> Iterator[tuple[str, str, Any]]:
    for name, endpoints in (("system", {NUMBERS: "info", ALL: "enclosures"}),
                            ("pools", {POOLS: None}), ("disks", {DISKS: None})):
        for fixture in sorted(FIXTURES.glob(f"{name}_*.json")):
            document = json.loads(fixture.read_text())
            for endpoint, key in endpoints.items():
                answer = document if key is None else document.get(key)
                yield fixture.name, endpoint, answer
    for profile, literal in itertools.product(("san", "fas", "nas"), (False, True)):
        device = Device(SimulatorConfig(profile=profile, literal=literal), started=0.0)
        for endpoint in (NUMBERS, ALL, POOLS, DISKS):
            _, status, body = device.get(endpoint, {"moreInfo": ["true"]}, 3600.0)
            assert status == 200, endpoint
            yield f"simulator {profile} literal={literal}", endpoint, json.loads(body)


def test_every_field_of_the_fixtures_and_the_simulator_has_a_row() -> None:
    seen: set[tuple[str, str]] = set()
    missing = set()
    for where, endpoint, answer in _answers():
        for path in paths(_normal(endpoint, answer)):
            seen.add((endpoint, path))
            if (endpoint, path) not in COVERED:
                missing.add((where, endpoint, path))
    assert not missing, sorted(missing)[:20]
    assert len(seen) > 80  # the walk did walk


@pytest.mark.parametrize("rows", [system_rows.ROWS, pool_rows.ROWS, disk_rows.ROWS,
                                  legacy_rows.ROWS], ids=["system", "pools", "disks", "legacy"])
def test_rows_are_unique_and_conversions_cite_the_manual(rows: tuple[Field, ...]) -> None:
    keys = [(r.endpoint, r.path) for r in rows]
    assert len(keys) == len(set(keys))
    for row in rows:
        converted = any(w in row.becomes for w in ("* ", "/ 100", "/ 1000", "1048576"))
        if converted:
            assert "000:" in row.evidence, row


def test_every_documented_field_of_these_endpoints_has_a_row() -> None:
    """The manual's tables (000:288-413, 000:709-860), field by field."""
    documented = {
        POOLS: "name id totalSize usedSize isThin isSED health status autoTier isCacheEnable "
               "cacheInfo raidSets",
        DISKS: "id slot encID size health status usage isSSD isISE isSED poolName poolID vendor "
               "serial model firmware busType type rate writeCache spinRate standby readahead "
               "cmdQueue ssdLifeRemain totalWrittenByte temperature performance",
        ALL: "sysHealth cpuInfo cpuUsage memoryInfo memTotal memUsed controllerNum backplaneID "
             "systemUptime modelName serialNumber wwn vendor moreInfo",
    }
    prefix = {POOLS: "pools[].", DISKS: "disks[].", ALL: "[].info."}
    for endpoint, names in documented.items():
        for name in names.split():
            assert any(p.startswith(prefix[endpoint] + name) for e, p in COVERED
                       if e == endpoint), (endpoint, name)
