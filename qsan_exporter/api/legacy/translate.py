"""SANOS 4.0 answers -> the Unified-shaped raw answers the collectors already read.

The collectors (`qsan_exporter/collectors/*`) stay untouched: this module turns each legacy
answer into the document the matching Unified endpoint would have given, so the metric names
are the same by construction. Which legacy field feeds which Unified field is data, in
`mapping`; this module is the engine that applies those tables and the little structure around
them (which list holds the items, merging S.M.A.R.T. into disks and LUN mappings into volumes).

Every numeric field no table consumed is logged once per (endpoint, field) at DEBUG, so a
firmware that spells a fact differently shows up in `--log.level=debug` instead of vanishing.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qsan_exporter.api.errors import ApiFormatError
from qsan_exporter.api.legacy import mapping as m

log = logging.getLogger(__name__)

_LEADING_NUMBER = re.compile(r"\s*([-+]?\d+(?:\.\d+)?)\s*([A-Za-z%]*)")
_SIZE_UNITS = {"": None, "b": 1, "byte": 1, "bytes": 1, "k": 1024, "kb": 1024, "kib": 1024,
               "m": 1024**2, "mb": 1024**2, "mib": 1024**2, "g": 1024**3, "gb": 1024**3,
               "gib": 1024**3, "t": 1024**4, "tb": 1024**4, "tib": 1024**4, "p": 1024**5,
               "pb": 1024**5, "lba": 512, "sector": 512, "sectors": 512}
_MISSING = ("", "n/a", "-", "--")
_WWN = re.compile(r"^([0-9a-f]{2}:){7}[0-9a-f]{2}$", re.IGNORECASE)


def norm(key: object) -> str:
    """A key as compared: case, spaces and underscores ignored."""
    return str(key).strip().replace("_", "").replace(" ", "").lower()


def leading_number(value: object) -> float | None:
    """A number, or the number a string starts with ("41 C" -> 41.0); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number if number == number and abs(number) != float("inf") else None
    if isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        return float(match.group(1)) if match else None
    return None


def size_in_bytes(value: object, default_unit: str) -> float | None:
    """A size with its unit ("8 GB") or a bare number in `default_unit`, as bytes."""
    if isinstance(value, bool) or value is None:
        return None
    unit = default_unit.lower()
    if isinstance(value, str):
        match = _LEADING_NUMBER.match(value)
        if not match:
            return None
        number, written = float(match.group(1)), match.group(2).lower()
        if written in _SIZE_UNITS and written:
            unit = written
    else:
        number_or_none = leading_number(value)
        if number_or_none is None:
            return None
        number = number_or_none
    factor = _SIZE_UNITS.get(unit)
    return None if factor is None else number * factor


def _controllers(value: object) -> float | None:
    if isinstance(value, list):
        return float(len(value))
    if isinstance(value, str):
        word = value.strip().lower()
        if word.startswith("dual"):
            return 2.0
        if word.startswith("single"):
            return 1.0
    return leading_number(value)


def _thin(value: object) -> object:
    if isinstance(value, str):
        word = value.strip().lower()
        if "thin" in word:
            return True
        if "thick" in word:
            return False
    return value


def convert(value: object, kind: str, unit: str | None) -> object:
    """One legacy value read as `kind` (see `mapping`); None when it cannot be."""
    if value is None or (isinstance(value, Mapping | list) and kind != "controllers"):
        return None
    if isinstance(value, str) and value.strip().lower() in _MISSING:
        return None
    if kind in ("text", "flag"):
        return value
    if kind == "thin":
        return _thin(value)
    if kind in ("number", "percent"):
        return leading_number(value)
    if kind == "controllers":
        return _controllers(value)
    if kind == "mib":
        size = size_in_bytes(value, unit or "MB")
        return None if size is None else size / 1048576
    if kind == "bytes":
        return size_in_bytes(value, unit or "B")
    raise ValueError(f"unknown mapping kind {kind!r}")


