"""The legacy translation tables: other spellings, units, and unmatched fields in the debug log."""

from __future__ import annotations

import logging

import pytest

from qsan_exporter.api.errors import ApiFormatError
from qsan_exporter.api.legacy import hardware, services, storage, translate
from qsan_exporter.api.legacy.translate import Reader
from qsan_exporter.collectors.base import PollData, collect_all
from qsan_exporter.collectors.disks import collect as collect_disks
from qsan_exporter.collectors.iscsi import collect as collect_iscsi
from qsan_exporter.collectors.pools import collect as collect_pools
from qsan_exporter.collectors.system import collect as collect_system
from qsan_exporter.collectors.volumes import collect as collect_volumes


def samples(raw: dict, *collectors) -> dict[tuple[str, tuple], float]:
    data = PollData(array="a", product="san", polled_at=0.0, raw=raw)
    out = {}
    for family in collect_all([("x", c) for c in collectors], data, {"array": "a"}):
        for s in family.samples:
            out[(s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k != "array")))] = \
                s.value
    return out


def test_units_are_read_from_strings() -> None:
    assert translate.convert("8 GB", "mib", None) == 8192
    assert translate.convert(3, "mib", "GB") == 3072
    assert translate.convert("41 C", "number", None) == 41
    assert translate.convert("97 %", "percent", None) == 97
    assert translate.convert(10, "bytes", "LBA") == 5120
    assert translate.convert("Dual Controller, Active-Active", "controllers", None) == 2
    assert translate.convert("N/A", "number", None) is None


def test_system_from_nested_systeminfo_and_a_single_enclosure_hwmonitor() -> None:
    raw = hardware.system(
        Reader(),
        {"data": {"system": {"modelName": "XS3224D", "serialNumber": "QS1"},
                  "controllers": [{}, {}], "memoryGB": 16}},
        {"temperatures": {"CPU": "55 C"}, "fans": [{"name": "FAN1", "rpm": 5000}],
         "psu": [{"location": "PSU1", "state": "Failed"}]})
    got = samples({"system": raw}, collect_system)
    assert got[("qsan_controllers", (("enclosure", "0"),))] == 2
    assert got[("qsan_memory_size_bytes", (("enclosure", "0"),))] == 16 * 2**30
    assert got[("qsan_temperature_celsius", (("enclosure", "0"), ("sensor", "CPU")))] == 55
    assert got[("qsan_fan_speed_rpm", (("enclosure", "0"), ("fan", "FAN1")))] == 5000
    assert got[("qsan_psu_health", (("enclosure", "0"), ("psu", "PSU1")))] == 2


def test_disks_merge_smart_attributes_by_enclosure_and_slot() -> None:
    raw = hardware.disks(
        Reader(),
        [{"enclosure": 0, "slot": 3, "capacityGB": 100, "status": "Online", "type": "SSD"}],
        {"disks": [{"enclosure": 0, "slot": 3, "attributes": [
            {"id": 194, "name": "Temperature_Celsius", "raw": 36},
            {"id": 241, "name": "Total_LBAs_Written", "raw": 2048}]}]})
    got = samples({"disks": raw}, collect_disks)
    labels = (("disk", "e0d3"), ("enclosure", "0"), ("slot", "3"))
    assert got[("qsan_disk_size_bytes", labels)] == 100 * 2**30
    assert got[("qsan_disk_health", labels)] == 0  # health taken from status when absent
    assert got[("qsan_disk_temperature_celsius", labels)] == 36
    assert got[("qsan_disk_written_bytes_total", labels)] == 2048 * 512


def test_pool_without_raid_group_list_is_its_own_raidset() -> None:
    raw = storage.pools(Reader(), {"pools": [
        {"poolName": "P", "raidLevel": "RAID 6", "status": "Degraded", "diskCount": 6,
         "capacity": "1 TB", "used": "512 GB"}]})
    got = samples({"pools": raw}, collect_pools)
    assert got[("qsan_pool_size_bytes", (("pool", "P"),))] == 2**40
    assert got[("qsan_pool_health", (("pool", "P"),))] == 1
    assert got[("qsan_raidset_disks", (("pool", "P"), ("raidset", "0")))] == 6


