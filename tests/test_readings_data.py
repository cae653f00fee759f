"""Both readings of the manual for system, pools and disks, and parts that are not fitted.

Each case of `BOTH_WAYS` is one row of `DATA_READINGS` (qsan_exporter/readings.py): the same
answer written in the first and in the second reading must give the same series and values.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from qsan_exporter.collectors import COLLECTORS
from qsan_exporter.collectors.base import FamilyBuilder, PollData, health, is_absent
from qsan_exporter.readings import DATA_READINGS

ROOT = Path(__file__).resolve().parent.parent
COLLECT = dict(COLLECTORS)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def run(area: str, raw: Any, product: str = "san") -> Samples:
    out = FamilyBuilder({"array": "a"})
    COLLECT[area](PollData("a", product, 1_700_000_000.0, {area: raw}), out)
    return {(s.name, frozenset(s.labels.items())): s.value
            for f in out.families() for s in f.samples}


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


# --- parts that are not fitted ------------------------------------------------------------------

ABSENT_SPELLINGS = ("Absent", " not installed ", "NOT_INSTALLED", "Not Present", "not-fitted",
                    "None  Installed")
FITTED_SPELLINGS = ("Good", "Failed", "Warning", "", "absently broken", "installed")


@pytest.mark.parametrize("word", ABSENT_SPELLINGS)
def test_absent_in_any_casing_or_spacing(word: str) -> None:
    assert is_absent(word)
    assert health(word) is None


@pytest.mark.parametrize("word", FITTED_SPELLINGS)
def test_other_words_are_not_absent(word: str) -> None:
    assert not is_absent(word)


# (moreInfo key, entry, reading/health metrics that must not appear, component label)
FAMILIES = (
    ("fanSpeed", {"name": "FAN3", "value": 0}, ("qsan_fan_speed_rpm", "qsan_sensor_health"),
     "fan"),
    ("temperature", {"name": "T9", "value": 0},
     ("qsan_temperature_celsius", "qsan_sensor_health"), "temperature"),
    ("voltage", {"name": "+5V", "value": 0}, ("qsan_voltage_volts", "qsan_sensor_health"),
     "voltage"),
    ("psuStatus", {"name": "PSU3"}, ("qsan_psu_health",), "psu"),
    ("cacheToFlash", {"name": "BBM"}, ("qsan_cache_to_flash_health",), "cache_to_flash"),
)


def _system(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {"enclosures": [{"encID": 0, "info": {"modelName": "XS5226D",
                                                 "moreInfo": {key: [entry]}}}]}


@pytest.mark.parametrize("word", ABSENT_SPELLINGS)
@pytest.mark.parametrize(("key", "entry", "forbidden", "component"), FAMILIES,
                         ids=[f[0] for f in FAMILIES])
def test_an_absent_part_exports_only_its_info(
    key: str, entry: dict[str, Any], forbidden: tuple[str, ...], component: str, word: str
) -> None:
    """Every family, the state in `status` or (the manual's example) in `value`: no reading and
    no health series, so nothing can alert; the component info still lists the part."""
    for state_key in ("status", "value"):
        samples = run("system", _system(key, {**entry, state_key: word}))
        assert not names(samples) & set(forbidden), (state_key, sorted(names(samples)))
        infos = [dict(labels) for name, labels in samples if name == "qsan_component_info"]
        assert [(i["component"], i["status"]) for i in infos] == [(component, word.strip())]


@pytest.mark.parametrize(("key", "entry", "forbidden", "component"), FAMILIES,
                         ids=[f[0] for f in FAMILIES])
def test_a_fitted_failed_part_still_alerts(
    key: str, entry: dict[str, Any], forbidden: tuple[str, ...], component: str
) -> None:
    """The control: the same entry with a real status gives its health series."""
    samples = run("system", _system(key, {**entry, "status": "Failed"}))
    assert set(forbidden) <= names(samples)


def test_the_dead_duplicate_of_the_predicate_is_gone() -> None:
    """One predicate: nothing else in the package spells out the absent words."""
    hits = [p for p in (ROOT / "qsan_exporter").rglob("*.py")
            if "not installed" in p.read_text().lower()]
    assert [p.relative_to(ROOT).as_posix() for p in hits] == ["qsan_exporter/collectors/base.py"]


# --- both readings ------------------------------------------------------------------------------

POOL = {"name": "P1", "id": "7", "totalSize": 100, "usedSize": 10, "isThin": False,
        "isSED": False, "autoTier": False, "health": "Good", "status": "Online",
        "raidSets": [{"id": 0, "totalSize": 100, "usedSize": 10, "raidLevel": "RAID 5",
                      "eeSpareNum": 1, "status": "Online", "health": "Good",
                      "disks": ["1", "2", "3"]}]}
POOL2 = {**copy.deepcopy(POOL), "name": "P2", "id": "8"}
DISK = {"id": "1", "encID": "0", "slot": 1, "size": 1000, "poolID": 7, "poolName": "P1",
        "health": "Good", "status": "Online", "usage": "RAID", "isSSD": False, "type": "HDD",
        "rate": 6.0, "vendor": "WDC", "temperature": 30}
DISK2 = {**DISK, "id": "2", "slot": 2}
ENCLOSURE = {"encID": 0, "info": {
    "sysHealth": "Good", "modelName": "XS5226D", "serialNumber": "S1", "controllerNum": 2,
    "memoryInfo": ["Samsung 8192MB", ""],
    "moreInfo": {"cacheToFlash": [{"name": "Flash Module", "status": "Good"}],
                 "fanSpeed": [{"name": "FAN1", "value": 4800}],
                 "temperature": [{"name": "CPU", "value": 50}]}}}


def _enclosure(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(ENCLOSURE)
    document.update(changes)
    return document


def _info_as_array() -> dict[str, Any]:
    info = copy.deepcopy(ENCLOSURE["info"])
    more = info.pop("moreInfo")
    return _enclosure(info=[info, {"moreInfo": {"fanSpeed": more["fanSpeed"]}},
                            {"moreInfo": {k: more[k] for k in ("cacheToFlash", "temperature")}}])


def _renamed(document: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if k == old else k: v for k, v in document.items()}


def _more(**more: Any) -> dict[str, Any]:
    document = copy.deepcopy(ENCLOSURE)
    document["info"]["moreInfo"] = {**document["info"]["moreInfo"], **more}
    return document


def _c2f(key: str, state: str) -> dict[str, Any]:
    document = copy.deepcopy(ENCLOSURE)
    more = document["info"]["moreInfo"]
    more.pop("cacheToFlash")
    more[key] = [{"name": "Flash Module", state: "Good"}]
    return document


def _pool(**changes: Any) -> dict[str, Any]:
    pool = copy.deepcopy(POOL)
    pool.update(changes)
    return pool


def _raidset(**changes: Any) -> dict[str, Any]:
    return _pool(raidSets=[{**POOL["raidSets"][0], **changes}])


# row name -> (area, product, first reading, second reading)
BOTH_WAYS: dict[str, tuple[str, str, Any, Any]] = {
    "top-level-object": ("pools", "san", {"pools": [POOL, POOL2]},
                         {"pools": {"7": POOL, "8": POOL2}}),
    "null-lists": ("pools", "nas", {"pools": [_raidset(spare=[], disks=[])]},
                   {"pools": [_raidset(spare=None, disks=None)]}),
    "enclosures-top-level": ("system", "san", {"enclosures": [ENCLOSURE]},
                             {"enclosures": ENCLOSURE}),
    "enclosure-info-array": ("system", "san", {"enclosures": [ENCLOSURE]},
                             {"enclosures": [_info_as_array()]}),
    "enc-id-spelling": ("system", "san", {"enclosures": [ENCLOSURE]},
                        {"enclosures": [_renamed(ENCLOSURE, "encID", "encId")]}),
    "raidsets-spelling": ("pools", "san", {"pools": [POOL]},
                          {"pools": [_renamed(POOL, "raidSets", "raidsets")]}),
    "c2f-key-spacing": ("system", "san", {"enclosures": [_c2f("cacheToFlash", "status")]},
                        {"enclosures": [_c2f(" cacheToFlash ", "status")]}),
    "c2f-state-field": ("system", "san", {"enclosures": [_c2f("cacheToFlash", "status")]},
                        {"enclosures": [_c2f("cacheToFlash", "value")]}),
    "sensor-value-type": ("system", "san", {"enclosures": [ENCLOSURE]},
                          {"enclosures": [_more(fanSpeed=[{"name": "FAN1", "value": "4800"}])]}),
    "raidset-id-type": ("pools", "san", {"pools": [POOL]}, {"pools": [_raidset(id="0")]}),
    "disk-pool-id-type": ("disks", "san", {"disks": [DISK]}, {"disks": [{**DISK, "poolID": "7"}]}),
    "auto-tier-type": ("pools", "san", {"pools": [POOL]}, {"pools": [_pool(autoTier="")]}),
    "disk-rate-type": ("disks", "san", {"disks": [DISK]}, {"disks": [{**DISK, "rate": 6}]}),
    "disk-media": ("disks", "san", {"disks": [DISK]}, {"disks": [{**DISK, "isSSD": True}]}),
}


@pytest.mark.parametrize("row", sorted(BOTH_WAYS))
def test_both_readings_give_the_same_series(row: str) -> None:
    area, product, first, second = BOTH_WAYS[row]
    expected = run(area, first, product)
    assert len(expected) >= 3
    assert run(area, second, product) == expected


def test_every_data_row_of_these_areas_is_exercised_both_ways() -> None:
    # The rows of system, pools and disks (the services' rows are exercised by
    # test_readings_services.py; they cite readers.py's item_list / as_items / schedules).
    services = ("item_list", "as_items", "schedules", "tasks.py", "unified/source.py")
    mine = {r.name for r in DATA_READINGS
            if any(area in r.where for area in ("system.py", "pools.py", "disks.py", "readers.py"))
            and not any(s in r.where for s in services)}
    assert mine <= set(BOTH_WAYS), sorted(mine - set(BOTH_WAYS))
    assert set(BOTH_WAYS) <= {r.name for r in DATA_READINGS}


def test_every_row_cites_a_manual_line_and_existing_code() -> None:
    for row in (r for r in DATA_READINGS if r.name in BOTH_WAYS):
        assert "000:" in row.first + row.second, row.name
        path = row.where.split()[0]
        assert (ROOT / path).is_file(), (row.name, path)


def test_keyed_object_reads_every_item_not_only_the_first() -> None:
    samples = run("disks", {"disks": {"1": DISK, "2": DISK2}})
    assert {dict(labels)["disk"] for name, labels in samples if name == "qsan_disk_info"} == {
        "1", "2"}


def test_media_rule_type_wins_then_is_ssd() -> None:
    def media(disk: dict[str, Any]) -> str:
        infos = [dict(labels) for name, labels in run("disks", {"disks": [disk]})
                 if name == "qsan_disk_info"]
        return infos[0]["media"]

    assert media({**DISK, "type": "HDD", "isSSD": True}) == "HDD"  # the manual's example
    assert media({**DISK, "type": "NVMe", "isSSD": False}) == "NVMe"
    assert media({**DISK, "type": "", "isSSD": True}) == "SSD"
    assert media({**DISK, "type": "SCM", "isSSD": True}) == "SSD"  # unknown type: isSSD
    ssd = run("disks", {"disks": [{**DISK, "type": "HDD", "isSSD": True, "ssdLifeRemain": 90}]})
    assert "qsan_disk_ssd_life_remaining_ratio" not in names(ssd)


# --- the new series ------------------------------------------------------------------------------

def test_membership_ee_spares_and_dedicated_spares_are_apart() -> None:
    nas = run("pools", {"pools": [_raidset(spare=["9"])]}, product="nas")
    members = {(dict(labels)["disk"], dict(labels)["role"]) for name, labels in nas
               if name == "qsan_raidset_member_info"}
    assert members == {("1", "data"), ("2", "data"), ("3", "data"), ("9", "spare")}
    assert "qsan_raidset_ee_spares" not in names(nas)  # NAS: "always 0"
    san = run("pools", {"pools": [POOL]})
    key = frozenset({("array", "a"), ("pool", "P1"), ("raidset", "0")})
    assert san[("qsan_raidset_ee_spares", key)] == 1
    assert ("qsan_raidset_spare_disks", key) not in san  # no `spare` list on SAN


def test_disk_link_rate_and_settings() -> None:
    disk = {**DISK, "writeCache": True, "standby": False, "readahead": "true", "cmdQueue": 1,
            "isSED": False, "isISE": True}
    samples = run("disks", {"disks": [disk]})
    key = frozenset({("array", "a"), ("disk", "1"), ("enclosure", "0"), ("slot", "1")})
    assert samples[("qsan_disk_link_rate_bytes_per_second", key)] == 6e9 / 8
    info = next(dict(labels) for name, labels in samples if name == "qsan_disk_info")
    assert {k: info[k] for k in ("write_cache", "standby", "readahead", "cmd_queue", "sed",
                                 "ise")} == {
        "write_cache": "true", "standby": "false", "readahead": "true", "cmd_queue": "true",
        "sed": "false", "ise": "true"}
    assert "qsan_disk_link_rate_bytes_per_second" not in names(
        run("disks", {"disks": [{**DISK, "rate": 0}]}))


def test_enclosure_inventory_labels() -> None:
    expansion = {"encID": 1, "info": {"modelName": "XD5326", "wwn": "2000AB", "vendor": "QSAN"}}
    samples = run("system", {"enclosures": [ENCLOSURE, expansion]})
    infos = {dict(labels)["enclosure"]: dict(labels) for name, labels in samples
             if name == "qsan_enclosure_info"}
    assert (infos["0"]["memory"], infos["0"]["wwn"]) == ("Samsung 8192MB", "")
    assert (infos["1"]["wwn"], infos["1"]["vendor"], infos["1"]["cpu"]) == ("2000AB", "QSAN", "")
