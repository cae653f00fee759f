"""`python -m bench.run`: every figure of issue 4 in one command; `--quick` for a smoke run.

Order: simulators start in their own process; poll cost is measured on this thread and leaves an
exposition of `--arrays` arrays behind; the three servers are scraped over that data; the fleet
phase (real Poller, 50 ms per API request) and the memory points each run in a fresh process.
Then the table is printed, the JSON written and (full runs) the README section rewritten.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import phases, report
from bench.fleet import ArraySize, SimFleet
from bench.latency import measure_latency

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
FLEET_LATENCY_SECONDS = 0.050
REAL_INTERVAL_SECONDS = 60.0
# The scaled fleet run aims at this much CPU, leaving the other core to the simulators.
FLEET_SCALED_CPU_CORES = 0.5
FLEET_MIN_INTERVAL_SECONDS = 10.0
FRESH_SLACK = 0.10  # an array is fresh while its age stays below 1.1 x the interval
CPU_CEILING_CORES = 0.8  # one process, one GIL: plan for 80 % of one core at most

# targets of issue 4
A_OVER_C_MAX = 2.0
B_OVER_A_MIN = 20.0
FLEET_TARGET_ARRAYS = 300
FLEET_CPU_MAX_CORES = 0.5
GROWTH_MAX_BYTES = 1024 * 1024


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--arrays", type=int, default=100,
                   help="arrays behind /metrics and in the poll-cost phase (default 100)")
    p.add_argument("--scrapes", type=int, default=200, help="scrapes per server (default 200)")
    p.add_argument("--baseline-budget", type=float, default=60.0, metavar="SECONDS",
                   help="time the slow baseline may take; at least 3 scrapes (default 60)")
    p.add_argument("--poll-rounds", type=int, default=3,
                   help="measured poll rounds over every array (default 3, plus 1 warm-up)")
    p.add_argument("--fleet-arrays", type=int, default=FLEET_TARGET_ARRAYS)
    p.add_argument("--fleet-interval", type=float, default=None, metavar="SECONDS",
                   help="scaled poll interval of the fleet phase (default: from the poll cost)")
    p.add_argument("--fleet-window", type=float, default=2.0, metavar="INTERVALS",
                   help="measured fleet window, in intervals (default 2)")
    p.add_argument("--memory-arrays", default="10,100,300", metavar="N,N,...")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 arrays, 5 scrapes, a 4-array fleet at 1.5 s, memory at 1 "
                        "and 2; never touches the README")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README section")
    return p


def _quick(args: argparse.Namespace) -> None:
    args.arrays, args.scrapes, args.baseline_budget, args.poll_rounds = 2, 5, 2.0, 1
    args.fleet_arrays, args.fleet_interval, args.fleet_window = 4, 1.5, 1.0
    args.memory_arrays = "1,2"
    args.no_readme = True


def fleet_interval(arrays: int, cpu_per_poll: float) -> float:
    """Scale 60 s down so the run is short but its CPU stays within FLEET_SCALED_CPU_CORES.

    N arrays at interval I make the same poll rate, CPU rate, request rate and polls in flight
    as N x 60/I arrays at 60 s: a fresh run at I shows that load is sustainable at 60 s.
    """
    wanted = arrays * cpu_per_poll / FLEET_SCALED_CPU_CORES
    return float(min(REAL_INTERVAL_SECONDS, max(FLEET_MIN_INTERVAL_SECONDS, math.ceil(wanted))))


def _fleet_summary(run: phases.FleetRun, workers_hint: int) -> dict[str, Any]:
    out = dataclasses.asdict(run)
    scale = REAL_INTERVAL_SECONDS / run.interval_seconds
    cores_at_60 = run.cpu_utilisation / scale
    workers = run.workers or workers_hint
    cpu_bound = run.arrays * CPU_CEILING_CORES / cores_at_60 if cores_at_60 > 0 else math.inf
    wall = run.poll_wall_mean_seconds
    concurrency_bound = workers * REAL_INTERVAL_SECONDS / wall if wall > 0 else math.inf
    out.update(
        latency_per_request_seconds=FLEET_LATENCY_SECONDS,
        scale_factor=scale,
        equivalent_arrays_at_60s=round(run.arrays * scale),
        cpu_cores_at_60s=cores_at_60,
        fresh_limit_seconds=run.interval_seconds * (1 + FRESH_SLACK),
        fresh=(run.max_age_seconds < run.interval_seconds * (1 + FRESH_SLACK)
               and run.failed_polls == 0 and run.arrays_never_polled_in_window == 0),
        max_arrays_cpu_bound_at_60s=int(min(cpu_bound, 1e9)),
        max_arrays_concurrency_bound_at_60s=int(min(concurrency_bound, 1e9)),
        max_arrays_at_60s=int(min(cpu_bound, concurrency_bound, 1e9)),
    )
    return out


def _memory_summary(points: list[phases.MemoryPoint]) -> dict[str, Any]:
    xs = [p.arrays for p in points]
    ys = [p.rss_bytes for p in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread \
        if spread else 0.0
    return {"points": [dataclasses.asdict(p) for p in points],
            "growth_per_array_bytes": slope,
            "method": "least-squares slope of RSS over arrays, one fresh process per point"}


def _targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    lat, fleet, mem = results["latency"], results["fleet"], results["memory"]
    static = lat["static"]["p50_seconds"]
    fresh_after = lat["exporter_after_publish"]["p50_seconds"]
    cached = lat["exporter_cached"]["p50_seconds"]
    base = lat["baseline"]["p50_seconds"]
    fleet_ok = (fleet["fresh"] and fleet["cpu_cores_at_60s"] < FLEET_CPU_MAX_CORES
                and fleet["equivalent_arrays_at_60s"] >= FLEET_TARGET_ARRAYS)
    targets = [
        report.Target("a/c p50, exporter after a publish / static", fresh_after / static,
                      f"<= {A_OVER_C_MAX:g}", fresh_after / static <= A_OVER_C_MAX,
                      f"{fresh_after / static:.1f}x"),
        report.Target("a'/c p50, exporter cached / static", cached / static,
                      f"<= {A_OVER_C_MAX:g}", cached / static <= A_OVER_C_MAX,
                      f"{cached / static:.1f}x"),
        report.Target("b/a p50, baseline / exporter after a publish", base / fresh_after,
                      f">= {B_OVER_A_MIN:g}", base / fresh_after >= B_OVER_A_MIN,
                      f"{base / fresh_after:.0f}x"),
        report.Target("b/a' p50, baseline / exporter cached", base / cached,
                      f">= {B_OVER_A_MIN:g}", base / cached >= B_OVER_A_MIN,
                      f"{base / cached:.0f}x"),
        report.Target(f"{FLEET_TARGET_ARRAYS} arrays fresh at 60 s, CPU cores",
                      fleet["cpu_cores_at_60s"], f"< {FLEET_CPU_MAX_CORES:g}", fleet_ok,
                      f"{fleet['cpu_cores_at_60s']:.3f}"),
        report.Target("memory growth per array", mem["growth_per_array_bytes"], "< 1 MiB",
                      mem["growth_per_array_bytes"] < GROWTH_MAX_BYTES,
                      f"{mem['growth_per_array_bytes'] / 1024:.0f} KiB"),
    ]
    return [dataclasses.asdict(t) for t in targets]


def _step(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    started = time.time()
    memory_counts = sorted({int(n) for n in args.memory_arrays.split(",") if n.strip()})
    size = ArraySize()
    needed = max(args.arrays, args.fleet_arrays, *memory_counts)
    results: dict[str, Any] = {
        "schema": 1,
        "command": command,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "config": {
            "quick": args.quick, "arrays": args.arrays, "array_size": dataclasses.asdict(size),
            "profiles": "san, fas, nas in turn", "scrapes": args.scrapes,
            "baseline_budget_seconds": args.baseline_budget, "poll_rounds": args.poll_rounds,
            "fleet_arrays": args.fleet_arrays, "fleet_window_intervals": args.fleet_window,
            "memory_arrays": memory_counts, "simulators_started": needed,
            "connections": "one new TCP connection per scrape (HTTP/1.0 servers close anyway)",
        },
    }
    _step(f"starting {needed} simulated arrays in their own process")
    with SimFleet(needed, size) as sims:
        urls = sims.urls
        _step(f"poll cost: {args.poll_rounds}+1 rounds over {args.arrays} arrays")
        cost, exposition = phases.measure_poll_cost(urls[: args.arrays], args.poll_rounds)
        results["poll_cost"] = dataclasses.asdict(cost)
        data_time = time.time()

        _step(f"latency: {args.scrapes} scrapes each (baseline: {args.baseline_budget:g} s budget)")
        latency = measure_latency(exposition, data_time, args.scrapes, args.baseline_budget)
        results["latency"] = {k: dataclasses.asdict(v) if dataclasses.is_dataclass(v) else v
                              for k, v in latency.items()}
        del exposition

        interval = args.fleet_interval or fleet_interval(args.fleet_arrays,
                                                         cost.cpu_seconds_per_poll)
        _step(f"fleet: {args.fleet_arrays} arrays, {FLEET_LATENCY_SECONDS * 1000:.0f} ms per "
              f"request, interval {interval:g} s, window {args.fleet_window:g} intervals")
        sims.set_latency(FLEET_LATENCY_SECONDS)
        run_ = phases.in_fresh_process(phases.run_fleet, urls[: args.fleet_arrays], interval,
                                       args.fleet_window)
        results["fleet"] = _fleet_summary(run_, min(64, max(4, args.fleet_arrays)))
        sims.set_latency(0.0)

        points = []
        for count in memory_counts:
            _step(f"memory: fresh exporter process polling {count} arrays")
            points.append(phases.in_fresh_process(phases.measure_memory, urls[:count]))
        results["memory"] = _memory_summary(points)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = _targets(results)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["duration_seconds"] = round(time.time() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    if args.quick:
        _quick(args)
    command = " ".join(["python -m bench.run", *argv])
    results = run(args, command)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(report.table(results))
    print(f"\nJSON: {args.json}")
    if not args.no_readme:
        report.rewrite_readme(args.readme, report.readme_section(results))
        print(f"README section rewritten: {args.readme}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
