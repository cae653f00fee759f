"""Fault injection: what a broken array, proxy or network does to the exporter, on demand.

A `Fault` is a value: a kind, a route pattern and the kind's parameter. A `FaultSet` (one per
`SimulatedArray`, as `sim.faults`) holds the active ones, in the order they were added, and
hands each request at most one of them::

    sim.faults.add(Fault(kind="status", route="/rest/v1/storage/disk/list", status=500))
    sim.faults.add(Fault(kind="latency", route="*", seconds=0.05, count=3))
    sim.faults.active(); sim.faults.clear(); sim.revoke_all_tokens()

Kinds (parameter in brackets; the `ARG` of the CLI's `--fault KIND:ROUTE[:ARG]`):

- answered instead of the real answer: ``status`` [status, default 503] an HTTP error with a
  JSON error body; ``rate_limit`` [retry_after, default 30] 429 with ``Retry-After: N``;
  ``login_fail`` 401 on ``/auth/get`` even with the right password (400 on a `literal`
  array; counted in `failed_logins`; the only path it applies to).
- no answer: ``hang`` holds the request until `clear()` or `stop()`, then closes the connection
  unanswered; ``reset`` closes at once with a TCP RST (SO_LINGER 0).
- slow: ``latency`` [seconds, default 1.0] waits, then answers normally; ``trickle``
  [seconds, default 1.0] sends the whole answer, headers included, `chunk_bytes` (default 1)
  at a time, one piece every `seconds` (an array that never stalls long enough for a read
  timeout, yet never finishes).
- a 2xx answer made bad (an error answer, e.g. 401, passes unchanged): ``malformed_json``
  (200, not JSON), ``truncated`` (full Content-Length, half the body, then close),
  ``wrong_types`` [seed] (numbers become objects/lists, lists strings, ...),
  ``missing_fields`` [seed] (keys removed at every depth), ``huge`` [megabytes, default 20]
  (the answer plus a padding list up to that size; still valid JSON), ``deep`` [depth,
  default 200000] (lists nested that deep instead of the answer), ``many_keys`` [keys, default
  1000000] (one object with that many keys instead of the answer).

Revoking every token is an action, not a standing fault: `SimulatedArray.revoke_all_tokens()`.

Matching, per request, in this order:

1. Only requests to the API are considered: the simulator's own ``/_sim/*`` never is.
2. Faults are tried in the order they were added (the CLI's order of ``--fault`` flags); the
   first that matches wins and is the only fault applied to that request.
3. A fault matches when its route matches the request path (query ignored): an exact path
   (``/rest/v1/storage/disk/list``), a prefix ending in ``*`` (``/rest/v1/backup/*``), or
   ``*`` alone for every path; except that ``*`` alone skips ``/auth/*`` for the five
   body-shaping kinds (so a mangled login does not hide the mangled data: name ``/auth/*`` to
   mangle logins) and ``login_fail`` only ever applies to ``/auth/get``.
4. With ``probability`` < 1, a matching fault then draws from its own RNG (seeded by ``seed``):
   on a miss the next fault is tried. Same seed, same sequence of requests: same outcome.
5. A fault with ``count`` applies to that many requests, then expires (leaves `active()`).

Cost when nothing is active: `FaultSet.armed` is one attribute read per request.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

REPLACING_KINDS = ("status", "rate_limit", "login_fail", "hang", "reset", "latency", "trickle")
SHAPING_KINDS = ("malformed_json", "truncated", "wrong_types", "missing_fields", "huge", "deep",
                 "many_keys")
KINDS = REPLACING_KINDS + SHAPING_KINDS
ACTIONS = ("revoke_tokens",)  # accepted nowhere as a standing fault; named in the error
LOGIN_PATH = "/auth/get"

# The kind -> field its CLI `ARG` sets.
ARG_FIELD = {"latency": "seconds", "status": "status", "rate_limit": "retry_after",
             "huge": "megabytes", "wrong_types": "seed", "missing_fields": "seed",
             "trickle": "seconds", "deep": "depth", "many_keys": "keys"}


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour; see the module docstring for kinds and matching.

    Only the field of its kind matters (`seconds` for latency, `status` for status,
    `retry_after` for rate_limit, `megabytes` for huge, `seed` for wrong_types and
    missing_fields); `seed` also seeds the `probability` draws.
    """

    kind: str
    route: str = "*"
    count: int | None = None
    probability: float = 1.0
    seed: int = 0
    seconds: float = 1.0
    status: int = 503
    retry_after: int = 30
    megabytes: float = 20.0
    chunk_bytes: int = 1
    depth: int = 200_000
    keys: int = 1_000_000

    def __post_init__(self) -> None:
        problems = []
        if self.kind in ACTIONS:
            problems.append(f"{self.kind!r} is an action, not a fault: call "
                            "sim.revoke_all_tokens() or POST /_sim/revoke-tokens")
        elif self.kind not in KINDS:
            problems.append(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if not isinstance(self.route, str) or not (
                self.route == "*" or (self.route.startswith("/") and "*" not in
                                      self.route[:-1])):
            problems.append(f"route must be '*', an exact path or a prefix ending in '*', "
                            f"not {self.route!r}")
        if self.count is not None and (not _is_int(self.count) or self.count < 1):
            problems.append("count must be a whole number >= 1 or null (no limit)")
        if not _is_number(self.probability) or not 0 < self.probability <= 1:
            problems.append("probability must be > 0 and <= 1")
        if not _is_int(self.seed):
            problems.append("seed must be a whole number")
        if not _is_number(self.seconds) or self.seconds < 0:
            problems.append("seconds must be >= 0")
        if not _is_int(self.status) or not 400 <= self.status <= 599:
            problems.append("status must be an HTTP error code (400-599)")
        if not _is_int(self.retry_after) or self.retry_after < 0:
            problems.append("retry_after must be a whole number of seconds >= 0")
        if not _is_number(self.megabytes) or self.megabytes <= 0:
            problems.append("megabytes must be > 0")
        for name in ("chunk_bytes", "depth", "keys"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                problems.append(f"{name} must be a whole number >= 1")
        if problems:
            raise ValueError("invalid fault: " + "; ".join(problems))

    def matches(self, path: str) -> bool:
        """Whether this fault's route (and kind) covers a request to `path`."""
        if self.kind == "login_fail" and path != LOGIN_PATH:
            return False
        if self.route == "*":
            return not (self.kind in SHAPING_KINDS and path.startswith("/auth/"))
        if self.route.endswith("*"):
            return path.startswith(self.route[:-1])
        return path == self.route

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        """From JSON (the admin endpoint): unknown keys are an error, not silently ignored."""
        if not isinstance(data, dict):
            raise ValueError("a fault is a JSON object with at least 'kind'")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}; "
                             f"known: {', '.join(sorted(known))}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        return cls(**data)


def parse_fault(spec: str) -> Fault:
    """The CLI form ``KIND:ROUTE[:ARG][:FIELD=VALUE...]``, e.g. ``latency:*:0.05``,
    ``status:/rest/v1/storage/disk/list:500``, ``rate_limit:*:30``,
    ``status:*:502:count=3:probability=0.5:seed=7``."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ValueError(f"--fault must be KIND:ROUTE[:ARG], not {spec!r}")
    route, *parts = rest.split(":")
    values: dict[str, Any] = {"kind": kind, "route": route}
    types = {f.name: f.type for f in fields(Fault)}
    for part in parts:
        name, eq, text = part.partition("=")
        if not eq:
            name, text = ARG_FIELD.get(kind, ""), part
            if not name:
                raise ValueError(f"--fault {spec!r}: kind {kind!r} takes no ARG")
        if name not in types or name in ("kind", "route"):
            raise ValueError(f"--fault {spec!r}: unknown field {name!r}")
        if name in values:
            raise ValueError(f"--fault {spec!r}: {name} given twice")
        try:
            values[name] = float(text) if "float" in str(types[name]) else int(text)
        except ValueError:
            raise ValueError(f"--fault {spec!r}: {name} must be a number, not {text!r}") from None
    return Fault(**values)


@dataclass
class _Entry:
    fault: Fault
    remaining: int | None
    rng: random.Random = field(repr=False)


class FaultSet:
    """The active faults of one array; safe to change from any thread while it serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._cleared = threading.Event()  # replaced on every clear(): wakes hung requests
        self.armed = False  # the one check a request pays when no fault is active

    def add(self, fault: Fault) -> Fault:
        """Activate `fault` after those already active (so they match first)."""
        if not isinstance(fault, Fault):
            raise TypeError(f"expected a Fault, not {type(fault).__name__}")
        with self._lock:
            self._entries.append(_Entry(fault, fault.count, random.Random(fault.seed)))
            self.armed = True
        return fault

    def clear(self) -> int:
        """Drop every fault and release every request a `hang` holds; returns how many."""
        with self._lock:
            dropped, self._entries = len(self._entries), []
            self.armed = False
            cleared, self._cleared = self._cleared, threading.Event()
        cleared.set()
        return dropped

    def active(self) -> list[Fault]:
        """Active faults in matching order; `count` is what remains of each one's count."""
        with self._lock:
            return [replace(e.fault, count=e.remaining) for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, path: str) -> tuple[Fault, threading.Event] | None:
        """The fault for one request to `path`, counted against its `count`, or None; with the
        event a `hang` waits on (set by the next `clear()`)."""
        with self._lock:
            for entry in self._entries:
                fault = entry.fault
                if not fault.matches(path):
                    continue
                if fault.probability < 1 and entry.rng.random() >= fault.probability:
                    continue
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining <= 0:
                        self._entries.remove(entry)
                        self.armed = bool(self._entries)
                return fault, self._cleared
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
