"""SANOS 4.0 service answers -> the Unified ones: availtarget becomes iscsi/target/list (and the
sessions it lists), a log/list/<page> page becomes log/list events. The engine and the field
tables are in `translate` and `mapping`."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qsan_exporter.api.legacy import mapping as m
from qsan_exporter.api.legacy import translate as t
from qsan_exporter.api.legacy.translate import Reader, find_items, leading_number

log = logging.getLogger(__name__)

# --- iscsi: availtarget -> iscsi/target/list (+ the sessions it lists) ----------------------------

def iscsi(reader: Reader, availtarget: Any) -> dict[str, Any]:
    targets: dict[str, list[dict[str, Any]]] = {}
    sessions: dict[str, list[dict[str, Any]]] = {}
    sessions_known = False  # neither a list nor a count anywhere: say nothing, not "0 sessions"
    for index, item in enumerate(find_items(availtarget, "availtarget", m.LISTS["availtarget"])):
        portals_key, portals = t.get(item, *m.TARGET_PORTALS)
        sessions_key, listed = t.get(item, *m.TARGET_SESSIONS)
        count_key, count = t.get(item, *m.TARGET_SESSION_COUNT)
        handled = tuple(k for k in (portals_key, sessions_key, count_key) if k)
        sessions_known = sessions_known or bool(sessions_key or count_key)
        target = reader.read_all("availtarget", item, m.TARGET, also=handled)
        controller = t.text(target.pop("ctrlID", ""))
        target_id = t.text(target.get("id")) or str(index)
        target["id"] = target_id
        if isinstance(portals, str):
            portals = [p for p in re.split(r"[,\s]+", portals) if p]
        if isinstance(portals, list):
            target["portals"] = portals
        targets.setdefault(controller, []).append(target)
        group = sessions.setdefault(controller, [])
        if isinstance(listed, list):
            for number, entry in enumerate(t.entries(listed)):
                session = reader.read_all("availtarget session", entry, m.SESSION)
                session.setdefault("id", f"{target_id}-{number}")
                group.append({**session, "targetID": target_id})
        else:
            count_read = leading_number(count)
            for i in range(int(count_read) if count_read is not None and count_read > 0 else 0):
                group.append({"id": f"{target_id}-{i}", "targetID": target_id})
    return {
        "targets": {"iscsi": [{"ctrlID": c, "targets": t} for c, t in targets.items()]},
        "sessions": ({"iscsi": [{"ctrlID": c, "sessions": s} for c, s in sessions.items()]}
                     if sessions_known else None),
    }


# --- logs: log/list/<page> -> log/list events -----------------------------------------------------

def log_events(reader: Reader, page: Any, timezone: str) -> list[dict[str, Any]]:
    """One page's events as {"type", "timestamp" (unix), "message"}; unplaceable ones dropped."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    if isinstance(page, Mapping) and not page:
        return []
    events = []
    for item in find_items(page, "log/list", m.LISTS["log"]):
        event = reader.read_all("log/list", item, m.LOG_EVENT)
        timestamp = parse_time(event.get("timestamp"), zone)
        level = m.LOG_LEVELS.get(t.text(event.get("type")).lower(),
                                 t.text(event.get("type")).lower())
        if timestamp is None or not level:
            log.debug("skipping a legacy log event without a readable time or level")
            continue
        events.append({"type": level, "timestamp": timestamp,
                       "message": t.text(event.get("message"))})
    return events


def parse_time(value: object, zone: ZoneInfo) -> float | None:
    """Unix seconds from epoch seconds/milliseconds or a date string in the array's zone."""
    if isinstance(value, str):
        bare = value.strip()
        number = float(bare) if bare.replace(".", "", 1).isdigit() else None
    else:
        number = leading_number(value)
    if number is not None:
        return number / 1000 if number > 1e11 else number
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern in m.LOG_TIME_FORMATS:
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return moment.replace(tzinfo=zone).timestamp()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.timestamp()
