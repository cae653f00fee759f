"""Coverage rows of `/rest/v1/log/list` (manual: 000 l.632-688, 002 l.679-732)."""

from __future__ import annotations

from qsan_exporter.coverage import Field

EP = "/rest/v1/log/list"

ROWS: tuple[Field, ...] = (
    Field(EP, "logs", "qsan_log_events_total",
          evidence="`null` for an empty selection (\"the null value will be returned\", "
                   "002 l.700-701) is an empty page"),
    Field(EP, "logs[].type", "qsan_log_events_total{level}",
          evidence="access, info, warning, error (002 l.730); other words become their own "
                   "level"),
    Field(EP, "logs[].timestamp", "qsan_log_last_event_timestamp_seconds",
          evidence="Unix seconds (\"Timestamp when the log is sent\", 002 l.731; `startTime` "
                   "takes the same unit, 002 l.696); also the cursor of the next fetch"),
    Field(EP, "logs[].message",
          dropped="free English text: unbounded label values; used only to tell apart "
                  "events that share a timestamp"),
    Field(EP, "total", dropped="paging follows haveNextPage and stops at an empty page; the "
                               "count is a string in the table (002 l.723), a number in the "
                               "example (000 l.672)"),
    Field(EP, "haveNextPage", dropped="paging only: the next page is asked while it is true"),
)
