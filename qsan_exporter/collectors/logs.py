"""Array log events from `/rest/v1/log/list`, as counters kept across polls.

The log list is history, not state: the exporter fetches it incrementally (`startTime` = the
newest timestamp seen) and folds each batch into a `LogTally` that the poller keeps between
polls. `collect` only renders the tally, so it stays a pure function of its input.

Fetched batch (what the poller passes to `fold`), events as the device lists them::

    {"events": [{"type": "info", "timestamp": 155284325, "message": "User 'admin' is login."}],
     "baseline": false}

Why it looks the way it does:
- The first batch is the `baseline`: history from before the exporter started. It is not
  counted (a restart must not replay years of errors into `rate()`), but it sets the newest
  timestamp per level and the point from which later batches count.
- `fold` counts every event it is given. Dropping the events an inclusive `startTime` returns
  again is the source's job (`api/log_cursor.py` keeps the cursor and a multiset of the events
  at it), because only the source knows what it already returned; deduplicating here as well
  would swallow a genuinely new event identical to one at the cursor.
- Levels info, warning, error and access are always exported (0 until seen) so alerts on
  `increase(...{level="error"})` work from the first scrape; any other level appears when seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from types import MappingProxyType
from typing import Any

from qsan_exporter.api.readers import field, items, number, text
from qsan_exporter.collectors.base import FamilyBuilder, PollData

NAME = "logs"
ALWAYS_LEVELS = ("info", "warning", "error", "access")
_EMPTY: Mapping[Any, Any] = MappingProxyType({})


@dataclass(frozen=True)
class LogTally:
    """Events counted and the newest event timestamp, per level (lowercased)."""

    counts: Mapping[str, int] = dc_field(default_factory=lambda: _EMPTY)
    newest: Mapping[str, float] = dc_field(default_factory=lambda: _EMPTY)


def fold(tally: LogTally | None, fetched: Mapping[str, Any]) -> LogTally:
    """The tally after one fetched batch of new events (a new object; `tally` is unchanged).

    An event without a readable timestamp or type cannot be placed and is skipped.
    """
    if not isinstance(fetched, Mapping):
        raise TypeError(f"logs: expected a mapping, got {type(fetched).__name__}")
    tally = tally or LogTally()
    baseline = bool(field(fetched, "baseline", default=False))
    counts, newest = Counter(tally.counts), dict(tally.newest)
    for event in items(fetched, "events"):
        timestamp = number(field(event, "timestamp"))
        level = text(field(event, "type")).lower()
        if timestamp is None or not level:
            continue
        if not baseline:
            counts[level] += 1
        newest[level] = max(newest.get(level, timestamp), timestamp)
    return LogTally(counts=MappingProxyType(dict(counts)), newest=MappingProxyType(newest))


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Render the tally the poller stored in `data.raw["logs"]`."""
    tally = data.raw[NAME]
    if not isinstance(tally, LogTally):
        raise TypeError(f"logs: expected a LogTally, got {type(tally).__name__}")
    for level in dict.fromkeys([*ALWAYS_LEVELS, *sorted(tally.counts), *sorted(tally.newest)]):
        labels = {"level": level}
        out.add("qsan_log_events_total", labels, tally.counts.get(level, 0))
        out.add("qsan_log_last_event_timestamp_seconds", labels, tally.newest.get(level))
