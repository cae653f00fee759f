"""The exporter's own families of one array, from the typed status of its latest poll.

A pure collector like those in collectors/: the poll keeps its state typed (snapshot.py) and
the status page reads that; only here does it become `qsan_up`, `qsan_collector_success`, ...
"""

from __future__ import annotations

from qsan_exporter.collectors.base import Family, FamilyBuilder
from qsan_exporter.snapshot import Snapshot


def exporter_families(status: Snapshot) -> list[Family]:
    out = FamilyBuilder(status.labels)
    out.add("qsan_up", {}, 1 if status.up else 0)
    for name, state in status.collectors.items():
        out.add("qsan_collector_success", {"collector": name}, 1 if state.success else 0)
        out.add("qsan_collector_duration_seconds", {"collector": name}, state.duration)
    out.add("qsan_poll_duration_seconds", {}, status.duration)
    if status.last_success is not None:
        out.add("qsan_last_poll_success_timestamp_seconds", {}, status.last_success)
    if status.api is not None:
        for (endpoint, code), count in sorted(status.api.requests.items()):
            out.add("qsan_api_requests_total", {"endpoint": endpoint, "code": code}, count)
        out.add("qsan_auth_logins_total", {}, status.api.logins)
        out.add("qsan_auth_refreshes_total", {}, status.api.refreshes)
        if status.api.login_failures is not None:
            out.add("qsan_auth_login_failures_total", {}, status.api.login_failures)
    out.add("qsan_poll_consecutive_failures", {}, status.failures)
    out.add("qsan_poll_backoff", {}, 1 if status.backoff else 0)
    if status.next_attempt is not None:
        out.add("qsan_poll_next_attempt_timestamp_seconds", {}, status.next_attempt)
    if status.identity is not None:
        i = status.identity
        out.info("qsan_array_info",
                 {"api": i.api, "product": i.product, "model": i.model, "serial": i.serial})
    return out.built()
