"""Backup tasks from `/rest/v1/backup/{snapshot,clone,replication,cloud}/list`.

Input (`data.raw["tasks"]`: one list answer per task type the product supports), abridged::

    {"snapshot": {"tasks": [{"id": "2977911538", "usedSize": 1024, "totalSize": 10240,
                             "schedule": {"minute": [10], "hour": [0], "day": [],
                                          "month": [], "week": [1], "weekOfMouth": []}}]},
     "replication": {"tasks": [{"id": "7", "source": "Vol-1", "status": "Online",
                                "destination": [{"no": 1, "sourcePort": "LAN1",
                                                 "IP": "192.168.10.51", "targetName": "iqn...",
                                                 "Lun": "0", "status": "Online"}],
                                "schedule": {...}}]}}

Why it looks the way it does:
- Task status words are not component health words: "Running", "Idle", "Synchronizing" are a
  working task, so they map to ok here; the component critical words (Failed, Error, ...) stay
  critical and anything else unknown is a warning, as everywhere.
- A replication destination is an object or list of lines (SAN/FAS: targetName/IP/status per
  line; NAS: name/IP); it is summarised into one label. A task without its own status takes
  its worst line status, so a broken link is not hidden by a missing task-level field.
- The next run is computed from the crontab fields in the array's own time zone
  (`data.timezone`) with apscheduler's CronTrigger. Crontab weekday 0 is Sunday, apscheduler's
  0 is Monday, hence weekday names. SAN's `weekOfMouth` (sic, 0-4) is the nth week of the
  month: 0-3 are "1st".."4th" and 4 is read as "last" (a 5th weekday does not exist in most
  months). As in crontab, a restricted day-of-month and a restricted weekday are OR-ed.
  NAS gives its time window in `startTime`/`stopTime`: with minute and hour empty the task
  runs at startTime; with only hour empty it runs in the hours of the window; with only minute
  empty at startTime's minute. A schedule with every field empty, or one that cannot be read,
  gives no next-run series (the task is manual) and does not fail the area.
- Both readings of the manual (qsan_exporter/readings.py): `schedule` as one object or a list
  of them (`schedule-array-or-object`: the earliest run of all), `stopTime` or `EndTime`
  (`schedule-end-time`), `weekOfMouth` or `weekOfMonth` (`schedule-week-of-month`), `tasks`
  null or as a map (`null-lists-services`, `volumes-iscsi-object`).
- Snapshot and clone ids are the ids of their volumes on the device: with the volume list of the
  same poll (`data.raw["volumes"]`) an id that matches names the volume in `source` (and a
  clone's `destination`), so an admin reads "Vol-1", not "3884892303".
- A type the product must have (snapshot and replication everywhere, clone on SAN/FAS, cloud on
  NAS; reading `backup-types-per-product`) that the array refused arrives as `Refused`: the
  other types are exported, then the area fails with its reason.
- Each replication destination line (identified by `no`, `IP` and `targetName`) also gets its
  own info and health series beside the task's, so one path down is visible while the task
  still runs over the others.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from qsan_exporter.api.errors import Refused
from qsan_exporter.api.readers import as_items, field, item_list, mib, number, schedules, text
from qsan_exporter.collectors.base import OK, FamilyBuilder, PollData, health, link_health

NAME = "tasks"
_TASK_OK_WORDS = frozenset({
    "idle", "running", "completed", "complete", "finished", "success", "successful", "synced",
    "synchronized", "synchronizing", "replicating", "ready", "waiting", "scheduled",
})
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab order: 0 = Sunday
_NTH = ("1st", "2nd", "3rd", "4th", "last")  # weekOfMouth 0..4


def task_health(raw: object) -> int | None:
    """Task status -> 0 ok / 1 warning / 2 critical; None when there is no status."""
    word = text(raw).lower()
    if not word:
        return None
    return OK if word in _TASK_OK_WORDS else health(word)


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Per task: identity, health, next run; per snapshot task also its reserved space."""
    raw = data.raw[NAME]
    if not isinstance(raw, Mapping):
        raise TypeError(f"tasks: expected a JSON object, got {type(raw).__name__}")
    zone = _zone(data.timezone)
    runs = _NextRuns(data.polled_at, zone) if zone is not None else None
    volumes = volume_names(data.raw.get("volumes"))
    refused = [answer for answer in raw.values() if isinstance(answer, Refused)]
    for task_type, answer in raw.items():
        if answer is None or isinstance(answer, Refused):
            continue  # a type the product does not support / refused: reported below
        for index, task in enumerate(item_list(answer, f"tasks {task_type}", "tasks")):
            if not isinstance(task, Mapping):
                continue
            _collect_task(task, str(task_type), text(field(task, "id")) or str(index),
                          runs, out, volumes)
    if refused:
        raise LookupError("; ".join(r.reason for r in refused))


