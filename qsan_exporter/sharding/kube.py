"""The shard count of a StatefulSet of exporters, read from the Kubernetes API it runs under.

Pod `qsan-exporter-<i>` of a StatefulSet knows its ordinal i (the pod-index label), but nothing
in a pod tells it the replica count N, and `--shard=I/N` needs both. Asking the API server for
the StatefulSet's `scale` subresource (one `get`, which the shipped Role grants and nothing
more) gives N, and asking again every half minute follows `kubectl scale`: each pod re-shards
on its own, stopping (and revoking the tokens of) the arrays that moved away.

In-cluster only: the API address comes from KUBERNETES_SERVICE_HOST/PORT, the credentials from
the pod's service-account mount (token re-read on every request: the kubelet rotates it).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_REFRESH_SECONDS = 30.0


class KubeError(Exception):
    """The replica count could not be read; the message says what to fix."""


class StatefulSetReplicas:
    """`spec.replicas` of one StatefulSet in the pod's own namespace."""

    def __init__(
        self, name: str, *, api_url: str | None = None,
        account_dir: str | os.PathLike[str] | None = None, timeout: float = 5.0,
    ) -> None:
        self.name = name
        # QSAN_KUBERNETES_SA_DIR: a non-standard mount of the service account (and the tests).
        self._dir = Path(account_dir or os.environ.get("QSAN_KUBERNETES_SA_DIR")
                         or SERVICE_ACCOUNT_DIR)
        self._api_url = api_url or _in_cluster_url()
        self._timeout = timeout
        self._session = requests.Session()
        self._session.trust_env = False  # no proxy between a pod and its API server
        try:
            self.namespace = (self._dir / "namespace").read_text().strip()
        except OSError as exc:
            raise KubeError(f"cannot read the pod's namespace from {self._dir}/namespace "
                            f"({exc.strerror}): is automountServiceAccountToken on?") from None
        ca = self._dir / "ca.crt"
        self._verify: str | bool = str(ca) if ca.exists() else True
        self.path = (f"/apis/apps/v1/namespaces/{self.namespace}/statefulsets/"
                     f"{self.name}/scale")

    def get(self) -> int:
        try:
            token = (self._dir / "token").read_text().strip()
        except OSError as exc:
            raise KubeError(f"cannot read the service account token in {self._dir} "
                            f"({exc.strerror})") from None
        try:
            response = self._session.get(
                self._api_url + self.path, timeout=self._timeout, verify=self._verify,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except requests.RequestException as exc:
            # The exception text carries the URL (no secret in it), never the header.
            raise KubeError(f"Kubernetes API unreachable: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise KubeError(
                f"Kubernetes API answered {response.status_code} for {self.path}: the pod's "
                f"service account needs 'get' on statefulsets/scale {self.name!r} "
                "(deploy/kubernetes/shards/rbac.yaml)")
        if response.status_code != 200:
            raise KubeError(f"Kubernetes API answered {response.status_code} for {self.path}")
        try:
            replicas = _replicas(response.json())
        except ValueError:
            raise KubeError(f"Kubernetes API: no spec.replicas in the answer for "
                            f"{self.path}") from None
        return replicas


def _replicas(scale: Any) -> int:
    spec = scale.get("spec") if isinstance(scale, dict) else None
    replicas = spec.get("replicas", 0) if isinstance(spec, dict) else None
    # A Scale with replicas 0 omits the field (omitempty).
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ValueError("spec.replicas")
    return replicas


def _in_cluster_url() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise KubeError("KUBERNETES_SERVICE_HOST is not set: --shard.statefulset works only "
                        "inside a Kubernetes pod; elsewhere give --shard=I/N")
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{port}"


class ShardCountWatcher:
    """Reads the replica count every `interval` seconds and reports a change.

    A failed read keeps the current count (a flapping API server must not re-shard the fleet)
    and is logged once per outage, not once per attempt.
    """

    def __init__(
        self, source: StatefulSetReplicas, current: int, on_change: Callable[[int], None],
        *, interval: float = DEFAULT_REFRESH_SECONDS,
    ) -> None:
        self._source = source
        self.current = current
        self._on_change = on_change
        self._interval = interval
        self._stop = threading.Event()
        self._failing = False
        self._thread = threading.Thread(target=self._run, name="shard-count", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)  # at most one API request (5 s timeout) in progress

    def check(self) -> None:
        try:
            count = self._source.get()
        except KubeError as exc:
            if not self._failing:
                log.warning("keeping %d shards: %s", self.current, exc)
            self._failing = True
            return
        if self._failing:
            log.info("Kubernetes API answers again: %d replicas", count)
            self._failing = False
        if count != self.current:
            log.info("StatefulSet %s scaled from %d to %d replicas: re-sharding",
                     self._source.name, self.current, count)
            self.current = count
            self._on_change(count)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
            except Exception:  # never let the watcher die: shards would silently freeze
                log.exception("re-sharding failed")
