"""The process-wide tail: prometheus_client's bytes, collected at most once per max age."""

from __future__ import annotations

import threading
import zlib
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format

from qsan_exporter.exposition.deflate import Deflated
from qsan_exporter.exposition.tail import Tail, empty_deflated, empty_tail


class _Counting:
    """Two families: one that moves on every collection, one that never does. The moving one is
    the same Metric object each time, changed in place (prometheus_client allows that)."""

    def __init__(self) -> None:
        self.calls = 0
        self.moving = Metric("qsan_test_moving", "Moves.", "gauge")

    def collect(self) -> list[Metric]:
        self.calls += 1
        self.moving.samples = []
        self.moving.add_sample("qsan_test_moving", {}, self.calls)
        still = Metric("qsan_test_still", "Does not move.", "counter")
        still.add_sample("qsan_test_still_total", {"a": 'x"y'}, 7)
        return [still, self.moving]


class _Fixed:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _registry(collector: Any) -> CollectorRegistry:
    """`collector` inside a prometheus_client registry: collected at most once per max age."""
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _inflated(piece: Deflated) -> bytes:
    """A compressed tail's bytes, checked against the CRC-32 and length it carries."""
    data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(piece.data)
    assert (zlib.crc32(data), len(data)) == (piece.crc, piece.size)
    return data


def _reference(families: list[Metric], openmetrics: bool) -> bytes:
    """prometheus_client's own rendering, in the tail's order (by name here)."""
    ordered = _Fixed(sorted(families, key=lambda f: f.name))
    return (om_format if openmetrics else text_format).generate_latest(ordered)


def test_tail_is_prometheus_clients_bytes_in_both_formats_and_encodings() -> None:
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    clock = _Clock()
    tail = Tail([registry], clock=clock)
    families = list(registry.collect())
    # Process values move between two collections: compare each line up to its value.
    for openmetrics in (True, False):
        data = tail.data(openmetrics)
        assert _inflated(tail.deflated(openmetrics)) == data
        reference = _reference(families, openmetrics)
        assert [line.rsplit(b" ", 1)[0] for line in data.splitlines()] == \
            [line.rsplit(b" ", 1)[0] for line in reference.splitlines()]
        assert b"python_info{" in data
    assert tail.collections == 1  # both formats and encodings from one collection


def test_tail_bytes_equal_prometheus_client_for_the_same_samples() -> None:
    source = _Counting()
    clock = _Clock()
    tail = Tail([_registry(source)], clock=clock)
    for _ in range(3):  # later collections reuse the still family's bytes: still exact
        texts = {om: tail.data(om) for om in (True, False)}
        expected = _Counting()
        expected.calls = source.calls - 1
        families = expected.collect()
        for openmetrics, data in texts.items():
            assert data == _reference(families, openmetrics)
        clock.now += 1.0


def test_tail_is_collected_again_only_after_its_max_age() -> None:
    source = _Counting()
    clock = _Clock()
    tail = Tail([_registry(source)], max_age=1.0, clock=clock)
    first = tail.deflated(True)
    clock.now += 0.5
    assert tail.deflated(True) is first and source.calls == 1
    clock.now += 0.5
    again = _inflated(tail.deflated(True))
    assert source.calls == 2 and b"qsan_test_moving 2.0" in again  # in-place change seen
    assert tail.collections == 2


class _Reload:
    """The exporter's own state, as service.GlobalMetrics holds it: a plain attribute."""

    def __init__(self) -> None:
        self.ok = True

    def collect(self) -> list[Metric]:
        family = Metric("qsan_config_last_reload_successful", "Reload.", "gauge")
        family.add_sample("qsan_config_last_reload_successful", {}, 1 if self.ok else 0)
        return [family]


def test_collectors_outside_a_registry_are_asked_on_every_scrape() -> None:
    source, reload = _Counting(), _Reload()
    tail = Tail([reload, _registry(source)], max_age=60.0, clock=_Clock())
    before = tail.deflated(False)
    assert tail.deflated(False) is before  # nothing changed: the same bytes
    reload.ok = False  # a failed reload shows in the very next scrape
    after = _inflated(tail.deflated(False))
    assert b"qsan_config_last_reload_successful 0.0" in after
    assert b"qsan_test_moving 1.0" in after and source.calls == 1


def test_concurrent_scrapes_share_one_collection() -> None:
    source = _Counting()
    tail = Tail([_registry(source)], clock=_Clock())
    results: list[Deflated] = []
    threads = [threading.Thread(target=lambda: results.append(tail.deflated(True)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 8 and source.calls == 1
    assert all(result is results[0] for result in results)


def test_without_collectors_the_tail_is_the_eof_or_nothing() -> None:
    tail = Tail([], clock=_Clock())
    for openmetrics in (True, False):
        assert tail.data(openmetrics) == empty_tail(openmetrics)
        assert _inflated(tail.deflated(openmetrics)) == empty_tail(openmetrics)
        assert _inflated(empty_deflated(openmetrics)) == empty_tail(openmetrics)
    assert empty_tail(True) == b"# EOF\n" and empty_tail(False) == b""
