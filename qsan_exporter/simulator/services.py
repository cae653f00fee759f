"""`/rest/v1/iscsi/*` and `/rest/v1/backup/*` bodies; all static, so serialised once.

Targets are numbered across controllers (controller c owns targets 2c and 2c+1); the first
target of each controller has sessions, the second has none, so "targets without sessions"
exports 0 rather than nothing. Task ids are the ids of their source volumes, as on the device.
The second replication task is in error.

`literal` takes the manual's other reading of each contradiction (qsan_exporter/readings.py):
the `iscsi` lists as objects keyed by controller ("iscsi object", `volumes-iscsi-object`), empty
session lists as `null` (`null-lists-services`), `schedule` as an array of one object
(`schedule-array-or-object`), `EndTime` for `stopTime` (`schedule-end-time`), `weekOfMonth`
for `weekOfMouth` (`schedule-week-of-month`) and a one-line replication `destination` as an
object (`replication-destination-shape`).
"""

from __future__ import annotations

import json
from typing import Any

from qsan_exporter.simulator.profiles import Profile
from qsan_exporter.simulator.scenario import TARGETS_PER_CONTROLLER, Layout
from qsan_exporter.simulator.storage import Storage, volume_name

FREE_LUN_RANGE = 64
ERROR_REPLICATION = 1  # index of the replication task in error


def _schedule(profile: Profile, minute: list[int], hour: list[int], day: list[int] | None = None,
              week: list[int] | None = None, week_of_month: list[int] | None = None,
              window: tuple[int, int] | None = None) -> dict[str, Any]:
    """A crontab schedule; empty lists mean "any". SAN adds weekOfMouth, NAS a time window."""
    schedule: dict[str, Any] = {"minute": minute, "hour": hour, "day": day or [], "month": [],
                                "week": week or []}
    if profile.schedule_week_of_month:
        schedule["weekOfMouth"] = week_of_month or []
    if profile.nas:
        start, stop = window or (0, 23)
        schedule["startTime"] = {"hour": start, "minute": 0}
        schedule["stopTime"] = {"hour": stop, "minute": 59}
    return schedule


