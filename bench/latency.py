"""`/metrics` latency: the exporter, the naive baseline and a static file, scraped alike.

All three servers run in this process, on the same data, in the same run; the client is another
process (`scrape.ScrapeClient`). The exporter's `Exposition` runs its background builder, as in
production (`Poller.start()` starts it). Each round, in this order:

1. one array is re-published (as when its poll finishes; untimed) - in a fleet some array
   finishes a poll between almost any two scrapes, so this is the exporter's steady state;
2. `exporter_after_publish`: the scrape right after that publish (the builder is due to
   rebuild, or rebuilding: the scrape gets the previous complete body);
3. `exporter_cached`: a scrape with nothing published since;
4. `static`: the same gzip bytes from `http.server`;
5. `baseline`: prometheus_client rendering everything (while its time budget lasts).
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from bench.baseline import baseline_app
from bench.scrape import Scrape, ScrapeClient, StaticServer
from qsan_exporter.exposition import GZIP_LEVEL, Exposition
from qsan_exporter.poll.fleet import Poller
from qsan_exporter.web.routes import App
from qsan_exporter.web.server import HttpServer

MIN_BASELINE_SCRAPES = 3
_PROCESS_PREFIXES = (b"process_", b"python_")


@dataclass
class Latency:
    scrapes: int
    p50_seconds: float
    p99_seconds: float
    mean_seconds: float
    max_seconds: float
    bytes: int
    content_type: str
    content_encoding: str


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: with fewer than 100 scrapes, p99 is the slowest."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _summary(scrapes: list[Scrape]) -> Latency:
    seconds = [s.seconds for s in scrapes]
    last = scrapes[-1]
    return Latency(len(scrapes), percentile(seconds, 0.50), percentile(seconds, 0.99),
                   sum(seconds) / len(seconds), max(seconds), last.length, last.content_type,
                   last.content_encoding)


def _sample_lines(body: bytes) -> list[bytes]:
    """The series lines of a gzip exposition, minus process metrics (their values move)."""
    return sorted(
        line for line in gzip.decompress(body).splitlines()
        if line and not line.startswith(b"#") and not line.startswith(_PROCESS_PREFIXES)
    )


def _check(scrape: Scrape, what: str) -> Scrape:
    if scrape.status != 200:
        raise RuntimeError(f"{what}: HTTP {scrape.status}")
    return scrape


def _rounds(client: ScrapeClient, exposition: Exposition,
            addresses: tuple[tuple[str, int], ...], scrapes: int,
            baseline_budget_seconds: float) -> dict[str, list[Scrape]]:
    """The scrape rounds of the module's docstring; `addresses`: exporter, static, baseline."""
    exporter_address, static_address, baseline_address = addresses
    results: dict[str, list[Scrape]] = {
        "exporter_after_publish": [], "exporter_cached": [], "static": [], "baseline": []}
    snapshots = sorted(exposition.snapshots().values(), key=lambda s: s.array)
    baseline_spent = 0.0
    for index in range(scrapes):
        snapshot = snapshots[index % len(snapshots)]
        exposition.publish(dataclasses.replace(
            snapshot, generation=snapshot.generation + 1_000_000 + index))
        results["exporter_after_publish"].append(
            _check(client.get(exporter_address), "exporter"))
        results["exporter_cached"].append(_check(client.get(exporter_address), "exporter"))
        results["static"].append(_check(client.get(static_address), "static"))
        if (baseline_spent < baseline_budget_seconds
                or len(results["baseline"]) < MIN_BASELINE_SCRAPES):
            started = time.perf_counter()
            results["baseline"].append(_check(client.get(baseline_address), "baseline"))
            baseline_spent += time.perf_counter() - started
    return results


def _builder(before: Any, after: Any) -> dict[str, float]:
    """What the background body builder did between two copies of `Exposition.stats`."""
    builds = after.builds - before.builds
    return {
        "builds": builds,
        "build_seconds_mean": (after.seconds - before.seconds) / builds if builds else 0.0,
        "scrapes_served_previous_body": after.served_previous - before.served_previous,
        "scrapes_that_built": after.on_demand - before.on_demand,
        "gzip_level": GZIP_LEVEL,
    }


def measure_latency(polled: Exposition, clock_time: float, scrapes: int,
                    baseline_budget_seconds: float) -> dict[str, object]:
    """Scrape each server `scrapes` times (the baseline as many as fit in its budget)."""
    clock = lambda: clock_time  # noqa: E731 - the data stays live however long the run takes
    exposition = Exposition(extra=[REGISTRY], clock=clock)
    for snapshot in polled.snapshots().values():
        exposition.publish(snapshot)
    exposition.start()
    exporter = HttpServer(App(exposition, Poller(exposition), clock=clock), "127.0.0.1:0")
    baseline = HttpServer(baseline_app(exposition, clock), "127.0.0.1:0")  # type: ignore[arg-type]
    exporter.start()
    baseline.start()
    client = ScrapeClient()
    workdir = tempfile.TemporaryDirectory(prefix="qsan-bench-")
    static: StaticServer | None = None
    try:
        exporter_address = ("127.0.0.1", exporter.port)
        baseline_address = ("127.0.0.1", baseline.port)
        first = _check(client.get(exporter_address, keep_body=True), "exporter")
        reference = _check(client.get(baseline_address, keep_body=True), "baseline")
        assert first.body is not None and reference.body is not None
        exporter_lines = _sample_lines(first.body)
        same_series = exporter_lines == _sample_lines(reference.body)
        Path(workdir.name, "metrics").write_bytes(first.body)
        static = StaticServer(Path(workdir.name))
        _check(client.get(static.address), "static")  # warm-up
        stats0 = dataclasses.replace(exposition.stats)
        results = _rounds(client, exposition, (exporter_address, static.address,
                                               baseline_address), scrapes,
                          baseline_budget_seconds)
        stats = exposition.stats
    finally:
        client.close()
        if static is not None:
            static.stop()
        exporter.stop()
        baseline.stop()
        exposition.close()
        workdir.cleanup()
    out: dict[str, object] = {name: _summary(values) for name, values in results.items()}
    out["same_series_as_baseline"] = same_series
    out["builder"] = _builder(stats0, stats)
    out["series_in_body"] = len(exporter_lines)
    out["body_bytes_uncompressed"] = len(gzip.decompress(first.body))
    return out
