"""Machine facts, the printed table, the JSON file and the README section."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

README_BEGIN = re.compile(r"<!-- bench:begin[^>]*-->")
README_END = "<!-- bench:end -->"
MIB = 1024 * 1024


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "prometheus_client": metadata.version("prometheus-client"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms" if seconds < 0.1 else f"{seconds * 1000:.0f} ms"


def _mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


_SCRAPE_ROWS = (
    ("a  exporter, after an array published (steady state)", "exporter_after_publish"),
    ("a' exporter, nothing changed since last scrape", "exporter_cached"),
    ("b  naive prometheus_client collector", "baseline"),
    ("c  same gzip bytes, static file (http.server)", "static"),
)
_KINDS = (("target", "target array"), ("wide", "64 volumes"), ("mix", "san/fas/nas mix"))


def _header(results: dict[str, Any]) -> list[str]:
    cfg, lat, m = results["config"], results["latency"], results["machine"]
    t = cfg["target_array"]
    return [
        f"qsan-exporter bench - target array: {t['profile']}, {t['enclosures']} enclosures, "
        f"{t['disks']} disks, {t['pools']} pools, {t['volumes']} volumes; /metrics of "
        f"{cfg['arrays']} arrays ({cfg['mix']}): {lat['series_in_body']} series, "
        f"{lat['body_bytes_uncompressed'] / MIB:.1f} MiB text, "
        f"{lat['exporter_after_publish']['bytes'] / 1024:.0f} KiB gzip",
        f"machine: {m['cpu_model']}, {m['usable_cpus']} usable CPUs, Python {m['python']}, "
        f"load average at start {m['load_average_at_start'][0]}",
    ]


def _scrape_lines(results: dict[str, Any]) -> list[str]:
    lat, cfg = results["latency"], results["config"]
    builder = lat["builder"]
    lines = [f"{'/metrics, Prometheus headers, new connection each':<52}{'p50':>10}{'p99':>10}"
             f"{'n':>6}"]
    for label, key in _SCRAPE_ROWS:
        row = lat[key]
        lines.append(f"{label:<52}{_ms(row['p50_seconds']):>10}{_ms(row['p99_seconds']):>10}"
                     f"{row['scrapes']:>6}")
    lines.append(
        f"body build (background, gzip -{builder['gzip_level']}, {cfg['arrays']} arrays): "
        f"{builder['build_seconds_mean'] * 1000:.0f} ms per build, {builder['builds']} builds "
        f"during the scrapes; {builder['scrapes_served_previous_body']} scrapes got the "
        f"previous body, {builder['scrapes_that_built']} built one")
    return lines


def _cost_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for kind, label in _KINDS:
        c = results["poll_cost"][kind]
        lines.append(
            f"poll cost, {label}: {c['cpu_seconds_per_poll'] * 1000:.1f} ms CPU per poll "
            f"({c['cpu_seconds_per_fetch_and_translate'] * 1000:.1f} fetch+translate, "
            f"{c['cpu_seconds_per_publish'] * 1000:.1f} publish; {c['polls']} polls, "
            f"{c['failed_polls']} failed)")
    return lines


def _fleet_lines(fleet: dict[str, Any]) -> list[str]:
    return [
        f"fleet: {fleet['arrays']} target arrays, "
        f"{fleet['latency_per_request_seconds'] * 1000:.0f} ms per answer, interval "
        f"{fleet['interval_seconds']:g} s, {fleet['workers']} workers; all published once after "
        f"{fleet['first_round_seconds']:.0f} s, {fleet['settle_seconds']:.0f} s settling (not "
        f"measured), then {fleet['polls']} polls in "
        f"{fleet['window_seconds']:.0f} s, {fleet['failed_polls']} failed, "
        f"{fleet['arrays_never_polled_in_window']} never polled in the window, "
        f"{fleet['scheduler_warnings']} runs missed or skipped by the scheduler; "
        f"{fleet['scrapes']} scrapes (every 15 s), {fleet['builds']} body builds in the window "
        f"({fleet['build_seconds']:.1f} s)",
        f"  max age {fleet['max_age_seconds']:.1f} s (fresh below "
        f"{fleet['fresh_limit_seconds']:.1f} s: {'yes' if fleet['fresh'] else 'NO'}), poll wall "
        f"mean {fleet['poll_wall_mean_seconds']:.2f} s max {fleet['poll_wall_max_seconds']:.2f} s,"
        f" exporter CPU {fleet['cpu_utilisation']:.3f} cores "
        f"({fleet['cpu_seconds_per_poll'] * 1000:.1f} ms per poll), simulators "
        + " + ".join(f"{c:.2f}" for c in fleet["simulator_cores"]) + " cores",
    ]


def _memory_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for kind, label in _KINDS[:2]:
        mem = results["memory"][kind]
        lines.append(f"memory, {label}: " + ", ".join(
            f"{p['arrays']} arrays {_mib(p['rss_bytes'])}" for p in mem["points"])
            + f"; slope {mem['growth_per_array_bytes'] / 1024:.0f} KiB per array")
    return lines


def _target_lines(results: dict[str, Any]) -> list[str]:
    lines = [f"{'target':<62}{'value':>12}  {'goal':<12}"]
    for t in results["targets"]:
        status = "info" if t["met"] is None else "MET" if t["met"] else "NOT MET"
        lines.append(f"{t['name']:<62}{t['shown']:>12}  {t['target']:<12}{status}")
    return lines


def profile_lines(profile: Mapping[str, Any]) -> list[str]:
    """The printed split; `profile` is `profile.Profile` as a dict (as in the JSON)."""
    out = [f"profile of a poll (target array, cProfile on the thread's CPU clock, "
           f"{profile['polls']} polls over {profile['arrays']} arrays, {profile['failed_polls']} "
           f"failed): {profile['profiled_ms_per_poll']:.0f} ms profiled, "
           f"{profile['cpu_ms_per_poll']:.1f} ms without the profiler"]
    for part in profile["parts_percent"]:
        out.append(f"  {part:<26}{profile['parts_percent'][part]:>6.1f} %"
                   f"{profile['parts_ms_per_poll'][part]:>8.2f} ms")
    return out


def table(results: dict[str, Any]) -> str:
    """The human summary: figures, the profile, then every goal with MET / NOT MET."""
    return "\n".join([
        *_header(results), "", *_scrape_lines(results), "", *_cost_lines(results),
        *profile_lines(results["profile"]), *_fleet_lines(results["fleet"]),
        *_memory_lines(results), "", *_target_lines(results),
    ])


def readme_section(results: dict[str, Any]) -> str:
    m = results["machine"]
    return (
        "Generated by `" + results["command"] + "` on " + results["finished_at"][:10]
        + f" - {m['cpu_model']}, {m['usable_cpus']} usable CPUs (shared, noisy), "
        f"Python {m['python']}, prometheus_client {m['prometheus_client']}. One run; read the "
        "ratios, not the milliseconds. Method and caveats: "
        "[`bench/README.md`](bench/README.md).\n\n"
        "```\n" + table(results) + "\n```\n\n"
        "Regenerate (about 6 minutes on 2 cores; rewrites this section and "
        "`bench/results/latest.json`):\n\n"
        "```sh\n.venv/bin/python -m bench.run\n```\n"
    )


def rewrite_readme(path: Path, section: str) -> None:
    r"""Replace what is between the bench markers; everything outside them is kept.

    >>> import tempfile
    >>> readme = Path(tempfile.mkdtemp()) / "README.md"
    >>> _ = readme.write_text("head\n<!-- bench:begin (generated by python -m bench.run) -->\n"
    ...                       "old\n<!-- bench:end -->\ntail\n")
    >>> rewrite_readme(readme, "new figures\n")
    >>> readme.read_text() == ("head\n<!-- bench:begin (generated by python -m bench.run) -->"
    ...                        "\nnew figures\n<!-- bench:end -->\ntail\n")
    True
    """
    text = path.read_text(encoding="utf-8")
    begin = README_BEGIN.search(text)
    end = text.find(README_END, begin.end()) if begin else -1
    if begin is None or end < 0:
        raise RuntimeError(f"{path}: no '<!-- bench:begin ... -->' / '{README_END}' markers")
    path.write_text(text[: begin.end()] + "\n" + section + text[end:], encoding="utf-8")
