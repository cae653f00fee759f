"""The fixed scenario's layout: which disk sits where, belongs to what, and what is broken.

Profile-neutral and pure arithmetic on the config, so the same config always gives the same
array, and tests, golden files and alert-rule checks can name the broken parts in advance.
Renderers (`storage`, `hardware`, `services`) turn this layout into each profile's JSON.

What is wrong, at every size (see `Facts`): the second disk of pool 1's first RAID set has
failed, so that RAID set (and its pool) is degraded; PSU 2 and fan 2 of the local enclosure have
failed; the second replication task is in error; the first target of every controller has iSCSI
sessions, the others none.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass

from qsan_exporter.simulator.config import RESERVED_DISKS, SimulatorConfig

TARGETS_PER_CONTROLLER = 2
MAX_RAIDSET_DISKS = 8
FAILED_MEMBER = 1  # position of the failed disk inside the degraded RAID set


@dataclass(frozen=True)
class DiskPlan:
    index: int
    enclosure: int
    slot: int
    usage: str  # RAID, SSD Cache, SPARE, Free (the profile words the spare)
    pool: int | None
    ssd: bool
    failed: bool


@dataclass(frozen=True)
class RaidSetPlan:
    number: int  # raidset id, unique in the array
    pool: int
    disks: tuple[int, ...]  # disk indexes
    level: str
    degraded: bool

    def data_disks(self) -> int:
        return len(self.disks) - (2 if self.level == "RAID 6" else 1)


@dataclass(frozen=True)
class VolumePlan:
    index: int
    pool: int
    qos: str | None  # "maximum", "priority" or None
    target: int | None  # global target number the volume is mapped to; None = unmapped
    lun: int
    fc: bool


@dataclass(frozen=True)
class Layout:
    disks: tuple[DiskPlan, ...]
    raidsets: tuple[RaidSetPlan, ...]
    volumes: tuple[VolumePlan, ...]
    pools: int
    cache_pool: int  # the pool with SSD read cache
    cache_disk: int
    spare_disk: int
    failed_disk: int
    degraded_raidset: int
    controllers: int
    slots_per_enclosure: int

    def targets(self) -> range:
        return range(self.controllers * TARGETS_PER_CONTROLLER)

    def controller_of(self, target: int) -> int:
        return target // TARGETS_PER_CONTROLLER

    def has_sessions(self, target: int) -> bool:
        return target % TARGETS_PER_CONTROLLER == 0


def rng_for(config: SimulatorConfig, salt: str) -> random.Random:
    """A generator private to one aspect, so adding a field elsewhere never reshuffles it."""
    return random.Random(zlib.crc32(f"{config.seed}:{config.profile}:{salt}".encode()))


def _split(count: int) -> list[int]:
    """Split a pool's disks into RAID sets of at most MAX_RAIDSET_DISKS, sizes as even as can be."""
    sets = -(-count // MAX_RAIDSET_DISKS)
    return [count // sets + (1 if i < count % sets else 0) for i in range(sets)]


def build_layout(config: SimulatorConfig, controllers: int, all_ssd: bool) -> Layout:
    per_pool = (config.disks - RESERVED_DISKS) // config.pools
    slots = -(-config.disks // config.enclosures)
    cache_pool = 1 if config.pools > 1 else 0
    raidsets: list[RaidSetPlan] = []
    owners: list[tuple[str, int | None]] = []  # (usage, pool) by disk index
    for pool in range(config.pools):
        for size in _split(per_pool):
            members = tuple(range(len(owners), len(owners) + size))
            level = "RAID 5" if not raidsets or size < 5 else "RAID 6"
            raidsets.append(RaidSetPlan(len(raidsets), pool, members, level, not raidsets))
            owners.extend(("RAID", pool) for _ in members)
    cache_disk = len(owners)
    owners.append(("SSD Cache", cache_pool))
    spare_disk = len(owners)
    owners.append(("SPARE", 0))
    owners.extend(("Free", None) for _ in range(config.disks - len(owners)))
    failed = raidsets[0].disks[FAILED_MEMBER]
    disks = tuple(
        DiskPlan(index=i, enclosure=i // slots, slot=i % slots, usage=usage, pool=pool,
                 ssd=all_ssd or usage == "SSD Cache", failed=i == failed)
        for i, (usage, pool) in enumerate(owners)
    )
    targets = controllers * TARGETS_PER_CONTROLLER
    volumes: list[VolumePlan] = []
    luns = [0] * targets
    for index in range(config.volumes):
        unmapped = index == config.volumes - 1
        qos = "maximum" if index == 0 else "priority" if index == 1 and not unmapped else None
        target = None if unmapped else index % targets
        lun = 0
        if target is not None:
            lun, luns[target] = luns[target], luns[target] + 1
        volumes.append(VolumePlan(index, index % config.pools, qos, target, lun,
                                  fc=index == 1 and not unmapped))
    return Layout(disks=disks, raidsets=tuple(raidsets), volumes=tuple(volumes),
                  pools=config.pools, cache_pool=cache_pool, cache_disk=cache_disk,
                  spare_disk=spare_disk, failed_disk=failed, degraded_raidset=0,
                  controllers=controllers, slots_per_enclosure=slots)


@dataclass(frozen=True)
class Facts:
    """The scenario's named facts, in the profile's own spelling, for tests and docs."""

    failed_disk: int | str
    degraded_raidset: int | str
    degraded_pool: str
    failed_psu: str
    stopped_fan: str
    error_replication_task: str
    targets_with_sessions: tuple[int | str, ...]
    targets_without_sessions: tuple[int | str, ...]
    qos_volume: str | None  # None on NAS (isQosEnable is always false there)
    unmapped_volume: str
    read_cache_pool: str