class Services:
    """Serialised iSCSI and task documents of one array."""

    def __init__(self, profile: Profile, layout: Layout, storage: Storage, serial: str,
                 started: float, literal: bool = False) -> None:
        self.profile, self.layout, self.storage = profile, layout, storage
        self.iqn_prefix = f"iqn.2004-08.com.qsan:{profile.model.lower()[:6]}-{serial.lower()}"
        targets = [self._controller_targets(c) for c in range(layout.controllers)]
        # "status: Iscsi connection status, Object array" (manual 002 l.988); its entries are
        # undocumented: one per data port, by name, all up.
        sessions = [{"ctrlID": profile.ident(c),
                     "status": [{"name": f"LAN{n}", "status": "Up"} for n in (1, 2)],
                     "sessions": self._sessions(c, int(started))}
                    for c in range(layout.controllers)]
        tasks = {kind: build() for kind, build in (
            ("snapshot", self._snapshots), ("clone", self._clones),
            ("replication", self._replications), ("cloud", self._clouds),
        ) if kind in profile.task_types}
        if literal:
            targets, sessions, tasks = _literal(targets, sessions, tasks)
        self.targets_body = json.dumps({"iscsi": targets})
        self.sessions_body = json.dumps({"iscsi": sessions})
        self.tasks_bodies = {kind: json.dumps({"tasks": listed})
                             for kind, listed in tasks.items()}

    def target_name(self, target: int) -> str:
        controller = self.layout.controller_of(target)
        return f"{self.iqn_prefix}:dev{target}.ctr{controller + 1}"

    def _controller_targets(self, controller: int) -> dict[str, Any]:
        p = self.profile
        targets = []
        for target in range(controller * TARGETS_PER_CONTROLLER,
                            (controller + 1) * TARGETS_PER_CONTROLLER):
            used = {v.lun for v in self.layout.volumes if v.target == target}
            targets.append({
                "id": p.ident(target), "name": self.target_name(target),
                "auth": "CHAP" if target % 2 else "None", "alias": f"tgt{target}",
                "portals": ["1", "2"] if not p.nas else ["1"],
                "freeLuns": [lun for lun in range(FREE_LUN_RANGE) if lun not in used],
            })
        return {"ctrlID": p.ident(controller), "port": 3260, "targets": targets}

    def _sessions(self, controller: int, started: int) -> list[dict[str, Any]]:
        sessions: list[dict[str, Any]] = []
        for target in self.layout.targets():
            if self.layout.controller_of(target) != controller or not self.layout.has_sessions(
                    target):
                continue
            for host in (1, 2) if controller == 0 else (3,):
                initiator = f"iqn.1998-01.com.vmware:esx{host:02d}-5f3a{host:02d}"
                if self.profile.nas:
                    sessions.append({
                        "initiatorName": initiator, "targetName": self.target_name(target),
                        "clientIP": f"10.10.1.{10 + host}", "clientPort": 51000 + host,
                        "clientName": f"esx{host:02d}", "loginTime": started - 3600 * host,
                    })
                else:
                    sessions.append({
                        "id": str(100 + len(sessions) + 10 * controller),
                        "TSIH": str(0x4000 + host), "initiatorName": initiator,
                        "targetID": str(target), "targetName": self.target_name(target),
                        "initialR2T": True, "immedData": True, "maxOutR2T": "1",
                        "maxDataBurstLen": 262144, "dataSeqInOrder": True,
                        "dataPDUInOrder": True,
                    })
        return sessions

    # -- tasks -------------------------------------------------------------------------------
    def _volume_task_id(self, volume: int) -> str:
        return str(self.storage.volume_ids[volume])

    def _snapshots(self) -> list[dict[str, Any]]:
        p = self.profile
        tasks = []
        for v in self.layout.volumes:
            total = 102400 * (1 + v.index % 4)
            tasks.append({"id": self._volume_task_id(v.index),
                          "usedSize": total * (10 + 7 * v.index % 60) // 100, "totalSize": total,
                          "schedule": _schedule(p, [0], [] if v.index % 2 else [1, 13],
                                                window=(0, 23))})
        return tasks

    def _clones(self) -> list[dict[str, Any]]:
        unmapped = len(self.layout.volumes) - 1
        return [{"id": self._volume_task_id(0), "destination": self._volume_task_id(unmapped),
                 "schedule": _schedule(self.profile, [30], [2], week=[6], week_of_month=[2])}]

    def _replications(self) -> list[dict[str, Any]]:
        p = self.profile
        tasks = []
        for number in (0, 1):
            error = number == ERROR_REPLICATION
            task: dict[str, Any] = {
                "id": self._volume_task_id(number), "source": volume_name(number),
                "status": "Error" if error else "Online",
                "createTime": f"2024-05-0{number + 2} 10:3{number}:05",
            }
            ip = f"192.168.10.{51 + number}"
            if p.nas:
                task["destination"] = [{"no": 0, "name": f"DR-{volume_name(number)}", "IP": ip}]
            else:
                task["shaping"] = "Default" if number == 0 else ""
                task["rate"] = 100
                task["destination"] = [{
                    "no": 1, "sourcePort": "LAN1", "IP": ip,
                    "targetName": f"iqn.2004-08.com.qsan:dr-site:dev{number}", "Lun": "0",
                    "status": "Disconnected" if error else "Online"}]
            task["schedule"] = _schedule(p, [15], [], day=[1] if number else [])
            tasks.append(task)
        return tasks

    def _clouds(self) -> list[dict[str, Any]]:
        return [
            {"id": "1", "provider": "Amazon S3", "action": "Backup", "source": "/Vol-1/Documents",
             "destination": "qsan-backup/documents",
             "schedule": _schedule(self.profile, [0], [22], window=(22, 5))},
            {"id": "2", "provider": "Microsoft Azure", "action": "Sync", "source": "/Vol-1/Media",
             "destination": "media-archive",
             "schedule": _schedule(self.profile, [0], [], week=[0, 6], window=(8, 18))},
        ]


def _literal(targets: list[dict[str, Any]], sessions: list[dict[str, Any]],
             tasks: dict[str, list[dict[str, Any]]]) -> tuple[Any, Any, dict[str, Any]]:
    """The same documents in the manual's other reading (see the module docstring)."""
    def keyed(groups: list[dict[str, Any]]) -> dict[str, Any]:
        return {str(g["ctrlID"]): g for g in groups}

    sessions = [{**g, "sessions": g["sessions"] or None} for g in sessions]
    renamed = {"stopTime": "EndTime", "weekOfMouth": "weekOfMonth"}
    literal_tasks: dict[str, Any] = {}
    for kind, listed in tasks.items():
        out = []
        for task in listed:
            task = dict(task)
            schedule = {renamed.get(k, k): v for k, v in task["schedule"].items()}
            task["schedule"] = [schedule]
            destination = task.get("destination")
            if isinstance(destination, list) and len(destination) == 1:
                task["destination"] = destination[0]
            out.append(task)
        literal_tasks[kind] = out or None
    return keyed(targets), keyed(sessions), literal_tasks
