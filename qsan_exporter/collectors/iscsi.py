"""iSCSI targets and sessions from `/rest/v1/iscsi/target/list` and `/rest/v1/iscsi/session/list`.

Input (`data.raw["iscsi"]`), abridged from the manual::

    {"targets": {"iscsi": [{"ctrlID": 0, "port": 3260, "targets": [
                    {"id": 0, "name": "iqn.2004-08.com.qsan:xs5216-000124750:dev0.ctr1",
                     "auth": "CHAP", "alias": 123, "portals": ["1", "2"],
                     "freeLuns": [0, 1, 2, 3]}]}]},
     "sessions": {"iscsi": [{"ctrlID": 0, "sessions": [
                    {"id": "101", "TSIH": "16385", "initiatorName": "iqn.1998-01.com.vmware:esx01",
                     "targetID": "0", "targetName": "iqn.2004-08.com.qsan:...:dev0.ctr1"}]}]}}

Why it looks the way it does:
- `qsan_iscsi_sessions` is exported for every listed target, 0 included: "a host lost its
  paths" must be a value an alert can compare, not a series that vanishes.
- SAN/FAS sessions name their target by `targetID` and carry `id`/`TSIH`; NAS sessions have
  only `targetName` and the client's address, so there the target is found by name and the
  session is named "clientIP:clientPort".
- A session is matched on its own controller first, then on any controller (session lists
  that number controllers differently from target lists are still counted once).
- The target list's `port` is a label of the target; NAS sessions' `clientName` a label and
  their `loginTime` a timestamp series. The session list's per-controller `status` entries
  (undocumented "Object array", 002 l.988) become one health series per connection.
- Both readings of the manual (qsan_exporter/readings.py): each `iscsi` as a list or an object
  (`volumes-iscsi-object`), `null` for an empty `targets`/`sessions`/`portals`/`freeLuns` list
  (`null-lists-services`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qsan_exporter.api.readers import as_items, entries, field, item_list, reported, text
from qsan_exporter.collectors.base import FamilyBuilder, PollData, link_health

NAME = "iscsi"
Key = tuple[str, str]  # (controller, target id)


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Target identity and size, then per-target session counts and one series per session."""
    raw = data.raw[NAME]
    if not isinstance(raw, Mapping):
        raise TypeError(f"iscsi: expected a JSON object, got {type(raw).__name__}")
    controllers = item_list(field(raw, "targets"), "iscsi targets", "iscsi")
    # No session data at all (a legacy array's availtarget without it): the count is unknown,
    # and is omitted rather than exported as 0.
    sessions_known = field(raw, "sessions") is not None
    session_groups = (item_list(field(raw, "sessions"), "iscsi sessions", "iscsi")
                      if sessions_known else [])

    counts: dict[Key, int] = {}
    names: dict[tuple[str, str], str] = {}  # (controller, target name) -> target id
    for group in controllers:
        if not isinstance(group, Mapping):
            continue
        controller = text(field(group, "ctrlID", "ctrlId"))
        for index, target in enumerate(entries(group, "targets")):
            target_id = text(field(target, "id")) or str(index)
            name = text(field(target, "name"))
            labels = {"controller": controller, "target": target_id}
            out.info("qsan_iscsi_target_info", {
                **labels, "name": name,
                "alias": text(field(target, "alias")),
                "auth": text(field(target, "auth")),
                "port": text(field(group, "port")),
            })
            for metric, key in (("qsan_iscsi_target_free_luns", "freeLuns"),
                                ("qsan_iscsi_target_portals", "portals")):
                listed = field(target, key)
                if isinstance(listed, list) or (listed is None and key in target):
                    out.add(metric, labels, len(as_items(listed, key)))
            counts.setdefault((controller, target_id), 0)
            if name:
                names.setdefault((controller, name), target_id)

    for group in session_groups:
        if isinstance(group, Mapping):
            _sessions(group, counts, names, out)

    if not sessions_known:
        return
    for (controller, target_id), count in counts.items():
        out.add("qsan_iscsi_sessions", {"controller": controller, "target": target_id}, count)


def _sessions(group: Mapping[str, Any], counts: dict[Key, int],
              names: dict[tuple[str, str], str], out: FamilyBuilder) -> None:
    """One controller's sessions (counted per target) and its connection status entries."""
    controller = text(field(group, "ctrlID", "ctrlId"))
    for index, session in enumerate(entries(group, "sessions")):
        key = _target_of(session, controller, counts, names)
        if key is not None:
            counts[key] += 1
        target = key[1] if key is not None else text(field(session, "targetID", "targetId"))
        labels = {"controller": controller, "session": _session_name(session, index)}
        out.info("qsan_iscsi_session_info", {
            **labels,
            "initiator": text(field(session, "initiatorName")),
            "target": target,
            "client_ip": text(field(session, "clientIP", "clientIp")),
            "client_name": text(field(session, "clientName")),
        })
        out.add("qsan_iscsi_session_login_timestamp_seconds", labels,
                reported(field(session, "loginTime")))
    # "status: Object array, Iscsi connection status" (manual 002 l.988): the entries are not
    # described, so a name and a status are looked for under the likely keys.
    for index, entry in enumerate(entries(group, "status")):
        connection = text(field(entry, "name", "port", "portal", "id")) or str(index)
        status = field(entry, "status", "state", "value")
        labels = {"controller": controller, "connection": connection}
        out.info("qsan_iscsi_connection_info", {**labels, "status": text(status)})
        out.add("qsan_iscsi_connection_health", labels, link_health(status))


def _target_of(
    session: Mapping[str, Any], controller: str, counts: dict[Key, int],
    names: dict[tuple[str, str], str],
) -> Key | None:
    """The listed target a session belongs to: by targetID (SAN/FAS) or targetName (NAS)."""
    target_id = text(field(session, "targetID", "targetId"))
    if target_id:
        if (controller, target_id) in counts:
            return (controller, target_id)
        return next((k for k in counts if k[1] == target_id), None)
    name = text(field(session, "targetName"))
    if not name:
        return None
    if (controller, name) in names:
        return (controller, names[(controller, name)])
    return next(((c, t) for (c, n), t in names.items() if n == name), None)


def _session_name(session: Mapping[str, Any], index: int) -> str:
    for key in ("id", "TSIH"):
        value = text(field(session, key))
        if value:
            return value
    ip, port = text(field(session, "clientIP", "clientIp")), text(field(session, "clientPort"))
    if ip:
        return f"{ip}:{port}" if port else ip
    return str(index)
