"""The one table of performance goals, and each goal judged against a run's results.

Each row shows a value, its goal and MET / NOT MET; rows without a goal are information (the
same figure for other array sizes). Every goal is about the target array (`fleet.TARGET`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

REAL_INTERVAL_SECONDS = 60.0
FLEET_ARRAYS = 1000  # the fleet the goals are about: 1,000 arrays polled every 60 s
FRESH_SLACK = 0.10  # an array is fresh while its newest poll is younger than 1.1 x the interval
CPU_PER_POLL_MAX_MS = 15.0
FLEET_CORES_MAX = 0.25
MEMORY_PER_ARRAY_MAX_KIB = 250.0
MEMORY_PER_ARRAY_OLDER_MAX_KIB = 400.0  # the earlier goal, still shown
SCRAPE_OVER_STATIC_MAX = 1.2
NAIVE_OVER_EXPORTER_MIN = 100.0


@dataclass(frozen=True)
class Target:
    name: str
    value: float
    target: str  # the goal as printed; "" for information
    met: bool | None  # None: information, no goal
    shown: str  # the value as printed


def cores_for_fleet(cpu_seconds_per_poll: float) -> float:
    """Cores FLEET_ARRAYS arrays need, each polled every REAL_INTERVAL_SECONDS."""
    return FLEET_ARRAYS * cpu_seconds_per_poll / REAL_INTERVAL_SECONDS


def _at_most(name: str, value: float, goal: float, shown: str, unit: str = "") -> Target:
    return Target(name, value, f"<= {goal:g}{unit}", value <= goal, shown)


def _info(name: str, value: float, shown: str) -> Target:
    return Target(name, value, "", None, shown)


def _cpu_rows(cost: dict[str, Any], fleet: dict[str, Any]) -> list[Target]:
    ms = {k: v["cpu_seconds_per_poll"] * 1000 for k, v in cost.items()}
    from_poll = cores_for_fleet(cost["target"]["cpu_seconds_per_poll"])
    arrays_note = "" if fleet["arrays"] == FLEET_ARRAYS else f", scaled from {fleet['arrays']}"
    return [
        _at_most("CPU per poll, target array (poll + publish)", ms["target"],
                 CPU_PER_POLL_MAX_MS, f"{ms['target']:.1f} ms", " ms"),
        _info("CPU per poll, 64 volumes", ms["wide"], f"{ms['wide']:.1f} ms"),
        _info("CPU per poll, san/fas/nas mix, 64 volumes", ms["mix"], f"{ms['mix']:.1f} ms"),
        _at_most("cores for 1,000 arrays at 60 s, from CPU per poll", from_poll,
                 FLEET_CORES_MAX, f"{from_poll:.3f}"),
        _at_most(f"cores for 1,000 arrays at 60 s, fleet run{arrays_note}",
                 fleet["cores_for_1000_at_60s"], FLEET_CORES_MAX,
                 f"{fleet['cores_for_1000_at_60s']:.3f}"),
    ]


def _fleet_row(fleet: dict[str, Any]) -> Target:
    limit = fleet["fresh_limit_seconds"]
    return Target(
        f"fleet of {fleet['arrays']:,} at {fleet['interval_seconds']:g} s: max age, failed",
        fleet["max_age_seconds"], f"< {limit:g} s, 0", bool(fleet["fresh"]),
        f"{fleet['max_age_seconds']:.1f} s, {fleet['failed_polls']}")


def _memory_rows(memory: dict[str, Any]) -> list[Target]:
    kib = {k: v["growth_per_array_bytes"] / 1024 for k, v in memory.items()}
    return [
        _at_most("memory per array, target array", kib["target"], MEMORY_PER_ARRAY_MAX_KIB,
                 f"{kib['target']:.0f} KiB", " KiB"),
        _at_most("memory per array, target array (older goal)", kib["target"],
                 MEMORY_PER_ARRAY_OLDER_MAX_KIB, f"{kib['target']:.0f} KiB", " KiB"),
        _info("memory per array, 64 volumes", kib["wide"], f"{kib['wide']:.0f} KiB"),
    ]


def _scrape_rows(latency: dict[str, Any]) -> list[Target]:
    static = latency["static"]["p50_seconds"]
    naive = latency["baseline"]["p50_seconds"]
    rows = []
    for key, label in (("exporter_after_publish", "after a publish"),
                       ("exporter_cached", "cached")):
        exporter = latency[key]["p50_seconds"]
        rows.append(_at_most(f"scrape p50, exporter {label} / static file", exporter / static,
                             SCRAPE_OVER_STATIC_MAX, f"{exporter / static:.2f}x", "x"))
        ratio = naive / exporter
        rows.append(Target(f"scrape p50, naive render-at-scrape / exporter {label}", ratio,
                           f">= {NAIVE_OVER_EXPORTER_MIN:g}x", ratio >= NAIVE_OVER_EXPORTER_MIN,
                           f"{ratio:.0f}x"))
    return rows


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of the table, as dicts for the JSON."""
    rows = [*_cpu_rows(results["poll_cost"], results["fleet"]), _fleet_row(results["fleet"]),
            *_memory_rows(results["memory"]), *_scrape_rows(results["latency"])]
    return [dataclasses.asdict(row) for row in rows]
