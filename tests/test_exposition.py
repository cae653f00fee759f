"""The cached exposition path must say exactly what prometheus_client would say, faster."""

from __future__ import annotations

import gzip
import time

import pytest
from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from qsan_exporter.collectors.base import FamilyBuilder
from qsan_exporter.exposition import Exposition, build, families_of, render_families
from qsan_exporter.exposition.render import EOF_LINE
from qsan_exporter.snapshot import CollectorState, Snapshot
from tests.exposition_helpers import ScrapeCounter


def _snapshot(array: str, generation: int, *, disks: int, data_at: float = 1000.0) -> Snapshot:
    out = FamilyBuilder({"array": array, "site": "dc1"})
    for i in range(disks):
        labels = {"disk": f"e0d{i}", "enclosure": "0", "slot": str(i)}
        out.add("qsan_disk_health", labels, i % 3)
        out.add("qsan_disk_written_bytes_total", labels, 1e12 + i)
    # Label values that need escaping must survive the cache unchanged.
    out.info("qsan_pool_info", {"pool": 'we"ird\\pool\nä', "pool_id": "1", "thin": "true",
                                "sed": "false", "auto_tier": "false", "status": "",
                                "health": "Good"})
    exporter = FamilyBuilder({"array": array, "site": "dc1"})
    exporter.add("qsan_up", {}, 1)
    exporter.add("qsan_api_requests_total", {"endpoint": "/auth/get", "code": "200"}, 1)
    state = CollectorState("disks", True, 0.1, None, data_at, data_at, 180.0,
                           render_families(out.built()))
    return Snapshot(array=array, generation=generation, started_at=data_at, duration=0.2,
                    up=True, error=None, last_success=data_at, identity=None,
                    collectors={"disks": state},
                    exporter_families=render_families(exporter.built()))


class _All:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _reference(snapshots: list[Snapshot]) -> list[Metric]:
    """What prometheus_client renders from the same families, merged per name."""
    merged: dict[str, Metric] = {}
    for snap in snapshots:
        families = families_of([*snap.exporter_families,
                                *(f for c in snap.collectors.values() for f in c.families)])
        for family in families:
            if family.name not in merged:
                merged[family.name] = Metric(family.name, family.documentation, family.type)
            merged[family.name].samples.extend(family.samples)
    return list(merged.values())


def _as_dict(families) -> dict[str, tuple[str, str, list]]:
    return {
        f.name: (f.type, f.documentation,
                 sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in f.samples))
        for f in families
    }


def test_text_body_equals_prometheus_client_rendering() -> None:
    snaps = [_snapshot("b", 1, disks=3), _snapshot("a", 1, disks=2)]
    exposition = Exposition()
    for snap in snaps:
        exposition.publish(snap)
    body = exposition.body(1001.0, openmetrics=False, compress=False)
    reference = text_format.generate_latest(_All(_reference(snaps))).decode()
    assert _as_dict(parse_text(body.data.decode())) == _as_dict(parse_text(reference))
    # Families stay contiguous across arrays: each TYPE line appears once.
    type_lines = [line for line in body.data.decode().splitlines() if line.startswith("# TYPE")]
    assert len(type_lines) == len(set(type_lines)) == 5


def test_openmetrics_body_parses_and_ends_with_eof() -> None:
    snaps = [_snapshot("a", 1, disks=2), _snapshot("b", 1, disks=1)]
    exposition = Exposition()
    for snap in snaps:
        exposition.publish(snap)
    body = exposition.body(1001.0, openmetrics=True, compress=False)
    assert body.data.endswith(b"# EOF\n") and body.data.count(b"# EOF") == 1
    assert body.content_type.startswith("application/openmetrics-text")
    reference = om_format.generate_latest(_All(_reference(snaps))).decode()
    assert _as_dict(parse_om(body.data.decode())) == _as_dict(parse_om(reference))


