"""pools collector: pools, SSD caches and RAID sets."""

from __future__ import annotations

import pytest

from tests.collector_helpers import fixture, names, run, series, value

MIB = 1048576
P1 = {"pool": "Pool1"}


@pytest.fixture(scope="module")
def san():
    return run("pools", fixture("pools_san"))


@pytest.fixture(scope="module")
def nas():
    return run("pools", fixture("pools_nas"), product="nas")


def test_pool_info_flags_and_sizes(san) -> None:
    assert value(san, "qsan_pool_info", pool="Pool1", pool_id="2976963663", thin="true",
                 sed="false", auto_tier="false", status="Online", health="Good") == 1
    assert value(san, "qsan_pool_info", pool="Pool2", pool_id="2976971582", thin="false",
                 sed="true", auto_tier="true", status="Offline", health="Failed") == 1
    assert value(san, "qsan_pool_size_bytes", **P1) == 10737418240  # 10240 MB
    assert value(san, "qsan_pool_used_bytes", **P1) == 5120 * MIB  # "5120"
    assert value(san, "qsan_pool_health", **P1) == 0
    assert value(san, "qsan_pool_health", pool="Pool2") == 2
    assert len(series(san, "qsan_pool_info")) == 2  # the non-object pool is skipped


def test_san_write_cache_is_read_write_and_disabled_caches_are_absent(san) -> None:
    assert series(san, "qsan_pool_cache_size_bytes") == {
        (("cache", "read"), ("pool", "Pool1")): 114217 * MIB,
        (("cache", "read_write"), ("pool", "Pool1")): 2048 * MIB,
    }  # Pool2 has readCache true but isCacheEnable false


def test_nas_write_cache_stays_write(nas) -> None:
    assert series(nas, "qsan_pool_cache_size_bytes") == {
        (("cache", "write"), ("pool", "NasPool")): 512 * MIB}


@pytest.mark.parametrize(("product", "info", "expected"), [
    ("san", {"readWriteCache": True, "readWriteCapacity": 300, "writeCache": True,
             "writeCapacity": 100}, {"read_write": 300}),
    ("san", {"readWriteCache": True, "readWriteCapacity": 0, "writeCapacity": 100},
     {"read_write": 100}),
    ("fas", {"readWriteCache": True, "readWriteCapacity": 300, "writeCache": True,
             "writeCapacity": 100}, {"read_write": 300}),
    ("fas", {"writeCache": "true", "writeCapacity": 100}, {"write": 100}),
    ("san", {"readCache": False, "readCapacity": 5}, {}),
])
def test_cache_kinds(product: str, info: dict, expected: dict) -> None:
    body = {"pools": [{"name": "p", "isCacheEnable": True, "cacheInfo": info}]}
    got = series(run("pools", body, product=product), "qsan_pool_cache_size_bytes")
    assert got == {(("cache", k), ("pool", "p")): v * MIB for k, v in expected.items()}


def test_raidsets_both_spellings_sizes_and_spares(san) -> None:
    assert value(san, "qsan_raidset_info", pool="Pool1", raidset="0", raid_level="RAID 1",
                 status="Online", health="Good") == 1
    assert value(san, "qsan_raidset_size_bytes", pool="Pool1", raidset="0") == 1906688 * MIB
    assert value(san, "qsan_raidset_used_bytes", pool="Pool1", raidset="0") == 1024 * MIB
    assert value(san, "qsan_raidset_health", pool="Pool1", raidset="1") == 1  # Degraded
    assert value(san, "qsan_raidset_disks", pool="Pool1", raidset="1") == 4
    # eeSpareNum is a count of RAID EE spares, not a list of spare disks: its own series
    assert value(san, "qsan_raidset_ee_spares", pool="Pool1", raidset="1") == 1  # "1"
    assert value(san, "qsan_raidset_ee_spares", pool="Pool1", raidset="0") == 0
    assert "qsan_raidset_spare_disks" not in names(san)  # SAN has no `spare` list
    assert value(san, "qsan_raidset_health", pool="Pool2", raidset="2") == 2  # raidSets key


def test_nas_always_zero_fields_are_not_exported(nas) -> None:
    assert "qsan_raidset_size_bytes" not in names(nas)
    assert "qsan_raidset_used_bytes" not in names(nas)
    assert value(nas, "qsan_raidset_spare_disks", pool="NasPool", raidset="0") == 1  # spare list
    assert (("pool", "NasPool"), ("raidset", "1")) not in series(nas, "qsan_raidset_spare_disks")
    assert value(nas, "qsan_raidset_disks", pool="NasPool", raidset="0") == 4


def test_empty_health_gives_info_but_no_health_series(nas) -> None:
    assert value(nas, "qsan_raidset_info", pool="NasPool", raidset="1", raid_level="RAID 1",
                 status="Online", health="") == 1
    assert (("pool", "NasPool"), ("raidset", "1")) not in series(nas, "qsan_raidset_health")


def test_a_malformed_raidset_list_skips_only_the_raidsets() -> None:
    body = {"pools": [{"name": "p", "totalSize": 1, "raidsets": "garbage"},
                      {"name": "q", "raidsets": [7, {"id": 1, "health": "Good"}]}]}
    samples = run("pools", body)
    assert value(samples, "qsan_pool_size_bytes", pool="p") == MIB
    assert series(samples, "qsan_raidset_health") == {(("pool", "q"), ("raidset", "1")): 0}
