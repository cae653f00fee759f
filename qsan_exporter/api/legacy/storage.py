"""SANOS 4.0 storage answers -> the Unified ones: poolinfo becomes storage/pool/list (with its
RAID groups), volumeinfo (+ lunmappinginfo) becomes storage/volume/list (with LUN mappings
and QoS). The engine and the field tables are in `translate` and `mapping`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.legacy import mapping as m
from qsan_exporter.api.legacy import translate as t
from qsan_exporter.api.legacy.translate import Reader, find_items, leading_number

_WWN = re.compile(r"^([0-9a-f]{2}:){7}[0-9a-f]{2}$", re.IGNORECASE)

# --- pools: poolinfo -> storage/pool/list ---------------------------------------------------------

def pools(reader: Reader, poolinfo: Any) -> dict[str, Any]:
    out = []
    for item in find_items(poolinfo, "poolinfo", m.LISTS["poolinfo"]):
        rs_key, listed = t.get(item, *m.RAIDSET_LISTS)
        pool = reader.read_all("poolinfo", item, m.POOL, also=(rs_key,) if rs_key else ())
        if isinstance(listed, list):
            raidsets = [_raidset(reader, rs) for rs in listed if isinstance(rs, Mapping)]
        elif t.get(item, "raidLevel", "raid_level", "raid", "level", "raidType")[0] is not None:
            # No RAID group list: a SANOS pool of one RAID group describes it on the pool.
            raidsets = [{**_raidset(reader, item, report=False), "id": "0"}]
        else:
            raidsets = []
        pool["raidsets"] = raidsets
        out.append(pool)
    return {"pools": out}


def _raidset(reader: Reader, item: Mapping[str, Any], report: bool = True) -> dict[str, Any]:
    disks_key, members = t.get(item, *m.RAIDSET_DISKS)
    consumed = {disks_key} if disks_key else set()
    raidset = reader.read(item, m.RAIDSET, consumed)
    if isinstance(members, list):
        raidset["disks"] = [_member(d) for d in members]
    else:
        count_key, count = t.get(item, *m.RAIDSET_DISK_COUNT)
        number = leading_number(count)
        if count_key is not None:
            consumed.add(count_key)
        if number is not None:
            raidset["disks"] = [str(i) for i in range(int(number))]
    if report:
        reader.report("poolinfo raidset", item, consumed)
    return raidset


def _member(disk: object) -> str:
    if isinstance(disk, Mapping):
        _, ident = t.get(disk, "id", "diskId", "slot")
        return t.text(ident)
    return t.text(disk)


# --- volumes: volumeinfo + lunmappinginfo -> storage/volume/list ----------------------------------

def volumes(reader: Reader, volumeinfo: Any, lunmappings: Any | None) -> dict[str, Any]:
    out = []
    for item in find_items(volumeinfo, "volumeinfo", m.LISTS["volumeinfo"]):
        volume = reader.read_all("volumeinfo", item, m.VOLUME)
        iops, throughput = volume.pop("maxIOPS", None), volume.pop("maxThroughput", None)
        volume.pop("totalSize", None)
        if iops is not None or throughput is not None:
            volume["isQosEnable"] = True
            volume["qosInfo"] = {"method": "maximum",
                                 "setting": {"maxIOPS": iops or 0,
                                             "maxThroughput": throughput or 0}}
        out.append(volume)
    if lunmappings is not None:
        _merge_mappings(reader, out, lunmappings)
    return {"volumes": out}


def protocol_of(mapping: Mapping[str, Any]) -> str:
    """iscsi or fc: from a protocol field, else from the host (a WWN means Fibre Channel)."""
    word = t.text(mapping.get("protocol")).lower()
    if "fc" in word or "fibre" in word or "fiber" in word:
        return "fc"
    if "iscsi" in word:
        return "iscsi"
    return "fc" if _WWN.match(t.text(mapping.get("host"))) else "iscsi"


def _merge_mappings(reader: Reader, volumes_out: list[dict[str, Any]], lunmappings: Any) -> None:
    by_id = {t.text(v.get("id")): v for v in volumes_out if t.text(v.get("id"))}
    by_name = {t.text(v.get("name")): v for v in volumes_out if t.text(v.get("name"))}
    for volume in volumes_out:
        volume["isLunMap"] = False
        volume["lunInfo"] = {"iscsi": [], "fc": []}
    for item in find_items(lunmappings, "lunmappinginfo", m.LISTS["lunmappinginfo"]):
        mapping = reader.read_all("lunmappinginfo", item, m.LUN_MAPPING)
        mapped = by_id.get(t.text(mapping.get("volumeID"))) or by_name.get(
            t.text(mapping.get("volumeName")))
        if mapped is None:
            continue
        mapped["isLunMap"] = True
        mapped["lunInfo"][protocol_of(mapping)].append(
            {k: mapping[k] for k in ("host", "targetID", "lun", "permission") if k in mapping})
