"""Array log events from `/rest/v1/log/list`, as counters kept across polls.

The log list is history, not state: the source fetches it incrementally (`startTime` = the
newest timestamp seen) and counts each batch of new events into the running `LogTally` it keeps
between polls (api/log_cursor.py: the cursor, the baseline, why repeats are dropped there).
`collect` only renders the tally the poll hands it, so it stays a pure function of its input.

Levels info, warning, error and access are always exported (0 until seen) so alerts on
`increase(...{level="error"})` work from the first scrape; any other level appears when seen.
"""

from __future__ import annotations

from qsan_exporter.api.log_cursor import LogTally
from qsan_exporter.collectors.base import FamilyBuilder, PollData

NAME = "logs"
ALWAYS_LEVELS = ("info", "warning", "error", "access")


def collect(data: PollData, out: FamilyBuilder) -> None:
    """Render the tally the poll stored in `data.raw["logs"]`."""
    tally = data.raw[NAME]
    if not isinstance(tally, LogTally):
        raise TypeError(f"logs: expected a LogTally, got {type(tally).__name__}")
    for level in dict.fromkeys([*ALWAYS_LEVELS, *sorted(tally.counts), *sorted(tally.newest)]):
        labels = {"level": level}
        out.add("qsan_log_events_total", labels, tally.counts.get(level, 0))
        out.add("qsan_log_last_event_timestamp_seconds", labels, tally.newest.get(level))
