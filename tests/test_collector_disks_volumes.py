"""disks and volumes collectors."""

from __future__ import annotations

import pytest

from tests.collector_helpers import fixture, names, run, series, value

MIB = 1048576
SSD = {"disk": "e0d0", "enclosure": "0", "slot": "0"}
HDD = {"disk": "330897208", "enclosure": "1", "slot": "5"}  # int id, encId spelling, "5" slot
CACHE = {"disk": "e0d2", "enclosure": "0", "slot": "2"}


@pytest.fixture(scope="module")
def disks():
    return run("disks", fixture("disks_san"))


def test_disk_info_and_units(disks) -> None:
    assert value(disks, "qsan_disk_info", **SSD, pool="Pool1", vendor="WDC",
                 model="WUSTR6480ASS200", serial="S123", firmware="C925", bus="SAS",
                 media="SSD", usage="RAID", status="Online", health="Good", sed="false",
                 ise="false", write_cache="", standby="", readahead="", cmd_queue="") == 1
    assert value(disks, "qsan_disk_link_rate_bytes_per_second", **SSD) == 12 * 1e9 / 8
    assert value(disks, "qsan_disk_size_bytes", **SSD) == 1024000 * MIB
    assert value(disks, "qsan_disk_size_bytes", **HDD) == 7630885 * MIB  # "7630885"
    assert value(disks, "qsan_disk_health", **HDD) == 2
    assert value(disks, "qsan_disk_temperature_celsius", **SSD) == 31
    assert value(disks, "qsan_disk_ssd_life_remaining_ratio", **SSD) == pytest.approx(0.97)
    assert value(disks, "qsan_disk_written_bytes_total", **SSD) == 1099511627776
    assert value(disks, "qsan_disk_throughput_bytes_per_second", **SSD) == 120 * MIB
    assert value(disks, "qsan_disk_latency_seconds", **SSD) == pytest.approx(0.003)


def test_zero_means_no_data_except_in_performance(disks) -> None:
    for name in ("qsan_disk_temperature_celsius", "qsan_disk_ssd_life_remaining_ratio",
                 "qsan_disk_written_bytes_total"):
        assert tuple(sorted(HDD.items())) not in series(disks, name), name
    assert value(disks, "qsan_disk_throughput_bytes_per_second", **HDD) == 0
    assert value(disks, "qsan_disk_latency_seconds", **HDD) == 0


def test_media_falls_back_to_is_ssd_and_malformed_disks_are_skipped(disks) -> None:
    assert value(disks, "qsan_disk_info", **CACHE, pool="Pool1", vendor="SAMSUNG",
                 model="MZILT960", serial="S3", firmware="E004", bus="SAS", media="SSD",
                 usage="SSD Cache", status="Online", health="Good", sed="", ise="",
                 write_cache="", standby="", readahead="", cmd_queue="") == 1
    assert value(disks, "qsan_disk_ssd_life_remaining_ratio", **CACHE) == pytest.approx(0.88)
    assert value(disks, "qsan_disk_temperature_celsius", **CACHE) == 40
    assert tuple(sorted(CACHE.items())) not in series(disks, "qsan_disk_latency_seconds")
    assert len(series(disks, "qsan_disk_info")) == 3  # id-less disk and the number skipped


def test_hdd_gets_no_ssd_life_even_when_reported() -> None:
    body = {"disks": [{"id": "h", "encID": "0", "slot": 1, "type": "HDD", "isSSD": False,
                       "ssdLifeRemain": 50}]}
    assert "qsan_disk_ssd_life_remaining_ratio" not in names(run("disks", body))


def test_nas_disks_export_no_always_zero_fields() -> None:
    nas = run("disks", fixture("disks_nas"), product="nas")
    labels = {"disk": "d1", "enclosure": "0", "slot": "1"}
    assert value(nas, "qsan_disk_temperature_celsius", **labels) == 35
    assert names(nas) == {"qsan_disk_info", "qsan_disk_size_bytes", "qsan_disk_health",
                          "qsan_disk_temperature_celsius"}  # no `rate` in this fixture


@pytest.fixture(scope="module")
def volumes():
    return run("volumes", fixture("volumes_san"), extra={"pools": fixture("pools_san")})


