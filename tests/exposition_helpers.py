"""Helpers the exposition tests share."""

from __future__ import annotations

from prometheus_client.core import Metric


class ScrapeCounter:
    """A process-wide collector whose value moves on every scrape (`qsan_test_scrapes`)."""

    def __init__(self) -> None:
        self.calls = 0

    def collect(self) -> list[Metric]:
        self.calls += 1
        family = Metric("qsan_test_scrapes", "Scrapes.", "gauge")
        family.add_sample("qsan_test_scrapes", {}, self.calls)
        return [family]
