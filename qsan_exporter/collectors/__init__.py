"""Pure translation of one poll's raw API answers into metric families, one module per area.

The tuple below is the whole registry: explicit, in the order of the areas table
(qsan_exporter/areas.py), no import-time magic. Each entry is (area name, collect function); the
poller runs them independently so one failing area never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable

from qsan_exporter.areas import NAMES
from qsan_exporter.collectors import disks, iscsi, logs, pools, system, tasks, volumes
from qsan_exporter.collectors.base import FamilyBuilder, PollData

Collector = Callable[[PollData, FamilyBuilder], None]

_BY_NAME: dict[str, Collector] = {
    module.NAME: module.collect for module in (system, pools, disks, volumes, iscsi, tasks, logs)
}
COLLECTORS: tuple[tuple[str, Collector], ...] = tuple((name, _BY_NAME[name]) for name in NAMES)

__all__ = ["COLLECTORS", "Collector"]
