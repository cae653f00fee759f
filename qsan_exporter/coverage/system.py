"""Coverage rows: `/rest/v1/hardware/info` and `/rest/v1/hardware/all/info` (collector `system`).

Line numbers `000:N` are those of the Unified manual's first text extraction. The answer of
`hardware/all/info` is a list of enclosures (`[]`), or one enclosure object (reading
`enclosures-top-level`); `info` is one object or an array of partial ones, merged (reading
`enclosure-info-array`), so its paths are written without `[]`. `hardware/{enc_id}/info` answers
the same fields for one enclosure and is not polled (`all` gives every enclosure at once).
"""

from __future__ import annotations

from qsan_exporter.coverage import Field
from qsan_exporter.coverage.pools import MIB_EVIDENCE

NUMBERS = "/rest/v1/hardware/info"
ALL = "/rest/v1/hardware/all/info"
INFO = "[].info."
MORE = "[].info.moreInfo."


def _sensor_rows(key: str, metric: str, label: str, unit: str) -> tuple[Field, ...]:
    return (
        Field(ALL, MORE + key, becomes=f"{metric}; qsan_sensor_health (where a status is given)"),
        Field(ALL, MORE + key + "[].name", becomes=f"{metric}{{{label}}}, stripped"),
        Field(ALL, MORE + key + "[].value", becomes=metric, evidence=unit),
        Field(ALL, MORE + key + "[].status",
              becomes="qsan_sensor_health (0/1/2); qsan_component_info{status}; an absent "
                      "part gives only the info series",
              evidence="000:859 'Element status Ex: Good, Warning, Failed'"),
    )


ROWS: tuple[Field, ...] = (
    Field(NUMBERS, "enclosureNumbers",
          becomes="qsan_enclosure_*{enclosure} when an enclosure of all/info carries no id "
                  "(matched by position)"),
    Field(ALL, "[].encId|encID", becomes="label enclosure (every system series)"),
    Field(ALL, "[].info", becomes="the enclosure's series below (object or object array)"),
    Field(ALL, INFO + "sysHealth", becomes="qsan_enclosure_health; qsan_enclosure_info{health}",
          evidence="000:809 'Ex: Good, abnormal, failed'"),
    Field(ALL, INFO + "cpuInfo", becomes="qsan_enclosure_info{cpu}"),
    Field(ALL, INFO + "cpuUsage", becomes="qsan_cpu_usage_ratio (value / 100)",
          evidence="000:811 'Cpu usage(unit : %)'; example 50.2"),
    Field(ALL, INFO + "memoryInfo",
          becomes="qsan_enclosure_info{memory}: the non-empty slots, comma separated"),
    Field(ALL, INFO + "memTotal", becomes="qsan_memory_size_bytes (MB * 1048576)",
          evidence=f"000:813 'Memory space (unit : MB)'; {MIB_EVIDENCE}"),
    Field(ALL, INFO + "memUsed", becomes="qsan_memory_used_bytes (MB * 1048576)",
          evidence=f"000:814 'Memory usage (unit : MB)'; {MIB_EVIDENCE}"),
    Field(ALL, INFO + "controllerNum", becomes="qsan_controllers"),
    Field(ALL, INFO + "backplaneID", becomes="qsan_enclosure_info{backplane_id}"),
    Field(ALL, INFO + "systemUptime", becomes="qsan_uptime_seconds",
          evidence="000:817 'Total time of boot system (unit: sec)'"),
    Field(ALL, INFO + "serialNumber",
          becomes="qsan_enclosure_info{serial}; qsan_array_info{serial} (local enclosure)"),
    Field(ALL, INFO + "modelName",
          becomes="qsan_enclosure_info{model}; qsan_array_info{model,product}"),
    Field(ALL, INFO + "wwn", becomes="qsan_enclosure_info{wwn} (expansion enclosures)"),
    Field(ALL, INFO + "vendor", becomes="qsan_enclosure_info{vendor} (expansion enclosures)"),
    Field(ALL, INFO + "moreInfo", becomes="the sensor, PSU and cache-to-flash series below"),
    *_sensor_rows("voltage", "qsan_voltage_volts", "sensor",
                  "000:847 'Voltage unit: V'; example 3 for +3.3V"),
    *_sensor_rows("temperature", "qsan_temperature_celsius", "sensor",
                  "000:847 'Temperature unit: °C'; example 61 for CPU"),
    *_sensor_rows("fanSpeed", "qsan_fan_speed_rpm", "fan",
                  "000:847 'FanSpeed unit: rpm'; example \"1225\" (a string)"),
    Field(ALL, MORE + "psuStatus", becomes="qsan_psu_health; qsan_component_info"),
    Field(ALL, MORE + "psuStatus[].name", becomes="qsan_psu_health{psu}, stripped"),
    Field(ALL, MORE + "psuStatus[].status",
          becomes="qsan_psu_health (0/1/2); qsan_component_info{status}; absent: info only"),
    Field(ALL, MORE + "cacheToFlash", becomes="qsan_cache_to_flash_health; qsan_component_info"),
    Field(ALL, MORE + "cacheToFlash[].name",
          becomes="qsan_cache_to_flash_health{module}, stripped ('Power Module Status ')"),
    Field(ALL, MORE + "cacheToFlash[].status|value",
          becomes="qsan_cache_to_flash_health (0/1/2); qsan_component_info{status}; absent: "
                  "info only (reading c2f-state-field)"),
)
