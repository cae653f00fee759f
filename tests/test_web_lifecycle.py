"""/-/reload is opt-in (--web.enable-lifecycle) and refuses cross-site browser requests."""

from __future__ import annotations

import io
from typing import Any

import pytest

from qsan_exporter.exposition import Exposition
from qsan_exporter.poll.fleet import Poller
from qsan_exporter.web.routes import App, ReloadResult


def call(app: App, method: str, **headers: str) -> tuple[str, str]:
    environ: dict[str, Any] = {"PATH_INFO": "/-/reload", "REQUEST_METHOD": method,
                               "HTTP_HOST": "exporter:9747", "wsgi.input": io.BytesIO()}
    environ.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, exc=None: status.append(s)))
    return status[0], body.decode()


def make_app(lifecycle: bool, reloads: list[int]) -> App:
    def reload() -> ReloadResult:
        reloads.append(1)
        return ReloadResult(True, "reloaded")

    exposition = Exposition()
    return App(exposition, Poller(exposition), reload=reload, lifecycle=lifecycle)


def test_reload_is_refused_without_the_lifecycle_flag() -> None:
    reloads: list[int] = []
    status, text = call(make_app(False, reloads), "POST")
    assert status.startswith("403") and "--web.enable-lifecycle" in text
    assert reloads == []


def test_reload_with_the_lifecycle_flag_from_curl() -> None:
    reloads: list[int] = []
    assert call(make_app(True, reloads), "POST")[0].startswith("200")
    assert call(make_app(True, reloads), "GET")[0].startswith("405")
    assert reloads == [1]


@pytest.mark.parametrize("headers", [
    {"ORIGIN": "http://evil.example"},
    {"ORIGIN": "null"},
    {"SEC_FETCH_SITE": "cross-site"},
    {"SEC_FETCH_SITE": "same-site", "ORIGIN": "http://exporter:9747"},
])
def test_cross_site_browser_posts_cannot_reload(headers: dict[str, str]) -> None:
    reloads: list[int] = []
    status, _ = call(make_app(True, reloads), "POST", **headers)
    assert status.startswith("403") and reloads == []


def test_same_origin_browser_post_reloads() -> None:
    reloads: list[int] = []
    status, _ = call(make_app(True, reloads), "POST", ORIGIN="http://exporter:9747",
                     SEC_FETCH_SITE="same-origin")
    assert status.startswith("200") and reloads == [1]