def test_volumes_take_their_mappings_from_lunmappinginfo() -> None:
    raw = storage.volumes(
        Reader(),
        [{"vdid": 7, "vdName": "V", "poolName": "P", "health": "Optimal"},
         {"vdid": 8, "vdName": "W", "poolName": "P", "health": "Optimal"}],
        [{"vdid": 7, "target": 0, "lun": 0, "host": "*"},
         {"vdName": "V", "host": "21:00:00:24:ff:4c:aa:01", "lun": 1}])
    got = samples({"volumes": raw, "pools": {"pools": []}}, collect_volumes)
    assert got[("qsan_volume_lun_mappings", (("protocol", "iscsi"), ("volume", "V")))] == 1
    assert got[("qsan_volume_lun_mappings", (("protocol", "fc"), ("volume", "V")))] == 1
    assert got[("qsan_volume_lun_mappings", (("protocol", "iscsi"), ("volume", "W")))] == 0


def test_iscsi_session_counts_from_target_entries() -> None:
    raw = services.iscsi(Reader(), [{"tid": 1, "iqn": "iqn.x", "controller": 1,
                                      "sessionCount": 2},
                                     {"tid": 2, "iqn": "iqn.y", "controller": 1}])
    (group,) = raw["sessions"]["iscsi"]
    assert [s["targetID"] for s in group["sessions"]] == ["1", "1"]
    got = samples({"iscsi": raw}, collect_iscsi)
    sessions = {labels: v for (name, labels), v in got.items() if name == "qsan_iscsi_sessions"}
    assert sessions == {(("controller", "1"), ("target", "1")): 2,
                        (("controller", "1"), ("target", "2")): 0}


def test_no_session_data_exports_no_session_count() -> None:
    """Targets without any session list or count: the count is unknown, not 0 (SPEC §4: a
    field without data is omitted), so QsanIscsiSessionsLost cannot misfire."""
    raw = services.iscsi(Reader(), [{"tid": 1, "iqn": "iqn.x", "controller": 1}])
    got = samples({"iscsi": raw}, collect_iscsi)
    names = {name for name, _ in got}
    assert "qsan_iscsi_target_info" in names
    assert "qsan_iscsi_sessions" not in names


def test_log_events_in_local_time_and_levels_normalised() -> None:
    events = services.log_events(Reader(), {"events": [
        {"severity": "WARN", "date": "2024/01/02 03:04:05", "description": "x"},
        {"severity": "Information", "time": 1700000000000, "description": "y"},
        {"severity": "Error", "description": "no time"}]}, "Europe/Berlin")
    assert [e["type"] for e in events] == ["warning", "info"]
    assert events[0]["timestamp"] == 1704161045.0  # 03:04:05 CET = 02:04:05 UTC
    assert events[1]["timestamp"] == 1700000000.0  # milliseconds


def test_unmatched_numeric_fields_are_reported_once_at_debug(caplog) -> None:
    reader = Reader()
    body = [{"id": 1, "slot": 1, "spinSpeed": 7200, "vendor": "X", "powerOnHours": "12 h"}]
    with caplog.at_level(logging.DEBUG, logger="qsan_exporter.api.legacy.translate"):
        hardware.disks(reader, body, None)
        hardware.disks(reader, body, None)
    lines = [r.getMessage() for r in caplog.records if "unmapped" in r.getMessage()]
    assert len(lines) == 2
    assert any("'spinSpeed' = 7200" in line for line in lines)
    assert any("'powerOnHours'" in line for line in lines)
    assert all("legacy diskinfo" in line for line in lines)


def test_an_answer_without_an_item_list_is_a_format_error() -> None:
    with pytest.raises(ApiFormatError, match="no item list"):
        hardware.disks(Reader(), {"a": [], "b": []}, None)