def test_volume_info_resolves_the_pool_name(volumes) -> None:
    assert value(volumes, "qsan_volume_info", volume="backup_wei", volume_id="2982171380",
                 pool="Pool1", volume_type="BACKUP", cache_mode="Write-back", status="Online",
                 health="Optimal", qos_method="maximum") == 1
    assert value(volumes, "qsan_volume_info", volume="db", volume_id="2982275", pool="999",
                 volume_type="RAID", cache_mode="Write-through", status="Online",
                 health="Degraded", qos_method="maximum") == 1  # unknown pool id stays id
    assert value(volumes, "qsan_volume_health", volume="db") == 1
    assert value(volumes, "qsan_volume_health", volume="prio") == 2
    assert len(series(volumes, "qsan_volume_info")) == 3  # the nameless volume is skipped


def test_qos_maximum_limits_zero_is_unlimited(volumes) -> None:
    # 0 = unlimited (manual 002 l.503, l.506): no limit series, never a limit of 0 B/s.
    assert (("volume", "backup_wei"),) not in series(volumes, "qsan_volume_qos_max_iops")
    assert (("volume", "backup_wei"),) not in series(
        volumes, "qsan_volume_qos_max_throughput_bytes_per_second")
    assert value(volumes, "qsan_volume_qos_max_iops", volume="db") == 5000  # "5000"
    assert value(volumes, "qsan_volume_qos_max_throughput_bytes_per_second",
                 volume="db") == 102400 * 1024
    assert (("volume", "prio"),) not in series(volumes, "qsan_volume_qos_max_iops")  # priority


def test_lun_mappings_both_protocols_always(volumes) -> None:
    assert series(volumes, "qsan_volume_lun_mappings") == {
        (("protocol", "iscsi"), ("volume", "backup_wei")): 1,
        (("protocol", "fc"), ("volume", "backup_wei")): 0,
        (("protocol", "iscsi"), ("volume", "db")): 2,  # lunInfo as an object array
        (("protocol", "fc"), ("volume", "db")): 1,
        (("protocol", "iscsi"), ("volume", "prio")): 0,
        (("protocol", "fc"), ("volume", "prio")): 0,
    }


def test_volumes_without_a_pool_list_use_the_pool_id() -> None:
    samples = run("volumes", fixture("volumes_san"), extra={"pools": "broken"})
    assert value(samples, "qsan_volume_info", volume="backup_wei", volume_id="2982171380",
                 pool="2976963663", volume_type="BACKUP", cache_mode="Write-back",
                 status="Online", health="Optimal", qos_method="maximum") == 1


def test_nas_volume_placeholders_stay_on_info_only() -> None:
    nas = run("volumes", fixture("volumes_nas"), product="nas",
              extra={"pools": fixture("pools_nas")})
    assert value(nas, "qsan_volume_info", volume="share1", volume_id="11", pool="NasPool",
                 volume_type="Generic", cache_mode="none", status="Online", health="Good",
                 qos_method="") == 1
    assert names(nas) == {"qsan_volume_info", "qsan_volume_health", "qsan_volume_lun_mappings"}


def test_nas_ignores_wear_and_performance_even_if_present() -> None:
    body = {"disks": [{"id": "d1", "encID": "0", "slot": 1, "type": "SSD", "ssdLifeRemain": 90,
                       "totalWrittenByte": 5, "performance": {"throughput": 1, "latency": 1}}]}
    assert "qsan_disk_ssd_life_remaining_ratio" in names(run("disks", body, product="san"))
    assert names(run("disks", body, product="nas")) == {"qsan_disk_info"}


def test_each_lun_mapping_is_an_info_series_bounded_per_volume(volumes) -> None:
    assert series(volumes, "qsan_volume_lun_mapping_info") == {
        (("host", "*"), ("lun", "0"), ("permission", "Read-write"), ("protocol", "iscsi"),
         ("target", "0"), ("volume", "backup_wei")): 1,
        (("host", "h1"), ("lun", "1"), ("permission", "Read-write"), ("protocol", "iscsi"),
         ("target", "0"), ("volume", "db")): 1,
        (("host", "h2"), ("lun", "1"), ("permission", "Read-only"), ("protocol", "iscsi"),
         ("target", "1"), ("volume", "db")): 1,
        (("host", "21:00:00:24:ff:4c:aa:01"), ("lun", "1"), ("permission", "Read-write"),
         ("protocol", "fc"), ("target", "0"), ("volume", "db")): 1,
    }
    many = {"volumes": [{"id": 1, "name": "wide", "isLunMap": True, "lunInfo": {"iscsi": [
        {"host": f"h{n}", "targetID": "0", "lun": "0", "permission": "Read-write"}
        for n in range(100)]}}]}
    samples = run("volumes", many)
    assert len(series(samples, "qsan_volume_lun_mapping_info")) == 32
    assert value(samples, "qsan_volume_lun_mappings", volume="wide", protocol="iscsi") == 100
