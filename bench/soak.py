"""A bounded soak: the real exporter (a subprocess) against a fleet with faulty arrays.

    python -m bench.soak --minutes 10 --arrays 20 --faulty 5

Simulated arrays run in this process; `--faulty` of them each get one fault of `FAULT_PLAN`, in
order (hang, 5xx, 429, login failures, a mix of broken bodies with resets and periodic token
revocation). The exporter polls every `--interval` seconds; this script scrapes `/metrics` and
`/probe` every `--scrape-every` seconds and samples the exporter's open fds, threads and RSS from
/proc. At the end it sends SIGTERM while the hung array still hangs. Every check is a count or a
bound derived from the exporter's own schedule (backoff, Retry-After, login budget), never a
speed: the machine is small and shared. Prints a table, writes JSON (`--json`), exits 1 if a check
failed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from qsan_exporter.api.guard import LOGIN_BACKOFF_MAX_SECONDS, LOGIN_BACKOFF_START_SECONDS
from qsan_exporter.metrics import METRICS
from qsan_exporter.simulator import Fault, SimulatedArray, SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "soak-secret"
RETRY_AFTER = 20  # seconds the 429 array asks for
HUGE_MB = 4.0
SHUTDOWN_BOUND = 15.0  # a liveness bound for SIGTERM, not a speed target
HARDWARE = "/rest/v1/hardware/info"  # the first request of every poll once logged in
LOGIN = "/auth/get"
# Everything a healthy san-profile array exports (SPEC §4; the san simulator has every family
# but those the manual gives to NAS only: session login times and the dedicated spare list).
NAS_ONLY = frozenset({"qsan_iscsi_session_login_timestamp_seconds",  # loginTime: "Only for NAS"
                      "qsan_raidset_spare_disks"})  # the NAS `spare` list of disk ids
EXPECTED_FAMILIES = frozenset(n[: -len("_total")] if n.endswith("_total") else n
                              for n in METRICS if n not in NAS_ONLY)


def _mangle(sim: SimulatedArray) -> None:
    for fault in (Fault("malformed_json", "/rest/v1/storage/disk/list"),
                  Fault("truncated", "/rest/v1/storage/volume/list"),
                  Fault("wrong_types", "/rest/v1/storage/pool/list", seed=3),
                  Fault("missing_fields", "/rest/v1/iscsi/*", seed=5),
                  Fault("huge", "/rest/v1/backup/snapshot/list", megabytes=HUGE_MB),
                  # seed 3: no more than three resets in a row over 100 draws
                  Fault("reset", "/rest/v1/log/list", probability=0.5, seed=3)):
        sim.faults.add(fault)


# name -> (what is injected, setup). The "mixed" array also has every token revoked behind the
# exporter's back every --revoke-every seconds.
FAULT_PLAN: list[tuple[str, str, Callable[[SimulatedArray], Any]]] = [
    ("hang", "every request held, never answered",
     lambda s: s.faults.add(Fault("hang", "*"))),
    ("5xx", "HTTP 500 on every /rest/v1 call",
     lambda s: s.faults.add(Fault("status", "/rest/v1/*", status=500))),
    ("429", f"HTTP 429 Retry-After {RETRY_AFTER} on every /rest/v1 call",
     lambda s: s.faults.add(Fault("rate_limit", "/rest/v1/*", retry_after=RETRY_AFTER))),
    ("login_fail", "every login answered 401",
     lambda s: s.faults.add(Fault("login_fail", LOGIN))),
    ("mixed", "malformed disks, truncated volumes, wrong-typed pools, iSCSI fields missing, "
              f"{HUGE_MB:g} MB snapshot list, 50% resets on logs, tokens revoked periodically",
     _mangle),
]


@dataclass
class Sample:
    t: float
    fds: int
    threads: int
    rss_kib: int


@dataclass
class Run:
    scrapes: int = 0
    scrape_failures: list[str] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # healthy arrays' data missing
    healthy_down: list[str] = field(default_factory=list)  # healthy array up 0 / collector 0
    probes: int = 0
    probe_failures: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    revokes: int = 0
    warm_at: float | None = None  # seconds after start when every healthy array was complete
    final: dict[str, dict[str, float]] = field(default_factory=dict)


def proc_sample(pid: int, t: float) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    fields_ = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return Sample(t, len(os.listdir(f"/proc/{pid}/fd")), int(fields_["Threads"]),
                  int(fields_["VmRSS"].split()[0]))


def families_by_array(text: str) -> dict[str, dict[str, list]]:
    out: dict[str, dict[str, list]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            array = sample.labels.get("array")
            if array is not None:
                out.setdefault(array, {}).setdefault(family.name, []).append(sample)
    return out


def healthy_problems(by_array: dict[str, dict[str, list]], healthy: list[str]) -> tuple[
        list[str], list[str]]:
    """(missing data, down or failed collectors) of the healthy arrays in one scrape."""
    missing, down = [], []
    for name in healthy:
        families = by_array.get(name, {})
        absent = sorted(EXPECTED_FAMILIES - set(families))
        if absent:
            missing.append(f"{name}: {len(absent)} families missing, e.g. {absent[:3]}")
        up = [s.value for s in families.get("qsan_up", [])]
        failed = [s.labels["collector"] for s in families.get("qsan_collector_success", [])
                  if s.value != 1]
        if up != [1.0] or failed:
            down.append(f"{name}: up={up} failed collectors={failed}")
    return missing, down


def backoff_attempts_bound(duration: float, interval: float, backoff_max: float) -> int:
    """Most poll attempts a failing array can get in `duration` under poll/backoff.py's schedule:
    the first failure keeps the interval, failure k >= 2 waits >= 0.75 * min(max, I * 2^(k-1))
    (jitter only shortens), and the job only fires on interval ticks. +1 for the edges.

    With I=2, max 8: attempts at 0, 2, then gaps >= 3, 6, 6, ...
    >>> backoff_attempts_bound(1.9, 2, 8), backoff_attempts_bound(20, 2, 8)
    (2, 6)
    >>> backoff_attempts_bound(600, 2, 8) < 600 / 2
    True
    """
    t, attempts = 0.0, 1
    while True:
        wait = interval if attempts == 1 else 0.75 * min(backoff_max,
                                                         interval * 2 ** (attempts - 1))
        if t + wait > duration:
            return attempts + 1
        t += wait
        attempts += 1


def login_budget(duration: float) -> int:
    """Most login attempts a rejected user can get in `duration` (api/guard.py's schedule:
    300 s after the first rejected login, then 600, 1200, ... up to 3600).

    >>> [login_budget(d) for d in (0, 299, 300, 899, 900, 2100)]
    [1, 1, 2, 2, 3, 4]
    """
    t, attempts = 0.0, 1
    while True:
        wait = min(LOGIN_BACKOFF_MAX_SECONDS,
                   LOGIN_BACKOFF_START_SECONDS * 2 ** (attempts - 1))
        if t + wait > duration:
            return attempts
        t += wait
        attempts += 1


def slope_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope per minute of (seconds, value) points.

    >>> slope_per_minute([(0, 10), (60, 12), (120, 14)])
    2.0
    """
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] / 60 for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def write_config(path: Path, sims: dict[str, SimulatedArray], args: argparse.Namespace) -> None:
    document = {
        # api: unified, so every poll attempt starts the same way (no flavour probe first).
        "defaults": {"username": "monitor", "password": PASSWORD, "api": "unified",
                     "interval_seconds": args.interval, "timeout_seconds": args.timeout,
                     "backoff_max_seconds": args.backoff_max},
        "arrays": [{"name": name, "url": sim.url} for name, sim in sims.items()],
    }
    path.write_text(yaml.safe_dump(document))
    path.chmod(0o600)