class Reader:
    """Applies mapping tables to legacy items; remembers which unmatched fields it reported."""

    def __init__(self) -> None:
        self._reported: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def read(self, item: Mapping[str, Any], table: tuple[m.Field, ...],
             consumed: set[str]) -> dict[str, Any]:
        """The target fields found in `item`; the legacy keys used are added to `consumed`."""
        keys = {norm(k): k for k in item if isinstance(k, str | int)}
        out: dict[str, Any] = {}
        for spec in table:
            for candidate in spec.candidates:
                name, unit = (candidate, None) if isinstance(candidate, str) else candidate
                key = keys.get(norm(name))
                if key is None:
                    continue
                consumed.add(key)
                value = convert(item[key], spec.kind, unit)
                if value is not None:
                    out[spec.target] = value
                    break
        return out

    def report(self, where: str, item: Mapping[str, Any], consumed: set[str]) -> None:
        """Log, once per (endpoint, field), each numeric field no table consumed."""
        for key, value in item.items():
            if key in consumed or isinstance(value, Mapping | list | bool):
                continue
            if leading_number(value) is None:
                continue
            with self._lock:
                if (where, str(key)) in self._reported:
                    continue
                self._reported.add((where, str(key)))
            log.debug("legacy %s: unmapped numeric field %r = %r (add it to "
                      "qsan_exporter/api/legacy/mapping.py if it is a fact we export)",
                      where, key, value)

    def read_all(self, where: str, item: Mapping[str, Any],
                 table: tuple[m.Field, ...], also: tuple[str, ...] = ()) -> dict[str, Any]:
        """`read` + `report`, the keys in `also` (handled by the caller) counted as consumed."""
        consumed = {k for k in item if norm(k) in {norm(a) for a in also}}
        out = self.read(item, table, consumed)
        self.report(where, item, consumed)
        return out


# --- finding things in answers of unknown shape ---------------------------------------------------

def _get(obj: Mapping[str, Any], *names: str) -> tuple[str | None, Any]:
    keys = {norm(k): k for k in obj if isinstance(k, str)}
    for name in names:
        key = keys.get(norm(name))
        if key is not None and obj[key] is not None:
            return key, obj[key]
    return None, None


def unwrap(body: Any) -> Any:
    """The payload of an answer wrapped as {"data": ...} (or result/response/content)."""
    while isinstance(body, Mapping):
        _, inner = _get(body, *m.WRAPPERS)
        if not isinstance(inner, Mapping | list):
            break
        body = inner
    return body


