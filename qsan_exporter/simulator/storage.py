"""`/rest/v1/storage/{pool,disk,volume}/list` bodies for one profile.

Pools and volumes never change, so they are serialised once. The disk list carries the only
moving storage numbers (performance, SSD bytes written): each disk's static part is serialised
once up to its closing brace and the moving fields are appended per request, which keeps a
48-disk answer to string formatting instead of a full `json.dumps`.
"""

from __future__ import annotations

import json
import math
from typing import Any

from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.profiles import Profile
from qsan_exporter.simulator.scenario import DiskPlan, Layout, rng_for

QOS_MAX_IOPS = 5000
QOS_MAX_THROUGHPUT_KBPS = 102400
NAS_VOLUME_TYPES = ("Generic", "Media streaming", "Database")
PERFORMANCE_PERIOD = 300.0  # seconds of one throughput/latency wave


def pool_name(pool: int) -> str:
    return f"Pool-{pool + 1}"


def volume_name(volume: int) -> str:
    return f"Vol-{volume + 1}"


class Storage:
    """Ids, names and serialised storage documents of one simulated array."""

    def __init__(self, config: SimulatorConfig, profile: Profile, layout: Layout) -> None:
        rng = rng_for(config, "storage")
        self.profile = profile
        self.layout = layout
        # The manual's other reading (qsan_exporter/readings.py); legacy renders from defaults.
        self.literal = config.literal and config.profile != "legacy"
        pool_base = rng.randrange(2_000_000_000, 3_000_000_000)
        volume_base = rng.randrange(3_000_000_000, 4_000_000_000)
        self.pool_ids = [pool_base + 7919 * i for i in range(layout.pools)]
        self.volume_ids = [volume_base + 104729 * i for i in range(len(layout.volumes))]
        self.disk_ids = [profile.disk_id(d.index, d.enclosure, d.slot) for d in layout.disks]
        pools = [self._pool(p, rng.uniform(0.25, 0.7)) for p in range(layout.pools)]
        self.pools_body = _dumps({"pools": self._as_object(pools, self.pool_ids)
                                  if self.literal else pools})
        volumes = [self._volume(v.index) for v in layout.volumes]
        # Reading `volumes-iscsi-object` (qsan_exporter/readings.py): "volumes object" (manual 002
        # l.434) literally, a map keyed by volume id.
        self.volumes_body = _dumps({"volumes": {str(v["id"]): v for v in volumes}
                                    if self.literal else volumes})
        self._disk_prefixes = [_dumps(self._disk(d, rng.randrange(10**8)))[:-1]
                               for d in layout.disks]
        self._disk_motion = [(rng.uniform(0, 2 * math.pi), rng.uniform(0.6, 1.4))
                             for _ in layout.disks]

    # -- pools -------------------------------------------------------------------------------
    def _pool(self, pool: int, used_ratio: float) -> dict[str, Any]:
        p, lay = self.profile, self.layout
        raidsets = [self._raidset(r.number, used_ratio) for r in lay.raidsets if r.pool == pool]
        total = sum(r.data_disks() * p.disk_size_mb for r in lay.raidsets if r.pool == pool)
        body: dict[str, Any] = {
            "name": pool_name(pool), "id": str(self.pool_ids[pool]) if p.nas
            else p.ident(self.pool_ids[pool]),
            "totalSize": total, "usedSize": int(total * used_ratio),
            "isThin": pool % 2 == 1, "isSED": False,
            "health": "Degraded" if pool == lay.raidsets[lay.degraded_raidset].pool else "Good",
            "status": "Online", "autoTier": "" if self.literal else False,  # `auto-tier-type`
            "isCacheEnable": pool == lay.cache_pool,
        }
        if pool == lay.cache_pool:
            body["cacheInfo"] = {"readCache": True, "readCapacity": p.ssd_size_mb,
                                 "writeCache": False, "writeCapacity": 0,
                                 "readWriteCache": False, "readWriteCapacity": 0}
        body[p.raidsets_key] = raidsets
        return body

    def _raidset(self, number: int, used_ratio: float) -> dict[str, Any]:
        p, plan = self.profile, self.layout.raidsets[number]
        total = 0 if p.nas else plan.data_disks() * p.disk_size_mb
        if not plan.degraded:
            status, health = "Online", "Good"
        else:
            status, health = ("Rebuilding" if p.nas else "Degraded"), "Degraded"
        ident = p.ident(number)
        if self.literal:  # reading `raidset-id-type`: the other JSON type
            ident = number if isinstance(ident, str) else str(number)
        body: dict[str, Any] = {
            "id": ident, "totalSize": total, "usedSize": int(total * used_ratio),
            "raidLevel": plan.level, "eeSpareNum": 0, "status": status, "health": health,
            "disks": [str(self.disk_ids[d]) for d in plan.disks],
        }
        if p.nas:
            spare = self.layout.spare_disk
            body["spare"] = ([str(self.disk_ids[spare])] if plan.pool == 0 and number == 0
                             else None if self.literal else [])  # reading `null-lists`
        return body

    # -- disks -------------------------------------------------------------------------------
    def _disk(self, d: DiskPlan, serial: int) -> dict[str, Any]:
        p = self.profile
        ssd = d.ssd
        usage = d.usage
        if usage == "SPARE":
            usage = "Dedicated SPARE" if p.nas else "Global SPARE"
        cache = d.usage == "SSD Cache"
        size = p.ssd_size_mb if cache else p.disk_size_mb
        model = "SAMSUNG MZILT960HBHQ" if cache else p.disk_model
        pool = None if d.usage == "SPARE" and not p.nas else d.pool  # a global spare has no pool
        pool_id: int | str = "" if pool is None else p.ident(self.pool_ids[pool])
        if self.literal and pool is not None:  # reading `disk-pool-id-type`: the other type
            pool_id = self.pool_ids[pool] if isinstance(pool_id, str) else str(pool_id)
        rate = 6.0 if p.disk_bus == "SATA" else 12.0
        body: dict[str, Any] = {
            "id": self.disk_ids[d.index], p.disk_enc_key: str(d.enclosure) if p.nas
            else p.ident(d.enclosure),
            "slot": d.slot, "size": size, "poolID": pool_id,
            "poolName": "" if pool is None else pool_name(pool),
            "health": "Failed" if d.failed else "Good",
            "status": "Failed" if d.failed else "Online", "usage": usage,
            # reading `disk-media`: like the manual's example, isSSD says true on every disk
            "isSSD": True if self.literal else ssd, "isISE": False, "isSED": False,
            "spinRate": 0 if ssd else 7200,
            "vendor": p.disk_vendor, "serial": f"{p.disk_vendor[:2]}{serial:08d}",
            "model": model, "firmware": "E004" if ssd else "TN05", "busType": p.disk_bus,
            "type": "SSD" if ssd else "HDD",
            "rate": int(rate) if self.literal else rate,  # reading `disk-rate-type`
            "writeCache": True, "standby": False, "readahead": True, "cmdQueue": True,
            "ssdLifeRemain": 0 if p.nas or not ssd or d.failed
            else (88 if d.usage == "SSD Cache" else 97 - d.index % 5),
            "temperature": 0 if d.failed else 30 + (d.index * 7) % 12,
        }
        if p.nas or not ssd or d.failed:
            body["totalWrittenByte"] = 0  # "0 (no data)"
        return body

    def disks_body(self, elapsed: float) -> bytes:
        """The disk list at `elapsed` seconds after start: performance varies, SSD writes grow."""
        p = self.profile
        parts = []
        for d, prefix, (phase, scale) in zip(self.layout.disks, self._disk_prefixes,
                                             self._disk_motion, strict=True):
            extra = []
            if not p.nas and d.ssd and not d.failed:
                written = int((40 + d.index) * 2**40 + scale * 52_428_800 * elapsed)
                extra.append(f'"totalWrittenByte": {written}')
            if not p.nas:
                extra.append(_performance(d, phase, scale, elapsed))
            parts.append(prefix + (", " + ", ".join(extra) if extra else "") + "}")
        if self.literal:  # reading `top-level-object`: an object of disks keyed by id
            keyed = (f"{json.dumps(str(i))}: {part}"
                     for i, part in zip(self.disk_ids, parts, strict=True))
            return ('{"disks": {' + ", ".join(keyed) + "}}").encode()
        return ('{"disks": [' + ", ".join(parts) + "]}").encode()

    @staticmethod
    def _as_object(found: list[dict[str, Any]], ids: list[int]) -> dict[str, Any]:
        """Reading `top-level-object`: one item as itself, several keyed by id."""
        if len(found) == 1:
            return found[0]
        return {str(i): item for i, item in zip(ids, found, strict=True)}

    # -- volumes -----------------------------------------------------------------------------
    def _volume(self, index: int) -> dict[str, Any]:
        p, plan = self.profile, self.layout.volumes[index]
        body: dict[str, Any] = {
            "id": p.ident(self.volume_ids[index]), "name": volume_name(index),
            "status": "Online", "health": "Optimal",
            "type": NAS_VOLUME_TYPES[index % 3] if p.nas
            else ("BACKUP" if index == 2 else "RAID"),
            "poolID": p.ident(self.pool_ids[plan.pool]),
            "cacheMode": "none" if p.nas else ("Write-through" if index % 3 == 2
                                               else "Write-back"),
            "priority": "none" if p.nas else ("High" if index == 0 else "Medium"),
            "bgPriority": "none" if p.nas else "Medium", "videoEditingMode": False,
            "tierPolicy": "none" if p.nas else "No Data Movement",
            "stripeSize": 0 if p.nas else 64,
            "isQosEnable": plan.qos is not None and not p.nas,
        }
        if p.name == "fas":
            del body["tierPolicy"]  # "FAS: (hidden)"
        if body["isQosEnable"]:
            body["qosInfo"] = (
                {"method": "maximum", "setting": {"maxIOPS": QOS_MAX_IOPS,
                                                  "maxThroughput": QOS_MAX_THROUGHPUT_KBPS}}
                if plan.qos == "maximum"
                else {"method": "priority", "setting": {"priority": "High",
                                                        "targetResponseTime": 0}})
        body["isLunMap"] = plan.target is not None
        if plan.target is not None:
            lun_info: dict[str, Any] = {
                "iscsi": [{"host": "*", "targetID": str(plan.target), "lun": str(plan.lun),
                           "permission": "Read-write"}],
                "fc": [{"host": "21:00:00:24:ff:4c:aa:01", "targetID": "0",
                        "lun": str(plan.lun), "permission": "Read-write"}]
                if plan.fc and not p.nas else [],
            }
            # Readings `lun-info-object-array` ("lunInfo Object array", 002 l.482) and
            # `null-lists-services` when literal.
            body["lunInfo"] = ([{k: v or None for k, v in lun_info.items()}] if self.literal
                               else lun_info)
        return body


def _performance(d: DiskPlan, phase: float, scale: float, elapsed: float) -> str:
    if d.failed or d.usage in ("Free", "SPARE"):
        return '"performance": {"throughput": 0, "latency": 0}'
    wave = 1.0 + 0.35 * math.sin(2 * math.pi * elapsed / PERFORMANCE_PERIOD + phase)
    if d.ssd:
        throughput, latency = int(260 * scale * wave), 1
    else:
        throughput, latency = int(95 * scale * wave), max(2, int(7 * wave * scale))
    return f'"performance": {{"throughput": {throughput}, "latency": {latency}}}'


def _dumps(document: object) -> str:
    return json.dumps(document, ensure_ascii=False)
