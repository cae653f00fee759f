"""SANOS 4.0 hardware answers -> the Unified ones: systeminfo + hwmonitor become hardware/info +
hardware/all/info, diskinfo (+ disksmart) becomes storage/disk/list. The engine and the field
tables are in `translate` and `mapping`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.errors import ApiFormatError
from qsan_exporter.api.legacy import mapping as m
from qsan_exporter.api.legacy import translate as t
from qsan_exporter.api.legacy.translate import Reader, find_items, norm, unwrap

# --- system: systeminfo + hwmonitor -> hardware/info + hardware/all/info --------------------------

def _flatten(item: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level fields first, then those of nested objects (systeminfo may group them)."""
    flat = {k: v for k, v in item.items() if not isinstance(v, Mapping)}
    for value in item.values():
        if isinstance(value, Mapping):
            for k, v in value.items():
                if not isinstance(v, Mapping):
                    flat.setdefault(k, v)
    return flat


def _sensor_group_keys() -> tuple[str, ...]:
    return tuple(k for keys in m.SENSOR_GROUPS.values() for k in keys)


def system(reader: Reader, systeminfo: Any, hwmonitor: Any | None) -> dict[str, Any]:
    info_body = unwrap(systeminfo)
    if not isinstance(info_body, Mapping):
        raise ApiFormatError("legacy systeminfo: expected a JSON object")
    flat = _flatten(info_body)
    controller_key, controller_list = t.get(info_body, *m.CONTROLLER_LISTS)
    info = reader.read_all("systeminfo", flat, m.SYSTEM_INFO,
                           also=(controller_key,) if controller_key else ())
    if "controllerNum" not in info and isinstance(controller_list, list):
        info["controllerNum"] = len(controller_list)

    enclosures: list[dict[str, Any]] = []
    for index, item in enumerate(_hw_enclosures(hwmonitor)):
        id_key, enc_id = t.get(item, *m.ENCLOSURE_ID)
        group_keys = [k for k in item if norm(k) in {norm(g) for g in _sensor_group_keys()}]
        own = reader.read_all("hwmonitor", item, m.SYSTEM_INFO,
                              also=(*([id_key] if id_key else []), *group_keys))
        more: dict[str, list[dict[str, Any]]] = {}
        for target, candidates in m.SENSOR_GROUPS.items():
            _, listed = t.get(item, *candidates)
            table = m.STATE if target in ("psuStatus", "cacheToFlash") else m.SENSOR
            read = [reader.read_all(f"hwmonitor {target}", e, table) for e in t.entries(listed)]
            if read:
                more[target] = read
        enc_info = {**own, **(info if index == 0 else {}), "moreInfo": more}
        enclosures.append({"encId": t.text(enc_id) if enc_id is not None else str(index),
                           "info": enc_info})
    if not enclosures:
        enclosures = [{"encId": "0", "info": dict(info)}]
    numbers = [e["encId"] for e in enclosures]
    return {"info": {"enclosureNumbers": numbers}, "enclosures": enclosures}


def _hw_enclosures(hwmonitor: Any | None) -> list[Mapping[str, Any]]:
    if hwmonitor is None:
        return []
    body = unwrap(hwmonitor)
    if isinstance(body, Mapping):
        key, _ = t.get(body, *_sensor_group_keys())
        if key is not None:
            return [body]  # one enclosure, its sensor groups at the top level
    return find_items(body, "hwmonitor", m.LISTS["hwmonitor"])


# --- disks: diskinfo + disksmart -> storage/disk/list ---------------------------------------------

def disks(reader: Reader, diskinfo: Any, disksmart: Any | None) -> dict[str, Any]:
    out = []
    for item in find_items(diskinfo, "diskinfo", m.LISTS["diskinfo"]):
        disk = reader.read_all("diskinfo", item, m.DISK)
        if not t.text(disk.get("id")):
            slot, enc = t.text(disk.get("slot")), t.text(disk.get("encID"))
            if slot:
                disk["id"] = f"e{enc}d{slot}" if enc else slot
        out.append(disk)
    if disksmart is not None:
        _merge_smart(reader, out, disksmart)
    return {"disks": out}


def _smart_item(reader: Reader, item: Mapping[str, Any]) -> dict[str, Any]:
    """A disksmart item with its attribute list (if any) flattened to name -> raw value."""
    flat = dict(item)
    key, attributes = t.get(item, *m.SMART_ATTRIBUTE_LISTS)
    if key is not None:
        del flat[key]
        for attribute in t.entries(attributes):
            read = reader.read(attribute, m.SMART_ATTRIBUTE, set())
            name = t.text(read.get("name")) or t.text(read.get("id"))  # by name, else by id
            if name and "value" in read:
                flat.setdefault(name, read["value"])
    return flat


def _merge_smart(reader: Reader, disks_out: list[dict[str, Any]], disksmart: Any) -> None:
    by_id = {t.text(d.get("id")): d for d in disks_out if t.text(d.get("id"))}
    by_slot = {(t.text(d.get("encID")), t.text(d.get("slot"))): d for d in disks_out}
    for item in find_items(disksmart, "disksmart", m.LISTS["disksmart"]):
        smart = reader.read_all("disksmart", _smart_item(reader, item), m.SMART)
        disk = by_id.get(t.text(smart.get("id"))) or by_slot.get(
            (t.text(smart.get("encID")), t.text(smart.get("slot"))))
        if disk is None:
            continue
        for key in ("temperature", "ssdLifeRemain", "totalWrittenByte"):
            if key in smart and not disk.get(key):
                disk[key] = smart[key]
