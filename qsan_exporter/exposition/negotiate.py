"""Which body a scraper asked for: OpenMetrics or text, gzip or not, honouring q-values.

Prometheus names OpenMetrics first with the highest q and text/plain as a fallback; curl sends
`*/*`. A q-value of 0 means "not acceptable" (RFC 9110 §12.4.2), so `gzip;q=0` gets an
uncompressed body and `application/openmetrics-text;q=0` gets text. prometheus_client's
`choose_encoder` and `gzip_accepted` match the names only and ignore q-values, so they do not
fit here; the body's content type stays prometheus_client's (`render.py`).

Only explicitly named OpenMetrics or gzip is chosen: `*/*` and `Accept-Encoding: *` get plain
text, the format every client reads.
"""

from __future__ import annotations

from dataclasses import dataclass

OPENMETRICS = "application/openmetrics-text"
TEXT = "text/plain"


@dataclass(frozen=True)
class Negotiated:
    openmetrics: bool
    compress: bool


def _ranges(header: str) -> list[tuple[str, float]]:
    """(lower-cased media range or coding, q) for each element of an Accept-style header."""
    out = []
    for element in header.split(","):
        name, *params = (part.strip() for part in element.split(";"))
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value.strip())))
                except ValueError:
                    q = 0.0  # a malformed q is not a yes
        out.append((name.lower(), q))
    return out


def _quality(ranges: list[tuple[str, float]], media_type: str) -> float | None:
    """q of the most specific range matching `media_type`; None when none matches."""
    kind = media_type.split("/")[0] + "/*"
    for candidate in (media_type, kind, "*/*"):
        matches = [q for name, q in ranges if name == candidate]
        if matches:
            return max(matches)
    return None


def negotiate(accept: str, accept_encoding: str) -> Negotiated:
    ranges = _ranges(accept)
    named_om = [q for name, q in ranges if name == OPENMETRICS]
    om_q = max(named_om, default=0.0)
    text_q = _quality(ranges, TEXT)
    openmetrics = om_q > 0 and (text_q is None or om_q >= text_q)
    gzip_q = [q for name, q in _ranges(accept_encoding) if name == "gzip"]
    return Negotiated(openmetrics=openmetrics, compress=max(gzip_q, default=0.0) > 0)
