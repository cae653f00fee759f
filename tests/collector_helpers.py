"""Helpers the collector tests share: the manual's example bodies and one collector run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qsan_exporter.collectors import COLLECTORS
from qsan_exporter.collectors.base import FamilyBuilder, PollData

FIXTURES = Path(__file__).parent / "fixtures" / "api"
POLLED_AT = 1704283200.0  # Wednesday 2024-01-03 12:00:00 UTC
COLLECT = dict(COLLECTORS)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def run(area: str, raw_area: Any, *, product: str = "san", extra: dict[str, Any] | None = None,
        polled_at: float = POLLED_AT, timezone: str = "UTC") -> Samples:
    """Run one collector; samples keyed by (sample name, sorted labels without `array`)."""
    data = PollData("a1", product, polled_at, {area: raw_area, **(extra or {})},
                    timezone=timezone)
    out = FamilyBuilder({"array": "a1"})
    COLLECT[area](data, out)
    assert out.duplicates == 0
    samples: Samples = {}
    for family in out.families():
        for s in family.samples:
            assert s.labels["array"] == "a1"
            labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "array"))
            samples[(s.name, labels)] = s.value
    return samples


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples[(metric, tuple(sorted(labels.items())))]


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}
