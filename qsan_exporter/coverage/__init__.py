"""Every field of every documented API answer, and what the exporter makes of it.

One row per field: the metric or label it becomes, or why it is dropped (inventory only, a
setting the exporter cannot act on, duplicate of another field, always 0 on a product...), and,
for every unit conversion, the manual's evidence. `docs/api-coverage.md` is generated from these
rows and a test fails when a field seen in the fixtures or the simulator has no row.

Rows are split by area, one module each (`system`, `pools`, `disks`, `volumes`, `iscsi`,
`tasks`, `logs`, `legacy`); `ROWS` below is their concatenation.

Path syntax, relative to the endpoint's answer: `name` for a key of the answer object, `[]` for
"each element of a list" (so `[].raidsets[].status` is the status of every RAID set of every pool
of a list answer), spelling variants the manual shows as `a|b` (`raidsets|raidSets`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    endpoint: str  # API path as documented, e.g. "/rest/v1/storage/pool/list"
    path: str  # see the module docstring
    becomes: str = ""  # e.g. "qsan_pool_size_bytes" or "qsan_disk_info{vendor}"; "" = dropped
    dropped: str = ""  # why it is not exported; required when `becomes` is ""
    evidence: str = ""  # for a unit conversion: the manual's line or example it rests on

    def __post_init__(self) -> None:
        if bool(self.becomes) == bool(self.dropped):
            raise ValueError(f"{self.endpoint} {self.path}: exactly one of becomes/dropped")


# The area modules import `Field` from here, so they are imported after it is defined.
from qsan_exporter.coverage import (  # noqa: E402
    disks,
    iscsi,
    legacy,
    logs,
    pools,
    system,
    tasks,
    volumes,
)

AREAS = {"system": system, "pools": pools, "disks": disks, "volumes": volumes,
         "iscsi": iscsi, "tasks": tasks, "logs": logs, "legacy": legacy}
ROWS: tuple[Field, ...] = tuple(row for module in AREAS.values() for row in module.ROWS)
# The areas whose rows are complete: the coverage test fails for a field of these areas, seen
# in the fixtures or the simulator, that has no row.
COVERED_AREAS: tuple[str, ...] = ("system", "pools", "disks", "volumes", "iscsi", "tasks", "logs")
