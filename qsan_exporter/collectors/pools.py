"""Pools, their SSD caches and RAID sets from `/rest/v1/storage/pool/list`.

Input (`data.raw["pools"]`), abridged from the manual::

    {"pools": [{"name": "Pool1", "id": "", "totalSize": 10240, "usedSize": 5120,
                "isThin": false, "isSED": false, "autoTier": "", "health": "Good", "status": "",
                "isCacheEnable": true,
                "cacheInfo": {"readCache": true, "readCapacity": 114217, "writeCache": false,
                              "writeCapacity": 0, "readWriteCache": false,
                              "readWriteCapacity": 0},
                "raidsets": [{"id": 0, "totalSize": 1906688, "usedSize": 1024,
                              "raidLevel": "RAID 1", "eeSpareNum": 0, "status": "Online",
                              "health": "Good", "disks": ["330897208", "1256553884"]}]}]}

Why it looks the way it does:
- Sizes are the device's MB, i.e. MiB. The RAID set list is `raidsets` or `raidSets`.
- The manual says "SAN: Treat writeCapacity as readWriteCapacity": a SAN write cache is really
  a read-write cache whose size sits in `writeCapacity`, so it is exported as cache="read_write"
  (unless the pool also reports `readWriteCache` itself, which then wins).
- On NAS a RAID set's totalSize/usedSize/eeSpareNum are "always 0": not data, not exported. NAS
  lists dedicated spare disk ids in `spare`; SAN/FAS give `eeSpareNum`, the RAID EE spare
  count. They are different quantities, so different series.
- `pools` is typed "object" but shown as a list; both are read (reading `top-level-object`),
  and a null list is an empty one (`null-lists`). Each member disk of `disks` and `spare` gets
  a `qsan_raidset_member_info` series, so a failed disk can be traced to its pool and RAID set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.readers import (
    elements,
    enabled,
    entries,
    field,
    flag,
    listing,
    mib,
    number,
    text,
)
from qsan_exporter.collectors.base import FamilyBuilder, PollData, health

NAME = "pools"


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Pool, cache and RAID set series; a pool that is not an object is skipped."""
    for index, pool in enumerate(listing(data.raw[NAME], NAME, "pools", "name", "raidSets")):
        if not isinstance(pool, Mapping):
            continue
        name = text(field(pool, "name")) or text(field(pool, "id")) or str(index)
        _collect_pool(pool, name, data.product, out)


def _collect_pool(pool: Mapping[str, Any], name: str, product: str, out: FamilyBuilder) -> None:
    labels = {"pool": name}
    status, pool_health = field(pool, "status"), field(pool, "health")
    out.info("qsan_pool_info", {
        **labels,
        "pool_id": text(field(pool, "id")),
        "thin": flag(field(pool, "isThin")),
        "sed": flag(field(pool, "isSED")),
        "auto_tier": flag(field(pool, "autoTier")),
        "status": text(status),
        "health": text(pool_health),
    })
    out.add("qsan_pool_size_bytes", labels, mib(field(pool, "totalSize")))
    out.add("qsan_pool_used_bytes", labels, mib(field(pool, "usedSize")))
    out.add("qsan_pool_health", labels, health(pool_health))
    if enabled(field(pool, "isCacheEnable")):
        for cache, capacity in _caches(field(pool, "cacheInfo"), product).items():
            out.add("qsan_pool_cache_size_bytes", {**labels, "cache": cache}, mib(capacity))

    # reading `raidsets-spelling`; `entries` also reads a single object and null
    for index, raidset in enumerate(entries(pool, "raidSets", "raidsets")):
        _collect_raidset(raidset, name, text(field(raidset, "id")) or str(index), product, out)


def _caches(info: object, product: str) -> dict[str, object]:
    """Enabled cache kinds and their raw capacities (MB)."""
    if not isinstance(info, Mapping):
        return {}
    caches: dict[str, object] = {}
    if enabled(field(info, "readCache")):
        caches["read"] = field(info, "readCapacity")
    if enabled(field(info, "readWriteCache")):
        capacity = field(info, "readWriteCapacity")
        if product == "san" and not number(capacity):
            capacity = field(info, "writeCapacity")
        caches["read_write"] = capacity
    elif enabled(field(info, "writeCache")):
        kind = "read_write" if product == "san" else "write"
        caches[kind] = field(info, "writeCapacity")
    return caches


def _collect_raidset(
    raidset: Mapping[str, Any], pool: str, name: str, product: str, out: FamilyBuilder
) -> None:
    labels = {"pool": pool, "raidset": name}
    status, rs_health = field(raidset, "status"), field(raidset, "health")
    out.info("qsan_raidset_info", {
        **labels,
        "raid_level": text(field(raidset, "raidLevel")),
        "status": text(status),
        "health": text(rs_health),
    })
    out.add("qsan_raidset_health", labels, health(rs_health))
    nas = product == "nas"
    if not nas:  # NAS: "always 0"
        out.add("qsan_raidset_size_bytes", labels, mib(field(raidset, "totalSize")))
        out.add("qsan_raidset_used_bytes", labels, mib(field(raidset, "usedSize")))
    missing = object()
    for key, role, metric in (("disks", "data", "qsan_raidset_disks"),
                              ("spare", "spare", "qsan_raidset_spare_disks")):
        value = field(raidset, key, default=missing)
        members = None if value is missing else elements(value)  # null: none (`null-lists`)
        if members is None:
            continue
        out.add(metric, labels, len(members))
        for disk in members:
            if isinstance(disk, str | int) and text(disk):
                out.info("qsan_raidset_member_info", {**labels, "disk": text(disk), "role": role})
    if not nas:  # NAS: "always 0"
        out.add("qsan_raidset_ee_spares", labels, number(field(raidset, "eeSpareNum")))
