"""`--demo`: three simulated arrays (one per Unified profile) and a config that polls them."""

from __future__ import annotations

from qsan_exporter.config import ArrayConfig, Config
from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

DEMO_PROFILES = ("san", "fas", "nas")
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
                labels={"site": "demo"},
            ))
    except Exception:
        for sim in simulators:
            sim.stop()
        raise
    return simulators, Config(arrays=tuple(arrays))
