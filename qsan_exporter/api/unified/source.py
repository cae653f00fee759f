"""Which Unified API endpoints each collector area needs, with the memory an array requires.

`fetch(area)` returns the raw answers the collectors translate (see each collector's docstring).
Two areas need state kept across polls, and both change it only when a fetch succeeds whole:
- tasks: a task type the product lacks (cloud on SAN/FAS, clone on NAS) answers 404 or 400. It
  is remembered and not asked again for six hours (a firmware upgrade may add it), so a SAN
  does not log an error or spend a request on it every poll. A type the product must have
  (`required_task_types`, reading `backup-types-per-product`: snapshot and replication
  everywhere, clone on SAN/FAS, cloud on NAS) is never "unsupported": a 404/400 for it is handed
  to the collector as `Refused`, asked again every poll, and is an error. The product is the one
  the array's own system answer names (XS/XF/XN model); unknown, only snapshot and replication.
- logs: fetched incrementally from the newest timestamp seen (`startTime`). Whether it is
  inclusive is not documented (reading `log-start-time`): api/log_cursor.py drops the events
  at exactly the cursor that were already returned, and counts the new ones into the running
  tally handed to the poll (`LogAnswer`). The first fetch is the array's history (`baseline`),
  which is not counted.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from qsan_exporter.api.errors import ApiFormatError, ApiHTTPError, Refused
from qsan_exporter.api.log_cursor import EventKey, LogAnswer, LogCounter, LogHistory
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.areas import BY_NAME, NAMES, TASK_TYPES, task_list_path

log = logging.getLogger(__name__)

# Task types every reading of the manual gives the product (002 l.532-539 and 000 l.524 agree
# on these; they disagree only on clone for NAS).
REQUIRED_TASK_TYPES = {
    "san": ("snapshot", "clone", "replication"),
    "fas": ("snapshot", "clone", "replication"),
    "nas": ("snapshot", "replication", "cloud"),
}
_ALWAYS_REQUIRED = ("snapshot", "replication")
_PRODUCT_BY_PREFIX = {"XS": "san", "XF": "fas", "XN": "nas"}
UNSUPPORTED_RECHECK_SECONDS = 6 * 3600.0
_UNSUPPORTED_STATUSES = (400, 404)
# The areas read from one list endpoint each, whose answer goes to the collector as is.
_LISTS = {name: BY_NAME[name].unified[0] for name in ("pools", "disks", "volumes")}
LOG_PATH = BY_NAME["logs"].unified[0]

class UnifiedSource:
    """Fetches the areas of one array's poll; different areas may be fetched in parallel
    (max_concurrent_requests > 1), so any state here belongs to one area only (logs, tasks)."""

    def __init__(self, client: UnifiedClient, *, clock: Callable[[], float] = time.time,
                 log_page_size: int = 1000, log_max_pages: int = 50,
                 log_counter: LogCounter | None = None) -> None:
        if log_page_size < 1 or log_max_pages < 1:
            raise ValueError("log_page_size and log_max_pages must be >= 1")
        self._client = client
        self._clock = clock
        self._page_size = log_page_size
        self._max_pages = log_max_pages
        self._unsupported: Mapping[str, float] = MappingProxyType({})  # type -> when found
        self._log = LogHistory(log_counter)  # the cursor and the running tally
        self._product: str | None = None  # from the array's own system answer, when read

    def fetch(self, area: str) -> Any:
        if area == "system":
            info_path, enclosures_path = BY_NAME["system"].unified
            answer = {
                "info": self._client.get(info_path),
                "enclosures": self._client.get(enclosures_path, params={"moreInfo": "true"}),
            }
            self._product = product_of(answer["enclosures"]) or self._product
            return answer
        if area in _LISTS:
            return self._client.get(_LISTS[area])
        if area == "iscsi":
            targets_path, sessions_path = BY_NAME["iscsi"].unified
            return {
                "targets": self._client.get(targets_path),
                "sessions": self._client.get(sessions_path),
            }
        if area == "tasks":
            return self._tasks()
        if area == "logs":
            return self._logs()
        raise ValueError(f"unknown area {area!r}; expected one of {', '.join(NAMES)}")

    def close(self) -> None:
        """End the client's session: the source owns its client."""
        self._client.close()

    # --- tasks ------------------------------------------------------------------------------------

    def _tasks(self) -> dict[str, Any]:
        now = self._clock()
        unsupported = dict(self._unsupported)
        answers: dict[str, Any] = {}
        for kind in TASK_TYPES:
            since = unsupported.get(kind)
            if since is not None and now - since < UNSUPPORTED_RECHECK_SECONDS:
                continue
            try:
                answers[kind] = self._client.get(task_list_path(kind))
            except ApiHTTPError as exc:
                if exc.status not in _UNSUPPORTED_STATUSES:
                    raise
                if kind in required_task_types(self._product):  # asked again next poll
                    answers[kind] = Refused(kind, exc.status, f"{kind} tasks answered HTTP "
                                            f"{exc.status}, but this product "
                                            f"({self._product or 'any'}) has them")
                    continue
                if since is None:
                    log.info("array=%s: %s tasks not supported (HTTP %d); asking again in %.0f h",
                             self._client.guard.name, kind, exc.status,
                             UNSUPPORTED_RECHECK_SECONDS / 3600)
                unsupported[kind] = now
                continue
            if unsupported.pop(kind, None) is not None:
                log.info("array=%s: %s tasks are now supported", self._client.guard.name, kind)
        self._unsupported = MappingProxyType(unsupported)
        return answers

    # --- logs -------------------------------------------------------------------------------------

    def _logs(self) -> LogAnswer:
        cursor = self._log.cursor
        params: dict[str, Any] = {"pageSize": self._page_size}
        if cursor is not None:
            # One second before the cursor (reading `log-start-time`): an array that reads
            # startTime as exclusive then still returns events that reached the cursor's own
            # second after the last fetch; what comes again is dropped by the cursor.
            start = cursor.timestamp - 1
            params["startTime"] = int(start) if start.is_integer() else start
        fetched: list[tuple[EventKey, Any]] = []
        complete = False
        for page in range(1, self._max_pages + 1):
            body = self._client.get(LOG_PATH, params={**params, "pageNumber": page})
            events = _read_page(body)
            fetched.extend(events)
            # An empty page ends the list whatever haveNextPage says (reading `null-lists-services`:
            # an array may answer `"logs": null` with a stale flag); asking on would loop.
            if (not events and not body.get("logs")) or not _true(body.get("haveNextPage")):
                complete = True
                break
        if not complete:
            log.warning("array=%s: log list cut short after %d pages of %d events; the rest "
                        "follows from the new cursor next poll", self._client.guard.name,
                        self._max_pages, self._page_size)
        return self._log.take(fetched, complete)  # a failure above leaves both unchanged


