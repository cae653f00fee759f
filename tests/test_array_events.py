"""Array events as log lines, on the status page and in the debug view: events injected into a
simulated array (POST /_sim/events) come out once each, parsed back from both log formats."""

from __future__ import annotations

import io
import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from qsan_exporter.api.legacy.client import LegacyClient
from qsan_exporter.api.legacy.source import LegacySource
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.unified.client import UnifiedClient
from qsan_exporter.api.unified.source import LOG_PATH, UnifiedSource
from qsan_exporter.array_events import (
    LOGGER,
    MAX_MESSAGE_CHARS,
    RECENT_EVENTS,
    ArrayEvents,
    escape,
    event_time,
)
from qsan_exporter.config import ArrayConfig
from qsan_exporter.exposition import families_of
from qsan_exporter.logging_setup import JsonFormatter, LogfmtFormatter, setup_logging
from qsan_exporter.poll.array import ArrayPoll
from qsan_exporter.web.debug_view import render_debug
from qsan_exporter.web.status_page import ExporterState, render_status

PASSWORD = "secret-pw"
_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^ "]*)(?: |$)')
_UNESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|.)')


def _unescape(match: re.Match[str]) -> str:
    code = match[1]
    if len(code) == 5:
        return chr(int(code[1:], 16))
    return "\n" if code == "n" else code


def parse_logfmt(line: str) -> dict[str, str]:
    """key=value and key="quoted \\"value\\"" pairs; the whole line must be pairs."""
    pairs, end = {}, 0
    for match in _PAIR.finditer(line):
        assert match.start() == end, f"not logfmt at {end}: {line!r}"
        key, value = match.groups()
        if value.startswith('"'):
            value = _UNESCAPE.sub(_unescape, value[1:-1])
        pairs[key] = value
        end = match.end()
    assert end == len(line), f"not logfmt at {end}: {line!r}"
    return pairs


PARSERS: dict[str, tuple[logging.Formatter, Callable[[str], dict[str, Any]]]] = {
    "logfmt": (LogfmtFormatter(), parse_logfmt),
    "json": (JsonFormatter(), json.loads),
}


