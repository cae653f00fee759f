"""Content negotiation of /metrics and /probe: q-values are honoured, q=0 is a no."""

from __future__ import annotations

import gzip

import pytest

from qsan_exporter.exposition import Exposition, negotiate
from qsan_exporter.web.routes import App

PROMETHEUS_2 = ("application/openmetrics-text;version=1.0.0;q=0.5,"
                "application/openmetrics-text;version=0.0.1;q=0.4,"
                "text/plain;version=0.0.4;q=0.3,*/*;q=0.2")
PROMETHEUS_3 = ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
                "application/openmetrics-text;version=0.0.1;q=0.5,"
                "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
                "text/plain;version=0.0.4;q=0.3,*/*;q=0.2")


@pytest.mark.parametrize(("accept", "openmetrics"), [
    (PROMETHEUS_2, True),
    (PROMETHEUS_3, True),
    ("application/openmetrics-text; version=1.0.0", True),
    ("text/plain, application/openmetrics-text", True),  # a tie: the one named for it
    ("", False),
    ("*/*", False),
    ("text/plain", False),
    ("application/openmetrics-text;q=0, text/plain", False),
    ("application/openmetrics-text;q=0", False),
    ("text/plain;q=0.9, application/openmetrics-text;q=0.5", False),
    ("text/*;q=0.9, application/openmetrics-text;q=0.5", False),
    ("*/*;q=0.9, application/openmetrics-text;q=0.5", False),
    ("text/plain;q=0.1, application/openmetrics-text;q=0.5", True),
    ("Application/OpenMetrics-Text;Q=0.7", True),
    ("application/openmetrics-text;q=bogus", False),
])
def test_openmetrics_is_chosen_by_its_q_value(accept: str, openmetrics: bool) -> None:
    assert negotiate(accept, "").openmetrics is openmetrics


@pytest.mark.parametrize(("encoding", "compress"), [
    ("gzip", True),
    ("gzip, deflate, br", True),
    ("deflate, gzip;q=0.5", True),
    ("GZIP", True),
    ("gzip;q=0", False),
    ("gzip;q=0.0, identity", False),
    ("gzip; q=0", False),
    ("", False),
    ("identity", False),
    ("*", False),  # any coding would do: the plain body is one
    ("deflate", False),
])
def test_gzip_only_when_acceptable(encoding: str, compress: bool) -> None:
    assert negotiate("", encoding).compress is compress


def _serve(accept: str, encoding: str) -> tuple[dict[str, str], bytes]:
    app = App(Exposition(), None, clock=lambda: 1000.0)  # type: ignore[arg-type]
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer.update(headers)

    body = b"".join(app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET",
                         "HTTP_ACCEPT": accept, "HTTP_ACCEPT_ENCODING": encoding},
                        start_response))
    return answer, body


def test_metrics_route_answers_what_was_negotiated() -> None:
    headers, body = _serve(PROMETHEUS_3, "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert gzip.decompress(body).endswith(b"# EOF\n")
    headers, body = _serve("application/openmetrics-text;q=0, text/plain", "gzip;q=0")
    assert "Content-Encoding" not in headers
    assert headers["Content-Type"].startswith("text/plain")
    assert b"# EOF" not in body
