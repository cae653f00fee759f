"""The status page at `/`: what an administrator opens first, in a browser or on a phone.

It answers "is every array polled, and is every array healthy?" at a glance: the exporter's
version, uptime and config reload state; per array its state (DOWN stands out), flavour and
product, the array's own failed and degraded parts, its last error once, when it is polled next,
the latest errors and warnings of the array's own event log, and links to its `/probe` and debug
view. Plain HTML and a little CSS, no JavaScript. Everything
comes from typed state (the snapshot, the config, `ExporterState`), never from parsed metrics.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from qsan_exporter.array_events import shown_time
from qsan_exporter.config import ArrayConfig
from qsan_exporter.health import Health, array_health
from qsan_exporter.snapshot import CollectorState, Snapshot


@dataclass
class ExporterState:
    """The exporter's own state as the page shows it; the CLI records every (re)load here."""

    version: str
    started_at: float
    config_file: str | None  # None: the demo's built-in config
    last_reload_at: float | None = None
    last_reload_ok: bool = True
    last_reload_message: str = ""

    def reloaded(self, ok: bool, message: str, at: float | None = None) -> None:
        self.last_reload_at = time.time() if at is None else at
        self.last_reload_ok = ok
        self.last_reload_message = message


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;"
    "max-width:64em;padding:.5em 1em;color:#222;background:#f4f5f7;line-height:1.4}"
    "h1{font-size:1.5em;margin:.4em 0 .1em}h2{font-size:1.15em;margin:.1em 0 .3em}"
    "header p{margin:.15em 0;color:#444}a{color:#0b5cad}"
    ".array{background:#fff;border:1px solid #d8dbe0;border-left:.5em solid #2e9e44;"
    "border-radius:6px;margin:.8em 0;padding:.5em 1em}"
    ".array.warn{border-left-color:#e0a000}.array.down{border-left-color:#d0312d}"
    ".badge{display:inline-block;padding:0 .45em;border-radius:4px;color:#fff;"
    "background:#2e9e44;font-size:.8em;vertical-align:.1em;margin-right:.3em}"
    ".down .badge{background:#d0312d}.meta{color:#555;margin:0}"
    ".health{margin:.3em 0}.bad{color:#b3261e;font-weight:600}.ok{color:#2e7d32}"
    ".health .warn{color:#9a6700;font-weight:600}"
    ".error{background:#fdecea;border:1px solid #f5b7b1;border-radius:4px;"
    "padding:.3em .6em;margin:.4em 0;overflow-wrap:anywhere}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:.4em 0}"
    "dt{color:#666}dd{margin:0}table{border-collapse:collapse;font-size:.9em;margin:.3em 0}"
    "td,th{padding:.15em .6em .15em 0;text-align:left;vertical-align:top;"
    "border-bottom:1px solid #eee}summary{cursor:pointer;color:#444}"
    ".links a{margin-right:1em}code{overflow-wrap:anywhere}"
    ".events .warn{color:#9a6700;font-weight:600}.events td{overflow-wrap:anywhere}"
)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def duration(seconds: float) -> str:
    """'45 s', '12 min', '3 h 5 min', '2 d 4 h': what a person reads at a glance."""
    s = int(max(0.0, seconds))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _when(now: float, at: float | None) -> str:
    if at is None:
        return "never"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
    return f"{stamp} ({duration(now - at)} ago)"


def next_poll(snap: Snapshot, now: float) -> str:
    when = "" if snap.next_attempt is None else f"in {max(0.0, snap.next_attempt - now):.0f} s"
    if snap.backoff:
        return f"BACKING OFF after {snap.failures} failed poll(s): next attempt {when}"
    return when or "—"


def render_status(now: float, state: ExporterState, snapshots: Mapping[str, Snapshot],
                  configs: Mapping[str, ArrayConfig]) -> str:
    cards = [_card(name, configs[name], snapshots.get(name), now) for name in sorted(configs)]
    down = sum(1 for n in configs if (s := snapshots.get(n)) is not None and not s.up)
    waiting = sum(1 for n in configs if n not in snapshots)
    tally = f"{len(configs)} {'array' if len(configs) == 1 else 'arrays'}: " + ", ".join(
        part for part in (f"{len(configs) - down - waiting} up",
                          f"{down} down" if down else "",
                          f"{waiting} waiting for a first poll" if waiting else "") if part)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>qsan-exporter</title><style>{_CSS}</style></head><body><header>"
        f"<h1>qsan-exporter</h1><p id=version>version {_e(state.version)} · "
        f"up {duration(now - state.started_at)}</p>{_config_line(state, now)}"
        f"<p id=tally>{_e(tally)}</p><p class=links><a href=/metrics>/metrics</a>"
        "<a href=/-/healthy>/-/healthy</a><a href=/-/ready>/-/ready</a></p></header>"
        "<main>" + "".join(cards) + "</main></body></html>"
    )


