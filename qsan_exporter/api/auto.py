"""`api: auto` — tell a Unified array from a SANOS 4.0 one, then fetch through that flavour.

The probe spends no credentials: one unauthenticated `GET /rest/v1/hardware/info`.
- Unified firmware knows the path and refuses the missing token: 401/403 (or 400/405), or 2xx
  JSON -> unified; unless, on a 401/403, an unauthenticated `GET /rest/` answers the legacy
  API list (a legacy server that refuses every path without a session) -> legacy.
- SANOS 4.0 does not know it: 404, a redirect to its web UI, or an HTML page -> legacy.
- Anything else (5xx, 429, no answer) decides nothing: the poll fails as for any unreachable
  array and the next poll probes again.
The decision is kept; after three consecutive polls that failed as unreachable or
unauthenticated it is forgotten and the next poll probes again (a controller replaced or
upgraded). Logins are spent only by the chosen flavour's client, and both clients share the
array's `RequestGuard`, so a rejected password blocks further logins of either flavour: the
login budget is never spent twice.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from qsan_exporter.api.errors import ApiAuthError, ApiError, ApiUnreachable
from qsan_exporter.api.legacy.client import HELP_PATH, LegacyClient
from qsan_exporter.api.source import Closable, Fetcher

log = logging.getLogger(__name__)

PROBE_PATH = "/rest/v1/hardware/info"
REPROBE_AFTER_FAILURES = 3
LEGACY_MARKERS = frozenset({"systeminfo", "hwmonitor", "diskinfo", "poolinfo", "volumeinfo"})
_UNIFIED_STATUSES = frozenset({400, 401, 403, 405})


def flavour_from_probe(status: int, is_json: bool) -> str | None:
    """unified, legacy, or None (undecided) from the probe's answer."""
    if status in _UNIFIED_STATUSES or (200 <= status < 300 and is_json):
        return "unified"
    if status == 404 or 300 <= status < 400 or (200 <= status < 300 and not is_json):
        return "legacy"
    return None


class AutoSource:
    """A `Source` that probes the flavour first, then delegates; `api` tells which it chose."""

    def __init__(self, unified: Fetcher, unified_client: Closable,
                 legacy: Fetcher, legacy_client: LegacyClient, *, name: str = "") -> None:
        self._sources = {"unified": unified, "legacy": legacy}
        self._unified_client = unified_client
        self._legacy_client = legacy_client
        self._name = name or legacy_client.base_url
        self._api: str | None = None
        self._failures = 0
        # With max_concurrent_requests > 1 the poll fetches areas in parallel: the flavour and
        # the failure streak are shared by those threads, so they change under this lock only.
        self._lock = threading.Lock()

    @property
    def clients(self) -> tuple[Closable, LegacyClient]:
        """The Unified and the legacy client (they share connection pools, not cookies)."""
        return self._unified_client, self._legacy_client

    @property
    def api(self) -> str | None:
        """The flavour in use: "unified", "legacy", or None before the first decision."""
        return self._api

    def fetch(self, area: str) -> Any:
        api = self._flavour()
        try:
            result = self._sources[api].fetch(area)
        except (ApiUnreachable, ApiAuthError):
            self._count_failure(api)
            raise
        with self._lock:
            self._failures = 0
        return result

    def _flavour(self) -> str:
        """The flavour in use, probing once (other areas' threads wait for that probe)."""
        with self._lock:
            if self._api is None:
                self._api = detect(self._legacy_client, self._name)
            return self._api

    def _count_failure(self, api: str) -> None:
        with self._lock:
            if self._api != api:  # another area's thread already gave up on this flavour
                return
            self._failures += 1
            if self._failures >= REPROBE_AFTER_FAILURES:
                log.info("array=%s: %d failures in a row with the %s API; probing the flavour "
                         "again next time", self._name, self._failures, api)
                self._api, self._failures = None, 0

    def close(self) -> None:
        for client in (self._unified_client, self._legacy_client):
            try:
                client.close()
            except Exception:
                log.exception("array=%s: closing an API client failed", self._name)


def detect(legacy_client: LegacyClient, name: str) -> str:
    """Probe the array behind `legacy_client` (no login): "unified" or "legacy".

    Raises ApiUnreachable when the answer tells neither (the caller probes again later).
    """
    answer = legacy_client.probe(PROBE_PATH)
    api = flavour_from_probe(answer.status, answer.json)
    if api == "unified" and answer.status in (401, 403) and _legacy_help(legacy_client, name):
        api = "legacy"  # a legacy array that refuses every unknown path without a session
    if api is None:
        raise ApiUnreachable(f"GET {PROBE_PATH} at {legacy_client.base_url}: "
                             f"HTTP {answer.status} tells neither API flavour; probing "
                             "again next poll")
    log.info("array=%s: detected the %s API (GET %s answered HTTP %d)", name,
             "SANOS 4.0 legacy" if api == "legacy" else "Unified", PROBE_PATH, answer.status)
    return api


def _legacy_help(legacy_client: LegacyClient, name: str) -> bool:
    """True if `GET /rest/` answers the legacy API list (only asked when step 1 was 401)."""
    try:
        words = legacy_client.help_words()
    except ApiError as exc:
        log.debug("array=%s: GET %s: %s", name, HELP_PATH, exc)
        return False
    return bool(words and LEGACY_MARKERS & words)
