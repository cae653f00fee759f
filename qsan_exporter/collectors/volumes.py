"""Volumes, their QoS limits and LUN mappings from `/rest/v1/storage/volume/list`.

Input (`data.raw["volumes"]`), abridged from the manual::

    {"volumes": [{"id": 2982171380, "name": "backup_wei", "status": "Online",
                  "health": "Optimal", "type": "BACKUP", "poolID": 2976963663,
                  "cacheMode": "Write-back", "isQosEnable": true,
                  "qosInfo": {"method": "maximum",
                              "setting": {"maxIOPS": 0, "maxThroughput": 0}},
                  "isLunMap": true,
                  "lunInfo": {"iscsi": [{"host": "*", "targetID": "0", "lun": "0",
                                         "permission": "Read-write"}], "fc": []}}]}

Why it looks the way it does:
- The volume list names its pool only by `poolID`; the pool list of the same poll
  (`data.raw["pools"]`) turns it into the pool name that every pool series uses. Without it,
  or for an unknown id, the id text stands in, so the series still says which pool it is.
- QoS limits exist only with QoS enabled and method "maximum"; 0 means unlimited (manual 002
  l.503, l.506) and exports no limit series at all, not a limit of 0. maxThroughput is "KBps"
  (l.507), read as KiB/s like every other unit of the device: x1024 to bytes/s.
- Both readings of the manual (qsan_exporter/readings.py): `volumes` as a list or an object
  (`volumes-iscsi-object`), `null` for no volumes or an empty mapping list (`null-lists-services`),
  `lunInfo` as an object or an "Object array" (`lun-info-object-array`).
- `qsan_volume_lun_mappings` is exported for both protocols even at 0, so a lost mapping is a
  value change an alert can see rather than a vanished series. Each mapping (host, target, LUN,
  permission) is also an info series, at most MAX_MAPPING_SERIES per volume and protocol.
- NAS fills cacheMode with "none" and never enables QoS: the raw text stays on the _info
  series only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.readers import elements, enabled, entries, field, item_list, reported, text
from qsan_exporter.collectors.base import FamilyBuilder, PollData, health

NAME = "volumes"
PROTOCOLS = ("iscsi", "fc")
# Mapping series per volume and protocol: a volume mapped to every host of a large cluster must
# not multiply the exposition; the count series still counts them all.
MAX_MAPPING_SERIES = 32


def pool_names(pools_raw: object) -> dict[str, str]:
    """poolID text -> pool name, from a pool list answer; best effort, never raises."""
    names: dict[str, str] = {}
    pools = field(pools_raw, "pools") if isinstance(pools_raw, Mapping) else None
    # every shape the pools collector reads (reading `top-level-object`)
    for pool in elements(pools, "name", "raidSets") or []:
        pool_id, name = text(field(pool, "id")), text(field(pool, "name"))
        if pool_id and name:
            names[pool_id] = name
    return names


def _mappings(volume: Mapping[str, Any], protocol: str) -> list[Mapping[str, Any]]:
    if not enabled(field(volume, "isLunMap")):
        return []
    lun_info = field(volume, "lunInfo")
    # Reading `lun-info-object-array`: the example shows an object, the table says "Object
    # array": accept both, every element.
    blocks = lun_info if isinstance(lun_info, list) else [lun_info]
    return [m for block in blocks if isinstance(block, Mapping) for m in entries(block, protocol)]


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Volume identity, health, QoS limits and mapping counts; a nameless volume is skipped."""
    pools = pool_names(data.raw.get("pools"))
    nas = data.product == "nas"
    for volume in item_list(data.raw[NAME], NAME, "volumes"):
        if not isinstance(volume, Mapping) or not text(field(volume, "name")):
            continue
        labels = {"volume": text(field(volume, "name"))}
        pool_id = text(field(volume, "poolID", "poolId"))
        qos_on = enabled(field(volume, "isQosEnable")) and not nas  # NAS: "always false"
        qos = field(volume, "qosInfo") if qos_on else None
        method = text(field(qos, "method"))
        vol_health = field(volume, "health")
        out.info("qsan_volume_info", {
            **labels,
            "volume_id": text(field(volume, "id")),
            "pool": pools.get(pool_id, pool_id),
            "volume_type": text(field(volume, "type")),
            "cache_mode": text(field(volume, "cacheMode")),
            "status": text(field(volume, "status")),
            "health": text(vol_health),
            "qos_method": method,
        })
        out.add("qsan_volume_health", labels, health(vol_health))
        if method.lower() == "maximum":
            setting = field(qos, "setting")
            out.add("qsan_volume_qos_max_iops", labels, reported(field(setting, "maxIOPS")))
            kbps = reported(field(setting, "maxThroughput"))  # 0 = unlimited: no limit series
            out.add("qsan_volume_qos_max_throughput_bytes_per_second", labels,
                    None if kbps is None else kbps * 1024)
        for protocol in PROTOCOLS:
            mappings = _mappings(volume, protocol)
            out.add("qsan_volume_lun_mappings", {**labels, "protocol": protocol}, len(mappings))
            for mapping in mappings[:MAX_MAPPING_SERIES]:
                out.info("qsan_volume_lun_mapping_info", {
                    **labels, "protocol": protocol, "host": text(field(mapping, "host")),
                    "target": text(field(mapping, "targetID", "targetId")),
                    "lun": text(field(mapping, "lun")),
                    "permission": text(field(mapping, "permission"))})
