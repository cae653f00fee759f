"""`/rest/v1/hardware/...` bodies: enclosures, sensors, PSUs and cache-to-flash modules.

The local enclosure (id 0) carries the scenario's hardware faults so they exist at every size:
PSU 2 has failed and fan 2 has stopped (value 0, status "Failed" where statuses are given).
Readings wander slowly and deterministically with the clock (no timer thread): CPU, memory,
temperatures and fan speeds, so graphs move and rate-free gauges are not constant.
"""

from __future__ import annotations

import json
import math
from typing import Any

from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.profiles import Profile
from qsan_exporter.simulator.scenario import rng_for

FAILED_PSU = 2  # 1-based, local enclosure
STOPPED_FAN = 2
UPTIME_AT_START = 680_775  # seconds, the manual's example
VOLTAGES = (("+3.3V", 3.31), ("+5V", 5.04), ("+12V", 12.1), ("VCORE", 0.98))
PERIOD = 600.0


def _wave(elapsed: float, phase: float) -> float:
    return math.sin(2 * math.pi * elapsed / PERIOD + phase)


class Hardware:
    """Enclosure documents of one array; `enclosures(elapsed, more)` renders them."""

    def __init__(self, config: SimulatorConfig, profile: Profile) -> None:
        rng = rng_for(config, "hardware")
        self.profile = profile
        self.count = config.enclosures
        # The manual's other reading (qsan_exporter/readings.py); legacy renders from defaults.
        self.literal = config.literal and config.profile != "legacy"
        self.serials = [f"{rng.randrange(16**12):012X}" for _ in range(config.enclosures)]
        self.backplanes = [f"QW{rng.randrange(100, 999)}" for _ in range(config.enclosures)]
        self.phase = rng.uniform(0, 2 * math.pi)
        self.numbers_body = json.dumps({"enclosureNumbers": list(range(config.enclosures))})

    # -- names -------------------------------------------------------------------------------
    def psu_name(self, number: int) -> str:
        return f"{self.profile.psu_prefix}{number}"

    def fan_names(self, enclosure: int) -> list[str]:
        count = 2 if self.profile.nas and enclosure == 0 else 4
        return [f"FAN{i + 1}" for i in range(count)]

    def temperature_names(self, enclosure: int) -> list[tuple[str, int]]:
        if enclosure > 0:
            return [("Backplane", 33), ("PSU1", 38), ("PSU2", 37)]
        if self.profile.nas:
            return [("CPU", 52), ("System", 36)]
        names = []
        for ctrl in range(1, self.profile.controllers + 1):
            names += [(f"CPU (CTRL{ctrl})", 55 + ctrl), (f"Board (CTRL{ctrl})", 40 + ctrl)]
        return [*names, ("Backplane", 34)]

    # -- rendering ---------------------------------------------------------------------------
    def enclosures(self, elapsed: float, more: bool, only: int | None = None) -> str:
        key = self.profile.hw_enc_key
        ident = (lambda e: e) if self.profile.nas else self.profile.ident
        wanted = range(self.count) if only is None else (only,)
        found = [{key: ident(e), "info": self._info(e, elapsed, more)} for e in wanted]
        if self.literal and len(found) == 1:  # reading `enclosures-top-level`: one object
            return json.dumps(found[0], ensure_ascii=False)
        return json.dumps(found, ensure_ascii=False)

    def _info(self, enclosure: int, elapsed: float, more: bool) -> Any:
        p = self.profile
        common = {"serialNumber": self.serials[enclosure],
                  "backplaneID": self.backplanes[enclosure]}
        if enclosure == 0:
            wave = _wave(elapsed, self.phase)
            cpu = round(18.0 + 9.0 * wave, 1)
            info: dict[str, Any] = {
                "sysHealth": "Good", "cpuInfo": p.cpu_info,
                "cpuUsage": str(cpu) if p.cpu_usage_as_string else cpu,
                "memoryInfo": [f"Samsung {p.mem_total_mb // p.controllers}MB", "", "", ""],
                "memTotal": p.mem_total_mb,
                "memUsed": int(p.mem_total_mb * (0.42 + 0.04 * wave)),
                "controllerNum": p.controllers, **common,
                "systemUptime": UPTIME_AT_START + int(elapsed), "modelName": p.model,
            }
        else:
            info = {**common, "modelName": p.expansion_model,
                    "wwn": f"2000{self.serials[enclosure]}", "vendor": "QSAN"}
        if more:
            info["moreInfo"] = self._more(enclosure, elapsed)
        if self.literal:  # reading `enclosure-info-array`: "Object array", split in two
            return [{k: v for k, v in info.items() if k != "moreInfo"},
                    {k: v for k, v in info.items() if k == "moreInfo"}]
        return info

    def _more(self, enclosure: int, elapsed: float) -> dict[str, Any]:
        p = self.profile
        wave = _wave(elapsed, self.phase + enclosure)
        status = {"status": "Good"} if p.sensor_status else {}
        temperatures = []
        for name, base in self.temperature_names(enclosure):
            value = base + round(1.5 * wave)
            temperatures.append({"name": name, "value": str(value) if p.temperature_as_string
                                 else value, **status})
        fans = []
        for number, name in enumerate(self.fan_names(enclosure), start=1):
            stopped = enclosure == 0 and number == STOPPED_FAN
            rpm = 0 if stopped else 4800 + 150 * number + int(40 * wave)
            entry: dict[str, Any] = {"name": name, "value": str(rpm) if p.fan_as_string else rpm}
            if p.sensor_status:
                entry["status"] = "Failed" if stopped else "Good"
            fans.append(entry)
        more: dict[str, Any] = {
            "voltage": [{"name": name, "value": value, **status} for name, value in VOLTAGES],
            "temperature": temperatures,
            "fanSpeed": fans,
            "psuStatus": [{"name": self.psu_name(n), "status": "Failed"
                           if enclosure == 0 and n == FAILED_PSU else "Good"} for n in (1, 2)],
        }
        if enclosure == 0 and p.c2f_key is not None:
            field, suffix = p.c2f_field, p.c2f_name_suffix
            more[p.c2f_key] = [{"name": "Power Module Status" + suffix, field: "absent"},
                               {"name": "Flash Module Status" + suffix, field: "Good"}]
        elif self.literal:  # reading `null-lists`: no module list is null, not missing
            more["cacheToFlash"] = None
        return more
