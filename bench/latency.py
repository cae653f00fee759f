"""`/metrics` latency: the exporter, the naive baseline and a static file, scraped alike.

All three servers run in this process, on the same data, in the same run; the client is another
process (`scrape.ScrapeClient`). Each round, in this order:

1. one array is re-published (as when its poll finishes; untimed) - in a fleet some array
   finishes a poll between almost any two scrapes, so this is the exporter's steady state;
2. `exporter_after_publish`: a scrape that must re-assemble and re-compress the body;
3. `exporter_cached`: a scrape with nothing changed since (the per-body cache hit);
4. `static`: the same gzip bytes from `http.server`;
5. `baseline`: prometheus_client rendering everything (while its time budget lasts);
6. `prototype_after_publish`: `prototype.PrebuiltExposition` behind the same App and server,
   scraped right after the same publish, while its builder thread rebuilds the body (worst
   case); then the builder is let finish before anything else is timed, and
   `prototype_idle` is a scrape of it with its builder idle (what a scrape costs when it does
   not coincide with a build).
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.baseline import baseline_app
from bench.prototype import PrebuiltExposition
from bench.scrape import Scrape, ScrapeClient, StaticServer
from qsan_exporter.exposition import Exposition
from qsan_exporter.http import App, HttpServer
from qsan_exporter.poller import Poller

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


def measure_latency(exposition: Exposition, clock_time: float, scrapes: int,
                    baseline_budget_seconds: float) -> dict[str, object]:
    """Scrape each server `scrapes` times (the baseline as many as fit in its budget)."""
    clock = lambda: clock_time  # noqa: E731 - the data stays live however long the run takes
    exporter = HttpServer(App(exposition, Poller(exposition), clock=clock), "127.0.0.1:0")
    baseline = HttpServer(baseline_app(exposition, clock), "127.0.0.1:0")  # type: ignore[arg-type]
    prototype_exposition = PrebuiltExposition(exposition._extra, period=0.0, clock=clock)
    for snapshot in exposition.snapshots().values():
        prototype_exposition.publish(snapshot)
    prototype_exposition.wait_idle()
    prototype = HttpServer(App(prototype_exposition, Poller(prototype_exposition), clock=clock),
                           "127.0.0.1:0")
    exporter.start()
    baseline.start()
    prototype.start()
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

        prototype_address = ("127.0.0.1", prototype.port)
        proto_first = _check(client.get(prototype_address, keep_body=True), "prototype")
        assert proto_first.body is not None
        same_series_prototype = _sample_lines(proto_first.body) == exporter_lines
        prototype_exposition.wait_idle()
        builds0 = prototype_exposition.builds
        build_seconds0 = prototype_exposition.build_seconds
        results: dict[str, list[Scrape]] = {
            "exporter_after_publish": [], "exporter_cached": [], "static": [], "baseline": [],
            "prototype_after_publish": [], "prototype_idle": []}
        snapshots = sorted(exposition.snapshots().values(), key=lambda s: s.array)
        baseline_spent = 0.0
        for index in range(scrapes):
            snapshot = snapshots[index % len(snapshots)]
            republished = dataclasses.replace(
                snapshot, generation=snapshot.generation + 1_000_000 + index)
            exposition.publish(republished)
            prototype_exposition.publish(republished)
            results["prototype_after_publish"].append(
                _check(client.get(prototype_address), "prototype"))
            prototype_exposition.wait_idle()
            results["prototype_idle"].append(_check(client.get(prototype_address), "prototype"))
            results["exporter_after_publish"].append(
                _check(client.get(exporter_address), "exporter"))
            results["exporter_cached"].append(_check(client.get(exporter_address), "exporter"))
            results["static"].append(_check(client.get(static.address), "static"))
            if (baseline_spent < baseline_budget_seconds
                    or len(results["baseline"]) < MIN_BASELINE_SCRAPES):
                started = time.perf_counter()
                results["baseline"].append(_check(client.get(baseline_address), "baseline"))
                baseline_spent += time.perf_counter() - started
    finally:
        client.close()
        if static is not None:
            static.stop()
        exporter.stop()
        baseline.stop()
        prototype.stop()
        prototype_exposition.close()
        workdir.cleanup()
    out: dict[str, object] = {name: _summary(values) for name, values in results.items()}
    out["same_series_as_baseline"] = same_series
    out["prototype_same_series"] = same_series_prototype
    builds = prototype_exposition.builds - builds0
    out["prototype_builds"] = builds
    out["prototype_build_seconds_mean"] = (
        (prototype_exposition.build_seconds - build_seconds0) / builds if builds else 0.0)
    out["series_in_body"] = len(exporter_lines)
    out["body_bytes_uncompressed"] = len(gzip.decompress(first.body))
    return out
