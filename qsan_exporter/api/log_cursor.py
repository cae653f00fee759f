"""The log cursor both API flavours keep: which events a fetch returns for the first time.

Both log lists are read from the newest timestamp seen on (Unified: `startTime`; SANOS 4.0:
pages up to the cursor). Whether that start is inclusive is not documented (reading
`log-start-time`), so events at exactly the cursor that were already returned are dropped by a
multiset of (timestamp, type, message); distinct events sharing a timestamp each pass once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

EventKey = tuple[float, str, str]  # (timestamp, type, message)


@dataclass(frozen=True)
class LogCursor:
    """Newest event timestamp returned so far, and how many of each event carried it."""

    timestamp: float
    seen: Mapping[EventKey, int] = field(default_factory=dict)


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
