"""Simulated arrays in processes of their own, so the exporter's CPU clock measures only itself.

`SimFleet(specs, processes)` spawns `processes` processes sharing out one `SimulatedArray` per
`ArraySpec` (contiguous slices, so `urls` keeps the order of `specs`) and hands back their URLs.
`set_latency(seconds)` makes every API answer of every array wait that long before it is sent
(`SlowArray.respond`, the simulator's documented seam), e.g. 50 ms for the fleet phase.
`cpu_seconds()` is the simulators' own CPU, to show they kept up (one process is one GIL).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

MIX_PROFILES = ("san", "fas", "nas")
USERNAME = "monitor"
PASSWORD = "bench-pw"
COMMAND_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class ArraySpec:
    """One simulated array's profile and size; everything else is the simulator's default."""

    profile: str = "san"
    enclosures: int = 2
    disks: int = 48
    pools: int = 4
    volumes: int = 4

    def describe(self) -> str:
        return (f"{self.profile}, {self.enclosures} enclosures, {self.disks} disks, "
                f"{self.pools} pools, {self.volumes} volumes")


TARGET = ArraySpec()  # the target array every goal is about
WIDE = ArraySpec(volumes=64)  # the same with 64 volumes


def mix(count: int) -> list[ArraySpec]:
    """san, fas and nas in turn, 64 volumes: every spelling the exporter must tolerate."""
    return [ArraySpec(profile=MIX_PROFILES[i % len(MIX_PROFILES)], volumes=WIDE.volumes)
            for i in range(count)]


class SlowArray(SimulatedArray):
    """A simulated array whose every answer takes `latency` seconds longer (sleep: no CPU)."""

    latency = 0.0

    def respond(self, handler: BaseHTTPRequestHandler, route: str, status: int,
                body: bytes) -> None:
        if self.latency > 0:
            time.sleep(self.latency)
        super().respond(handler, route, status, body)


def _answer(arrays: list[SlowArray], command: str, argument: Any) -> Any:
    if command == "latency":
        for array in arrays:
            array.latency = float(argument)
        return True
    if command == "requests":
        return sum(a.stats.requests for a in arrays)
    if command == "cpu":
        return time.process_time()
    raise ValueError(command)


def _serve(conn: multiprocessing.connection.Connection, specs: list[ArraySpec]) -> None:
    arrays: list[SlowArray] = []
    try:
        for spec in specs:
            config = SimulatorConfig(
                profile=spec.profile, username=USERNAME, password=PASSWORD,
                enclosures=spec.enclosures, disks=spec.disks, pools=spec.pools,
                volumes=spec.volumes,
            )
            array = SlowArray(config, host="127.0.0.1", port=0)
            array.start()
            arrays.append(array)
        conn.send([a.url for a in arrays])
        while True:
            command, argument = conn.recv()
            if command == "stop":
                break
            conn.send(_answer(arrays, command, argument))
    finally:
        for array in arrays:
            array.stop()
        conn.send("stopped")


class SimFleet:
    """Context manager around the simulator processes; bounded waits on every exchange."""

    def __init__(self, specs: Sequence[ArraySpec], processes: int = 1) -> None:
        context = multiprocessing.get_context("spawn")
        processes = max(1, min(processes, len(specs)))
        share = -(-len(specs) // processes)
        self._children: list[tuple[multiprocessing.connection.Connection, Any]] = []
        for index in range(processes):
            conn, child = context.Pipe()
            part = list(specs[index * share:(index + 1) * share])
            process = context.Process(target=_serve, args=(child, part),
                                      name=f"bench-simulators-{index}", daemon=True)
            process.start()
            self._children.append((conn, process))
        self.urls: list[str] = [url for urls in self._each(None) for url in urls]

    @property
    def processes(self) -> int:
        return len(self._children)

    def _each(self, message: tuple[str, Any] | None) -> list[Any]:
        """Send `message` to every simulator process (None: just read), then every answer."""
        if message is not None:
            for conn, _ in self._children:
                conn.send(message)
        answers = []
        for conn, _ in self._children:
            if not conn.poll(COMMAND_TIMEOUT_SECONDS):
                raise TimeoutError("a simulator process did not answer")
            answers.append(conn.recv())
        return answers

    def set_latency(self, seconds: float) -> None:
        self._each(("latency", seconds))

    def requests(self) -> int:
        return sum(self._each(("requests", None)))

    def cpu_seconds(self) -> list[float]:
        """Each simulator process's CPU time so far (user + system)."""
        return [float(c) for c in self._each(("cpu", None))]

    def close(self) -> None:
        for conn, process in self._children:
            if process.is_alive():
                try:
                    conn.send(("stop", None))
                    conn.poll(30)
                except (BrokenPipeError, EOFError, OSError):
                    pass
        for _, process in self._children:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(5)

    def __enter__(self) -> SimFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
