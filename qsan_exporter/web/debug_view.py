"""`/probe?target=NAME&debug=true`: one array's last poll in plain text, then its metrics.

As blackbox_exporter's debug view does for a probe, this answers "why do this array's numbers
look wrong?" without shell access: every request the last poll sent (method, path template,
status, bytes, duration), each collector's outcome and error, the token's times, the backoff and
the array's latest errors and warnings.
It shows only what the snapshot holds, and the snapshot never holds a token, a password, a
query string or a body.
"""

from __future__ import annotations

import time

from qsan_exporter.api.stats import TokenTimes
from qsan_exporter.array_events import shown_time
from qsan_exporter.config import ArrayConfig
from qsan_exporter.snapshot import Snapshot
from qsan_exporter.web.status_page import duration, next_poll


def _at(now: float, at: float) -> str:
    return (time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
            + f" ({duration(now - at)} ago)")


def _in(now: float, at: float) -> str:
    return f"in {duration(at - now)}" if at >= now else f"{duration(now - at)} ago"


def token_line(token: TokenTimes | None, now: float) -> str:
    if token is None:
        return "no login yet"
    line = f"logged in or refreshed {duration(now - token.issued_at)} ago"
    if token.refresh_at is not None:
        line += f"; next refresh {_in(now, token.refresh_at)}"
    if token.expires_at is not None:
        line += f"; expires {_in(now, token.expires_at)}"
    return line + " (the token itself is never shown)"


def render_debug(name: str, config: ArrayConfig, snap: Snapshot | None, now: float,
                 metrics: str) -> str:
    lines = [f"# qsan-exporter debug view of array {name} ({config.url})",
             "# the exporter's last poll of this array; no token or password is ever shown", ""]
    if snap is None:
        lines += ["No poll yet: waiting for the first poll of this array.", ""]
    else:
        lines += _poll_lines(snap, now) + _event_lines(snap, config)
    lines += ["Metrics of this array (as /probe?target= serves them):", ""]
    return "\n".join(lines) + "\n" + metrics


def _event_lines(snap: Snapshot, config: ArrayConfig) -> list[str]:
    lines = [f"Latest array errors and warnings ({len(snap.events)}, newest first):"]
    if "logs" not in config.collectors:
        lines.append("  not read: the logs collector is off for this array")
    elif not snap.events:
        lines.append("  none since the exporter started")
    lines += [f"  {shown_time(e.timestamp)}  {e.level:<8} {e.message}" for e in snap.events]
    return [*lines, ""]


def _poll_lines(snap: Snapshot, now: float) -> list[str]:
    identity = snap.identity
    backoff = (next_poll(snap, now) if snap.backoff
               else f"none ({snap.failures} failed poll(s) in a row)")
    fields = [
        ("Last poll", f"{_at(now, snap.started_at)}, took {snap.duration:.3f} s"),
        ("Up", "yes" if snap.up else "NO"),
        ("Error", snap.error or "-"),
        ("Last success", _at(now, snap.last_success) if snap.last_success else "never"),
        ("Next poll", next_poll(snap, now)),
        ("Backoff", backoff),
        ("Token", token_line(snap.token, now)),
        ("Identity", f"api {identity.api}, product {identity.product}, model "
                     f"{identity.model or '-'}, serial {identity.serial or '-'}"
         if identity else "not known yet"),
    ]
    lines = [
        *(f"{label + ':':<14}{value}" for label, value in fields),
        "",
        f"Requests of the last poll ({len(snap.requests)}):",
    ]
    if not snap.requests:
        lines.append("  none (the poll was held back, or nothing was due)")
    for r in snap.requests:
        start = r.at - r.duration - snap.started_at
        lines.append(f"  +{start:7.3f} s  {r.method:<4} {r.endpoint}  {r.status}  "
                     f"{r.size} bytes  {r.duration * 1000:.1f} ms")
    lines += ["", f"Collectors ({len(snap.collectors)}):"]
    for c in snap.collectors.values():
        outcome = "ok" if c.success else "FAILED"
        error = f"  error: {c.error}" if c.error else ""
        lines.append(f"  {c.name:<8} {outcome:<6} {c.duration * 1000:7.1f} ms{error}")
    return [*lines, ""]
