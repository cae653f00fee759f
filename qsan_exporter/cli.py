"""Command line: argparse, logging, wiring and exit codes (SPEC §1). Nothing else lives here."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric

from qsan_exporter import __version__, kube_shard
from qsan_exporter.api.guard import GlobalLimit
from qsan_exporter.api.token_ledger import TokenLedger, default_state_directory
from qsan_exporter.array_poll import python_version
from qsan_exporter.config import Config, ConfigError, load_config
from qsan_exporter.exposition import Exposition
from qsan_exporter.http import App, HttpServer, ReloadResult
from qsan_exporter.logging_setup import LEVELS, setup_logging
from qsan_exporter.metrics import GLOBAL_METRICS
from qsan_exporter.poller import Poller
from qsan_exporter.status_page import ExporterState
from qsan_exporter.web_config import WebConfig, WebConfigError, load_web_config

log = logging.getLogger("qsan_exporter")

EXIT_OK, EXIT_USAGE = 0, 1
DEFAULT_LISTEN = ":9747"
DEMO_LISTEN = "127.0.0.1:9747"
# Requests in flight to all arrays together. Each array already gets one at a time by default
# (max_concurrent_requests); this bounds the exporter's sockets and threads on a large fleet.
DEFAULT_GLOBAL_REQUESTS = 32


def _parser() -> argparse.ArgumentParser:
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
    p.add_argument("--demo", action="store_true",
                   help="run four simulated arrays (san, fas, nas, legacy) and poll them")
    p.add_argument("--shard", metavar="I/N",
                   help="poll and serve only the arrays whose name hashes to shard I of N")
    p.add_argument("--shard.statefulset", dest="shard_statefulset", metavar="NAME",
                   help="in a Kubernetes StatefulSet: N is NAME's replica count, read from the "
                        "API and followed as it is scaled; --shard then gives I only")
    p.add_argument("--shard.refresh-interval", dest="shard_refresh", type=float,
                   default=kube_shard.DEFAULT_REFRESH_SECONDS, metavar="SECONDS",
                   help="how often --shard.statefulset re-reads the replica count "
                        f"(default {kube_shard.DEFAULT_REFRESH_SECONDS:.0f})")
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


def parse_shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    if not sep or not index.isdigit() or not count.isdigit():
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 0/3")
    i, n = int(index), int(count)
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text!r}: need 0 <= I < N")
    return i, n


def _shard_from_args(
    args: argparse.Namespace,
) -> tuple[tuple[int, int] | None, kube_shard.StatefulSetReplicas | None]:
    """--shard=I/N as given, or I with N read from the StatefulSet (--shard.statefulset)."""
    if not args.shard_statefulset:
        return (parse_shard(args.shard) if args.shard else None), None
    if not args.shard or not args.shard.isdigit():
        raise ValueError("--shard.statefulset needs --shard=I (the pod's ordinal, without /N)")
    if args.shard_refresh <= 0:
        raise ValueError("--shard.refresh-interval must be > 0")
    replicas = kube_shard.StatefulSetReplicas(args.shard_statefulset)
    count = replicas.get()
    index = int(args.shard)
    log.info("StatefulSet %s has %d replicas: this is shard %d/%d",
             args.shard_statefulset, count, index, count)
    return (index, count), replicas


def shard_of(name: str, count: int) -> int:
    """Stable across processes, Python versions and restarts (unlike hash())."""
    return zlib.crc32(name.encode("utf-8")) % count


def select_shard(config: Config, shard: tuple[int, int] | None) -> Config:
    if shard is None:
        return config
    index, count = shard
    # An ordinal beyond the count (a pod of a StatefulSet being scaled down) owns nothing.
    return Config(arrays=tuple(a for a in config.arrays if shard_of(a.name, count) == index))


@dataclass
class _Selection:
    """The loaded config and this instance's shard: reload changes one, re-sharding the other."""

    config: Config
    shard: tuple[int, int] | None


class _GlobalMetrics:
    """Process-wide families: build info and the config reload state."""

    def __init__(self) -> None:
        self.reload_successful = True

    def collect(self) -> list[Metric]:
        build = GLOBAL_METRICS["qsan_exporter_build_info"]
        reload = GLOBAL_METRICS["qsan_config_last_reload_successful"]
        info = GaugeMetricFamily(build.name, build.help, labels=list(build.labels))
        info.add_metric([__version__, python_version()], 1)
        return [info, GaugeMetricFamily(reload.name, reload.help,
                                        value=1 if self.reload_successful else 0)]


