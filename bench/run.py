"""`python -m bench.run`: every performance goal in one table, one command; `--quick` smokes it.

Order: the simulators start in their own process(es); the poll cost of the target array, the
64-volume array and the san/fas/nas mix is measured on this thread (the mix's exposition stays
for the scrapes); a poll of the target array is profiled; the three servers are scraped; the
1,000-array fleet (real Poller, 50 ms per API answer) and each memory point run in a fresh
process. Then the table is printed, the JSON written and (full runs) the README section rewritten.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import phases, profile, report, targets
from bench.fleet import TARGET, WIDE, ArraySpec, SimFleet, mix
from bench.latency import Latency, measure_latency

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
FLEET_LATENCY_SECONDS = 0.050


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--arrays", type=int, default=100,
                   help="san/fas/nas arrays behind /metrics and in their poll cost (default 100)")
    p.add_argument("--cost-arrays", type=int, default=20,
                   help="target and 64-volume arrays in the poll-cost phase (default 20)")
    p.add_argument("--poll-rounds", type=int, default=3,
                   help="measured poll rounds over every array (default 3, plus 1 warm-up)")
    p.add_argument("--profile-polls", type=int, default=40,
                   help="profiled polls of the target array (default 40)")
    p.add_argument("--scrapes", type=int, default=200, help="scrapes per server (default 200)")
    p.add_argument("--baseline-budget", type=float, default=60.0, metavar="SECONDS",
                   help="time the naive baseline may take; at least 3 scrapes (default 60)")
    p.add_argument("--fleet-arrays", type=int, default=targets.FLEET_ARRAYS)
    p.add_argument("--fleet-interval", type=float, default=targets.REAL_INTERVAL_SECONDS,
                   metavar="SECONDS", help="poll interval of the fleet phase (default 60)")
    p.add_argument("--fleet-window", type=float, default=2.0, metavar="INTERVALS",
                   help="measured fleet window, in intervals (default 2)")
    p.add_argument("--memory-arrays", default="20,100,200", metavar="N,N,...")
    p.add_argument("--memory-parallel", type=int, default=3,
                   help="memory processes at once (default 3; RSS is per process)")
    p.add_argument("--sim-processes", type=int, default=1,
                   help="simulator processes sharing the arrays (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 arrays of each kind, 5 scrapes, a 4-array fleet at 1.5 s, "
                        "memory at 1 and 2; never touches the README")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"default {DEFAULT_JSON}")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md")
    p.add_argument("--no-readme", action="store_true", help="do not rewrite the README section")
    return p


def _quick(args: argparse.Namespace) -> None:
    args.arrays, args.cost_arrays, args.poll_rounds, args.profile_polls = 2, 2, 1, 1
    args.scrapes, args.baseline_budget = 5, 2.0
    args.fleet_arrays, args.fleet_interval, args.fleet_window = 4, 1.5, 1.0
    args.memory_arrays, args.memory_parallel = "1,2", 4
    args.no_readme = True


@dataclasses.dataclass(frozen=True)
class Layout:
    """Which simulated arrays serve which phase: `urls[kind][:n]` are n arrays of that kind."""

    target: int
    wide: int
    mixed: int

    def specs(self) -> list[ArraySpec]:
        return [TARGET] * self.target + [WIDE] * self.wide + mix(self.mixed)

    def split(self, urls: list[str]) -> dict[str, list[str]]:
        t, w = self.target, self.target + self.wide
        return {"target": urls[:t], "wide": urls[t:w], "mix": urls[w:]}


def _fleet_summary(run: phases.FleetRun, sim_cpu: list[float], wall: float) -> dict[str, Any]:
    out = dataclasses.asdict(run)
    scale = targets.REAL_INTERVAL_SECONDS / run.interval_seconds
    cores_at_60 = run.cpu_utilisation / scale
    limit = run.interval_seconds * (1 + targets.FRESH_SLACK)
    out.update(
        latency_per_request_seconds=FLEET_LATENCY_SECONDS,
        cpu_cores_at_60s=cores_at_60,
        cores_for_1000_at_60s=cores_at_60 * targets.FLEET_ARRAYS / max(run.arrays, 1),
        fresh_limit_seconds=limit,
        fresh=(run.max_age_seconds < limit and run.failed_polls == 0
               and run.arrays_never_polled_in_window == 0),
        simulator_cores=[round(c / wall, 3) for c in sim_cpu],
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


def _step(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _in_process_phases(args: argparse.Namespace, urls: dict[str, list[str]],
                       results: dict[str, Any]) -> None:
    """Poll cost of each kind, the profile and the scrapes: this process, no API latency."""
    results["poll_cost"] = {}
    exposition = None
    for kind, count in (("target", args.cost_arrays), ("wide", args.cost_arrays),
                        ("mix", args.arrays)):
        _step(f"poll cost: {args.poll_rounds}+1 rounds over {count} {kind} arrays")
        cost, exposition = phases.measure_poll_cost(urls[kind][:count], args.poll_rounds)
        results["poll_cost"][kind] = dataclasses.asdict(cost)
        if kind != "mix":
            exposition.close()
    assert exposition is not None
    data_time = time.time()
    profiled = urls["target"][: min(10, args.cost_arrays, args.profile_polls)]
    _step(f"profile: {args.profile_polls} polls over {len(profiled)} target arrays")
    results["profile"] = dataclasses.asdict(profile.profile_polls(
        profiled, args.profile_polls, results["poll_cost"]["target"]["cpu_seconds_per_poll"]))
    _step(f"latency: {args.scrapes} scrapes each (baseline: {args.baseline_budget:g} s budget)")
    latency = measure_latency(exposition, data_time, args.scrapes, args.baseline_budget)
    results["latency"] = {k: dataclasses.asdict(v) if isinstance(v, Latency) else v
                          for k, v in latency.items()}
    exposition.close()


def _fleet_phase(args: argparse.Namespace, sims: SimFleet, urls: list[str]) -> dict[str, Any]:
    _step(f"fleet: {args.fleet_arrays} target arrays, {FLEET_LATENCY_SECONDS * 1000:.0f} ms per "
          f"answer, interval {args.fleet_interval:g} s, window {args.fleet_window:g} intervals")
    sims.set_latency(FLEET_LATENCY_SECONDS)
    cpu0, wall0 = sims.cpu_seconds(), time.monotonic()
    run_ = phases.in_fresh_process(phases.run_fleet, urls[: args.fleet_arrays],
                                   args.fleet_interval, args.fleet_window)
    sim_cpu = [b - a for a, b in zip(cpu0, sims.cpu_seconds(), strict=True)]
    sims.set_latency(0.0)
    return _fleet_summary(run_, sim_cpu, time.monotonic() - wall0)


def _memory_phase(counts: list[int], urls: dict[str, list[str]],
                  parallel: int) -> dict[str, Any]:
    kinds = ("target", "wide")
    _step(f"memory: fresh exporter processes polling {counts} arrays of each of {kinds}, "
          f"{parallel} at a time")
    calls = [(urls[kind][:count],) for kind in kinds for count in counts]
    points = phases.in_fresh_processes(phases.measure_memory, calls, parallel)
    return {kind: _memory_summary(points[i * len(counts):(i + 1) * len(counts)])
            for i, kind in enumerate(kinds)}


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    started = time.time()
    phases.quiet()  # array events (the scenario's failed PSU...) are not the bench's news
    counts = sorted({int(n) for n in args.memory_arrays.split(",") if n.strip()})
    layout = Layout(target=max(args.fleet_arrays, args.cost_arrays, *counts),
                    wide=max(args.cost_arrays, *counts), mixed=args.arrays)
    results: dict[str, Any] = {
        "schema": 2,
        "command": command,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "config": {
            "quick": args.quick, "target_array": dataclasses.asdict(TARGET),
            "wide_array": dataclasses.asdict(WIDE), "mix": "san, fas, nas in turn, 64 volumes",
            "arrays": args.arrays, "cost_arrays": args.cost_arrays, "scrapes": args.scrapes,
            "baseline_budget_seconds": args.baseline_budget, "poll_rounds": args.poll_rounds,
            "profile_polls": args.profile_polls, "fleet_arrays": args.fleet_arrays,
            "fleet_interval_seconds": args.fleet_interval,
            "fleet_window_intervals": args.fleet_window, "memory_arrays": counts,
            "simulators_started": dataclasses.asdict(layout),
            "simulator_processes": args.sim_processes,
            "connections": "one new TCP connection per scrape (HTTP/1.0 servers close anyway)",
        },
    }
    _step(f"starting {len(layout.specs())} simulated arrays in {args.sim_processes} process(es)")
    with SimFleet(layout.specs(), args.sim_processes) as sims:
        urls = layout.split(sims.urls)
        _in_process_phases(args, urls, results)
        results["fleet"] = _fleet_phase(args, sims, urls["target"])
        results["memory"] = _memory_phase(counts, urls, args.memory_parallel)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = targets.judge(results)
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