def _config_line(state: ExporterState, now: float) -> str:
    if state.config_file is None:
        return "<p id=config>config: built-in (demo: simulated arrays)</p>"
    result = "ok" if state.last_reload_ok else "FAILED, the previous config keeps running"
    cls = "" if state.last_reload_ok else " class=bad"
    detail = "" if state.last_reload_ok else f": {_e(state.last_reload_message)}"
    return (f"<p id=config>config <code>{_e(state.config_file)}</code> · last load "
            f"{_when(now, state.last_reload_at)}: <span{cls}>{result}</span>{detail}</p>")


def _card(name: str, config: ArrayConfig, snap: Snapshot | None, now: float) -> str:
    target = quote(name, safe="")
    links = (f"<p class=links><a href='/probe?target={target}'>metrics (/probe)</a>"
             f"<a href='/probe?target={target}&amp;debug=true'>debug view</a></p>")

    def head(cls: str, badge: str) -> str:
        return (f"<section class='array{cls}' data-array='{_e(name)}'><h2>"
                f"<span class=badge>{badge}</span>{_e(name)}</h2>")

    if snap is None:
        return (head("", "WAITING")
                + f"<p class=meta>{_e(config.url)}</p><p>waiting for the first poll</p>"
                + links + "</section>")
    identity = snap.identity
    api = identity.api if identity else f"api: {config.api}"
    product = identity.product if identity else f"product: {config.product}"
    model = f" · {identity.model}" if identity and identity.model else ""
    health = array_health(snap, now)
    failed = [c for c in snap.collectors.values() if not c.success]
    cls = " down" if not snap.up else (" warn" if health.problems or failed else "")
    error = f"<p class=error>{_e(snap.error)}</p>" if snap.error else ""
    return (
        head(cls, "UP" if snap.up else "DOWN")
        + f"<p class=meta>{_e(api)} · {_e(product)}{_e(model)} · {_e(config.url)}</p>"
        + f"<p class=health>health: {_health_html(health)}</p>{error}"
        + f"<dl><dt>last success</dt><dd>{_when(now, snap.last_success)}</dd>"
        + f"<dt>last poll</dt><dd>{_when(now, snap.started_at)}, took {snap.duration:.2f} s"
        + f"</dd><dt>next poll</dt><dd>{_e(next_poll(snap, now))}</dd></dl>"
        + _events(snap, config) + _collectors(snap, failed) + links + "</section>"
    )


def _health_html(health: Health) -> str:
    """Failed parts in red, degraded ones in amber; a healthy array in green."""
    if not health.problems:
        return f"<span class={'ok' if health.known else 'meta'}>{_e(health.summary())}</span>"
    return "; ".join(f"<span class={'bad' if word == 'failed' else 'warn'}>{word}: "
                     f"{_e(', '.join(parts))}</span>" for word, parts in health.groups())


def _events(snap: Snapshot, config: ArrayConfig) -> str:
    """The array's latest errors and warnings, newest first, in the array's own words."""
    if "logs" not in config.collectors:
        return ""
    if not snap.events:
        return "<p class='meta events'>array events: no errors or warnings since the exporter " \
               "started</p>"
    rows = "".join(
        f"<tr class=event><td>{_e(shown_time(e.timestamp))}</td><td class="
        f"{'bad' if e.level == 'error' else 'warn'}>{_e(e.level)}</td><td>{_e(e.message)}</td>"
        "</tr>" for e in snap.events)
    return (f"<details class=events open><summary>latest array errors and warnings "
            f"({len(snap.events)}, newest first)</summary><table>"
            "<tr><th>array time</th><th>level</th><th>message</th></tr>" + rows
            + "</table></details>")


def _collectors(snap: Snapshot, failed: list[CollectorState]) -> str:
    """Each collector's state; an error the array's own error already shows is not repeated."""
    rows = []
    for c in snap.collectors.values():
        error = c.error or ""
        if error == snap.error or error.startswith("skipped:"):
            error = "not polled: see the error above" if snap.error else error
        outcome = "ok" if c.success else "<span class=bad>FAILED</span>"
        rows.append(f"<tr><td>{_e(c.name)}</td><td>{outcome}</td>"
                    f"<td>{c.duration * 1000:.0f} ms</td><td>{_e(error)}</td></tr>")
    summary = f"collectors: {len(snap.collectors) - len(failed)} ok"
    if failed:
        summary += f", {len(failed)} failed"
    opened = " open" if failed and snap.up else ""
    return (f"<details{opened}><summary>{_e(summary)}</summary><table>"
            "<tr><th>collector</th><th>state</th><th>took</th><th>error</th></tr>"
            + "".join(rows) + "</table></details>")
