"""The cached exposition path must say exactly what prometheus_client would say, faster."""

from __future__ import annotations

import gzip

from prometheus_client import exposition as text_format
from prometheus_client.core import Metric
from prometheus_client.openmetrics import exposition as om_format
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

from qsan_exporter.collectors.base import FamilyBuilder
from qsan_exporter.exposition import Exposition
from qsan_exporter.snapshot import CollectorState, Snapshot


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
                           tuple(out.families()))
    return Snapshot(array=array, generation=generation, started_at=data_at, duration=0.2,
                    up=True, error=None, last_success=data_at, identity=None,
                    collectors={"disks": state}, exporter_families=tuple(exporter.families()))


class _All:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _reference(snapshots: list[Snapshot]) -> list[Metric]:
    """What prometheus_client renders from the same families, merged per name."""
    merged: dict[str, Metric] = {}
    for snap in snapshots:
        families = [*snap.exporter_families,
                    *(f for c in snap.collectors.values() for f in c.families)]
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
    exposition = Exposition()
    exposition.publish(_snapshot("a", 1, disks=5))
    body = exposition.body(1001.0, openmetrics=False, compress=True)
    assert body.gzipped is not None
    assert gzip.decompress(body.gzipped) == body.data


def test_body_is_cached_until_a_snapshot_changes() -> None:
    exposition = Exposition()
    exposition.publish(_snapshot("a", 1, disks=5))
    first = exposition.body(1001.0, openmetrics=False, compress=True)
    again = exposition.body(1002.0, openmetrics=False, compress=True)
    assert again.data is first.data or again.data == first.data
    assert exposition._cache  # the body was cached ...
    (cached,) = exposition._cache.values()
    assert again.gzipped is not None and cached[2] is not None
    exposition.publish(_snapshot("a", 2, disks=6))
    changed = exposition.body(1003.0, openmetrics=False, compress=False)
    assert changed.data.count(b"qsan_disk_health{") == 6


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
