"""When an array may be polled next: the failure streak, jittered backoff, Retry-After, logins.

The first failure keeps the normal schedule (one timeout is not a pattern); from the second on,
the wait doubles from two intervals up to `backoff_max_seconds`, each wait jittered down by up
to 25 % so arrays that failed together do not retry together. The request guard adds what the
array itself asked for (Retry-After) and the login budget (a refused login blocks the next ones).
"""

from __future__ import annotations

import logging
import random

from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.config import ArrayConfig

log = logging.getLogger(__name__)


class Backoff:
    """The failure streak of one array and the earliest time of its next poll."""

    def __init__(self, config: ArrayConfig) -> None:
        self._config = config
        # Stable jitter per array (reproducible), seeded at the first backoff: a generator's
        # state is 2.5 KiB, and most arrays never back off.
        self._random: random.Random | None = None
        self.failures = 0  # consecutive failed polls
        self.next_attempt = 0.0  # no poll before this

    @property
    def jitter_seeded(self) -> bool:
        """Whether the jitter generator exists yet (only after a first backoff)."""
        return self._random is not None

    def holds(self, now: float) -> bool:
        """True while the next poll is held back."""
        return now < self.next_attempt

    def record(self, started: float, *, failed: bool, guard: RequestGuard | None) -> None:
        """Count the poll that started at `started` and set the next attempt; `guard` holds
        what the array asked for (Retry-After) and the login budget."""
        self.failures = self.failures + 1 if failed else 0
        interval = self._config.interval_seconds
        next_attempt = 0.0
        if self.failures >= 2:
            wait = min(self._config.backoff_max_seconds, interval * 2 ** (self.failures - 1))
            if self._random is None:
                self._random = random.Random(self._config.name)
            next_attempt = started + wait * self._random.uniform(0.75, 1.0)
        if guard is not None:
            next_attempt = max(next_attempt, guard.not_before, guard.login_blocked_until)
        self.next_attempt = next_attempt
        if next_attempt > started + interval:
            log.warning("array=%s: %d failed poll(s) in a row; next attempt in %.0f s",
                        self._config.name, self.failures, next_attempt - started)

    def backing_off(self, started: float) -> bool:
        """The next poll is held back beyond the normal interval."""
        return self.next_attempt > started + self._config.interval_seconds

    def next_time(self, started: float) -> float:
        """When the next poll comes: the held-back attempt, else one interval on."""
        return max(self.next_attempt, started + self._config.interval_seconds)
