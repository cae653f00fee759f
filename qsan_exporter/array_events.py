"""Array events as log lines, and the last few errors and warnings for the status page.

The exporter already reads each array's event log incrementally to count events per level
(`api/log_cursor.py`). Here the same events, by exactly the same rules, become one structured
line each on the `qsan_exporter.array_events` logger, so promtail, Vector or Fluent Bit ship
them as they are, and an admin paged by `QsanLogErrors` reads *which* error happened::

    ts=2026-11-30T14:30:48.120Z level=error logger=qsan_exporter.array_events
      msg="Disk 3 failed." array=san-1 event_level=error event_time=2026-11-30T14:30:47Z site=dc1

(one line; `level` is the array's level mapped to error/warn/info, `event_level` its own word).
Why it looks the way it does:
- Only events the counters count: never the history before the first poll (`baseline`), never
  an event twice; the source's cursor already dropped repeats, so every event given is new.
- The message is the array's text, so it is untrusted: control and line-separator characters
  are escaped (no message can start a forged line), it is cut at `MAX_MESSAGE_CHARS`, and the
  array's configured password is redacted should the array ever echo it.
- `--log.array-events` sets this logger's level, not the root's: array events are data, so
  `--log.level=warn` does not hide an array's info events, and turning them off is one flag.
"""

from __future__ import annotations

import base64
import logging
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qsan_exporter.api.readers import field, items, number, text

LOGGER = "qsan_exporter.array_events"
RECENT_EVENTS = 5  # errors and warnings kept per array for the status page and debug view
PROBLEM_LEVELS = frozenset({"error", "warning"})
MAX_MESSAGE_CHARS = 500
MAX_LEVEL_CHARS = 32
REDACTED = "<redacted>"
# The keys of a line; a configured label with one of these names is written as label_<name>.
CORE_KEYS = frozenset({"ts", "level", "logger", "msg", "exception", "array", "event_level",
                       "event_time"})
_RECORD_LEVELS = {"error": logging.ERROR, "critical": logging.ERROR, "fatal": logging.ERROR,
                  "warning": logging.WARNING, "warn": logging.WARNING}
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Control, format (bidi overrides), line and paragraph separators, lone surrogates.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


@dataclass(frozen=True)
class ArrayEvent:
    """One event of an array's log, as safe to print as the exporter's own text."""

    level: str  # the array's own word, lowercased: info, warning, error, access, ...
    timestamp: float  # when the array says it happened (unix seconds)
    message: str  # escaped, bounded, secrets redacted


def escape(raw: str, limit: int) -> str:
    """`raw` with every unsafe character spelled out (\\n, \\x1b, \\u2028), cut at `limit`."""
    if raw.isascii() and raw.isprintable():  # most messages: nothing to spell out (C speed)
        return raw if len(raw) <= limit else raw[:limit - 1] + "…"
    out = []
    for ch in raw:
        if unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            code = ord(ch)
            ch = _ESCAPES.get(ch) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        out.append(ch)
    safe = "".join(out)
    return safe if len(safe) <= limit else safe[:limit - 1] + "…"


def secrets_of(password: str, encoding: str = "plain") -> tuple[str, ...]:
    """What of ours an array could echo in a message: the password, as sent."""
    if not password:
        return ()
    sent = (base64.b64encode(password.encode()).decode(),) if encoding == "base64" else ()
    return (password, *sent)


def read_events(fetched: Mapping[str, Any], secrets: Iterable[str] = ()) -> list[ArrayEvent]:
    """The events of one fetched batch that `api.log_cursor.fold` counts, oldest first.

    The same rules: nothing of a `baseline` batch, nothing without a readable timestamp and type.
    """
    if field(fetched, "baseline", default=False):
        return []
    secrets = sorted((s for s in secrets if s), key=len, reverse=True)
    events = []
    for event in items(fetched, "events"):
        timestamp = number(field(event, "timestamp"))
        level = text(field(event, "type")).lower()
        if timestamp is None or not level:
            continue
        message = text(field(event, "message"))
        for secret in secrets:
            message = message.replace(secret, REDACTED)
        events.append(ArrayEvent(escape(level, MAX_LEVEL_CHARS), timestamp,
                                 escape(message, MAX_MESSAGE_CHARS)))
    # A legacy array may list newest first; lines go out in the array's time order (events of
    # one second too, so a newest-first list is turned round before the stable sort).
    if len(events) > 1 and events[0].timestamp > events[-1].timestamp:
        events.reverse()
    return sorted(events, key=lambda e: e.timestamp)


def record_level(level: str) -> int:
    """The line's level: an array's error is an error line, its warning a warning line."""
    return _RECORD_LEVELS.get(level, logging.INFO)


def event_time(timestamp: float) -> str:
    """RFC 3339 in UTC, whole seconds unless the array gave a fraction."""
    try:
        moment = datetime.fromtimestamp(timestamp, UTC)
    except (OverflowError, OSError, ValueError):
        return repr(timestamp)  # beyond the calendar: the array's number as it came
    if float(timestamp).is_integer():
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"


def shown_time(timestamp: float) -> str:
    """For the status page and the debug view: '2026-11-30 14:30:47 UTC'."""
    try:
        return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return repr(timestamp)


def line_fields(array: str, labels: Mapping[str, str], event: ArrayEvent) -> dict[str, str]:
    """The keys after `msg`: the array, the event's own level and time, the extra labels."""
    out = {"array": array, "event_level": event.level, "event_time": event_time(event.timestamp)}
    for name, value in labels.items():
        out[f"label_{name}" if name in CORE_KEYS else name] = escape(value, MAX_MESSAGE_CHARS)
    return out


class ArrayEvents:
    """One array's new events: logs each once and keeps the newest few errors and warnings.

    Used from the array's poll only (one poll at a time), so it needs no lock; `recent` is a
    new tuple after each batch, safe to hand to a snapshot.
    """

    def __init__(self, array: str, labels: Mapping[str, str],
                 secrets: Iterable[str] = ()) -> None:
        self._array = array
        self._labels = dict(labels)
        self._secrets = tuple(secrets)
        self._log = logging.getLogger(LOGGER)
        self.recent: tuple[ArrayEvent, ...] = ()  # newest first, at most RECENT_EVENTS

    def add(self, fetched: Mapping[str, Any]) -> list[ArrayEvent]:
        """Log the new events of one fetched batch; returns them (oldest first)."""
        events = read_events(fetched, self._secrets)
        for event in events:
            level = record_level(event.level)
            if self._log.isEnabledFor(level):
                self._log.log(level, "%s", event.message, extra={
                    "qsan_fields": line_fields(self._array, self._labels, event)})
        problems = [e for e in reversed(events) if e.level in PROBLEM_LEVELS]
        if problems:
            # A stable sort: of events in the same second, the one listed later comes first.
            merged = sorted([*problems, *self.recent], key=lambda e: e.timestamp, reverse=True)
            self.recent = tuple(merged[:RECENT_EVENTS])
        return events
