"""Coverage rows: `/rest/v1/storage/disk/list` (collector `disks`).

`disks` is a list, or an object (reading `top-level-object`), so its items are written `disks[]`.
Line numbers `000:N` are those of the Unified manual's first text extraction.
"""

from __future__ import annotations

from qsan_exporter.coverage import Field
from qsan_exporter.coverage.pools import MIB_EVIDENCE

DISKS = "/rest/v1/storage/disk/list"
D = "disks[]."
INFO = "qsan_disk_info"

ROWS: tuple[Field, ...] = (
    Field(DISKS, "disks", becomes="the disk series below (a list, or an object of disks)"),
    Field(DISKS, D + "id", becomes="label disk (every disk series); a disk without one is skipped"),
    Field(DISKS, D + "slot", becomes="label slot"),
    Field(DISKS, D + "encID|encId", becomes="label enclosure (reading enc-id-spelling)"),
    Field(DISKS, D + "size", becomes="qsan_disk_size_bytes",
          evidence=f"000:383 'unit :MB'; {MIB_EVIDENCE}"),
    Field(DISKS, D + "health", becomes=f"qsan_disk_health (0/1/2); {INFO}{{health}}"),
    Field(DISKS, D + "status", becomes=f"{INFO}{{status}}"),
    Field(DISKS, D + "usage", becomes=f"{INFO}{{usage}}"),
    Field(DISKS, D + "isSSD",
          becomes=f"{INFO}{{media}} when `type` is missing or unknown (reading disk-media)"),
    Field(DISKS, D + "isISE", becomes=f"{INFO}{{ise}}"),
    Field(DISKS, D + "isSED", becomes=f"{INFO}{{sed}}"),
    Field(DISKS, D + "poolName", becomes=f"{INFO}{{pool}}"),
    Field(DISKS, D + "poolID",
          dropped="duplicate of poolName, which the pool series use as their label"),
    Field(DISKS, D + "vendor", becomes=f"{INFO}{{vendor}}"),
    Field(DISKS, D + "serial", becomes=f"{INFO}{{serial}}"),
    Field(DISKS, D + "model", becomes=f"{INFO}{{model}}"),
    Field(DISKS, D + "firmware", becomes=f"{INFO}{{firmware}}"),
    Field(DISKS, D + "busType", becomes=f"{INFO}{{bus}}"),
    Field(DISKS, D + "type", becomes=f"{INFO}{{media}}; SSD/NVMe gate the SSD life series"),
    Field(DISKS, D + "rate", becomes="qsan_disk_link_rate_bytes_per_second (Gbps * 1e9 / 8; "
                                     "0 is no series)",
          evidence="000:398 'Hard disk transfer rate (unit : Gbps)'; example 6.0 (SATA 6 Gb/s)"),
    Field(DISKS, D + "writeCache", becomes=f"{INFO}{{write_cache}}"),
    Field(DISKS, D + "spinRate",
          dropped="no unit stated and the example's 32 is no disk speed (000:357, 000:400); "
                  "the media label already tells SSDs ('SSD always 0') apart"),
    Field(DISKS, D + "standby", becomes=f"{INFO}{{standby}}"),
    Field(DISKS, D + "readahead", becomes=f"{INFO}{{readahead}}"),
    Field(DISKS, D + "cmdQueue", becomes=f"{INFO}{{cmd_queue}}"),
    Field(DISKS, D + "ssdLifeRemain",
          becomes="qsan_disk_ssd_life_remaining_ratio (value / 100; flash media, SAN/FAS, "
                  "0 is no data)",
          evidence="000:404 'Percentage Used Endurance Indicator or 0(no data)' under a name "
                   "that says remaining: read as remaining (a new SSD reports about 100); "
                   "the metric's help says so"),
    Field(DISKS, D + "totalWrittenByte",
          becomes="qsan_disk_written_bytes_total (SAN/FAS; 0 is no data)",
          evidence="000:405 'Total bytes written': bytes, no conversion"),
    Field(DISKS, D + "temperature", becomes="qsan_disk_temperature_celsius (0 is no data)",
          evidence="000:406 'Temperature or 0(no data)': °C like the enclosure sensors "
                   "(000:847)"),
    Field(DISKS, D + "performance", becomes="the two performance series below (SAN, FAS)"),
    Field(DISKS, D + "performance.throughput",
          becomes="qsan_disk_throughput_bytes_per_second (MB * 1048576)",
          evidence="000:412 'Current disk throughput (unit: MB)': MB/s, "
                   f"MB read as MiB; {MIB_EVIDENCE}"),
    Field(DISKS, D + "performance.latency", becomes="qsan_disk_latency_seconds (ms / 1000)",
          evidence="000:413 'Current disk response time (unit: msec)'"),
)