class Reloader:
    """SIGHUP and POST /-/reload: the new config runs whole, or the old one keeps running."""

    def __init__(self, path: Path | None, poller: Poller, global_metrics: _GlobalMetrics,
                 current: _Selection, lock: threading.Lock,
                 state: ExporterState | None = None) -> None:
        self.path, self.poller, self.global_metrics = path, poller, global_metrics
        self.current, self.lock, self.state = current, lock, state

    def __call__(self) -> ReloadResult:
        assert self.path is not None
        with self.lock:
            try:
                loaded = load_config(self.path)
                new = select_shard(loaded, self.current.shard)
                self.poller.apply(new)  # all or nothing: raises before touching what runs
            except Exception as exc:  # whatever the cause, the running config stays
                self.global_metrics.reload_successful = False
                reason = ("; ".join(exc.problems) if isinstance(exc, ConfigError)
                          else f"unexpected {type(exc).__name__}: {exc}")
                log.error("reload of %s failed, keeping the running config: %s",
                          self.path, reason)
                log.debug("reload failure", exc_info=not isinstance(exc, ConfigError))
                if self.state is not None:  # the status page's "last reload"
                    self.state.reloaded(False, reason)
                return ReloadResult(False, "reload failed: " + reason)
            self.current.config = loaded
            self.global_metrics.reload_successful = True
            if self.state is not None:
                self.state.reloaded(True, f"{len(new.arrays)} array(s)")
            log.info("reloaded %s: %d array(s)", self.path, len(new.arrays))
            return ReloadResult(True, f"reloaded: {len(new.arrays)} array(s)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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

    parser = _parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format, args.log_array_events)
    try:
        shard, replicas = _shard_from_args(args)
    except (ValueError, kube_shard.KubeError) as exc:
        print(f"qsan-exporter: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.global_requests < 0:
        print("qsan-exporter: --api.max-concurrent-requests must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    web_config: WebConfig | None = None
    if args.web_config_file:
        try:
            web_config = load_web_config(args.web_config_file)
        except WebConfigError as exc:
            print(f"qsan-exporter: {args.web_config_file}: invalid web configuration:",
                  file=sys.stderr)
            for problem in exc.problems:
                print(f"  - {problem}", file=sys.stderr)
            return EXIT_USAGE

    if args.demo:
        if args.config_file:
            print("qsan-exporter: --demo takes no --config.file", file=sys.stderr)
            return EXIT_USAGE
        from qsan_exporter.demo import start_demo_arrays

        if args.listen == DEFAULT_LISTEN:  # the demo stays on this machine, as its banner says
            args.listen = DEMO_LISTEN

        simulators, config = start_demo_arrays()
        try:
            return _serve(config, args, shard, None, web_config, replicas)
        finally:
            for sim in simulators:
                sim.stop()

    if not args.config_file:
        parser.print_usage(sys.stderr)
        print("qsan-exporter: --config.file is required (or --demo)", file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config_file)
    except ConfigError as exc:
        print(exc.report("qsan-exporter", args.config_file), file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a config must never end the exporter with a traceback
        log.debug("loading the config failed", exc_info=True)
        print(f"qsan-exporter: {args.config_file}: invalid configuration: cannot be read "
              f"({type(exc).__name__})", file=sys.stderr)
        return EXIT_USAGE
    if args.config_check:
        print(f"{args.config_file}: OK, {len(config.arrays)} array(s): "
              + ", ".join(a.name for a in config.arrays))
        return EXIT_OK
    return _serve(config, args, shard, Path(args.config_file), web_config, replicas)


def _log_listening(server: HttpServer) -> None:
    """The bound address, as Prometheus logs its own: with `--web.listen-address=...:0` this
    line is how an operator (or a test) learns the port the kernel chose."""
    host = server.host or "0.0.0.0"
    address = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    log.info("Listening on", extra={"qsan_fields": {"address": address}})


def _serve(
    config: Config, args: argparse.Namespace, shard: tuple[int, int] | None,
    config_path: Path | None, web_config: WebConfig | None = None,
    replicas: kube_shard.StatefulSetReplicas | None = None,
) -> int:
    global_metrics = _GlobalMetrics()
    exposition = Exposition(extra=[global_metrics, REGISTRY])
    global_limit = GlobalLimit(args.global_requests) if args.global_requests else None
    state = args.state_directory
    if state is None and not args.demo:
        state = default_state_directory()
    ledger = TokenLedger(state or None)
    if ledger.directory is not None:
        log.info("recording token sets in %s", ledger.directory)
    poller = Poller(exposition, global_limit=global_limit, ledger=ledger)
    reload_lock = threading.Lock()

    current = _Selection(config, shard)  # what reload and re-sharding start from
    state = ExporterState(__version__, time.time(), str(config_path) if config_path else None)
    state.reloaded(True, "loaded at start", state.started_at)

    reload = Reloader(config_path, poller, global_metrics, current, reload_lock, state)

    try:
        server = HttpServer(
            App(exposition, poller, reload=reload if config_path else None, state=state),
            args.listen,
            web_config=web_config,
        )
    except (OSError, ValueError) as exc:
        print(f"qsan-exporter: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    def reshard(count: int) -> None:
        with reload_lock:
            assert shard is not None
            current.shard = (shard[0], count)
            poller.apply(select_shard(current.config, current.shard))

    selected = select_shard(config, shard)
    poller.start(selected)
    server.start()
    _log_listening(server)
    watcher = None
    if replicas is not None and shard is not None:
        watcher = kube_shard.ShardCountWatcher(replicas, shard[1], reshard,
                                               interval=args.shard_refresh)
        watcher.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if config_path is not None:
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=reload).start())
    names = ", ".join(a.name for a in selected.arrays)
    count = len(selected.arrays)
    what = ("simulated " if args.demo else "") + ("array" if count == 1 else "arrays")
    where = "" if server.host else " (listening on all interfaces)"
    log.info("polling %d %s: %s; serving %s/metrics%s", count, what, names, server.url, where)
    if args.log_format != "json":  # a JSON log stream on a terminal stays JSON only
        print(f"qsan-exporter {__version__}: polling {count} {what}: {names}\n"
              f"  metrics: {server.url}/metrics{where}\n  status:  {server.url}/", flush=True)
    while not stop.wait(1.0):
        pass
    log.info("shutting down: stopping polls and revoking tokens")
    if watcher is not None:
        watcher.stop()
    server.stop()
    poller.stop()
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
