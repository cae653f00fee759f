"""Simulated arrays in a process of their own, so the exporter's CPU clock measures only itself.

`SimFleet(count, size)` spawns one process holding `count` `SimulatedArray`s (profiles san, fas,
nas in turn, so the fleet speaks every spelling the exporter must tolerate) and hands back their
URLs. `set_latency(seconds)` makes every API answer of every array wait that long before it is
sent (`SlowArray.respond`, the simulator's documented seam), e.g. 50 ms for the fleet phase.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from qsan_exporter.simulator import SimulatedArray, SimulatorConfig

PROFILES = ("san", "fas", "nas")
USERNAME = "monitor"
PASSWORD = "bench-pw"
COMMAND_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class ArraySize:
    """One simulated array's size; the default is the issue's 'realistic' array."""

    enclosures: int = 2
    disks: int = 48
    pools: int = 4
    volumes: int = 64


class SlowArray(SimulatedArray):
    """A simulated array whose every answer takes `latency` seconds longer (sleep: no CPU)."""

    latency = 0.0

    def respond(self, handler: BaseHTTPRequestHandler, route: str, status: int,
                body: bytes) -> None:
        if self.latency > 0:
            time.sleep(self.latency)
        super().respond(handler, route, status, body)


def _serve(conn: multiprocessing.connection.Connection, count: int, size: ArraySize) -> None:
    arrays: list[SlowArray] = []
    try:
        for index in range(count):
            config = SimulatorConfig(
                profile=PROFILES[index % len(PROFILES)], username=USERNAME, password=PASSWORD,
                enclosures=size.enclosures, disks=size.disks, pools=size.pools,
                volumes=size.volumes,
            )
            arrays.append(SlowArray(config, host="127.0.0.1", port=0).start())
        conn.send([a.url for a in arrays])
        while True:
            command, argument = conn.recv()
            if command == "latency":
                for array in arrays:
                    array.latency = float(argument)
                conn.send(True)
            elif command == "requests":
                conn.send(sum(a.stats.requests for a in arrays))
            else:
                break
    finally:
        for array in arrays:
            array.stop()
        conn.send("stopped")


class SimFleet:
    """Context manager around the simulator process; bounded waits on every exchange."""

    def __init__(self, count: int, size: ArraySize = ArraySize()) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, count, size),
                                        name="bench-simulators", daemon=True)
        self._process.start()
        self.urls: list[str] = self._receive()

    def _receive(self) -> Any:
        if not self._conn.poll(COMMAND_TIMEOUT_SECONDS):
            raise TimeoutError("the simulator process did not answer")
        return self._conn.recv()

    def set_latency(self, seconds: float) -> None:
        self._conn.send(("latency", seconds))
        self._receive()

    def requests(self) -> int:
        self._conn.send(("requests", None))
        return int(self._receive())

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send(("stop", None))
                self._conn.poll(30)
            except (BrokenPipeError, EOFError, OSError):
                pass
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)

    def __enter__(self) -> SimFleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
