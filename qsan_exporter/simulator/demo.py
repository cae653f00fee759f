"""`--demo`: four simulated arrays and a config that polls them.

One per Unified profile (san, fas, nas) and one SANOS 4.0 array (`legacy`, whose response shapes
are assumed: see docs/legacy-api.md). Every array is configured with `api: auto`, so the demo
also shows the flavour being detected: `qsan_array_info{array="demo-legacy", api="legacy"}`.
"""

from __future__ import annotations

from qsan_exporter.config import ArrayConfig, Config
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

DEMO_PROFILES = ("san", "fas", "nas", "legacy")
DEMO_INTERVAL_SECONDS = 10.0


def start_demo_arrays(
    profiles: tuple[str, ...] = DEMO_PROFILES, interval: float = DEMO_INTERVAL_SECONDS
) -> tuple[list[SimulatedArray], Config]:
    """Start one simulator per profile on loopback and return them with a config polling them."""
    simulators: list[SimulatedArray] = []
    arrays: list[ArrayConfig] = []
    try:
        for profile in profiles:
            sim = SimulatedArray(
                SimulatorConfig(profile=profile, username="monitor", password="demo"),
                host="127.0.0.1", port=0,
            )
            sim.start()
            simulators.append(sim)
            arrays.append(ArrayConfig(
                name=f"demo-{profile}", url=sim.url, username="monitor", password="demo",
                interval_seconds=interval, timeout_seconds=min(5.0, interval / 2),
                labels={"site": "demo"}, api="auto",
            ))
    except Exception:
        for sim in simulators:
            sim.stop()
        raise
    return simulators, Config(arrays=tuple(arrays))
