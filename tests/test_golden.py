"""Golden exposition files: each simulator profile's fixed scenario, rendered byte for byte.

The whole data path runs for real (HTTP client -> sources -> collectors -> exposition) against a
simulator on a frozen clock, so the answers are stable. A change in output shows up as a diff of
tests/golden/<profile>.prom, to be reviewed like code. Regenerate with:

    QSAN_UPDATE_GOLDEN=1 scripts/test tests/test_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.api.unified.source import UnifiedSource
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import Exposition
from qsan_exporter.poll.array import ArrayPoll
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

GOLDEN = Path(__file__).parent / "golden"
FROZEN = 1_893_456_000.0  # 2030-01-01T00:00:00Z: a Tuesday, so weekly schedules are visible
# Durations are the one thing a frozen clock cannot freeze.
_VARIABLE = (b"qsan_poll_duration_seconds{", b"qsan_collector_duration_seconds{")


def render_profile(profile: str, literal: bool = False) -> bytes:
    sim = SimulatedArray(SimulatorConfig(profile=profile, username="u", password="p",
                                         literal=literal),
                         clock=lambda: FROZEN).start()
    client = UnifiedClient(sim.url, "u", "p", timeout=5)
    try:
        config = ArrayConfig(name=f"golden-{profile}", url=sim.url, username="u", password="p",
                             timeout_seconds=5, labels={"site": "lab"})
        stats = client.stats
        poll = ArrayPoll(config, UnifiedSource(client, clock=lambda: FROZEN), stats,
                         clock=lambda: FROZEN)
        exposition = Exposition()
        exposition.publish(poll.poll())
        body = exposition.body(FROZEN, openmetrics=False, compress=False).data
    finally:
        client.close()
        sim.stop()
    return b"".join(
        line for line in body.splitlines(keepends=True) if not line.startswith(_VARIABLE)
    )


@pytest.mark.parametrize("profile", ["san", "fas", "nas"])
def test_golden_exposition(profile: str) -> None:
    path = GOLDEN / f"{profile}.prom"
    rendered = render_profile(profile)
    if os.environ.get("QSAN_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(rendered)
    assert path.exists(), f"{path} missing: run with QSAN_UPDATE_GOLDEN=1 and review it"
    expected = path.read_bytes()
    if rendered != expected:
        import difflib

        diff = "".join(difflib.unified_diff(
            expected.decode().splitlines(keepends=True),
            rendered.decode().splitlines(keepends=True), "golden", "rendered", n=1))
        pytest.fail(f"{profile} exposition differs from {path.name}:\n{diff[:6000]}")


def _series_of(body: bytes) -> set[tuple[str, frozenset[tuple[str, str]]]]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(sample.name, frozenset(sample.labels.items()))
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples}


@pytest.mark.parametrize("profile", ["san", "fas", "nas"])
def test_the_literal_reading_gives_the_same_series(profile: str) -> None:
    """An array built on the manual's other reading (`simulate --literal`: pools and disks as
    objects, `info` as an object array, the other spellings and JSON types, null lists) must
    give the series the golden file describes: same names, same label sets."""
    golden = _series_of((GOLDEN / f"{profile}.prom").read_bytes())
    literal = _series_of(render_profile(profile, literal=True))
    assert len(golden) > 50
    missing, extra = golden - literal, literal - golden
    assert not missing and not extra, (sorted(missing)[:5], sorted(extra)[:5])
