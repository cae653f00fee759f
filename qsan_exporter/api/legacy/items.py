"""The per-item SANOS 4.0 answers: available LUNs per target, snapshots per volume.

Shapes are unknown (the manual shows paths only), so both are read as loosely as the other
legacy answers: a list, or an object holding one, or wrapped in {"data": ...}; the candidate
names live in `mapping.py`.

- `availlun/targetid/<id>` becomes the target's `freeLuns` (what the Unified target list gives):
  LUN ids as numbers, or objects carrying one.
- `snapshot/vdid/<vdid>` becomes a Unified snapshot task of that volume (the task id is the
  volume id, as on Unified arrays): its snapshot space size and use. The used space is the
  answer's own figure, else the sum of its snapshots' sizes. A volume with no snapshot space
  and no snapshots has no task.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.legacy import mapping as m
from qsan_exporter.api.legacy.translate import Reader, get, leading_number, unwrap


def free_luns(body: Any) -> list[int]:
    payload = unwrap(body)
    if isinstance(payload, Mapping):
        _, payload = get(payload, *m.AVAILLUN_LISTS)
    found = []
    for item in payload if isinstance(payload, list) else []:
        if isinstance(item, Mapping):
            _, item = get(item, *m.AVAILLUN_ID)
        number = leading_number(item)
        if number is not None and number >= 0 and float(number).is_integer():
            found.append(int(number))
    return found


def snapshot_task(reader: Reader, vdid: str, body: Any) -> dict[str, Any] | None:
    payload = unwrap(body)
    if not isinstance(payload, Mapping):
        return None
    listed_key, listed = get(payload, *m.SNAPSHOT_LISTS)
    task = reader.read_all("snapshot", payload, m.SNAPSHOT,
                           also=(listed_key,) if listed_key else ())
    snapshots = [s for s in listed if isinstance(s, Mapping)] if isinstance(listed, list) else []
    if "usedSize" not in task and snapshots:
        sizes = [reader.read(s, m.SNAPSHOT_SIZE, set()).get("size") for s in snapshots]
        task["usedSize"] = sum(s for s in sizes if isinstance(s, int | float))
    if not task.get("totalSize") and not snapshots:
        return None
    return {"id": vdid, **task}
