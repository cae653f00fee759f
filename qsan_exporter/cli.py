"""Command line: argparse, logging, exit codes (SPEC §1); service.py runs the exporter."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from qsan_exporter import __version__, runtime
from qsan_exporter.api.token_ledger import default_state_directory
from qsan_exporter.config import Config, ConfigError, load_config
from qsan_exporter.logging_setup import LEVELS, setup_logging
from qsan_exporter.service import DEFAULT_GLOBAL_REQUESTS, Exporter, ListenError, Options
from qsan_exporter.sharding import Shard, parse_shard
from qsan_exporter.sharding.kube import DEFAULT_REFRESH_SECONDS, KubeError, StatefulSetReplicas
from qsan_exporter.web.config import WebConfig, WebConfigError, load_web_config
from qsan_exporter.web.conn import Limits

log = logging.getLogger("qsan_exporter")

EXIT_OK, EXIT_USAGE = 0, 1
DEFAULT_LISTEN = ":9747"
DEMO_LISTEN = "127.0.0.1:9747"


class UsageError(Exception):
    """A bad argument or file: main prints the message and exits EXIT_USAGE."""


def build_parser() -> argparse.ArgumentParser:
    """The exporter's own arguments (the subcommands parse theirs)."""
    p = argparse.ArgumentParser(
        prog="qsan-exporter",
        description="Prometheus exporter for QSAN storage arrays (XCubeSAN, XCubeFAS, XCubeNAS).",
        epilog="Subcommands: 'qsan-exporter simulate --help' runs a simulated array; "
               "'qsan-exporter dump --help' saves one array's API answers for a bug report.",
    )
    p.add_argument("--config.file", dest="config_file", metavar="FILE",
                   help="YAML config (see config/qsan_exporter.example.yml)")
    p.add_argument("--config.check", dest="config_check", action="store_true",
                   help="validate the config, print every problem, exit 0 (ok) or 1")
    p.add_argument("--web.listen-address", dest="listen", default=DEFAULT_LISTEN,
                   metavar="[HOST]:PORT",
                   help=f"where to serve /metrics (default {DEFAULT_LISTEN}; with --demo "
                        f"{DEMO_LISTEN})")
    p.add_argument("--web.config.file", dest="web_config_file", metavar="FILE",
                   help="TLS, basic auth and response headers in the Prometheus "
                        "exporter-toolkit web-config format (see "
                        "config/web-config.example.yml); read at start")
    p.add_argument("--web.enable-lifecycle", dest="enable_lifecycle", action="store_true",
                   help="allow POST /-/reload (SIGHUP reloads either way)")
    _web_limit_arguments(p)
    p.add_argument("--demo", action="store_true",
                   help="run four simulated arrays (san, fas, nas, legacy) and poll them")
    _shard_arguments(p)
    p.add_argument("--api.max-concurrent-requests", dest="global_requests", type=int,
                   default=DEFAULT_GLOBAL_REQUESTS, metavar="N",
                   help="requests in flight to all arrays together, 0 for no cap "
                        f"(default {DEFAULT_GLOBAL_REQUESTS}; per array: the config key "
                        "max_concurrent_requests, default 1)")
    p.add_argument("--state.directory", dest="state_directory", metavar="DIR",
                   help="where each array's token set is recorded, so that the next start "
                        "reuses or revokes what a crash left behind (default: systemd's "
                        "$STATE_DIRECTORY, else $XDG_STATE_HOME/qsan-exporter, i.e. "
                        "~/.local/state/qsan-exporter; --demo: none); '' records nothing")
    p.add_argument("--log.level", dest="log_level", default="info", choices=sorted(LEVELS))
    p.add_argument("--log.format", dest="log_format", default="logfmt",
                   choices=["logfmt", "json"])
    p.add_argument("--log.array-events", dest="log_array_events", default=True,
                   action=argparse.BooleanOptionalAction,
                   help="log each new event of an array's own event log as one line (logger "
                        "qsan_exporter.array_events), for Loki or Elasticsearch (default on)")
    p.add_argument("--version", action="version", version=f"qsan-exporter {__version__}")
    return p


