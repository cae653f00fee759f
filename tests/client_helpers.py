"""Helpers the tests of the Unified client share: a mocked array (responses) and a clock."""

from __future__ import annotations

import json
from email.utils import formatdate

import responses

from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.unified.client import UnifiedClient

BASE = "https://array.test"
USER = "monitor"
PASSWORD = "Pl4nted-S3cret!pw"
T0 = 1_700_000_000.0
POOLS = "/rest/v1/storage/pool/list"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **kwargs: object) -> UnifiedClient:
    kwargs.setdefault("stats", ApiStats())
    return UnifiedClient(BASE, USER, PASSWORD, clock=clock, **kwargs)  # type: ignore[arg-type]


def add_login(rsps: responses.RequestsMock, access: str = "ACCESS-1", refresh: str | None = "R-1",
              expire: float = T0 + 3600, date: float | None = None, status: int = 200) -> None:
    body: dict[str, object] = {"accessToken": access, "expireTime": int(expire)}
    if refresh is not None:
        body["refreshToken"] = refresh
    headers = {"Date": formatdate(date, usegmt=True)} if date is not None else {}
    rsps.add(responses.POST, BASE + "/auth/get", json=body if status == 200 else {},
             status=status, headers=headers)


def add_refresh(rsps: responses.RequestsMock, access: str = "ACCESS-2",
                expire: float = T0 + 7200, status: int = 200) -> None:
    rsps.add(responses.POST, BASE + "/auth/refresh", status=status,
             json={"accessToken": access, "expireTime": int(expire)} if status == 200 else {})


def calls_to(rsps: responses.RequestsMock, path: str) -> list[responses.Call]:
    return [c for c in rsps.calls if c.request.path_url.split("?")[0] == path]


def body_of(call: responses.Call) -> dict[str, object]:
    return json.loads(call.request.body)


def auth_header(call: responses.Call) -> str | None:
    return call.request.headers.get("Authorization")
