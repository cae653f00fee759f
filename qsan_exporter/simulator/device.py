"""One simulated array's `/rest/v1/*` answers, independent of HTTP and of tokens.

Everything static is serialised when the device is built; a request either returns those bytes
or formats the few moving numbers (`elapsed` = seconds since start). Answers are
`(route, status, body)`; `route` is the path template (e.g. `/rest/v1/backup/{type}/list`), the
handle a later fault injector will key on.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence

from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.hardware import FAILED_PSU, STOPPED_FAN, Hardware
from qsan_exporter.simulator.logs import DEFAULT_PAGE_SIZE, LogBook
from qsan_exporter.simulator.profiles import PROFILES, other_reading
from qsan_exporter.simulator.scenario import Facts, build_layout
from qsan_exporter.simulator.services import ERROR_REPLICATION, Services
from qsan_exporter.simulator.storage import Storage, pool_name, volume_name

Answer = tuple[str, int, bytes]
_ENCLOSURE = re.compile(r"/rest/v1/hardware/([^/]+)/info")
_TASKS = re.compile(r"/rest/v1/backup/([^/]+)/list")
ALL_TASK_TYPES = ("snapshot", "clone", "replication", "cloud")


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"code": status, "message": message}).encode()


class Device:
    """The data side of a simulated array: layout, documents, logs and the scenario's facts."""

    def __init__(self, config: SimulatorConfig, started: float | None = None) -> None:
        self.started = time.time() if started is None else started
        self.profile = profile = PROFILES[config.profile]
        if config.literal and config.profile != "legacy":  # legacy renders from default shapes
            self.profile = profile = other_reading(profile)
        self.layout = layout = build_layout(config, profile.controllers,
                                            all_ssd=profile.disk_media == "SSD")
        self.hardware = Hardware(config, profile)
        self.storage = Storage(config, profile, layout)
        literal = config.literal and config.profile != "legacy"  # legacy renders from these
        self.services = Services(profile, layout, self.storage, self.hardware.serials[0],
                                 self.started, literal=literal)
        self.facts = self._facts()
        names = {"volume": volume_name(0), "pool": self.facts.degraded_pool,
                 "raidset": str(self.facts.degraded_raidset), "disk": str(self.facts.failed_disk),
                 "psu": self.facts.failed_psu, "fan": self.facts.stopped_fan,
                 "task": self.facts.error_replication_task, "user": config.username}
        self.logs = LogBook(self.started, config.log_interval, names, literal=literal)
        self._static: dict[str, bytes] = {
            "/rest/v1/hardware/info": self.hardware.numbers_body.encode(),
            "/rest/v1/storage/pool/list": self.storage.pools_body.encode(),
            "/rest/v1/storage/volume/list": self.storage.volumes_body.encode(),
            "/rest/v1/iscsi/target/list": self.services.targets_body.encode(),
            "/rest/v1/iscsi/session/list": self.services.sessions_body.encode(),
        }
        self._tasks = {kind: body.encode() for kind, body in self.services.tasks_bodies.items()}

    def refuse_task_list(self, kind: str) -> None:
        """From now on this array answers 404 to the task list of `kind` (as firmware without
        it does)."""
        self._tasks.pop(kind, None)

    def _facts(self) -> Facts:
        lay, p, storage = self.layout, self.profile, self.storage
        degraded = lay.raidsets[lay.degraded_raidset]
        sessions = [t for t in lay.targets() if lay.has_sessions(t)]
        return Facts(
            failed_disk=storage.disk_ids[lay.failed_disk],
            degraded_raidset=p.ident(degraded.number), degraded_pool=pool_name(degraded.pool),
            failed_psu=self.hardware.psu_name(FAILED_PSU), stopped_fan=f"FAN{STOPPED_FAN}",
            error_replication_task=str(storage.volume_ids[ERROR_REPLICATION]),
            targets_with_sessions=tuple(p.ident(t) for t in sessions),
            targets_without_sessions=tuple(p.ident(t) for t in lay.targets()
                                           if t not in sessions),
            qos_volume=None if p.nas else volume_name(0),
            unmapped_volume=volume_name(len(lay.volumes) - 1),
            read_cache_pool=pool_name(lay.cache_pool),
        )

    def get(self, path: str, query: Mapping[str, Sequence[str]], now: float) -> Answer:
        """Answer one authenticated GET under /rest/v1."""
        body = self._static.get(path)
        if body is not None:
            return path, 200, body
        elapsed = max(0.0, now - self.started)
        if path == "/rest/v1/storage/disk/list":
            return path, 200, self.storage.disks_body(elapsed)
        if path == "/rest/v1/log/list":
            return self._logs(query, now)
        more = _first(query, "moreInfo", "false").lower() in ("true", "1")
        if path == "/rest/v1/hardware/all/info":
            return path, 200, self.hardware.enclosures(elapsed, more).encode()
        match = _ENCLOSURE.fullmatch(path)
        if match:
            route = "/rest/v1/hardware/{enc_id}/info"
            number = match.group(1)
            if not number.isdigit() or int(number) >= self.hardware.count:
                return route, 404, error_body(404, f"no enclosure {number}")
            return route, 200, self.hardware.enclosures(elapsed, more, int(number)).encode()
        match = _TASKS.fullmatch(path)
        if match:
            route = "/rest/v1/backup/{type}/list"
            kind = match.group(1)
            if kind not in self._tasks:
                return route, 404, error_body(404, f"task type {kind!r} is not supported")
            return route, 200, self._tasks[kind]
        return "unknown", 404, error_body(404, "no such API")

    def _logs(self, query: Mapping[str, Sequence[str]], now: float) -> Answer:
        route = "/rest/v1/log/list"
        try:
            start = _first(query, "startTime", "")
            start_time = int(float(start)) if start else None
            page = int(_first(query, "pageNumber", "1"))
            size = int(_first(query, "pageSize", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            return route, 400, error_body(400, "startTime, pageNumber and pageSize are integers")
        if page < 1 or size < 1:
            return route, 400, error_body(400, "pageNumber and pageSize must be >= 1")
        wanted = [*query.get("type[]", ()), *query.get("type", ())]
        types = {t for t in wanted if t} or None  # an unknown type simply matches nothing
        body = self.logs.query(now, start_time, types, page, size)
        return route, 200, json.dumps(body, ensure_ascii=False).encode()


def _first(query: Mapping[str, Sequence[str]], key: str, default: str) -> str:
    values = query.get(key)
    return values[0] if values else default
