"""The array's own health in one line: which parts are failed or degraded (poll and status page).

The collectors translate the device's status strings into the `*_health` families once per poll
(0 ok, 1 warning, 2 critical; SPEC §4); `part_health` reads those families' samples when the poll
builds them (rather than translating the strings a second time, so the page and the alerts can never
disagree) into a typed `PartHealth` the snapshot keeps; `array_health` merges those.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from qsan_exporter.collectors.base import Family
from qsan_exporter.snapshot import PartHealth, Snapshot

# health family -> (what the part is called, the labels that name it)
_PARTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "qsan_enclosure_health": ("enclosure", ("enclosure",)),
    "qsan_psu_health": ("PSU", ("psu",)),
    "qsan_sensor_health": ("", ("sensor_type", "sensor")),  # the type says: fan, voltage, ...
    "qsan_cache_to_flash_health": ("cache-to-flash module", ("module",)),
    "qsan_disk_health": ("disk", ("disk",)),
    "qsan_pool_health": ("pool", ("pool",)),
    "qsan_raidset_health": ("RAID set", ("pool", "raidset")),
    "qsan_volume_health": ("volume", ("volume",)),
    "qsan_task_health": ("task", ("task_type", "task")),
}
_KIND_PER_SAMPLE = frozenset({"qsan_sensor_health", "qsan_task_health"})  # named by a label
_PLURAL = {"PSU": "PSUs", "RAID set": "RAID sets", "cache-to-flash module": "modules"}


@dataclass(frozen=True)
class Problem:
    part: str  # "disk 1", "PSU PSU2", "RAID set Pool-1/0"
    critical: bool  # failed (2) rather than degraded (1)

    def __str__(self) -> str:
        return f"{self.part} {'failed' if self.critical else 'degraded'}"


@dataclass(frozen=True)
class Health:
    problems: tuple[Problem, ...]
    checked: Counter[str]  # parts seen, by kind
    known: bool  # any health data at all

    def summary(self) -> str:
        if not self.known:
            return "no health data yet"
        if self.problems:
            return "; ".join(f"{word}: {', '.join(parts)}" for word, parts in self.groups())
        counts = ", ".join(f"{n} {plural(kind, n)}" for kind, n in self.checked.items())
        return f"all healthy ({counts})"


    def groups(self) -> list[tuple[str, list[str]]]:
        """('failed', [parts]) then ('degraded', [parts]), each only when not empty."""
        out = []
        for word, critical in (("failed", True), ("degraded", False)):
            parts = [p.part for p in self.problems if p.critical == critical]
            if parts:
                out.append((word, parts))
        return out


def plural(kind: str, count: int) -> str:
    if count == 1:
        return kind
    return _PLURAL.get(kind, kind + "s")


def _part_name(family: str, labels: dict[str, str]) -> tuple[str, str]:
    kind, keys = _PARTS[family]
    if family == "qsan_sensor_health":
        return labels.get("sensor_type", "sensor"), labels.get("sensor", "?")
    if family == "qsan_raidset_health":
        return kind, f"{labels.get('pool', '?')}/{labels.get('raidset', '?')}"
    if family == "qsan_task_health":
        return f"{labels.get('task_type', '')} task".strip(), labels.get("task", "?")
    return kind, " ".join(labels.get(k, "?") for k in keys)


def part_health(families: Iterable[Family]) -> PartHealth | None:
    """The parts one collector run checked, and the failed or degraded ones among them."""
    checked: Counter[str] = Counter()
    problems: list[tuple[str, bool]] = []
    for family in families:
        if family.name not in _PARTS:
            continue
        if family.name not in _KIND_PER_SAMPLE and family.samples:
            # One kind for every sample: counted at once; only the problems are named.
            checked[_PARTS[family.name][0]] += len(family.samples)
            for labels, value in family.labelled(lambda value: value >= 1):
                problems.append((" ".join(_part_name(family.name, labels)), value >= 2))
            continue
        for labels, value in family.labelled():
            kind, name = _part_name(family.name, labels)
            checked[kind] += 1
            if value >= 1:
                problems.append((f"{kind} {name}", value >= 2))
    return PartHealth(dict(checked), tuple(problems)) if checked else None


def array_health(snapshot: Snapshot, now: float) -> Health:
    """Failed parts first, then degraded ones, each in the collectors' order."""
    failed: list[Problem] = []
    degraded: list[Problem] = []
    checked: Counter[str] = Counter()
    known = False
    for state in snapshot.live_collectors(now):
        if state.health is None:
            continue
        known = True
        checked.update(state.health.checked)
        for part, critical in state.health.problems:
            (failed if critical else degraded).append(Problem(part, critical))
    return Health(tuple(failed + degraded), checked, known)
