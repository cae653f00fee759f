"""The log area kept across polls by the source: its cursor and the array's running tally.

Both log lists are read from the newest timestamp seen on (Unified: `startTime`; SANOS 4.0:
pages up to the cursor). Whether that start is inclusive is not documented (reading
`log-start-time`), so events at exactly the cursor that were already returned are dropped by a
multiset of (timestamp, type, message); distinct events sharing a timestamp each pass once.

The new events are then counted into the running tally (`LogTally`, what the `logs` collector
renders) and the source hands the poll both: the finished tally and the batch just counted,
which becomes log lines (array_events.py). The first batch is the `baseline`, the history from
before the exporter started: not counted (a restart must not replay years of errors into
`rate()`), but it sets the newest timestamp per level. A failed fetch changes nothing, so the
counters never drop back. An `api: auto` array's two sources share one `LogCounter`: a flavour
switch starts a new cursor (and a new baseline), never new counters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from qsan_exporter.api import readers

EventKey = tuple[float, str, str]  # (timestamp, type, message)
_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LogCursor:
    """Newest event timestamp returned so far, and how many of each event carried it."""

    timestamp: float
    seen: Mapping[EventKey, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LogTally:
    """Events counted and the newest event timestamp, per level (lowercased)."""

    counts: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    newest: Mapping[str, float] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class LogAnswer:
    """What a source's `fetch("logs")` returns: the tally so far, and the batch it just
    counted (`{"events": [...], "baseline": bool}`, events as the Unified API lists them)."""

    tally: LogTally
    batch: Mapping[str, Any]


def new_events(cursor: LogCursor | None,
               fetched: list[tuple[EventKey, Any]]) -> tuple[list[Any], LogCursor | None]:
    """Drop what an earlier fetch returned; the cursor after this batch."""
    already: Counter[EventKey] = Counter(cursor.seen if cursor else {})
    fresh: list[tuple[EventKey, Any]] = []
    for key, event in fetched:
        if cursor is not None and key[0] < cursor.timestamp:
            continue  # before the cursor: covered by an earlier fetch
        if already[key] > 0:
            already[key] -= 1  # the same event again, at the (inclusive) cursor timestamp
            continue
        fresh.append((key, event))
    if not fresh:
        return [], cursor
    newest = max(key[0] for key, _ in fresh)
    seen: Counter[EventKey] = Counter()
    if cursor is not None and newest == cursor.timestamp:
        seen.update(cursor.seen)
    seen.update(key for key, _ in fresh if key[0] == newest)
    return [event for _, event in fresh], LogCursor(newest, MappingProxyType(dict(seen)))


def fold(tally: LogTally | None, fetched: Mapping[str, Any]) -> LogTally:
    """The tally after one batch of new events (a new object; `tally` is unchanged).

    Every event given is counted: dropping repeats is the cursor's job, as only the source
    knows what it already returned. An event without a readable timestamp or type cannot be
    placed and is skipped.
    """
    if not isinstance(fetched, Mapping):
        raise TypeError(f"logs: expected a mapping, got {type(fetched).__name__}")
    tally = tally or LogTally()
    baseline = bool(readers.field(fetched, "baseline", default=False))
    counts, newest = Counter(tally.counts), dict(tally.newest)
    for event in readers.items(fetched, "events"):
        timestamp = readers.number(readers.field(event, "timestamp"))
        level = readers.text(readers.field(event, "type")).lower()
        if timestamp is None or not level:
            continue
        if not baseline:
            counts[level] += 1
        newest[level] = max(newest.get(level, timestamp), timestamp)
    return LogTally(counts=MappingProxyType(dict(counts)), newest=MappingProxyType(newest))


class LogCounter:
    """One array's running tally; None until a first batch was counted."""

    def __init__(self) -> None:
        self.tally: LogTally | None = None


class LogHistory:
    """One source's cursor and whether it still reads the history, counting into a
    `LogCounter` (its own, or the one an `api: auto` array's sources share)."""

    def __init__(self, counter: LogCounter | None = None) -> None:
        self.counter = counter or LogCounter()
        self.cursor: LogCursor | None = None  # None until the baseline fetch succeeded
        self._history_pending = True  # baseline until the history has been read to its end

    def take(self, fetched: list[tuple[EventKey, Any]], complete: bool) -> LogAnswer:
        """Count what `fetched` holds that is new; `complete`: the list was read to its end."""
        events, cursor = new_events(self.cursor, fetched)
        batch = {"events": events, "baseline": self._history_pending}
        tally = fold(self.counter.tally, batch)
        # Commit only now: a failure before leaves cursor and tally where they were.
        self.cursor, self.counter.tally = cursor, tally
        self._history_pending = self._history_pending and not complete
        return LogAnswer(tally, batch)