def test_gzip_body_is_the_same_bytes() -> None:
    exposition = Exposition(extra=[ScrapeCounter()])
    exposition.publish(_snapshot("a", 1, disks=5))
    plain = exposition.body(1001.0, openmetrics=True, compress=False)
    body = exposition.body(1001.0, openmetrics=True, compress=True)
    assert body.compressed and len(body.chunks) == 2  # cached body + this scrape's tail, ended
    assert body.length == sum(len(c) for c in body.chunks)
    # One gzip member; it says what the uncompressed answer says.
    unzipped = gzip.decompress(b"".join(body.chunks))
    assert unzipped == body.data
    assert unzipped.replace(b"qsan_test_scrapes 2.0", b"qsan_test_scrapes 1.0") == plain.data
    assert unzipped.endswith(b"# EOF\n") and unzipped.count(b"# EOF") == 1


def test_body_is_cached_until_a_snapshot_changes() -> None:
    extra = ScrapeCounter()
    exposition = Exposition(extra=[extra], tail_max_age=0.0)
    exposition.publish(_snapshot("a", 1, disks=5))
    first = exposition.body(1001.0, openmetrics=False, compress=True)
    again = exposition.body(1002.0, openmetrics=False, compress=True)
    assert again.chunks[0] is first.chunks[0]  # the same cached bytes, not a copy
    assert exposition.stats.on_demand == 1
    assert b"qsan_test_scrapes 2.0" in again.data  # max age 0: the tail is collected per scrape
    exposition.publish(_snapshot("a", 2, disks=6))
    changed = exposition.body(1003.0, openmetrics=False, compress=False)
    assert changed.data.count(b"qsan_disk_health{") == 6
    assert exposition.stats.on_demand == 2 and extra.calls == 3