def volume_names(volumes_raw: object) -> dict[str, str]:
    """volume id text -> volume name, from a volume list answer; best effort, never raises."""
    try:
        listed = as_items(field(volumes_raw, "volumes"), "volumes")
    except ValueError:
        return {}
    names = {text(field(v, "id")): text(field(v, "name")) for v in listed if isinstance(v, Mapping)}
    return {k: v for k, v in names.items() if k and v}


def _collect_task(task: Mapping[str, Any], task_type: str, task_id: str,
                  runs: _NextRuns | None, out: FamilyBuilder, volumes: Mapping[str, str]) -> None:
    labels = {"task_type": task_type, "task": task_id}
    destination, line_statuses = _destination(field(task, "destination"))
    status = text(field(task, "status"))
    if not status and line_statuses:
        status = max(line_statuses, key=lambda s: task_health(s) or OK)
    source = text(field(task, "source"))
    if task_type in ("snapshot", "clone", "replication") and not source:
        source = volumes.get(task_id, "")  # on the device a task's id is its volume's id
    if task_type == "clone":
        destination = volumes.get(destination, destination)  # "Clone object ID" (002 l.589)
    out.info("qsan_task_info", {
        **labels,
        "source": source,
        "destination": destination,
        "status": status,
    })
    out.add("qsan_task_health", labels, task_health(status))
    if task_type == "replication":
        _paths(task_id, field(task, "destination"), out)
    if task_type == "snapshot":
        out.add("qsan_snapshot_space_size_bytes", {"task": task_id}, mib(field(task, "totalSize")))
        out.add("qsan_snapshot_space_used_bytes", {"task": task_id}, mib(field(task, "usedSize")))
    if runs is not None:
        out.add("qsan_task_next_run_timestamp_seconds", labels, runs(field(task, "schedule")))


def _destination(raw: object) -> tuple[str, list[str]]:
    """A one-label summary of a destination, and the statuses of its lines."""
    if raw is None or isinstance(raw, str | int | float):
        return text(raw), []
    lines = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    lines = [line for line in lines if isinstance(line, Mapping)]
    names = [text(field(line, "targetName", "name")) or text(field(line, "IP", "ip"))
             for line in lines]
    statuses = [text(field(line, "status")) for line in lines]
    return ",".join(n for n in names if n), [s for s in statuses if s]


def _paths(task_id: str, raw: object, out: FamilyBuilder) -> None:
    """One info and one health series per destination line, identified by no, IP and target.

    Reading `replication-destination-shape`: one object is one line. NAS lines name the
    destination volume (`name`) and carry no status, so they get an info series only.
    """
    lines = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    for index, line in enumerate(x for x in lines if isinstance(x, Mapping)):
        labels = {"task": task_id, "line": text(field(line, "no")) or str(index),
                  "ip": text(field(line, "IP", "ip")),
                  "target_name": text(field(line, "targetName", "name"))}
        status = field(line, "status")
        out.info("qsan_replication_path_info", {
            **labels, "source_port": text(field(line, "sourcePort")),
            "lun": text(field(line, "Lun", "lun")), "status": text(status)})
        out.add("qsan_replication_path_health", labels, link_health(status))


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return None


# --- schedules -----------------------------------------------------------------------------

def _ints(schedule: Mapping[str, Any], name: str, low: int, high: int,
          *aliases: str) -> list[int]:
    raw = field(schedule, name, *aliases)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValueError(f"{name} is not a list")
    values = set()
    for item in raw:
        value = number(item)
        if value is None or not value.is_integer() or not low <= value <= high:
            raise ValueError(f"{name}: {item!r} out of range {low}-{high}")
        values.add(int(value))
    return sorted(values)


def _time(raw: object) -> tuple[int, int] | None:
    hour, minute = number(field(raw, "hour")), number(field(raw, "minute"))
    if hour is None or minute is None or not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return int(hour), int(minute)