class Lines:
    """The array event lines written so far, in one format, parsed back."""

    def __init__(self, fmt: str) -> None:
        formatter, self.parse = PARSERS[fmt]
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    def raw(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [self.parse(line) for line in self.raw()]


@pytest.fixture(params=["logfmt", "json"])
def lines(request) -> Iterator[Lines]:
    logger = logging.getLogger(LOGGER)
    captured, level = Lines(request.param), logger.level
    logger.addHandler(captured.handler)
    logger.setLevel(logging.INFO)
    yield captured
    logger.removeHandler(captured.handler)
    logger.setLevel(level)


class Clock:
    """The poll's clock: every call to `poll()` is one interval later, so everything is due."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_poll(sim, *, collectors: tuple[str, ...] = ("system", "logs"),
              labels: dict[str, str] | None = None) -> tuple[ArrayPoll, Callable[[], Any]]:
    config = ArrayConfig(name="ev-1", url=sim.url, username="monitor", password=PASSWORD,
                         collectors=collectors, labels=labels or {"site": "dc 1", "msg": "x"})
    stats, clock = ApiStats(), Clock()
    if sim.legacy is not None:  # the legacy simulator pages by 20, newest first
        source: Any = LegacySource(LegacyClient(sim.url, "monitor", PASSWORD, stats=stats))
    else:
        source = UnifiedSource(UnifiedClient(sim.url, "monitor", PASSWORD, stats=stats),
                               log_page_size=3)
    poll = ArrayPoll(config, source, stats, clock=clock)

    def next_poll() -> Any:
        clock.now += config.interval_seconds
        return poll.poll()

    return poll, next_poll


def inject(sim, *events: dict[str, Any]) -> list[dict[str, Any]]:
    answer = requests.post(sim.url + "/_sim/events", json=list(events), timeout=5)
    assert answer.status_code == 201, answer.text
    return answer.json()["events"]


def counted(snapshot) -> int:
    """Events counted by qsan_log_events_total, all levels together."""
    (logs,) = [c for c in snapshot.collectors.values() if c.name == "logs"]
    return int(sum(s.value for f in families_of(logs.families) for s in f.samples
                   if s.name == "qsan_log_events_total"))


@pytest.mark.parametrize("profile", ["san", "legacy"])
def test_injected_events_are_logged_once_across_pages_and_same_seconds(
    simulators, lines, profile
) -> None:
    sim = simulators(profile, log_interval=0)  # only the history and what the test injects
    _, next_poll = make_poll(sim)
    first = next_poll()
    assert first.up and counted(first) == 0
    assert lines.raw() == [] and first.events == ()  # the history is never replayed

    second = int(time.time())
    injected = inject(  # 25 events: more than one page either way; 20 share one second
        sim, {"level": "error", "message": "Disk 3 failed.", "timestamp": second, "count": 3},
        {"level": "warning", "message": "Fan 'FAN2' speed is low.", "timestamp": second},
        {"level": "info", "message": "Volume 'v1' snapshot is taken.", "timestamp": second,
         "count": 16},
        *({"level": "access", "message": f"User 'u{i}' is login.", "timestamp": second + 1}
          for i in range(5)))
    snap = next_poll()
    records = lines.records()
    assert len(records) == len(injected) == counted(snap) == 25
    assert [(r["event_level"], r["msg"]) for r in records] == [
        (e["type"], e["message"]) for e in injected]
    assert {r["logger"] for r in records} == {LOGGER}
    assert {r["array"] for r in records} == {"ev-1"}
    assert {r["site"] for r in records} == {"dc 1"}  # the configured labels, as they are
    assert {r["label_msg"] for r in records} == {"x"}  # a label named like a core key
    assert [r["level"] for r in records[:4]] == ["error", "error", "error", "warn"]
    assert records[0]["event_time"] == event_time(second)
    assert [e.message for e in snap.events] == ["Fan 'FAN2' speed is low.", *["Disk 3 failed."] * 3]

    assert counted(next_poll()) == 25 and len(lines.raw()) == 25  # nothing twice
    inject(sim, {"level": "error", "message": "Disk 3 failed.", "timestamp": second + 1})
    snap = next_poll()  # the same second as the cursor, the same text as an event before it
    assert len(lines.raw()) == 26 == counted(snap)
    assert lines.records()[-1]["msg"] == "Disk 3 failed."
    assert snap.events[0].timestamp == second + 1 and len(snap.events) == 5


def test_nothing_is_logged_when_the_logs_collector_is_off(simulators, lines) -> None:
    sim = simulators("san", log_interval=0)
    _, next_poll = make_poll(sim, collectors=("system", "disks"))
    next_poll()
    inject(sim, {"level": "error", "message": "Disk 3 failed."})
    snap = next_poll()
    assert lines.raw() == [] and snap.events == ()
    assert sim.stats.request_times(LOG_PATH) == []
    page = render_status(time.time(), ExporterState("1", 0.0, None), {"ev-1": snap},
                         {"ev-1": _config(sim, ("system", "disks"))})
    assert "array events" not in page and "latest array errors" not in page


def _config(sim, collectors: tuple[str, ...]) -> ArrayConfig:
    return ArrayConfig(name="ev-1", url=sim.url, username="monitor", password=PASSWORD,
                       collectors=collectors)


def test_messages_are_escaped_bounded_and_never_hold_our_password(simulators, lines) -> None:
    sim = simulators("san", log_interval=0)
    _, next_poll = make_poll(sim)
    next_poll()
    nasty = [
        "Disk 3 failed.\nts=2026-01-01T00:00:00Z level=info msg=\"forged\"",
        "login failed for monitor with password secret-pw\r\x1b[31m",
        "line\u2028separator \u202eevil\x00 \\ \"quoted\" key=value",
        "x" * 5000,
    ]
    inject(sim, *({"level": "error", "message": m} for m in nasty))
    next_poll()
    raw = lines.raw()
    assert len(raw) == len(nasty)  # one physical line each: nothing forged a line
    records = [lines.parse(line) for line in raw]
    assert records[0]["msg"] == 'Disk 3 failed.\\nts=2026-01-01T00:00:00Z level=info ' \
        'msg="forged"'
    assert records[1]["msg"] == "login failed for monitor with password <redacted>\\r\\x1b[31m"
    assert records[2]["msg"] == 'line\\u2028separator \\u202eevil\\x00 \\ "quoted" key=value'
    assert records[3]["msg"] == "x" * (MAX_MESSAGE_CHARS - 1) + "…"
    assert all(PASSWORD not in line and "\r" not in line and "\x1b" not in line for line in raw)


def test_recent_errors_and_warnings_are_bounded_and_newest_first(lines) -> None:
    events = ArrayEvents("a", {})
    events.add({"baseline": True, "events": [{"type": "error", "timestamp": 1, "message": "h"}]})
    assert events.recent == () and lines.raw() == []
    batch = [{"type": t, "timestamp": ts, "message": f"{t}-{ts}"}
             for ts, t in [(30, "error"), (10, "warning"), (20, "info"), (30, "warning")]]
    events.add({"events": batch})
    assert [e.message for e in events.recent] == ["warning-30", "error-30", "warning-10"]
    events.add({"events": [{"type": "Error", "timestamp": 40 + i, "message": f"e{i}"}
                           for i in range(RECENT_EVENTS + 2)]})
    assert [e.message for e in events.recent] == ["e6", "e5", "e4", "e3", "e2"]
    assert len(lines.raw()) == 4 + RECENT_EVENTS + 2


def test_the_flag_turns_the_lines_off_whatever_the_log_level() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger(LOGGER).level)
    try:
        setup_logging("error", "logfmt", array_events=True)
        assert logging.getLogger(LOGGER).isEnabledFor(logging.INFO)
        setup_logging("debug", "json", array_events=False)
        assert not logging.getLogger(LOGGER).isEnabledFor(logging.ERROR)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger(LOGGER).setLevel(saved[2])


class _EventRows(HTMLParser):
    """The cells of the rows of class `event` of each array card on the status page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[list[str]]] = {}
        self._array = ""
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section":
            self._array = found.get("data-array") or ""
        elif tag == "tr" and found.get("class") == "event":
            self.rows.setdefault(self._array, []).append([])
            self._cell = []
        elif tag == "td" and self._cell is not None:
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[self._array][-1].append("".join(self._cell))
        elif tag == "tr":
            self._cell = None


