"""The two per-item read-only routes of the simulated SANOS 4.0 API (`legacy`).

    GET /rest/storage/availlun/targetid/<target_id>   the LUN ids still free on the target
    GET /rest/storage/snapshot/vdid/<vdid>            the snapshots of the volume

The manual (001:570) prints the first one as `<baseurl>/storage/availlun/...`, without the
`/rest` every other path has. A default array serves it under `/rest`; a `--literal` one only
where the manual's text puts it (reading `legacy-availlun-path` in qsan_exporter/readings.py).
As for every legacy answer, the shapes are assumptions: snake_case keys, sizes as "GB" strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from qsan_exporter.simulator.device import Device

AVAILLUN_ROUTE = "/rest/storage/availlun/targetid/{target_id}"
AVAILLUN_LITERAL_ROUTE = "/storage/availlun/targetid/{target_id}"
SNAPSHOT_ROUTE = "/rest/storage/snapshot/vdid/{vdid}"
ROUTES = frozenset({AVAILLUN_ROUTE, AVAILLUN_LITERAL_ROUTE, SNAPSHOT_ROUTE})
_AVAILLUN = re.compile(r"(/rest)?/storage/availlun/targetid/([^/]+)")
_SNAPSHOT = re.compile(r"/rest/storage/snapshot/vdid/([^/]+)")


def route(path: str, literal: bool) -> str | None:
    """The route template of a per-item path this array serves, else None."""
    match = _AVAILLUN.fullmatch(path)
    if match:
        under_rest = match.group(1) is not None
        if under_rest != literal:
            return AVAILLUN_ROUTE if under_rest else AVAILLUN_LITERAL_ROUTE
        return None
    return SNAPSHOT_ROUTE if _SNAPSHOT.fullmatch(path) else None


def render(device: Device, path: str) -> Any | None:
    """The `data` of a per-item answer, or None for an unknown target or volume (a 404)."""
    match = _AVAILLUN.fullmatch(path)
    if match:
        return _available_luns(device, match.group(2))
    match = _SNAPSHOT.fullmatch(path)
    return _snapshots(device, match.group(1)) if match else None


def _unified(device: Device, path: str) -> Any:
    _, _, body = device.get(path, {}, device.started)
    return json.loads(body)


def _available_luns(device: Device, target_id: str) -> list[dict[str, Any]] | None:
    for group in _unified(device, "/rest/v1/iscsi/target/list")["iscsi"]:
        for target in group["targets"]:
            if str(target["id"]) == target_id:
                return [{"lun_id": lun} for lun in target.get("freeLuns", [])]
    return None


def _snapshots(device: Device, vdid: str) -> dict[str, Any] | None:
    """Every other volume has a 20 GB snapshot space holding 3 snapshots; the rest have none
    (SANOS 4.0 knows no snapshot tasks, only the space and the snapshots taken in it)."""
    volumes = _unified(device, "/rest/v1/storage/volume/list")["volumes"]
    index = next((i for i, v in enumerate(volumes) if str(v["id"]) == vdid), None)
    if index is None:
        return None
    if index % 2:
        return {"vd_id": int(vdid), "snapshot_space": "0.00 GB", "snapshots": []}
    used_gb = 2.5 * (index + 1)
    return {"vd_id": int(vdid), "snapshot_space": "20.00 GB",
            "snapshot_space_used": f"{used_gb:.2f} GB",
            "snapshots": [{"snapshot_id": n + 1, "name": f"snap-{n + 1}", "status": "Active",
                           "size": f"{used_gb / 3:.2f} GB"} for n in range(3)]}
