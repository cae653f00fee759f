"""The log area in the poll: the source's finished tally kept for the collector, its events
turned into log lines.

The source counts (api/log_cursor.py) and hands over a `LogAnswer`: the tally so far and the
batch it just counted. The last tally handed over stays when a fetch fails, so the counters are
still served and never drop back.
"""

from __future__ import annotations

from typing import Any

from qsan_exporter.api.log_cursor import LogAnswer, LogTally
from qsan_exporter.array_events import ArrayEvent, ArrayEvents, secrets_of
from qsan_exporter.config import ArrayConfig


class LogRelay:
    """One array's latest log tally, and its latest errors and warnings."""

    def __init__(self, config: ArrayConfig) -> None:
        self.tally: LogTally | None = None  # None until a batch was counted
        self._events = ArrayEvents(config.name, config.labels,
                                   secrets_of(config.password, config.password_encoding))

    def add(self, answer: Any) -> str | None:
        """Take one fetch's answer; the collector's error when it is not a `LogAnswer`."""
        if not isinstance(answer, LogAnswer):
            return f"cannot read log events: expected a LogAnswer, got {type(answer).__name__}"
        self.tally = answer.tally
        self._events.add(answer.batch)  # the very events the tally just counted
        return None

    @property
    def recent(self) -> tuple[ArrayEvent, ...]:
        return self._events.recent
