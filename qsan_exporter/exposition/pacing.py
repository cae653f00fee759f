"""When the background builder should build: just before the next scrape, not after each poll.

A full body costs about 0.6 ms per array (assembly, then gzip), whoever asks for it; a quarter of
that since builds compress only the families that changed (chunks.py). Built after every burst
of publishes, a 1,000-array exporter built one every ~6 s - ten a minute for the four scrapes a
minute of one Prometheus at 15 s, a share of a core for bodies nobody fetched.

Prometheus scrapes on a fixed grid, so the next full-body request is predictable: the shortest
of the recent gaps between requests (a pair of HA replicas on one interval makes two phases; the
shorter gap covers both) after the latest one. The builder then builds `lead` before that moment
(a few times its own last duration) and the scrape gets a body seconds old, with one build per
scrape instead of one per publish burst. Requests that keep no rhythm (a person with curl, a
scraper that went away) leave the prediction in the past, and the builder falls back to
building when the data changes.
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise

RECENT_ASKS = 4  # requests remembered: three gaps, enough for a replica pair's two phases
MIN_PERIOD_SECONDS = 1.0  # faster than this is no rhythm worth waiting for
LEAD_FACTOR = 3.0  # build this many of its last durations before the predicted request
MIN_LEAD_SECONDS = 0.5
LATE_FACTOR = 0.25  # a request later than a quarter period past its time: the rhythm is lost


class ScrapePacer:
    """Remembers when the full body was asked for; says how long a build may still wait.

    Times are the exposition's clock (seconds); the caller holds its lock.
    """

    def __init__(self) -> None:
        self._asks: deque[float] = deque(maxlen=RECENT_ASKS)

    def asked(self, now: float) -> None:
        if not self._asks or now > self._asks[-1]:
            self._asks.append(now)

    def period(self) -> float | None:
        """The shortest recent gap between requests, if there is a rhythm to keep."""
        if len(self._asks) < 3:
            return None
        period = min(b - a for a, b in pairwise(self._asks))
        return period if period >= MIN_PERIOD_SECONDS else None

    def wait(self, now: float, last_build_seconds: float) -> float:
        """Seconds a pending build can wait and still be ready for the next request; 0 when
        it should start now (no rhythm, the moment has come, or the request is overdue)."""
        period = self.period()
        if period is None:
            return 0.0
        expected = self._asks[-1] + period
        if now > expected + LATE_FACTOR * period:
            return 0.0  # overdue: nobody keeps the rhythm any more
        lead = max(MIN_LEAD_SECONDS, LEAD_FACTOR * last_build_seconds)
        return max(0.0, expected - lead - now)