def start_exporter(config: Path, log_path: Path) -> subprocess.Popen:
    """On port 0: the kernel picks a free port, the exporter logs it (`bound_url`)."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "qsan_exporter.cli", f"--config.file={config}",
         "--web.listen-address=127.0.0.1:0", "--log.level=info",
         f"--state.directory={config.parent / 'state'}"],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    log.close()
    return process


def bound_url(log_path: Path, timeout: float) -> str | None:
    """The exporter's URL from its `msg="Listening on" address=HOST:PORT` line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r'Listening on\W.*?address\W+\S*:(\d+)', log_path.read_text())
        if found:
            return f"http://127.0.0.1:{found.group(1)}"
        time.sleep(0.1)
    return None


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def soak(args: argparse.Namespace) -> dict[str, Any]:
    faulty = min(args.faulty, len(FAULT_PLAN), args.arrays - 1)
    sims: dict[str, SimulatedArray] = {}
    fault_of: dict[str, str] = {}
    for i in range(args.arrays):
        kind = FAULT_PLAN[i][0] if i < faulty else None
        name = f"soak-{i:02d}-{kind or 'ok'}"
        sims[name] = SimulatedArray(SimulatorConfig(profile="san", username="monitor",
                                                    password=PASSWORD, seed=i),
                                    host="127.0.0.1", port=0).start()
        if kind:
            fault_of[name] = kind
            dict((k, f) for k, _, f in FAULT_PLAN)[kind](sims[name])
    healthy = [n for n in sims if n not in fault_of]
    mixed = [n for n, k in fault_of.items() if k == "mixed"]
    run = Run()
    tmp = Path(tempfile.mkdtemp(prefix="qsan-soak-"))
    config, log_path = tmp / "config.yml", tmp / "exporter.log"
    write_config(config, sims, args)
    process = start_exporter(config, log_path)
    exit_code: int | None = None
    shutdown_seconds: float | None = None
    try:
        url = bound_url(log_path, 60)
        if url is None or not wait_until(lambda: requests.get(url + "/-/ready", timeout=5).ok,
                                         60):
            raise SystemExit(f"exporter not ready in 60 s; log: {log_path}")
        started = time.monotonic()
        end = started + args.minutes * 60
        next_revoke = started + args.revoke_every
        while (now := time.monotonic()) < end:
            t = now - started
            if process.poll() is not None:
                run.scrape_failures.append(f"t={t:.0f}s exporter exited ({process.returncode})")
                break
            run.samples.append(proc_sample(process.pid, t))
            if now >= next_revoke:
                for name in mixed:
                    sims[name].revoke_all_tokens()
                    run.revokes += 1
                next_revoke += args.revoke_every
            scrape(run, url, healthy, t)
            time.sleep(max(0.0, args.scrape_every - (time.monotonic() - now)))
        duration = time.monotonic() - started
        run.final = final_values(url)
        stats = {name: sim.stats_snapshot() for name, sim in sims.items()}
        process.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            exit_code = process.wait(SHUTDOWN_BOUND)
            shutdown_seconds = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        live_tokens = {name: sim.live_token_sets() for name, sim in sims.items()}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for sim in sims.values():
            sim.faults.clear()
            sim.stop()
    return report(args, run, sims, fault_of, healthy, stats, live_tokens, duration,
                  exit_code, shutdown_seconds, log_path)


