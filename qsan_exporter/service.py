"""The running exporter: polls, HTTP server, reload and re-shard, as one object.

cli.py turns arguments into `Options` and signals into calls on an `Exporter`; everything between
start and stop lives here, so tests drive a whole exporter in-process (port 0, a simulator) and
the CLI stays a thin layer of arguments and exit codes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from platform import python_version
from types import TracebackType

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric

from qsan_exporter import __version__
from qsan_exporter.api.guard import GlobalLimit
from qsan_exporter.api.token_ledger import TokenLedger
from qsan_exporter.config import Config, ConfigError, load_config
from qsan_exporter.exposition import Exposition
from qsan_exporter.metrics import GLOBAL_METRICS
from qsan_exporter.poll.fleet import Poller
from qsan_exporter.sharding import Shard, select_shard
from qsan_exporter.sharding.kube import (
    DEFAULT_REFRESH_SECONDS,
    ShardCountWatcher,
    StatefulSetReplicas,
)
from qsan_exporter.web.config import WebConfig
from qsan_exporter.web.conn import Limits
from qsan_exporter.web.routes import App, ReloadResult
from qsan_exporter.web.server import HttpServer
from qsan_exporter.web.status_page import ExporterState

log = logging.getLogger("qsan_exporter")

# Requests in flight to all arrays together. Each array already gets one at a time by default
# (max_concurrent_requests); this bounds the exporter's sockets and threads on a large fleet.
DEFAULT_GLOBAL_REQUESTS = 32


@dataclass(frozen=True)
class Options:
    """How one exporter runs, beside the array config it polls."""

    listen: str = "127.0.0.1:0"
    config_path: Path | None = None  # None: nothing to reload from (the demo)
    web_config: WebConfig | None = None
    limits: Limits = field(default_factory=Limits)
    lifecycle: bool = False  # POST /-/reload allowed
    global_requests: int = DEFAULT_GLOBAL_REQUESTS  # 0: no cap
    state_directory: str | None = None  # None or '': token sets are recorded nowhere
    shard: Shard | None = None
    replicas: StatefulSetReplicas | None = None  # follow N from a StatefulSet
    shard_refresh: float = DEFAULT_REFRESH_SECONDS


class ListenError(Exception):
    """The HTTP server cannot bind the listen address (in use, malformed, no permission)."""

    def __init__(self, listen: str, cause: Exception) -> None:
        super().__init__(f"cannot listen on {listen}: {cause}")


class GlobalMetrics:
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


@dataclass
class Selection:
    """The loaded config and this instance's shard: reload changes one, re-sharding the other."""

    config: Config
    shard: Shard | None

    def arrays(self) -> Config:
        return select_shard(self.config, self.shard)


class Reloader:
    """SIGHUP and POST /-/reload: the new config runs whole, or the old one keeps running."""

    def __init__(self, path: Path, poller: Poller, global_metrics: GlobalMetrics,
                 current: Selection, lock: threading.Lock, state: ExporterState) -> None:
        self.path, self.poller, self.global_metrics = path, poller, global_metrics
        self.current, self.lock, self.state = current, lock, state

    def __call__(self) -> ReloadResult:
        with self.lock:
            try:
                loaded = load_config(self.path)
                new = select_shard(loaded, self.current.shard)
                self.poller.apply(new)  # all or nothing: raises before touching what runs
            except Exception as exc:  # whatever the cause, the running config stays
                return self._failed(exc)
            self.current.config = loaded
            self.global_metrics.reload_successful = True
            self.state.reloaded(True, f"{len(new.arrays)} array(s)")
            log.info("reloaded %s: %d array(s)", self.path, len(new.arrays))
            return ReloadResult(True, f"reloaded: {len(new.arrays)} array(s)")

    def _failed(self, exc: Exception) -> ReloadResult:
        self.global_metrics.reload_successful = False
        reason = ("; ".join(exc.problems) if isinstance(exc, ConfigError)
                  else f"unexpected {type(exc).__name__}: {exc}")
        log.error("reload of %s failed, keeping the running config: %s", self.path, reason)
        log.debug("reload failure", exc_info=not isinstance(exc, ConfigError))
        self.state.reloaded(False, reason)  # the status page's "last reload"
        return ReloadResult(False, "reload failed: " + reason)


class Exporter:
    """Polls the selected arrays and serves them; `start`, `reload`, `reshard`, `stop`.

    Building one binds the listening socket (ListenError when it cannot), so a bad address
    fails before any array is logged in to.
    """

    def __init__(self, config: Config, options: Options | None = None) -> None:
        self.options = options = options or Options()
        self.global_metrics = GlobalMetrics()
        self.exposition = Exposition(extra=[self.global_metrics, REGISTRY])
        ledger = TokenLedger(options.state_directory or None)
        if ledger.directory is not None:
            log.info("recording token sets in %s", ledger.directory)
        limit = GlobalLimit(options.global_requests) if options.global_requests else None
        self.poller = Poller(self.exposition, global_limit=limit, ledger=ledger)
        self._lock = threading.Lock()  # one reload or re-shard at a time
        self.current = Selection(config, options.shard)  # what reload and re-shard start from
        path = options.config_path
        self.state = ExporterState(__version__, time.time(), str(path) if path else None)
        self.state.reloaded(True, "loaded at start", self.state.started_at)
        self._reloader = (Reloader(path, self.poller, self.global_metrics, self.current,
                                   self._lock, self.state) if path is not None else None)
        app = App(self.exposition, self.poller, reload=self._reloader, state=self.state,
                  lifecycle=options.lifecycle)
        try:
            self.server = HttpServer(app, options.listen, web_config=options.web_config,
                                     limits=options.limits)
        except (OSError, ValueError) as exc:
            raise ListenError(options.listen, exc) from exc
        self._watcher: ShardCountWatcher | None = None

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def reload_successful(self) -> bool:
        return self.global_metrics.reload_successful

    def selected(self) -> Config:
        """The arrays this instance polls: the config's, narrowed to its shard."""
        return self.current.arrays()

    def start(self) -> Config:
        selected = self.selected()
        self.poller.start(selected)
        self.server.start()
        _log_listening(self.server)
        shard, replicas = self.current.shard, self.options.replicas
        if replicas is not None and shard is not None:
            self._watcher = ShardCountWatcher(replicas, shard[1], self.reshard,
                                              interval=self.options.shard_refresh)
            self._watcher.start()
        return selected

    def reload(self) -> ReloadResult:
        """Re-read the config file: applied whole, or the running config stays."""
        if self._reloader is None:
            return ReloadResult(False, "reload failed: no config file to reload")
        return self._reloader()

    def reshard(self, count: int) -> None:
        """The shard count changed (a StatefulSet was scaled): keep the index, take N=count."""
        with self._lock:
            if self.current.shard is None:
                raise ValueError("re-sharding needs a shard index (--shard)")
            self.current.shard = (self.current.shard[0], count)
            self.poller.apply(self.current.arrays())

    def stop(self) -> None:
        """Stop following the shard count, serving and polling; revokes the arrays' tokens."""
        if self._watcher is not None:
            self._watcher.stop()
        self.server.stop()
        self.poller.stop()

    def __enter__(self) -> Exporter:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _log_listening(server: HttpServer) -> None:
    """The bound address, as Prometheus logs its own: with `--web.listen-address=...:0` this
    line is how an operator (or a test) learns the port the kernel chose."""
    host = server.host or "0.0.0.0"
    address = f"[{host}]:{server.port}" if ":" in host else f"{host}:{server.port}"
    log.info("Listening on", extra={"qsan_fields": {"address": address}})