def _cron_fields(schedule: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """CronTrigger keyword sets whose earliest fire time is the next run; None = no schedule."""
    minute = _ints(schedule, "minute", 0, 59)
    hour = _ints(schedule, "hour", 0, 23)
    day = _ints(schedule, "day", 1, 31)
    month = _ints(schedule, "month", 1, 12)
    week = sorted({w % 7 for w in _ints(schedule, "week", 0, 7)})  # 7 is Sunday too
    nth = _ints(schedule, "weekOfMouth", 0, 4, "weekOfMonth")  # reading schedule-week-of-month
    # Reading `schedule-end-time`: the example says stopTime, the table EndTime.
    start, stop = _time(field(schedule, "startTime")), _time(field(schedule, "stopTime",
                                                                   "EndTime"))
    if not any((minute, hour, day, month, week, nth)) and start is None:
        return None
    if start is not None:
        if not minute and not hour:
            hour, minute = [start[0]], [start[1]]
        elif not minute:
            minute = [start[1]]
        elif not hour and stop is not None:
            span = (stop[0] - start[0]) % 24
            hour = sorted({(start[0] + h) % 24 for h in range(span + 1)})

    def joined(values: list[int]) -> str:
        return ",".join(map(str, values)) or "*"

    common = {"minute": joined(minute), "hour": joined(hour), "month": joined(month)}
    days = [_WEEKDAYS[w] for w in week]
    if nth:
        weekday = {"day": ",".join(f"{_NTH[n]} {d}" for n in nth for d in days or _WEEKDAYS)}
    elif days:
        weekday = {"day_of_week": ",".join(days)}
    else:
        return [{**common, "day": joined(day)}]
    if not day:
        return [{**common, **weekday}]
    return [{**common, "day": joined(day)}, {**common, **weekday}]  # crontab: either matches


# Next runs worked out, by schedule and zone: (worked out at, next run). The first run after
# `t` is the same for every `t` from then until that run, so a poll an interval later mostly
# finds it here (finding it by apscheduler's cron arithmetic was ~5 % of a poll's CPU).
_KNOWN: dict[tuple[str, ZoneInfo], tuple[float, float | None]] = {}
_KNOWN_SIZE = 4096  # distinct schedules x zones of a fleet; cleared when full


class _NextRuns:
    """`next_run` for one poll's tasks. Tasks share a few schedules (a fleet's admins reuse
    theirs): each distinct one is computed once until its next run. Its repr is its key: a
    parsed answer's values (str, int, float, bool, None, lists, objects) have distinct reprs."""

    def __init__(self, polled_at: float, zone: ZoneInfo) -> None:
        self._polled_at, self._zone = polled_at, zone

    def __call__(self, schedule: object) -> float | None:
        key, now = (repr(schedule), self._zone), self._polled_at
        known = _KNOWN.get(key)
        if known is not None and known[0] <= now and (known[1] is None or now < known[1]):
            return known[1]
        run = next_run(schedule, now, self._zone)
        if len(_KNOWN) >= _KNOWN_SIZE:
            _KNOWN.clear()
        _KNOWN[key] = (now, run)
        return run


def next_run(schedule: object, polled_at: float, zone: ZoneInfo) -> float | None:
    """Unix time of the first run strictly after `polled_at`, or None without a usable schedule.

    `schedule` is one schedule object or a list of them (the earliest run of all counts)."""
    found = [t for s in schedules(schedule) if (t := _next_run(s, polled_at, zone)) is not None]
    return min(found) if found else None


def _next_run(schedule: Mapping[str, Any], polled_at: float, zone: ZoneInfo) -> float | None:
    try:
        variants = _cron_fields(schedule)
        if variants is None:
            return None
        now = datetime.fromtimestamp(polled_at, zone) + timedelta(microseconds=1)
        times = [_trigger(zone, tuple(sorted(fields.items()))).get_next_fire_time(None, now)
                 for fields in variants]
    except (ValueError, TypeError):
        return None
    found = [t.timestamp() for t in times if t is not None]
    return min(found) if found else None


@functools.lru_cache(maxsize=4096)
def _trigger(zone: ZoneInfo, fields: tuple[tuple[str, str], ...]) -> CronTrigger:
    """Parsing a CronTrigger costs more than using it; a fleet repeats the same few schedules.
    A trigger is immutable once built and keeps no state between get_next_fire_time calls."""
    return CronTrigger(timezone=zone, **dict(fields))