def required_task_types(product: str | None) -> tuple[str, ...]:
    return REQUIRED_TASK_TYPES.get(product or "", _ALWAYS_REQUIRED)


def product_of(enclosures: Any) -> str | None:
    """san/fas/nas from the first enclosure's model name (XS/XF/XN); None if it cannot tell."""
    listed = enclosures if isinstance(enclosures, list) else [enclosures]
    for enclosure in listed:
        info = enclosure.get("info") if isinstance(enclosure, Mapping) else None
        model = info.get("modelName") if isinstance(info, Mapping) else None
        if isinstance(model, str) and model.strip():
            return _PRODUCT_BY_PREFIX.get(model.strip()[:2].upper())
    return None


def _read_page(body: Any) -> list[tuple[EventKey, Any]]:
    """(key, event) of each event with a readable timestamp; others cannot be placed in time."""
    # Reading `null-lists-services`: "the null value will be returned" (manual 002 l.700-701) for
    # an empty selection, so `"logs": null` is an empty page, not a format error.
    if not isinstance(body, Mapping) or not isinstance(body.get("logs") or [], list):
        raise ApiFormatError(f"GET {LOG_PATH}: expected an object with a 'logs' list")
    out = []
    for event in body.get("logs") or []:
        if not isinstance(event, Mapping):
            continue
        timestamp = _timestamp(event.get("timestamp"))
        if timestamp is None:
            log.debug("skipping a log event without a readable timestamp")
            continue
        out.append(((timestamp, _text(event.get("type")), _text(event.get("message"))), event))
    return out


def _timestamp(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        timestamp = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return timestamp if timestamp == timestamp and abs(timestamp) != float("inf") else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _true(value: Any) -> bool:
    """haveNextPage as a boolean, whether it comes as true, 1 or "true"."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)
