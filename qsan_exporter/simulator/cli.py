"""`qsan-exporter simulate`: serve one simulated array until SIGINT/SIGTERM (SPEC §1).

The main CLI builds the parser and calls `add_arguments` then `run`; this module only knows the
simulator's own options. Exit codes follow the exporter's: 0 after a clean stop, 1 on a usage or
bind error.

``--fault KIND:ROUTE[:ARG][:FIELD=VALUE...]`` (repeatable; tried in the order given) starts
the array with faults active; ``/_sim/faults`` changes them while it runs (see `faults`).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from qsan_exporter.simulator.config import SimulatorConfig
from qsan_exporter.simulator.faults import KINDS, Fault, parse_fault
from qsan_exporter.simulator.server import SimulatedArray

EXIT_OK = 0
EXIT_USAGE = 1
PROFILE_CHOICES = ("san", "fas", "nas", "legacy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SimulatorConfig()
    parser.add_argument("--listen", default="127.0.0.1:8443", metavar="HOST:PORT",
                        help="address to serve on (port 0 picks a free one)")
    parser.add_argument("--profile", choices=PROFILE_CHOICES, default="san",
                        help="product: XCubeSAN, XCubeFAS, XCubeNAS (legacy: SANOS 4.0 API)")
    for name in ("enclosures", "disks", "pools", "volumes"):
        parser.add_argument(f"--{name}", type=int, default=getattr(defaults, name),
                            metavar="N", help=f"number of {name} (default %(default)s)")
    parser.add_argument("--username", default=defaults.username,
                        help="the one user the array accepts (default %(default)s)")
    parser.add_argument("--password", default=defaults.password,
                        help="that user's password (default %(default)s); a wrong one gets 401, "
                        "and the exporter then waits 5 minutes before trying again")
    parser.add_argument("--token-lifetime", type=float, default=defaults.token_lifetime,
                        metavar="SECONDS", help="access token lifetime (default %(default)s)")
    parser.add_argument("--log-interval", type=float, default=defaults.log_interval,
                        metavar="SECONDS", help="a new log event every N seconds, 0 = never")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="varies serial numbers and ids; the scenario stays the same")
    parser.add_argument("--literal", action="store_true",
                        help="take the manual's other reading wherever its tables, examples and "
                        "prose disagree (qsan_exporter/readings.py): e.g. only the "
                        "'refreshToken ' body key of its examples, a wrong password answered 400")
    parser.add_argument("--fault", action="append", default=[], metavar="KIND:ROUTE[:ARG]",
                        help="inject a fault (repeatable, first match wins), e.g. latency:*:0.05, "
                        "status:/rest/v1/storage/disk/list:500, rate_limit:*:30, "
                        "hang:/rest/v1/log/list:count=1; kinds: " + ", ".join(KINDS) + ". "
                        "Change them at run time on the unauthenticated /_sim/faults "
                        "(a test tool: listen on loopback)")


def parse_listen(listen: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `:port` (all interfaces)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"--listen must be HOST:PORT, not {listen!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
        config = SimulatorConfig(
            profile=args.profile, username=args.username, password=args.password,
            token_lifetime=args.token_lifetime, enclosures=args.enclosures, disks=args.disks,
            pools=args.pools, volumes=args.volumes, log_interval=args.log_interval,
            seed=args.seed, literal=args.literal)
        faults: list[Fault] = [parse_fault(spec) for spec in args.fault]
    except ValueError as exc:
        print(f"qsan-exporter simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sim = SimulatedArray(config, host=host, port=port)
    for fault in faults:
        sim.faults.add(fault)
    try:
        sim.start()
    except OSError as exc:
        print(f"qsan-exporter simulate: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"simulated {args.profile} array ({sim.device.profile.model}) serving on {sim.url}"
              f"\n  log in as username {args.username!r}, password {args.password!r}",
              flush=True)
        for fault in faults:
            print(f"fault active: {fault}", flush=True)
        while not stopping.wait(1.0):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sim.stop()
    print("simulator stopped", flush=True)
    return EXIT_OK