def scrape(run: Run, url: str, healthy: list[str], t: float) -> None:
    run.scrapes += 1
    try:
        response = requests.get(url + "/metrics", timeout=10)
    except requests.RequestException as exc:
        run.scrape_failures.append(f"t={t:.0f}s {type(exc).__name__}")
        return
    if response.status_code != 200:
        run.scrape_failures.append(f"t={t:.0f}s HTTP {response.status_code}")
        return
    missing, down = healthy_problems(families_by_array(response.text), healthy)
    if run.warm_at is None:
        if not missing and not down:
            run.warm_at = round(t, 1)
    else:
        run.incomplete += [f"t={t:.0f}s {m}" for m in missing]
        run.healthy_down += [f"t={t:.0f}s {d}" for d in down]
    target = healthy[run.scrapes % len(healthy)]
    run.probes += 1
    try:
        probe = requests.get(url + "/probe", params={"target": target}, timeout=10)
        ok = probe.status_code == 200 and set(families_by_array(probe.text)) == {target}
        if not ok:
            run.probe_failures.append(f"t={t:.0f}s {target}: HTTP {probe.status_code}")
    except requests.RequestException as exc:
        run.probe_failures.append(f"t={t:.0f}s {target}: {type(exc).__name__}")


def final_values(url: str) -> dict[str, dict[str, float]]:
    wanted = ("qsan_up", "qsan_poll_backoff", "qsan_poll_consecutive_failures",
              "qsan_auth_login_failures", "qsan_auth_logins")
    out: dict[str, dict[str, float]] = {}
    text = requests.get(url + "/metrics", timeout=10).text
    for array, families in families_by_array(text).items():
        out[array] = {name: families[name][0].value for name in wanted if name in families}
        out[array]["collectors_failed"] = sum(
            s.value != 1 for s in families.get("qsan_collector_success", []))
    return out