def _wait(predicate, what: str, timeout: float = 20.0) -> None:
    """Bounded wait for the builder thread; never a duration assertion."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _built_up_to_date(exposition: Exposition) -> bool:
    built = exposition.built(openmetrics=True, compress=True)
    return built is not None and built[0] == exposition.version


def test_background_builder_body_equals_the_on_demand_one() -> None:
    snaps = [_snapshot(name, 1, disks=4) for name in ("c", "a", "b")]
    built = Exposition(clock=lambda: 1001.0)
    built.start()
    try:
        for snap in snaps:
            built.publish(snap)
        _wait(lambda: _built_up_to_date(built), "the first build")
        body = built.body(1001.0, openmetrics=True, compress=True)
        assert built.stats.on_demand == 0  # the scrape built nothing itself
    finally:
        built.close()
    reference = Exposition()
    for snap in snaps:
        reference.publish(snap)
    assert body.data == reference.body(1001.0, openmetrics=True, compress=False).data
    expected = om_format.generate_latest(_All(_reference(snaps))).decode()
    assert _as_dict(parse_om(body.data.decode())) == _as_dict(parse_om(expected))


@pytest.mark.slow
def test_scrape_during_a_rebuild_gets_the_previous_complete_body() -> None:
    exposition = Exposition(clock=lambda: 1001.0)
    exposition.start()
    try:
        exposition.publish(_snapshot("a", 1, disks=2))
        _wait(lambda: _built_up_to_date(exposition), "the first build")
        before = exposition.body(1001.0, openmetrics=True, compress=True)
        with exposition.build_lock:  # as if a build were running right now
            exposition.publish(_snapshot("a", 2, disks=3))
            during = exposition.body(1001.0, openmetrics=True, compress=True)
            assert during.chunks == before.chunks  # the previous body, whole
            assert during.data.count(b'qsan_disk_health{array="a"') == 2
            assert exposition.stats.served_previous == 1
        _wait(lambda: _built_up_to_date(exposition), "the rebuild")
        after = exposition.body(1001.0, openmetrics=True, compress=True)
        assert after.data.count(b'qsan_disk_health{array="a"') == 3
        assert exposition.stats.on_demand == 0
    finally:
        exposition.close()


def test_a_new_or_removed_array_is_in_the_next_scrape() -> None:
    exposition = Exposition(clock=lambda: 1001.0)
    exposition.start()
    try:
        exposition.publish(_snapshot("a", 1, disks=2))
        _wait(lambda: _built_up_to_date(exposition), "the first build")
        with exposition.build_lock:
            exposition.publish(_snapshot("b", 1, disks=1))
        added = exposition.body(1001.0, openmetrics=True, compress=True)
        assert b'qsan_disk_health{array="b"' in added.data and exposition.stats.on_demand == 1
        exposition.remove("a")
        removed = exposition.body(1001.0, openmetrics=True, compress=True)
        assert b'array="a"' not in removed.data and exposition.stats.on_demand == 2
    finally:
        exposition.close()


@pytest.mark.slow
def test_builder_withdraws_stale_data_on_time_without_a_publish() -> None:
    # The clock runs in real time from 1 s before the collector's data goes stale.
    origin = time.monotonic()
    clock = lambda: 1180.0 - 1.0 + (time.monotonic() - origin)  # noqa: E731
    exposition = Exposition(clock=clock)
    exposition.publish(_snapshot("a", 1, disks=2, data_at=1000.0))
    exposition.start()  # builds at once: nothing was built before
    try:
        _wait(lambda: _built_up_to_date(exposition), "the first build")
        builds = exposition.stats.builds
        first = exposition.built(openmetrics=True, compress=True)
        assert first is not None and b"qsan_disk_health{" in gzip.decompress(first[1])
        _wait(lambda: exposition.stats.builds > builds, "the build at the expiry")
        now = clock()
        stale = exposition.body(now, openmetrics=True, compress=True).data
        assert b"qsan_disk_health{" not in stale and b'qsan_up{array="a",site="dc1"} 1' in stale
        assert exposition.stats.on_demand == 0  # the builder did it, not the scrape
    finally:
        exposition.close()


def test_a_scrape_past_the_expiry_never_gets_stale_data() -> None:
    exposition = Exposition(clock=lambda: 1001.0)
    exposition.start()
    try:
        exposition.publish(_snapshot("a", 1, disks=2, data_at=1000.0))
        _wait(lambda: _built_up_to_date(exposition), "the first build")
        # The builder's body was made at 1001 and is good until 1180; this scrape is later.
        late = exposition.body(1181.0, openmetrics=True, compress=True).data
        assert b"qsan_disk_health{" not in late and exposition.stats.on_demand == 1
    finally:
        exposition.close()


def test_close_stops_the_builder_thread() -> None:
    exposition = Exposition()
    exposition.start()
    thread = exposition.builder
    assert thread is not None and thread.is_alive()
    exposition.close()
    assert not thread.is_alive()


def test_stale_collector_data_is_withdrawn_but_exporter_metrics_remain() -> None:
    exposition = Exposition()
    exposition.publish(_snapshot("a", 1, disks=2, data_at=1000.0))
    fresh = exposition.body(1000.0 + 180.0, openmetrics=False, compress=False).data
    stale = exposition.body(1000.0 + 181.0, openmetrics=False, compress=False).data
    assert b"qsan_disk_health{" in fresh
    assert b"qsan_disk_health{" not in stale
    assert b'qsan_up{array="a",site="dc1"} 1.0' in stale


def test_probe_body_holds_one_array_only() -> None:
    exposition = Exposition()
    exposition.publish(_snapshot("a", 1, disks=2))
    exposition.publish(_snapshot("b", 1, disks=2))
    body = exposition.body(1001.0, openmetrics=False, compress=False, arrays=["b"]).data
    assert b'array="b"' in body and b'array="a"' not in body


@pytest.mark.parametrize("batch", [1, 300, 1 << 30])
def test_the_gzipped_body_is_the_plain_one_whatever_the_compression_batches(
        monkeypatch: pytest.MonkeyPatch, batch: int) -> None:
    """/probe's bodies go to the compressor in batches of COMPRESS_BATCH_BYTES: one family each,
    a few, or all at once, the decompressed body is the plain body."""
    monkeypatch.setattr(build, "COMPRESS_BATCH_BYTES", batch)
    exposition = Exposition()
    for name in ("b", "a", "c"):
        exposition.publish(_snapshot(name, 1, disks=5))
    arrays = ["a", "b", "c"]
    plain = exposition.body(1001.0, openmetrics=True, compress=False, arrays=arrays,
                            include_extra=False)
    gzipped = exposition.body(1001.0, openmetrics=True, compress=True, arrays=arrays,
                              include_extra=False)
    assert plain.data.endswith(EOF_LINE) and plain.data.count(b"qsan_disk_health{") == 15
    assert gzip.decompress(b"".join(gzipped.chunks)) == plain.data