def test_status_page_and_debug_view_show_the_latest_errors(simulators, lines) -> None:
    sim = simulators("san", log_interval=0)
    poll, next_poll = make_poll(sim)
    next_poll()
    quiet = next_poll()
    now = time.time()
    page = render_status(now, ExporterState("1", 0.0, None), {"ev-1": quiet},
                         {"ev-1": poll.config})
    assert "no errors or warnings since the exporter started" in page
    second = int(now)
    inject(sim, {"level": "error", "message": "Disk <3> failed.", "timestamp": second},
           {"level": "info", "message": "Pool 'P1' is online.", "timestamp": second},
           {"level": "warning", "message": "Fan 'FAN2' speed is low.", "timestamp": second + 1})
    snap = next_poll()
    page = render_status(now, ExporterState("1", 0.0, None), {"ev-1": snap},
                         {"ev-1": poll.config})
    parser = _EventRows()
    parser.feed(page)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(second))
    assert parser.rows == {"ev-1": [
        [time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(second + 1)), "warning",
         "Fan 'FAN2' speed is low."],
        [when, "error", "Disk <3> failed."]]}
    assert "Disk &lt;3&gt; failed." in page
    text = render_debug("ev-1", poll.config, snap, now, "")
    section = text.split("Latest array errors and warnings (2, newest first):\n")[1]
    assert section.splitlines()[:2] == [
        f"  {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(second + 1))}  warning  "
        "Fan 'FAN2' speed is low.",
        f"  {when}  error    Disk <3> failed."]


def test_escape_spells_out_every_unsafe_character() -> None:
    assert escape("a\nb\tc\x7f\u0085\u2029\ud800", 100) == "a\\nb\\tc\\x7f\\x85\\u2029\\ud800"
    assert escape("abcdef", 4) == "abc…"
    assert event_time(1.5) == "1970-01-01T00:00:01.5Z" and event_time(1e300) == "1e+300"


def test_sim_events_route_injects_in_time_order_and_refuses_nonsense(simulators) -> None:
    sim = simulators("san", log_interval=0)
    url = sim.url + "/_sim/events"
    for bad in ([{"level": "error"}], {"message": "m", "count": 0}, {"message": "m", "level": 3},
                {"message": "m", "timestamp": "soon"}, "not an event"):
        answer = requests.post(url, json=bad, timeout=5)
        assert answer.status_code == 400 and answer.json()["message"], bad
    assert requests.get(url, timeout=5).status_code == 405
    history = len(sim.device.logs)
    newest = sim.device.logs.query(time.time(), None, None, 1, 10**6)["logs"][-1]["timestamp"]
    added = inject(sim, {"message": "late", "timestamp": newest - 1},
                   {"message": "now", "level": "warning", "count": 2})
    assert [(e["type"], e["message"]) for e in added] == [
        ("error", "late"), ("warning", "now"), ("warning", "now")]
    listed = sim.device.logs.query(time.time(), None, None, 1, 10**6)["logs"]
    assert len(listed) == history + 3
    assert [e["timestamp"] for e in listed] == sorted(e["timestamp"] for e in listed)
    assert listed[-3]["message"] != "late" and listed[-2:] == added[1:]


def test_logfmt_lines_of_the_exporter_itself_cannot_be_forged_either() -> None:
    record = logging.LogRecord("qsan_exporter.x", logging.WARNING, __file__, 1,
                               "array=%s: %s", ("a", 'bad\r\n"x" \x1b\u2028'), None)
    line = LogfmtFormatter().format(record)
    assert "\r" not in line and "\n" not in line and "\x1b" not in line and "\u2028" not in line
    assert parse_logfmt(line)["msg"] == 'array=a: bad\r\n"x" \x1b\u2028'


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=40), st.integers(1, 50))
def test_the_ascii_shortcut_escapes_as_the_general_rule(raw: str, limit: int) -> None:
    """Printable ASCII skips the per-character scan; every ASCII string reads as the scan says."""
    scanned = "".join(
        ch if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp", "Cs"}
        else {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch, f"\\x{ord(ch):02x}")
        for ch in raw)
    expected = scanned if len(scanned) <= limit else scanned[:limit - 1] + "…"
    assert escape(raw, limit) == expected
