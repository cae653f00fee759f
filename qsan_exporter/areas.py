"""The areas of an array the exporter reads: the one table of what is fetched, in what order.

Each area is polled as a unit: its endpoints are fetched, then its collector translates the
answers (collectors/<name>.py). `needs` names the areas whose answers the collector also reads
(volumes name their pool; tasks name their volume), so those are fetched first and handed over.
The table order is the fetch order: the Unified source learns the product, which decides the
task lists an array must have, from the system answer fetched before the tasks.

Fetching, `dump`, config validation (`collectors:` and `collector_intervals:`), the collector
registry and the docs all read this table; none keeps its own list.

Paths are the Unified REST API's (`/rest/v1/...`) and, for SANOS 4.0 arrays, the legacy API's;
`{...}` marks a path parameter.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Area:
    name: str
    unified: tuple[str, ...]  # GET endpoints of the Unified API
    legacy: tuple[str, ...]  # GET endpoints of the SANOS 4.0 API
    needs: tuple[str, ...] = ()  # areas whose answers this area's collector also reads


TASK_TYPES = ("snapshot", "clone", "replication", "cloud")  # the backup task lists


def task_list_path(kind: str) -> str:
    return f"/rest/v1/backup/{kind}/list"


AREAS: tuple[Area, ...] = (
    Area("system", ("/rest/v1/hardware/info", "/rest/v1/hardware/all/info"),
         ("/rest/dashboard/systeminfo", "/rest/dashboard/hwmonitor")),
    Area("pools", ("/rest/v1/storage/pool/list",), ("/rest/storage/poolinfo",)),
    Area("disks", ("/rest/v1/storage/disk/list",),
         ("/rest/storage/diskinfo", "/rest/storage/disksmart")),
    Area("volumes", ("/rest/v1/storage/volume/list",),
         ("/rest/storage/volumeinfo", "/rest/storage/lunmappinginfo"), needs=("pools",)),
    Area("iscsi", ("/rest/v1/iscsi/target/list", "/rest/v1/iscsi/session/list"),
         ("/rest/storage/availtarget", "/rest/storage/availlun/targetid/{target_id}")),
    Area("tasks", tuple(task_list_path(kind) for kind in TASK_TYPES),
         ("/rest/storage/snapshot/vdid/{vdid}",), needs=("volumes",)),
    Area("logs", ("/rest/v1/log/list",), ("/rest/log/list/{page}",)),
)

NAMES: tuple[str, ...] = tuple(area.name for area in AREAS)
BY_NAME: dict[str, Area] = {area.name: area for area in AREAS}


def _check_order() -> None:
    """An area's needs come before it: fetching in table order always has them at hand."""
    for index, area in enumerate(AREAS):
        for need in area.needs:
            assert NAMES.index(need) < index, f"{area.name} needs {need}, listed after it"


_check_order()