def find_items(body: Any, endpoint: str, names: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The item objects of a list answer, wherever the list sits; a format error if none."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, Mapping)]
    if not isinstance(body, Mapping):
        raise ApiFormatError(f"legacy {endpoint}: expected a JSON object or list, "
                             f"got {type(body).__name__}")
    _, listed = _get(body, *names)
    if isinstance(listed, list):
        return [item for item in listed if isinstance(item, Mapping)]
    _, inner = _get(body, *m.WRAPPERS)
    if isinstance(inner, Mapping | list):
        return find_items(inner, endpoint, names)
    lists = [v for v in body.values()
             if isinstance(v, list) and all(isinstance(i, Mapping) for i in v)]
    if len(lists) == 1:
        return list(lists[0])
    raise ApiFormatError(f"legacy {endpoint}: no item list found "
                         f"(keys: {sorted(map(str, body))[:20]})")


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


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


def _entries(value: Any) -> list[Mapping[str, Any]]:
    """Sensor entries from a list of objects, or from {"CPU": 55} / {"CPU": {...}} maps."""
    if isinstance(value, list):
        return [e for e in value if isinstance(e, Mapping)]
    if isinstance(value, Mapping):
        out: list[Mapping[str, Any]] = []
        for name, reading in value.items():
            if isinstance(reading, Mapping):
                out.append({"name": name, **reading})
            elif not isinstance(reading, list):
                out.append({"name": name, "value": reading})
        return out
    return []


def _sensor_group_keys() -> tuple[str, ...]:
    return tuple(k for keys in m.SENSOR_GROUPS.values() for k in keys)


def system(reader: Reader, systeminfo: Any, hwmonitor: Any | None) -> dict[str, Any]:
    info_body = unwrap(systeminfo)
    if not isinstance(info_body, Mapping):
        raise ApiFormatError("legacy systeminfo: expected a JSON object")
    flat = _flatten(info_body)
    controller_key, controller_list = _get(info_body, *m.CONTROLLER_LISTS)
    info = reader.read_all("systeminfo", flat, m.SYSTEM_INFO,
                           also=(controller_key,) if controller_key else ())
    if "controllerNum" not in info and isinstance(controller_list, list):
        info["controllerNum"] = len(controller_list)

    enclosures: list[dict[str, Any]] = []
    for index, item in enumerate(_hw_enclosures(hwmonitor)):
        id_key, enc_id = _get(item, *m.ENCLOSURE_ID)
        group_keys = [k for k in item if norm(k) in {norm(g) for g in _sensor_group_keys()}]
        own = reader.read_all("hwmonitor", item, m.SYSTEM_INFO,
                              also=(*([id_key] if id_key else []), *group_keys))
        more: dict[str, list[dict[str, Any]]] = {}
        for target, candidates in m.SENSOR_GROUPS.items():
            _, listed = _get(item, *candidates)
            table = m.STATE if target in ("psuStatus", "cacheToFlash") else m.SENSOR
            read = [reader.read_all(f"hwmonitor {target}", e, table) for e in _entries(listed)]
            if read:
                more[target] = read
        enc_info = {**own, **(info if index == 0 else {}), "moreInfo": more}
        enclosures.append({"encId": _text(enc_id) if enc_id is not None else str(index),
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
        key, _ = _get(body, *_sensor_group_keys())
        if key is not None:
            return [body]  # one enclosure, its sensor groups at the top level
    return find_items(body, "hwmonitor", m.LISTS["hwmonitor"])


# --- disks: diskinfo + disksmart -> storage/disk/list ---------------------------------------------

def disks(reader: Reader, diskinfo: Any, disksmart: Any | None) -> dict[str, Any]:
    out = []
    for item in find_items(diskinfo, "diskinfo", m.LISTS["diskinfo"]):
        disk = reader.read_all("diskinfo", item, m.DISK)
        if not _text(disk.get("id")):
            slot, enc = _text(disk.get("slot")), _text(disk.get("encID"))
            if slot:
                disk["id"] = f"e{enc}d{slot}" if enc else slot
        out.append(disk)
    if disksmart is not None:
        _merge_smart(reader, out, disksmart)
    return {"disks": out}


def _smart_item(reader: Reader, item: Mapping[str, Any]) -> dict[str, Any]:
    """A disksmart item with its attribute list (if any) flattened to name -> raw value."""
    flat = dict(item)
    key, attributes = _get(item, *m.SMART_ATTRIBUTE_LISTS)
    if key is not None:
        del flat[key]
        for attribute in _entries(attributes):
            read = reader.read(attribute, m.SMART_ATTRIBUTE, set())
            name = _text(read.get("name")) or _text(read.get("id"))  # by name, else by id
            if name and "value" in read:
                flat.setdefault(name, read["value"])
    return flat


def _merge_smart(reader: Reader, disks_out: list[dict[str, Any]], disksmart: Any) -> None:
    by_id = {_text(d.get("id")): d for d in disks_out if _text(d.get("id"))}
    by_slot = {(_text(d.get("encID")), _text(d.get("slot"))): d for d in disks_out}
    for item in find_items(disksmart, "disksmart", m.LISTS["disksmart"]):
        smart = reader.read_all("disksmart", _smart_item(reader, item), m.SMART)
        disk = by_id.get(_text(smart.get("id"))) or by_slot.get(
            (_text(smart.get("encID")), _text(smart.get("slot"))))
        if disk is None:
            continue
        for key in ("temperature", "ssdLifeRemain", "totalWrittenByte"):
            if key in smart and not disk.get(key):
                disk[key] = smart[key]


# --- pools: poolinfo -> storage/pool/list ---------------------------------------------------------

def pools(reader: Reader, poolinfo: Any) -> dict[str, Any]:
    out = []
    for item in find_items(poolinfo, "poolinfo", m.LISTS["poolinfo"]):
        rs_key, listed = _get(item, *m.RAIDSET_LISTS)
        pool = reader.read_all("poolinfo", item, m.POOL, also=(rs_key,) if rs_key else ())
        if isinstance(listed, list):
            raidsets = [_raidset(reader, rs) for rs in listed if isinstance(rs, Mapping)]
        elif _get(item, "raidLevel", "raid_level", "raid", "level", "raidType")[0] is not None:
            # No RAID group list: a SANOS pool of one RAID group describes it on the pool.
            raidsets = [{**_raidset(reader, item, report=False), "id": "0"}]
        else:
            raidsets = []
        pool["raidsets"] = raidsets
        out.append(pool)
    return {"pools": out}


def _raidset(reader: Reader, item: Mapping[str, Any], report: bool = True) -> dict[str, Any]:
    disks_key, members = _get(item, *m.RAIDSET_DISKS)
    consumed = {disks_key} if disks_key else set()
    raidset = reader.read(item, m.RAIDSET, consumed)
    if isinstance(members, list):
        raidset["disks"] = [_member(d) for d in members]
    else:
        count_key, count = _get(item, *m.RAIDSET_DISK_COUNT)
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
        _, ident = _get(disk, "id", "diskId", "slot")
        return _text(ident)
    return _text(disk)


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
    word = _text(mapping.get("protocol")).lower()
    if "fc" in word or "fibre" in word or "fiber" in word:
        return "fc"
    if "iscsi" in word:
        return "iscsi"
    return "fc" if _WWN.match(_text(mapping.get("host"))) else "iscsi"


def _merge_mappings(reader: Reader, volumes_out: list[dict[str, Any]], lunmappings: Any) -> None:
    by_id = {_text(v.get("id")): v for v in volumes_out if _text(v.get("id"))}
    by_name = {_text(v.get("name")): v for v in volumes_out if _text(v.get("name"))}
    for volume in volumes_out:
        volume["isLunMap"] = False
        volume["lunInfo"] = {"iscsi": [], "fc": []}
    for item in find_items(lunmappings, "lunmappinginfo", m.LISTS["lunmappinginfo"]):
        mapping = reader.read_all("lunmappinginfo", item, m.LUN_MAPPING)
        volume = by_id.get(_text(mapping.get("volumeID"))) or by_name.get(
            _text(mapping.get("volumeName")))
        if volume is None:
            continue
        volume["isLunMap"] = True
        volume["lunInfo"][protocol_of(mapping)].append(
            {k: mapping[k] for k in ("host", "targetID", "lun", "permission") if k in mapping})


# --- iscsi: availtarget -> iscsi/target/list (+ the sessions it lists) ----------------------------

def iscsi(reader: Reader, availtarget: Any) -> dict[str, Any]:
    targets: dict[str, list[dict[str, Any]]] = {}
    sessions: dict[str, list[dict[str, Any]]] = {}
    sessions_known = False  # neither a list nor a count anywhere: say nothing, not "0 sessions"
    for index, item in enumerate(find_items(availtarget, "availtarget", m.LISTS["availtarget"])):
        portals_key, portals = _get(item, *m.TARGET_PORTALS)
        sessions_key, listed = _get(item, *m.TARGET_SESSIONS)
        count_key, count = _get(item, *m.TARGET_SESSION_COUNT)
        handled = tuple(k for k in (portals_key, sessions_key, count_key) if k)
        sessions_known = sessions_known or bool(sessions_key or count_key)
        target = reader.read_all("availtarget", item, m.TARGET, also=handled)
        controller = _text(target.pop("ctrlID", ""))
        target_id = _text(target.get("id")) or str(index)
        target["id"] = target_id
        if isinstance(portals, str):
            portals = [p for p in re.split(r"[,\s]+", portals) if p]
        if isinstance(portals, list):
            target["portals"] = portals
        targets.setdefault(controller, []).append(target)
        group = sessions.setdefault(controller, [])
        if isinstance(listed, list):
            for number, entry in enumerate(_entries(listed)):
                session = reader.read_all("availtarget session", entry, m.SESSION)
                session.setdefault("id", f"{target_id}-{number}")
                group.append({**session, "targetID": target_id})
        else:
            number = leading_number(count)
            for i in range(int(number) if number is not None and number > 0 else 0):
                group.append({"id": f"{target_id}-{i}", "targetID": target_id})
    return {
        "targets": {"iscsi": [{"ctrlID": c, "targets": t} for c, t in targets.items()]},
        "sessions": ({"iscsi": [{"ctrlID": c, "sessions": s} for c, s in sessions.items()]}
                     if sessions_known else None),
    }


# --- logs: log/list/<page> -> log/list events -----------------------------------------------------

def log_events(reader: Reader, page: Any, timezone: str) -> list[dict[str, Any]]:
    """One page's events as {"type", "timestamp" (unix), "message"}; unplaceable ones dropped."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    if isinstance(page, Mapping) and not page:
        return []
    events = []
    for item in find_items(page, "log/list", m.LISTS["log"]):
        event = reader.read_all("log/list", item, m.LOG_EVENT)
        timestamp = parse_time(event.get("timestamp"), zone)
        level = m.LOG_LEVELS.get(_text(event.get("type")).lower(),
                                 _text(event.get("type")).lower())
        if timestamp is None or not level:
            log.debug("skipping a legacy log event without a readable time or level")
            continue
        events.append({"type": level, "timestamp": timestamp,
                       "message": _text(event.get("message"))})
    return events


def parse_time(value: object, zone: ZoneInfo) -> float | None:
    """Unix seconds from epoch seconds/milliseconds or a date string in the array's zone."""
    if isinstance(value, str):
        bare = value.strip()
        number = float(bare) if bare.replace(".", "", 1).isdigit() else None
    else:
        number = leading_number(value)
    if number is not None:
        return number / 1000 if number > 1e11 else number
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern in m.LOG_TIME_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return moment.replace(tzinfo=zone).timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()
