"""Enclosures, controllers and sensors from `/rest/v1/hardware/{info,all/info?moreInfo=true}`.

Input (`data.raw["system"]`), abridged from the manual::

    {"info": {"enclosureNumbers": [0, 1]},
     "enclosures": [{"encId": 0, "info": {
         "sysHealth": "Good", "cpuUsage": 50.2, "memTotal": 8192, "memUsed": 3156,
         "controllerNum": 1, "backplaneID": "QW316", "systemUptime": 680775,
         "serialNumber": "001378D82734", "modelName": "XN8008R",
         "moreInfo": {"voltage": [{"name": "+3.3V", "value": 3}],
                      " cacheToFlash ": [{"name": "Power Module Status ", "value": "absent"}],
                      "temperature": [{"name": "CPU", "value": 61}],
                      "fanSpeed": [{"name": "FAN1", "value": "1225"}],
                      "psuStatus": [{"name": "1", "status": "Good"}]}}}]}

Why it looks the way it does:
- `enclosures` may be a list, a single enclosure object or an object wrapping the list (the
  manual's example is a malformed list); all three are accepted, anything else fails the area.
- Expansion enclosures carry no cpu/memory/uptime fields; a missing reading is simply no series.
- A fan at 0 rpm is a stopped fan, i.e. data, and is exported; only a non-number is skipped.
- Sensor, PSU and cache-to-flash names are stripped: the manual shows "Power Module Status ".
- cacheToFlash entries give their state in `value` or `status`; "absent" gives only the
  `qsan_component_info` series, never a health series (an unfitted module must not alert).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.readers import (
    elements,
    entries,
    field,
    items,
    merged,
    mib,
    number,
    percent,
    text,
)
from qsan_exporter.collectors.base import FamilyBuilder, PollData, health, is_absent

NAME = "system"

# (moreInfo key, sensor_type / component, reading metric, name label of the reading metric)
_READINGS = (
    ("temperature", "temperature", "qsan_temperature_celsius", "sensor"),
    ("fanSpeed", "fan", "qsan_fan_speed_rpm", "fan"),
    ("voltage", "voltage", "qsan_voltage_volts", "sensor"),
)
# (moreInfo key, component label, health metric, name label of the health metric)
_STATES = (
    ("psuStatus", "psu", "qsan_psu_health", "psu"),
    ("cacheToFlash", "cache_to_flash", "qsan_cache_to_flash_health", "module"),
)


def enclosure_list(system: Any) -> list[Any]:
    """The enclosures of `hardware/all/info`, in any of the shapes the manual shows (reading
    `enclosures-top-level`): a list, one enclosure object, an object wrapping the list."""
    if not isinstance(system, Mapping):
        raise TypeError(f"system: expected a JSON object, got {type(system).__name__}")
    enclosures = field(system, "enclosures")
    if isinstance(enclosures, list):
        return enclosures
    if isinstance(enclosures, Mapping):
        if isinstance(field(enclosures, "info"), Mapping | list):
            return [enclosures]
        for key in ("enclosures", "data", "list"):
            if isinstance(field(enclosures, key), list):
                return items(enclosures, key)
    raise TypeError(f"system: cannot read enclosures from {type(enclosures).__name__}")


def enclosure_info(enclosure: Any) -> Mapping[str, Any] | None:
    info = field(enclosure, "info")
    if isinstance(info, list):  # reading `enclosure-info-array`: every element, merged
        info = merged(info) or None
    return info if isinstance(info, Mapping) else None


def _memory(modules: object) -> str:
    """memoryInfo, one string per memory slot ("" for an empty one): the fitted modules."""
    found = elements(modules) or []
    return ", ".join(t for t in (text(m) for m in found if not isinstance(m, Mapping)) if t)


def _label(name: object, index: int) -> str:
    return text(name) or str(index)


def collect(data: PollData, out: FamilyBuilder) -> None:
    """One set of enclosure, sensor, PSU and cache-to-flash series per listed enclosure."""
    system = data.raw[NAME]
    enclosures = enclosure_list(system)
    numbers = field(field(system, "info"), "enclosureNumbers")
    numbers = numbers if isinstance(numbers, list) and len(numbers) == len(enclosures) else None
    for index, enclosure in enumerate(enclosures):
        info = enclosure_info(enclosure)
        if info is None:
            continue  # one unreadable enclosure must not hide the others
        enc_id = field(enclosure, "encId", "encID", "enc_id")
        if text(enc_id) == "" and numbers is not None:
            enc_id = numbers[index]
        _collect_enclosure(info, _label(enc_id, index), out)


def _collect_enclosure(info: Mapping[str, Any], enc: str, out: FamilyBuilder) -> None:
    labels = {"enclosure": enc}
    sys_health = field(info, "sysHealth")
    out.info("qsan_enclosure_info", {
        **labels,
        "model": text(field(info, "modelName")),
        "serial": text(field(info, "serialNumber")),
        "backplane_id": text(field(info, "backplaneID")),
        "health": text(sys_health),
        "cpu": text(field(info, "cpuInfo")),
        "memory": _memory(field(info, "memoryInfo")),
        "wwn": text(field(info, "wwn")),  # expansion enclosures only
        "vendor": text(field(info, "vendor")),
    })
    out.add("qsan_enclosure_health", labels, health(sys_health))
    out.add("qsan_controllers", labels, number(field(info, "controllerNum")))
    cpu = number(field(info, "cpuUsage"))
    out.add("qsan_cpu_usage_ratio", labels, None if cpu is None else percent(cpu))
    out.add("qsan_memory_size_bytes", labels, mib(field(info, "memTotal")))
    out.add("qsan_memory_used_bytes", labels, mib(field(info, "memUsed")))
    out.add("qsan_uptime_seconds", labels, number(field(info, "systemUptime")))

    more = field(info, "moreInfo")
    for key, kind, metric, name_label in _READINGS:
        for index, entry in enumerate(entries(more, key)):
            name = _label(field(entry, "name"), index)
            status, value = field(entry, "status"), field(entry, "value")
            if is_absent(status) or is_absent(value):  # not fitted: info only, nothing to alert
                _component(out, labels, kind, name, status if status is not None else value)
                continue
            out.add(metric, {**labels, name_label: name}, number(value))
            if status is None:
                continue  # most firmware reports readings without a status
            out.add("qsan_sensor_health",
                    {**labels, "sensor_type": kind, "sensor": name}, health(status))
            _component(out, labels, kind, name, status)
    for key, component, metric, name_label in _STATES:
        for index, entry in enumerate(entries(more, key)):
            name = _label(field(entry, "name"), index)
            status = field(entry, "status", "value")  # reading `c2f-state-field`
            if not is_absent(status):
                out.add(metric, {**labels, name_label: name}, health(status))
            _component(out, labels, component, name, status)


def _component(
    out: FamilyBuilder, labels: Mapping[str, str], kind: str, name: str, status: object
) -> None:
    out.info("qsan_component_info",
             {**labels, "component": kind, "name": name, "status": text(status)})