def _shard_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard", metavar="I/N",
                   help="poll and serve only the arrays whose name hashes to shard I of N")
    p.add_argument("--shard.statefulset", dest="shard_statefulset", metavar="NAME",
                   help="in a Kubernetes StatefulSet: N is NAME's replica count, read from the "
                        "API and followed as it is scaled; --shard then gives I only")
    p.add_argument("--shard.refresh-interval", dest="shard_refresh", type=float,
                   default=DEFAULT_REFRESH_SECONDS, metavar="SECONDS",
                   help="how often --shard.statefulset re-reads the replica count "
                        f"(default {DEFAULT_REFRESH_SECONDS:.0f})")


def _web_limit_arguments(p: argparse.ArgumentParser) -> None:
    defaults = Limits()
    p.add_argument("--web.read-timeout", dest="web_read_timeout", type=float,
                   default=defaults.read_timeout, metavar="SECONDS",
                   help="a client must send its request headers (and finish the TLS "
                        f"handshake) within this time (default {defaults.read_timeout:.0f})")
    p.add_argument("--web.idle-timeout", dest="web_idle_timeout", type=float,
                   default=defaults.idle_timeout, metavar="SECONDS",
                   help="close a keep-alive connection idle this long "
                        f"(default {defaults.idle_timeout:.0f})")
    p.add_argument("--web.max-connections", dest="web_max_connections", type=int,
                   default=defaults.max_connections, metavar="N",
                   help="open client connections at most; at the cap the oldest idle one is "
                        "closed, and the cap is lowered below the file limit "
                        f"(default {defaults.max_connections})")


def _web_limits(args: argparse.Namespace) -> Limits:
    if args.web_read_timeout <= 0 or args.web_idle_timeout <= 0 or args.web_max_connections < 1:
        raise ValueError("--web.read-timeout and --web.idle-timeout must be > 0 and "
                         "--web.max-connections >= 1")
    return Limits(read_timeout=args.web_read_timeout, idle_timeout=args.web_idle_timeout,
                  max_connections=args.web_max_connections)


def _shard_from_args(args: argparse.Namespace) -> tuple[Shard | None, StatefulSetReplicas | None]:
    """--shard=I/N as given, or I with N read from the StatefulSet (--shard.statefulset)."""
    if not args.shard_statefulset:
        return (parse_shard(args.shard) if args.shard else None), None
    if not args.shard or not args.shard.isdigit():
        raise ValueError("--shard.statefulset needs --shard=I (the pod's ordinal, without /N)")
    if args.shard_refresh <= 0:
        raise ValueError("--shard.refresh-interval must be > 0")
    replicas = StatefulSetReplicas(args.shard_statefulset)
    count = replicas.get()
    index = int(args.shard)
    log.info("StatefulSet %s has %d replicas: this is shard %d/%d",
             args.shard_statefulset, count, index, count)
    return (index, count), replicas


def _web_config(path: str | None) -> WebConfig | None:
    if not path:
        return None
    try:
        return load_web_config(path)
    except WebConfigError as exc:
        raise UsageError("\n".join([f"{path}: invalid web configuration:",
                                     *(f"  - {p}" for p in exc.problems)])) from None


def _options(args: argparse.Namespace) -> Options:
    """Everything but the array config, checked; raises UsageError naming the argument."""
    try:
        shard, replicas = _shard_from_args(args)
        limits = _web_limits(args)
    except (ValueError, KubeError) as exc:
        raise UsageError(str(exc)) from None
    if args.global_requests < 0:
        raise UsageError("--api.max-concurrent-requests must be >= 0")
    state = args.state_directory
    if state is None and not args.demo:
        state = default_state_directory()
    return Options(listen=args.listen,
                   web_config=_web_config(args.web_config_file), limits=limits,
                   lifecycle=args.enable_lifecycle, global_requests=args.global_requests,
                   state_directory=state, shard=shard, replicas=replicas,
                   shard_refresh=args.shard_refresh)