def report(args: argparse.Namespace, run: Run, sims: dict[str, SimulatedArray],
           fault_of: dict[str, str], healthy: list[str], stats: dict[str, dict],
           live_tokens: dict[str, int], duration: float, exit_code: int | None,
           shutdown_seconds: float | None, log_path: Path) -> dict[str, Any]:
    checks: dict[str, tuple[bool, str]] = {}
    checks["every_scrape_200"] = (not run.scrape_failures and run.scrapes > 0,
                                  f"{run.scrapes} scrapes, failures: {run.scrape_failures[:5]}")
    warm_limit = 3 * args.interval + 10
    checks["healthy_data_complete"] = (
        run.warm_at is not None and run.warm_at <= warm_limit and not run.incomplete,
        f"complete from t={run.warm_at}s (limit {warm_limit:g}s); "
        f"{len(run.incomplete)} incomplete: {run.incomplete[:3]}")
    checks["healthy_up_every_scrape"] = (not run.healthy_down,
                                         f"{len(run.healthy_down)}: {run.healthy_down[:3]}")
    checks["every_probe_200"] = (not run.probe_failures and run.probes > 0,
                                 f"{run.probes} probes, failures: {run.probe_failures[:5]}")

    rows = []
    budget = login_budget(duration)
    attempts_bound = backoff_attempts_bound(duration, args.interval, args.backoff_max)
    no_backoff = int(duration // args.interval) + 1
    login_problems, backoff_problems, concurrency_problems = [], [], []
    for name, sim in sims.items():
        s = stats[name]
        kind = fault_of.get(name, "")
        by_path = s["requests_by_path"]
        login_attempts = by_path.get(LOGIN, 0)
        # A poll attempt of a logged-out (hang) array starts with a login; of the others with
        # the hardware info call.
        polls = login_attempts if kind == "hang" else by_path.get(HARDWARE, 0)
        allowed_logins = 1 + s["forced_revokes"]
        if kind == "login_fail" and login_attempts > budget:
            login_problems.append(f"{name}: {login_attempts} login attempts > budget {budget}")
        if s["logins"] > allowed_logins:
            login_problems.append(f"{name}: {s['logins']} logins > 1 + forced revokes")
        if kind in ("hang", "5xx") and polls > attempts_bound:
            backoff_problems.append(f"{name}: {polls} poll attempts > bound {attempts_bound}")
        if kind == "429":
            times = sim.stats.request_times(HARDWARE)
            gaps = [b - a for a, b in itertools.pairwise(times)]
            if gaps and min(gaps) < RETRY_AFTER - 0.5:
                backoff_problems.append(f"{name}: a request {min(gaps):.1f}s after a 429 "
                                        f"(Retry-After {RETRY_AFTER})")
        if kind != "hang" and s["max_concurrent_requests"] > 1:  # a hung request stays
            concurrency_problems.append(f"{name}: {s['max_concurrent_requests']} in flight")
        rows.append({"array": name, "fault": kind or "-", "requests": s["requests"],
                     "poll_attempts": polls, "login_attempts": login_attempts,
                     "logins": s["logins"], "failed_logins": s["failed_logins"],
                     "forced_revokes": s["forced_revokes"],
                     "max_in_flight": s["max_concurrent_requests"],
                     "live_tokens_after_exit": live_tokens[name],
                     **{k: v for k, v in run.final.get(name, {}).items()}})
    checks["logins_within_budget"] = (not login_problems, "; ".join(login_problems) or
                                      f"login budget {budget} attempts in {duration:.0f}s for "
                                      "a rejected user; others <= 1 + forced revokes")
    checks["failing_arrays_back_off"] = (
        not backoff_problems and any(k in fault_of.values() for k in ("hang", "5xx", "429")),
        "; ".join(backoff_problems) or f"hang/5xx poll attempts <= {attempts_bound} "
        f"(without backoff {no_backoff}); 429: no request within Retry-After")
    checks["one_request_in_flight_per_array"] = (not concurrency_problems,
                                                 "; ".join(concurrency_problems) or "ok")
    checks["sigterm_exit_and_tokens_revoked"] = (
        exit_code == 0 and not any(live_tokens.values()),
        f"exit code {exit_code} after {shutdown_seconds}s (bound {SHUTDOWN_BOUND:g}s); live "
        f"token sets left: {({n: c for n, c in live_tokens.items() if c})}")

    resources = resource_summary(run)
    checks["resources_flat"] = resources.pop("check")
    healthy_requests = [r["requests"] for r in rows if r["fault"] == "-"]
    return {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "duration_seconds": round(duration, 1), "scrapes": run.scrapes,
        "probes": run.probes, "forced_revokes": run.revokes,
        "login_budget_attempts": budget, "backoff_attempts_bound": attempts_bound,
        "polls_without_backoff": no_backoff,
        "healthy_requests_median": statistics.median(healthy_requests) if healthy_requests
        else 0,
        "arrays": rows, "resources": resources, "shutdown_seconds": shutdown_seconds,
        "exporter_log": str(log_path),
        "checks": {k: {"ok": ok, "detail": d} for k, (ok, d) in checks.items()},
        "ok": all(ok for ok, _ in checks.values()),
    }


def resource_summary(run: Run) -> dict[str, Any]:
    """first / last / max of the whole run, and flatness judged after a warm-up (the first
    fifth of the run, at least a minute: thread pools and allocator arenas fill up): the
    judged window is cut in two halves A and B, and the peak of B may exceed the peak of A by
    at most 2 fds, 2 threads, 5 % + 4 MiB of RSS. A leak grows B's peak past A's; warm-up
    growth does not count. The slope (per minute, least squares) is over the judged window.
    Not judged on runs shorter than 2 minutes."""
    samples = run.samples
    out: dict[str, Any] = {"samples": len(samples)}
    if not samples:
        out["check"] = (False, "no samples")
        return out
    span = samples[-1].t - samples[0].t
    warm = samples[0].t + max(60.0, span / 5)
    judged = [s for s in samples if s.t >= warm]
    half = (judged[0].t + judged[-1].t) / 2 if judged else 0.0
    part_a = [s for s in judged if s.t < half]
    part_b = [s for s in judged if s.t >= half]
    problems = []
    for key, slack in (("fds", lambda a: a + 2), ("threads", lambda a: a + 2),
                       ("rss_kib", lambda a: a * 1.05 + 4096)):
        values = [getattr(s, key) for s in samples]
        out[key] = {"first": values[0], "last": values[-1], "max": max(values)}
        if part_a and part_b:
            peak_a = max(getattr(s, key) for s in part_a)
            peak_b = max(getattr(s, key) for s in part_b)
            out[key].update({
                "judged_from_s": round(warm, 1), "peak_first_half": peak_a,
                "peak_second_half": peak_b,
                "slope_per_minute": round(slope_per_minute(
                    [(s.t, getattr(s, key)) for s in judged]), 2)})
            if peak_b > slack(peak_a):
                problems.append(f"{key} peak {peak_a} -> {peak_b} (limit {slack(peak_a):g})")
    step = max(1, len(samples) // 60)
    out["series"] = [[round(s.t), s.fds, s.threads, s.rss_kib] for s in samples[::step]]
    if span < 120 or not (part_a and part_b):
        out["check"] = (True, f"not judged: {span:.0f}s of samples (< 120s)")
    else:
        out["check"] = (not problems, "; ".join(problems) or "flat")
    return out


def print_report(result: dict[str, Any]) -> None:
    print(f"\nsoak: {result['duration_seconds']}s, {result['scrapes']} scrapes, "
          f"{result['probes']} probes, {result['forced_revokes']} forced revokes")
    cols = ["array", "fault", "requests", "poll_attempts", "login_attempts", "logins",
            "failed_logins", "max_in_flight", "qsan_up", "qsan_poll_backoff",
            "qsan_poll_consecutive_failures", "collectors_failed"]
    short = ["array", "fault", "req", "polls", "login try", "logins", "failed", "inflight",
             "up", "backoff", "consec", "coll fail"]
    print(" | ".join(short))
    for row in result["arrays"]:
        print(" | ".join(str(row.get(c, "")) for c in cols))
    for key in ("fds", "threads", "rss_kib"):
        if key in result["resources"]:
            print(f"{key}: {result['resources'][key]}")
    print("series [t s, fds, threads, rss KiB]:", result["resources"].get("series", [])[::6])
    print(f"healthy requests (median) {result['healthy_requests_median']}; backoff bound "
          f"{result['backoff_attempts_bound']} polls (without backoff "
          f"{result['polls_without_backoff']}); login budget {result['login_budget_attempts']}")
    for name, check in result["checks"].items():
        print(f"{'PASS' if check['ok'] else 'FAIL'} {name}: {check['detail']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--arrays", type=int, default=20)
    p.add_argument("--faulty", type=int, default=5, help=f"at most {len(FAULT_PLAN)}")
    p.add_argument("--interval", type=float, default=5.0, help="the exporter's poll interval")
    p.add_argument("--timeout", type=float, default=2.0, help="the exporter's request timeout")
    p.add_argument("--backoff-max", type=float, default=60.0)
    p.add_argument("--scrape-every", type=float, default=5.0)
    p.add_argument("--revoke-every", type=float, default=60.0)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "soak.json")
    args = p.parse_args(argv)
    if args.arrays < 2:
        p.error("--arrays must be >= 2 (one healthy array at least)")
    # A killed soak still stops its exporter and simulators (the `finally` in `soak`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    result = soak(args)
    print_report(result)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.json}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
