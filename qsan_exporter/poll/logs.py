"""The log area across polls: each fetched batch of new events folded into one running tally.

The source hands over only events it has not handed over before (its cursor drops repeats);
the tally counts them per level for `qsan_log_events_total`, and the same events become
log lines and the status page's latest errors (array_events.py). The tally survives a failed
fetch, so the counters never drop back.
"""

from __future__ import annotations

from typing import Any

from qsan_exporter.array_events import ArrayEvent, ArrayEvents, secrets_of
from qsan_exporter.collectors.logs import LogTally, fold
from qsan_exporter.config import ArrayConfig


class LogFold:
    """The running tally of one array's log events, and its latest errors and warnings."""

    def __init__(self, config: ArrayConfig) -> None:
        self.tally: LogTally | None = None  # None until a batch was read
        self._events = ArrayEvents(config.name, config.labels,
                                   secrets_of(config.password, config.password_encoding))

    def add(self, batch: Any) -> str | None:
        """Fold one fetched batch in; the collector's error when it cannot be read."""
        try:
            self.tally = fold(self.tally, batch)
        except Exception as exc:
            return f"cannot read log events: {type(exc).__name__}: {exc}"
        self._events.add(batch)  # the very events the tally just counted
        return None

    @property
    def recent(self) -> tuple[ArrayEvent, ...]:
        return self._events.recent
