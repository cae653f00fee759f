"""The simulator's own admin routes under ``/_sim/``: switch faults while a test or demo runs.

No authentication, on purpose: this is a test tool, and anyone who can reach a simulator can
change its faults and read its stats. Bind it to loopback. These routes are never faulted,
never counted in the stats and never slowed by a subclass's `respond`.

==========================  =========================================================
``GET /_sim/faults``        ``{"faults": [...]}`` active faults in matching order
                            (``count`` = what remains of it)
``POST /_sim/faults``       body: a fault as a JSON object (``{"kind": "status",
                            "route": "*", "status": 502, "count": 2}``) or the CLI
                            form as a JSON string (``"latency:*:0.05"``); 201 with
                            ``{"fault": {...}, "faults": [...]}``, 400 with the reason
``DELETE /_sim/faults``     ``{"cleared": N}``; releases hung requests
``POST /_sim/revoke-tokens`` ``{"revoked_access_tokens": N}``: every token dies now
``GET /_sim/stats``         the counters of `Stats` plus ``live_token_sets``
``POST /_sim/events``       body: an event or a list of them (``{"level": "error",
                            "message": "Disk 3 failed.", "timestamp": 1700000000,
                            "count": 2}``; timestamp defaults to now, count to 1): added
                            to the array's event log; 201 with ``{"events": [...]}``
==========================  =========================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qsan_exporter.simulator.faults import Fault, parse_fault

if TYPE_CHECKING:
    from qsan_exporter.simulator.server import SimulatedArray

PREFIX = "/_sim/"
Answer = tuple[int, Any]


def answer(sim: SimulatedArray, method: str, path: str, raw: bytes) -> tuple[int, bytes, str]:
    """(status, JSON body, the Allow header for a 405 or "")."""
    routes: dict[str, dict[str, Callable[[], Answer]]] = {
        "/_sim/faults": {
            "GET": lambda: (200, {"faults": _listed(sim)}),
            "POST": lambda: _add(sim, raw),
            "DELETE": lambda: (200, {"cleared": sim.faults.clear()}),
        },
        "/_sim/revoke-tokens": {
            "POST": lambda: (200, {"revoked_access_tokens": sim.revoke_all_tokens()}),
        },
        "/_sim/stats": {"GET": lambda: (200, sim.stats_snapshot())},
        "/_sim/events": {"POST": lambda: _add_events(sim, raw)},
    }
    methods = routes.get(path.rstrip("/") or path)
    if methods is None:
        return 404, _error(404, f"no admin route {path}; known: {', '.join(routes)}"), ""
    handler = methods.get(method)
    if handler is None:
        return 405, _error(405, f"{method} not allowed"), ", ".join(methods)
    status, body = handler()
    return status, json.dumps(body).encode(), ""


def _listed(sim: SimulatedArray) -> list[dict[str, Any]]:
    return [fault.to_dict() for fault in sim.faults.active()]


def _add(sim: SimulatedArray, raw: bytes) -> Answer:
    try:
        data = json.loads(raw or b"null")
        fault = parse_fault(data) if isinstance(data, str) else Fault.from_dict(data)
    except (ValueError, TypeError) as exc:
        return 400, {"code": 400, "message": str(exc)}
    sim.faults.add(fault)
    return 201, {"fault": fault.to_dict(), "faults": _listed(sim)}


def _add_events(sim: SimulatedArray, raw: bytes) -> Answer:
    try:
        data = json.loads(raw or b"null")
        wanted = [_event_spec(item) for item in (data if isinstance(data, list) else [data])]
    except (ValueError, TypeError) as exc:
        return 400, {"code": 400, "message": str(exc)}
    now = sim.clock()
    added = [sim.device.logs.add(now, level, message, timestamp)
             for level, message, timestamp, count in wanted for _ in range(count)]
    return 201, {"events": added}


def _event_spec(item: Any) -> tuple[str, str, int | None, int]:
    """(level, message, timestamp, count) of one requested event; ValueError if unusable."""
    if not isinstance(item, dict) or not isinstance(item.get("message"), str):
        raise ValueError('an event is an object with a "message" string')
    level, timestamp, count = item.get("level", "error"), item.get("timestamp"), \
        item.get("count", 1)
    if not isinstance(level, str) or not level:
        raise ValueError('"level" must be a non-empty string')
    if timestamp is not None and (isinstance(timestamp, bool)
                                  or not isinstance(timestamp, int | float)):
        raise ValueError('"timestamp" must be a number (unix seconds)')
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 100_000:
        raise ValueError('"count" must be an integer from 1 to 100000')
    return level, item["message"], None if timestamp is None else int(timestamp), count


def _error(status: int, message: str) -> bytes:
    return json.dumps({"code": status, "message": message}).encode()
