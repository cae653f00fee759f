"""Coverage rows: `/rest/v1/storage/pool/list` (collector `pools`).

`pools` is a list, or an object (reading `top-level-object`), so its items are written `pools[]`.
Line numbers `000:N` are those of the Unified manual's first text extraction.
"""

from __future__ import annotations

from qsan_exporter.coverage import Field

POOLS = "/rest/v1/storage/pool/list"
P = "pools[]."
C = "pools[].cacheInfo."
R = "pools[].raidSets|raidsets[]."
# The device's "MB" is MiB: the example RAID 1 set of two 2 TB disks is 1906688 "MB"
# (000:269-270); a 2 TB disk holds 1907729 MiB but 2000398 MB.
MIB_EVIDENCE = "'unit: MB' read as MiB: example RAID 1 totalSize 1906688 (000:269) fits 2 TB " \
               "disks only in MiB"


def _mib(line: int) -> str:
    return f"000:{line} 'unit: MB'; {MIB_EVIDENCE}"


ROWS: tuple[Field, ...] = (
    Field(POOLS, "pools", becomes="the pool series below (a list, or an object of pools)"),
    Field(POOLS, P + "name", becomes="label pool (every pool and RAID set series)"),
    Field(POOLS, P + "id", becomes="qsan_pool_info{pool_id}; names volumes' pool by poolID"),
    Field(POOLS, P + "totalSize", becomes="qsan_pool_size_bytes", evidence=_mib(295)),
    Field(POOLS, P + "usedSize", becomes="qsan_pool_used_bytes", evidence=_mib(296)),
    Field(POOLS, P + "isThin", becomes="qsan_pool_info{thin}"),
    Field(POOLS, P + "isSED", becomes="qsan_pool_info{sed}"),
    Field(POOLS, P + "health", becomes="qsan_pool_health (0/1/2); qsan_pool_info{health}"),
    Field(POOLS, P + "status", becomes="qsan_pool_info{status}"),
    Field(POOLS, P + "autoTier", becomes="qsan_pool_info{auto_tier} (reading auto-tier-type)"),
    Field(POOLS, P + "isCacheEnable",
          becomes="gates qsan_pool_cache_size_bytes (no cache series when false)"),
    Field(POOLS, P + "cacheInfo", becomes="qsan_pool_cache_size_bytes{cache}"),
    Field(POOLS, C + "readCache", becomes="qsan_pool_cache_size_bytes{cache=\"read\"} present"),
    Field(POOLS, C + "readCapacity", becomes="qsan_pool_cache_size_bytes{cache=\"read\"}",
          evidence=_mib(310)),
    Field(POOLS, C + "writeCache",
          becomes="qsan_pool_cache_size_bytes{cache=\"write\"} (SAN: \"read_write\") present"),
    Field(POOLS, C + "writeCapacity",
          becomes="qsan_pool_cache_size_bytes{cache=\"write\"}; on SAN the read-write size",
          evidence=_mib(312) + "; 000:314 'SAN: Treat writeCapacity as readWriteCapacity'"),
    Field(POOLS, C + "readWriteCache",
          becomes="qsan_pool_cache_size_bytes{cache=\"read_write\"} present"),
    Field(POOLS, C + "readWriteCapacity",
          becomes="qsan_pool_cache_size_bytes{cache=\"read_write\"}", evidence=_mib(314)),
    Field(POOLS, "pools[].raidSets|raidsets",
          becomes="the RAID set series below (reading raidsets-spelling)"),
    Field(POOLS, R + "id", becomes="label raidset (reading raidset-id-type)"),
    Field(POOLS, R + "totalSize", becomes="qsan_raidset_size_bytes (not on NAS: 'always 0')",
          evidence=_mib(320)),
    Field(POOLS, R + "usedSize", becomes="qsan_raidset_used_bytes (not on NAS: 'always 0')",
          evidence=_mib(321)),
    Field(POOLS, R + "raidLevel", becomes="qsan_raidset_info{raid_level}"),
    Field(POOLS, R + "eeSpareNum",
          becomes="qsan_raidset_ee_spares (a count; not on NAS: 'always 0')"),
    Field(POOLS, R + "spare",
          becomes="qsan_raidset_spare_disks (count of the ids); "
                  "qsan_raidset_member_info{role=\"spare\"} per disk id (NAS)"),
    Field(POOLS, R + "status", becomes="qsan_raidset_info{status}"),
    Field(POOLS, R + "health", becomes="qsan_raidset_health (0/1/2); qsan_raidset_info{health}"),
    Field(POOLS, R + "disks",
          becomes="qsan_raidset_disks (count); qsan_raidset_member_info{role=\"data\"} per disk"),
)