def _load(path: str) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise UsageError(exc.report("qsan-exporter", path).removeprefix("qsan-exporter: ")) \
            from None
    except Exception as exc:  # a config must never end the exporter with a traceback
        log.debug("loading the config failed", exc_info=True)
        raise UsageError(f"{path}: invalid configuration: cannot be read "
                         f"({type(exc).__name__})") from None


def _subcommand(argv: list[str]) -> int | None:
    """`simulate` and `dump`: their own arguments and exit codes."""
    if argv[:1] == ["simulate"]:
        from qsan_exporter.simulator import cli as simulator_cli

        sp = argparse.ArgumentParser(prog="qsan-exporter simulate",
                                     description="Serve a simulated QSAN array.")
        simulator_cli.add_arguments(sp)
        args = sp.parse_args(argv[1:])
        setup_logging("info", "logfmt")
        return simulator_cli.run(args)
    if argv[:1] == ["dump"]:
        from qsan_exporter import dump

        setup_logging("warning", "logfmt")  # the dump prints its own progress lines
        return dump.main(argv[1:])
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    code = _subcommand(argv)
    if code is not None:
        return code
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format, args.log_array_events)
    try:
        return _run(parser, args)
    except UsageError as exc:
        print(f"qsan-exporter: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    options = _options(args)
    if args.demo:
        if args.config_file:
            raise UsageError("--demo takes no --config.file")
        return _demo(args, options)
    if not args.config_file:
        parser.print_usage(sys.stderr)
        raise UsageError("--config.file is required (or --demo)")
    config = _load(args.config_file)
    if args.config_check:
        print(f"{args.config_file}: OK, {len(config.arrays)} array(s): "
              + ", ".join(a.name for a in config.arrays))
        return EXIT_OK
    return _serve(config, replace(options, config_path=Path(args.config_file)), args)


def _demo(args: argparse.Namespace, options: Options) -> int:
    from qsan_exporter.simulator.demo import start_demo_arrays

    if args.listen == DEFAULT_LISTEN:  # the demo stays on this machine, as its banner says
        options = replace(options, listen=DEMO_LISTEN)
    simulators, config = start_demo_arrays()
    try:
        return _serve(config, options, args)
    finally:
        for sim in simulators:
            sim.stop()


def _serve(config: Config, options: Options, args: argparse.Namespace) -> int:
    try:
        exporter = Exporter(config, options)
    except ListenError as exc:
        raise UsageError(str(exc)) from None
    runtime.tune_process()  # modules, config and server are in place
    selected = exporter.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if options.config_path is not None:
        signal.signal(signal.SIGHUP,
                      lambda *_: threading.Thread(target=exporter.reload).start())
    _banner(exporter, selected, args)
    while not stop.wait(1.0):
        pass
    log.info("shutting down: stopping polls and revoking tokens")
    exporter.stop()
    return EXIT_OK


def _banner(exporter: Exporter, selected: Config, args: argparse.Namespace) -> None:
    names = ", ".join(a.name for a in selected.arrays)
    count = len(selected.arrays)
    what = ("simulated " if args.demo else "") + ("array" if count == 1 else "arrays")
    url = exporter.url
    where = "" if exporter.server.host else " (listening on all interfaces)"
    log.info("polling %d %s: %s; serving %s/metrics%s", count, what, names, url, where)
    if args.log_format != "json":  # a JSON log stream on a terminal stays JSON only
        print(f"qsan-exporter {__version__}: polling {count} {what}: {names}\n"
              f"  metrics: {url}/metrics{where}\n  status:  {url}/", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
