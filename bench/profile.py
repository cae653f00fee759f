"""`python -m bench.profile`: where the CPU of a poll of the target array goes.

cProfile around `ArrayPoll.poll()` + `Exposition.publish()` only (the work of the CPU-per-poll
figure), over N polls after a warm-up round (logins, log history), timed by the thread's CPU
clock (`time.thread_time`), so time spent waiting for an answer counts for nothing.

Each function's *exclusive* time (tottime) goes to one part by its file path (`PARTS`, first
match wins), so the parts add up to the profiled total. A built-in (file `~`) is classed by its
name when `PARTS` knows it (zlib, _json, _socket, _ssl, select) and otherwise by whoever called
it, in proportion to the time each caller spent in it (str.join called by the renderer is
rendering). The simulators run in another process, so none of their time is here.

cProfile's own cost per call lands in the functions it times, so parts made of many small calls
weigh more under it: a part's ms are its share of the profiled total applied to the same kind of
polls' CPU without the profiler - an estimate; read the ranking first.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import inspect
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bench import phases, report
from bench.fleet import TARGET, SimFleet
from qsan_exporter.collectors.base import FamilyBuilder

Func = tuple[str, int, str]  # cProfile's key: file, first line, name

# The one classification table: (part, fragments of a file path, or of a built-in's name).
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("compression", ("/gzip.py", "zlib.", "'zlib")),
    ("JSON decoding", ("/json/", "_json")),
    ("HTTP client", (
        "/requests/", "/urllib3/", "/http/client.py", "/socket.py", "/ssl.py", "/selectors.py",
        "/email/", "/urllib/parse.py", "/idna/", "/charset_normalizer/", "_socket", "_ssl",
        "select.", "'select", "/qsan_exporter/api/transport.py", "/qsan_exporter/api/guard.py",
        "/qsan_exporter/api/watchdog.py", "/qsan_exporter/api/adapter.py",
        "/qsan_exporter/api/wire.py",
        "/qsan_exporter/api/answer.py", "/qsan_exporter/api/stats.py",
        "/qsan_exporter/api/unified/client.py",
        "/qsan_exporter/api/unified/auth_wire.py", "/qsan_exporter/api/legacy/client.py",
    )),
    ("rendering", ("/qsan_exporter/exposition/", "/prometheus_client/", "FamilyBuilder")),
    ("translation", (
        "/qsan_exporter/collectors/", "/qsan_exporter/api/readers.py",
        "/qsan_exporter/api/source.py", "/qsan_exporter/api/unified/source.py",
        "/qsan_exporter/api/legacy/",
    )),
)
REST = "scheduling and the rest"  # apscheduler, poll/, threading, snapshot, logging...
PART_NAMES = (*(name for name, _ in PARTS), REST)
_BUILTIN = "~"
_CALLER_DEPTH = 4  # built-ins calling built-ins: follow callers this far, then REST


def _family_builder_functions() -> set[Func]:
    """FamilyBuilder's own methods (rendering), told apart from the rest of collectors/base.py."""
    out = set()
    for _, function in inspect.getmembers(FamilyBuilder, inspect.isfunction):
        code = function.__code__
        out.add((code.co_filename, code.co_firstlineno, code.co_name))
    return out


_FAMILY_BUILDER = _family_builder_functions()


def part_of_path(text: str) -> str | None:
    """The part whose fragment `text` (a path, or a built-in's name) contains; None if none."""
    for name, fragments in PARTS:
        if any(fragment in text for fragment in fragments):
            return name
    return None


def _classify(func: Func, stats: Mapping[Func, Any], depth: int = 0) -> dict[str, float]:
    """Seconds of `func`'s own time per part (usually one part; built-ins split by callers)."""
    filename, _, name = func
    own = stats[func][2]
    if func in _FAMILY_BUILDER:
        return {"rendering": own}
    known = part_of_path(name if filename == _BUILTIN else filename.replace("\\", "/"))
    if known is not None or filename != _BUILTIN:
        return {known or REST: own}
    callers = stats[func][4]
    edge_total = sum(edge[2] for edge in callers.values())
    if not callers or edge_total <= 0 or depth >= _CALLER_DEPTH:
        return {REST: own}
    out: dict[str, float] = {}
    for caller, edge in callers.items():
        share = own * edge[2] / edge_total
        parts = _classify(caller, stats, depth + 1) if caller in stats else {REST: 1.0}
        caller_total = sum(parts.values()) or 1.0
        for part, seconds in parts.items():
            out[part] = out.get(part, 0.0) + share * seconds / caller_total
    return out


def split(stats: Mapping[Func, Any]) -> dict[str, float]:
    """Exclusive seconds per part of `cProfile.Profile.stats`; every part of PART_NAMES."""
    out = dict.fromkeys(PART_NAMES, 0.0)
    for func in stats:
        for part, seconds in _classify(func, stats).items():
            out[part] += seconds
    return out


@dataclass
class Profile:
    polls: int
    failed_polls: int
    arrays: int
    profiled_ms_per_poll: float  # thread CPU under cProfile: its own cost per call included
    cpu_ms_per_poll: float  # the same polls' CPU without the profiler
    parts_percent: dict[str, float]  # of the profiled total; the parts add up to 100
    parts_ms_per_poll: dict[str, float]  # each part's share of the unprofiled CPU per poll
    top_functions: list[str]  # the heaviest by own time (profiled ms per poll)


def profile_polls(urls: list[str], polls: int, cpu_per_poll: float | None = None) -> Profile:
    """Profile `polls` polls spread over `urls` (target arrays), after a warm-up round.

    `cpu_per_poll` is the unprofiled CPU seconds per poll of the same kind of array; measured
    here first when not given.
    """
    rounds = max(1, math.ceil(polls / len(urls)))
    if cpu_per_poll is None:
        cost, exposition = phases.measure_poll_cost(urls, rounds)
        exposition.close()
        cpu_per_poll = cost.cpu_seconds_per_poll
    profiler = cProfile.Profile(time.thread_time)  # CPU: waiting for an answer costs none
    cost, exposition = phases.measure_poll_cost(urls, rounds, profiler=profiler)
    exposition.close()
    profiler.create_stats()
    raw: dict[Func, Any] = profiler.stats
    parts = split(raw)
    total = sum(parts.values()) or 1.0
    share = {k: v / total for k, v in parts.items()}
    heaviest = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:10]
    return Profile(
        polls=cost.polls, failed_polls=cost.failed_polls, arrays=len(urls),
        profiled_ms_per_poll=total * 1000 / cost.polls, cpu_ms_per_poll=cpu_per_poll * 1000,
        parts_percent={k: 100 * v for k, v in share.items()},
        parts_ms_per_poll={k: v * cpu_per_poll * 1000 for k, v in share.items()},
        top_functions=[f"{f[0]}:{f[1]}({f[2]}): {v[2] * 1000 / cost.polls:.2f} ms"
                       for f, v in heaviest],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    p.add_argument("--polls", type=int, default=40, help="profiled polls (default 40)")
    p.add_argument("--arrays", type=int, default=10,
                   help="target arrays polled in turn (default 10)")
    p.add_argument("--top", action="store_true", help="also print the heaviest functions")
    args = p.parse_args(argv)
    phases.quiet()
    with SimFleet([TARGET] * args.arrays) as sims:
        profile = profile_polls(sims.urls, args.polls)
    print("\n".join(report.profile_lines(dataclasses.asdict(profile))))
    if args.top:
        print("\n".join(profile.top_functions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
