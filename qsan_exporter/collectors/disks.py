"""Physical disks from `/rest/v1/storage/disk/list`.

Input (`data.raw["disks"]`), abridged from the manual (SAN/FAS add `performance`)::

    {"disks": [{"id": "e0d0", "encID": "0", "slot": 0, "size": 1024000,
                "poolID": 2976963663, "poolName": "aaa", "health": "Good", "status": "",
                "usage": "RAID", "isSSD": true, "vendor": "WDC", "serial": "", "model": "",
                "firmware": "", "busType": "SATA", "type": "SSD", "ssdLifeRemain": 97,
                "totalWrittenByte": 1099511627776, "temperature": 31,
                "performance": {"throughput": 120, "latency": 3}}]}

Why it looks the way it does:
- `ssdLifeRemain`, `totalWrittenByte` and `temperature` are "value or 0 (no data)": 0 is no
  series. NAS reports the first two as "always 0", so they are never read there.
- `ssdLifeRemain` is read as the REMAINING endurance, as its name says, although the manual's
  description reads "Percentage Used Endurance Indicator". The name is the more specific of the
  two and a fresh SSD reporting ~100 under "used" would be absurd; if real firmware proves the
  opposite, this one line flips. The metric's help says so.
- `performance` (SAN/FAS only) is current throughput in MB/s (MiB) and latency in ms; there a
  0 is an idle disk, i.e. data.
- The media (reading `disk-media`): `type` decides when it names a known medium (HDD, SSD,
  NVMe); `isSSD` only when `type` is missing or unknown. The manual's own example has
  `"isSSD": true` beside `"type": "HDD"` (and a spin rate), so the two do disagree; `type` is
  the more specific. SSD life is read for flash media only.
- `rate` is the link rate in Gbps (table: int, example: 6.0); 0 or missing is no series.
- `disks` is typed "object" but shown as a list: both read (reading `top-level-object`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.readers import (
    MIB,
    enabled,
    field,
    flag,
    listing,
    mib,
    number,
    percent,
    reported,
    scaled,
    text,
)
from qsan_exporter.collectors.base import FamilyBuilder, PollData, health

NAME = "disks"
_FLASH_MEDIA = frozenset({"ssd", "nvme"})
_KNOWN_MEDIA = frozenset({"hdd", *_FLASH_MEDIA})
GBPS = 1e9 / 8  # bytes/s per Gbps; `rate`: "Hard disk transfer rate (unit : Gbps)"


def _media(disk: Mapping[str, Any]) -> str:
    """The one media rule (reading `disk-media`): a known `type` wins over `isSSD`."""
    media = text(field(disk, "type"))
    if media.lower() in _KNOWN_MEDIA:
        return media
    is_ssd = field(disk, "isSSD")
    if is_ssd is None:
        return media
    return "SSD" if enabled(is_ssd) else "HDD"


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Disk identity, capacity, health and wear; a disk without an id is skipped."""
    nas = data.product == "nas"
    for disk in listing(data.raw[NAME], NAME, "disks", "id", "slot"):
        # type() first: a parsed answer's objects are dicts, and an ABC check costs more.
        if type(disk) is not dict and not isinstance(disk, Mapping):
            continue
        disk_id = text(field(disk, "id"))
        if not disk_id:
            continue
        labels = {
            "disk": disk_id,
            "enclosure": text(field(disk, "encID", "encId")),  # reading `enc-id-spelling`
            "slot": text(field(disk, "slot")),
        }
        disk_health, media = field(disk, "health"), _media(disk)
        _info(disk, labels, media, out)
        out.add("qsan_disk_size_bytes", labels, mib(field(disk, "size")))
        rate = reported(field(disk, "rate"))  # reading `disk-rate-type`
        out.add("qsan_disk_link_rate_bytes_per_second", labels,
                None if rate is None else rate * GBPS)
        out.add("qsan_disk_health", labels, health(disk_health))
        out.add("qsan_disk_temperature_celsius", labels, reported(field(disk, "temperature")))
        if nas:
            continue  # NAS: ssdLifeRemain/totalWrittenByte "always 0", no performance
        if media.lower() in _FLASH_MEDIA:
            life = reported(field(disk, "ssdLifeRemain"))
            out.add("qsan_disk_ssd_life_remaining_ratio", labels,
                    None if life is None else percent(life))
        out.add("qsan_disk_written_bytes_total", labels, reported(field(disk, "totalWrittenByte")))
        performance = field(disk, "performance")
        if type(performance) is dict or isinstance(performance, Mapping):
            throughput = number(field(performance, "throughput"))
            latency = number(field(performance, "latency"))
            out.add("qsan_disk_throughput_bytes_per_second", labels,
                    None if throughput is None else throughput * MIB)
            out.add("qsan_disk_latency_seconds", labels,
                    None if latency is None else scaled(latency, 1000))


def _info(disk: Mapping[str, Any], labels: Mapping[str, str], media: str,
          out: FamilyBuilder) -> None:
    info = {**labels, "media": media}
    # `field` inlined for the keys spelt as asked (every disk, every poll): same reading.
    for label, key in _TEXTS:
        info[label] = text(disk[key] if key in disk else field(disk, key))
    for label, key in _SETTINGS:
        raw = disk[key] if key in disk else field(disk, key)
        info[label] = "" if raw is None else flag(raw)
    out.info("qsan_disk_info", info)


# Label values of qsan_disk_info read as they come.
_TEXTS = (("pool", "poolName"), ("vendor", "vendor"), ("model", "model"), ("serial", "serial"),
          ("firmware", "firmware"), ("bus", "busType"), ("usage", "usage"),
          ("status", "status"), ("health", "health"))
# Inventory and settings flags on qsan_disk_info: "" when the device does not say.
_SETTINGS = (("sed", "isSED"), ("ise", "isISE"), ("write_cache", "writeCache"),
             ("standby", "standby"), ("readahead", "readahead"), ("cmd_queue", "cmdQueue"))
