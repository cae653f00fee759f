"""`LegacySource`: the `Source` of a SANOS 4.0 array — legacy endpoints in, Unified shapes out.

    area      legacy endpoints (GET)                                  Unified shape produced
    system    /rest/dashboard/systeminfo + /rest/dashboard/hwmonitor  hardware/info + all/info
    disks     /rest/storage/diskinfo (+ /rest/storage/disksmart)      storage/disk/list
    pools     /rest/storage/poolinfo                                  storage/pool/list
    volumes   /rest/storage/volumeinfo (+ /rest/storage/lunmappinginfo) storage/volume/list
    iscsi     /rest/storage/availtarget                               iscsi target + session list
    tasks     (none: the legacy API has no task list)                 {} -> no task series
    logs      /rest/log/list/<page>                                   log/list events

Endpoints in parentheses are optional: when the array does not offer them (`GET /rest/` does
not list them) or they fail, the area is served without their facts. A required endpoint that
is not offered fails its collector with a message saying so; a 404 also makes the client read
`/rest/` again on the next call (a firmware upgrade may have changed the list).

Logs: the legacy list is paged by number with no time filter. Whether page 1 is the newest
or the oldest is not documented, so the order is read from the timestamps: newest-first pages
are read until one reaches the cursor (the newest event already seen); oldest-first pages are
read from the last page visited before, to the end. Events at exactly the cursor that were
already returned are dropped, and the new ones counted, the same way as for the Unified API
(`api/log_cursor.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.errors import ApiFormatError, ApiHTTPError
from qsan_exporter.api.legacy import hardware, items, services, storage, translate
from qsan_exporter.api.legacy.client import LegacyClient
from qsan_exporter.api.log_cursor import EventKey, LogAnswer, LogCounter, LogHistory
from qsan_exporter.areas import AREAS, BY_NAME, NAMES

log = logging.getLogger(__name__)

# name -> path of the whole-array endpoints ("systeminfo" -> "/rest/dashboard/systeminfo"), from
# the areas table; per-item and paged ones carry a `{...}` parameter and are templates below.
ENDPOINTS = {path.rsplit("/", 1)[1]: path for area in AREAS for path in area.legacy
             if "{" not in path}
LOG_TEMPLATE = BY_NAME["logs"].legacy[0]
# Per-item reads. The manual prints availlun without `/rest` (001:570), unlike every other path:
# both are tried, `/rest` first (reading `legacy-availlun-path` in qsan_exporter/readings.py).
AVAILLUN_TEMPLATES = ("/rest/storage/availlun/targetid/{id}", "/storage/availlun/targetid/{id}")
SNAPSHOT_TEMPLATE = "/rest/storage/snapshot/vdid/{id}"
_NEXT_PAGE = ("haveNextPage", "hasNextPage", "hasNext", "nextPage")
_TOTAL_PAGES = ("totalPages", "totalPage", "pageCount", "pages")


class LegacySource:
    """Fetches the areas of one SANOS 4.0 array's poll; different areas may be fetched in
    parallel (max_concurrent_requests > 1), so any state here belongs to one area only (logs)."""

    api = "legacy"

    def __init__(self, client: LegacyClient, *, timezone: str = "UTC",
                 log_max_pages: int = 20, log_counter: LogCounter | None = None) -> None:
        if log_max_pages < 1:
            raise ValueError("log_max_pages must be >= 1")
        self._client = client
        self._timezone = timezone
        self._max_pages = log_max_pages
        self._reader = translate.Reader()
        self._log = LogHistory(log_counter)  # the cursor and the running tally
        self._next_start_page = 1  # oldest-first logs: where the previous poll ended
        self._told: set[str] = set()  # optional endpoints already reported missing
        # The spelling that answered goes first.
        self._availlun: tuple[str, ...] = AVAILLUN_TEMPLATES
        self._volume_ids: list[str] | None = None  # from the volumes area, for snapshots

    def fetch(self, area: str) -> Any:
        r = self._reader
        if area == "system":
            return hardware.system(r, self._get("systeminfo"), self._get("hwmonitor"))
        if area == "disks":
            return hardware.disks(r, self._get("diskinfo"), self._optional("disksmart"))
        if area == "pools":
            return storage.pools(r, self._get("poolinfo"))
        if area == "volumes":
            volumes = storage.volumes(r, self._get("volumeinfo"),
                                        self._optional("lunmappinginfo"))
            self._volume_ids = [str(v["id"]) for v in volumes.get("volumes", []) if "id" in v]
            return volumes
        if area == "iscsi":
            return self._with_free_luns(services.iscsi(r, self._get("availtarget")))
        if area == "tasks":
            return self._snapshot_tasks()
        if area == "logs":
            return self._logs()
        raise ValueError(f"unknown area {area!r}; expected one of {', '.join(NAMES)}")

    def close(self) -> None:
        """End the client's session: the source owns its client."""
        self._client.close()

    # --- endpoints --------------------------------------------------------------------------------

    def _offered(self, name: str) -> bool:
        words = self._client.offered()
        return words is None or name.lower() in words

    def _get(self, name: str) -> Any:
        path = ENDPOINTS[name]
        if not self._offered(name):
            raise ApiHTTPError(f"GET {path} at {self._client.base_url}: not offered by this "
                               "array (GET /rest/ does not list it)", status=404, endpoint=path)
        try:
            return self._client.get(path)
        except ApiHTTPError as exc:
            if exc.status == 404:
                self._client.forget_discovery()
            raise

    def _optional(self, name: str) -> Any | None:
        """An endpoint whose facts are a bonus: None (told once at INFO) when unavailable."""
        try:
            body = self._get(name)
        except (ApiHTTPError, ApiFormatError) as exc:
            if name not in self._told:
                self._told.add(name)
                log.info("array=%s: serving without %s: %s", self._client.guard.name, name, exc)
            return None
        self._told.discard(name)
        return body

    # --- per-item endpoints: available LUNs per target, snapshots per volume --------------------

    def _item(self, name: str, templates: tuple[str, ...], item_id: str) -> Any | None:
        """One per-item answer, trying each path spelling; None when none answers."""
        if not self._offered(name):
            return None
        for template in templates:
            try:
                body = self._client.get(template.format(id=item_id), template)
            except ApiHTTPError as exc:
                if exc.status == 404:
                    continue
                raise
            except ApiFormatError:
                return None
            if template != templates[0] and name == "availlun":
                self._availlun = (template, *(t for t in templates if t != template))
            return body
        return None

    def _with_free_luns(self, iscsi: dict[str, Any]) -> dict[str, Any]:
        for group in iscsi["targets"]["iscsi"]:
            for target in group["targets"]:
                body = self._item("availlun", self._availlun, str(target["id"]))
                if body is not None:
                    target["freeLuns"] = items.free_luns(body)
        return iscsi

    def _snapshot_tasks(self) -> dict[str, Any]:
        if not self._offered("snapshot"):
            return {}
        if self._volume_ids is None:
            volumes = storage.volumes(self._reader, self._get("volumeinfo"), None)
            self._volume_ids = [str(v["id"]) for v in volumes.get("volumes", []) if "id" in v]
        tasks = []
        for vdid in self._volume_ids:
            body = self._item("snapshot", (SNAPSHOT_TEMPLATE,), vdid)
            task = None if body is None else items.snapshot_task(self._reader, vdid, body)
            if task is not None:
                tasks.append(task)
        return {"snapshot": {"tasks": tasks}}

    # --- logs -------------------------------------------------------------------------------------

    def _logs(self) -> LogAnswer:
        cursor = self._log.cursor
        fetched: list[tuple[EventKey, Any]] = []
        complete = False
        previous: list[Any] | None = None
        newest_first: bool | None = None
        start = self._next_start_page
        page = start
        for page in range(start, start + self._max_pages):
            body = self._client.get(LOG_TEMPLATE.format(page=page), LOG_TEMPLATE)
            events = services.log_events(self._reader, body, self._timezone)
            if not events or events == previous:
                complete = True  # past the last page (or an array that repeats the last one)
                page -= 1
                break
            previous = events
            stamps = [e["timestamp"] for e in events]
            if newest_first is None and len(stamps) > 1:
                newest_first = stamps[0] > stamps[-1]
            fetched.extend(((e["timestamp"], e["type"], e["message"]), e) for e in events)
            if newest_first and cursor is not None and min(stamps) < cursor.timestamp:
                complete = True  # reached events seen before
                break
            if _last_page(body, page):
                complete = True
                break
        if not complete:
            log.warning("array=%s: legacy log list cut short after %d pages; the rest follows "
                        "next poll", self._client.guard.name, self._max_pages)
        answer = self._log.take(fetched, complete)
        if newest_first is False:
            self._next_start_page = max(1, page)  # oldest first: new events land at the end
        return answer


def _last_page(body: Any, page: int) -> bool:
    """True when the answer says there is no page after `page`."""
    if not isinstance(body, Mapping):
        return False
    keys = {translate.norm(k): v for k, v in body.items() if isinstance(k, str)}
    for name in _NEXT_PAGE:
        if translate.norm(name) in keys:
            value = keys[translate.norm(name)]
            if isinstance(value, str):
                return value.strip().lower() in ("false", "0", "no")
            return not value
    for name in _TOTAL_PAGES:
        total = translate.leading_number(keys.get(translate.norm(name)))
        if total is not None:
            return page >= total
    return False
