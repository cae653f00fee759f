"""Protecting the array from the exporter: concurrency, deadlines, Retry-After and a login budget.

Storage controllers serve their management API from a small embedded web server; the common
complaint about other exporters is that they flood it until the GUI freezes or the account
locks. One `RequestGuard` per array sits in front of every request the client sends:

- at most `per_array` requests in flight to this array (default 1), and at most the process-wide
  `global_limit` across all arrays, both waited for no longer than the poll's deadline;
- every request's timeout is cut to what is left of the poll's deadline, and the watchdog cuts
  its connection when the deadline passes, so a poll always ends before the next one is due,
  however slowly the array trickles its answer (the slots it held are then free again);
- a 429/503 with Retry-After is honoured: nothing is sent before that moment;
- a rejected login blocks further logins for 5 minutes, doubling up to an hour, so a wrong
  password can never walk the account into the array's lockout. "Rejected" is any 4xx but 429
  (`spends_login_budget`): the manual names no status for a wrong password, and an array that
  answers it 400 must not get more attempts than one that answers 401 (readings.py,
  `login-refused-status`).
"""

from __future__ import annotations

import contextlib
import email.utils
import threading
import time
from collections.abc import Callable, Iterator

from qsan_exporter.api.errors import ApiAuthError, ApiUnreachable
from qsan_exporter.api.watchdog import Watchdog

LOGIN_BACKOFF_START_SECONDS = 300.0
LOGIN_BACKOFF_MAX_SECONDS = 3600.0
MAX_RETRY_AFTER_SECONDS = 3600.0


def spends_login_budget(status: int) -> bool:
    """Whether a login answered `status` counts as rejected: every 4xx but 429, whose
    Retry-After already holds every request (the login included) on its own."""
    return 400 <= status < 500 and status != 429


class GlobalLimit:
    """The process-wide cap on requests in flight to all arrays together."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the global request limit must be >= 1")
        self.limit = limit
        self.semaphore = threading.BoundedSemaphore(limit)


class RequestGuard:
    def __init__(
        self,
        name: str,
        *,
        per_array: int = 1,
        global_limit: GlobalLimit | None = None,
        clock: Callable[[], float] = time.time,
        watchdog: Watchdog | None = None,
    ) -> None:
        self.name = name
        # Ends a request at the deadline even when the array trickles (one shared per fleet).
        self.watchdog = watchdog if watchdog is not None else Watchdog()
        self._per_array = threading.BoundedSemaphore(max(1, per_array))
        self._global = global_limit
        self._clock = clock
        self._lock = threading.Lock()
        self.deadline: float | None = None  # set by the poll; None = only the request timeout
        self.not_before = 0.0  # from Retry-After
        self.login_blocked_until = 0.0
        self.login_failures = 0  # consecutive rejected logins
        self.login_failures_total = 0

    # --- deadline and concurrency ----------------------------------------------------------------

    def remaining(self, deadline: float | None = None) -> float | None:
        deadline = self.deadline if deadline is None else deadline
        return None if deadline is None else deadline - self._clock()

    def timeout(self, configured: float, deadline: float | None = None) -> float:
        """The request timeout: the configured one, cut to what is left of the deadline."""
        left = self.remaining(deadline)
        return configured if left is None else max(0.05, min(configured, left))

    @contextlib.contextmanager
    def slot(self, what: str, deadline: float | None = None, *,
             last_request: bool = False) -> Iterator[None]:
        """Hold a per-array and a global slot for one request, or fail at the deadline.

        `deadline` overrides the poll's (used by the revoke at shutdown, which must not wait
        behind a request hanging on a dead array). `last_request` (that revoke) is sent even
        inside a Retry-After wait: it is the client's last request ever, and skipping it would
        leave a token set occupying one of the user's ten sessions for its whole lifetime.
        Retry-After is checked again once the slots are held: a request that queued behind the
        one answered 429 must not go out right after it.
        """
        if not last_request:
            self._check_retry_after(what)
        left = self.remaining(deadline)
        if left is not None and left <= 0:
            raise ApiUnreachable(f"{what}: poll deadline exceeded")
        if not self._per_array.acquire(timeout=left):
            raise ApiUnreachable(f"{what}: poll deadline exceeded waiting for this array's slot")
        try:
            if self._global is not None:
                left = self.remaining(deadline)
                wait = None if left is None else max(0.0, left)
                if not self._global.semaphore.acquire(timeout=wait):
                    raise ApiUnreachable(
                        f"{what}: poll deadline exceeded waiting for a global request slot")
            try:
                if not last_request:
                    self._check_retry_after(what)
                yield
            finally:
                if self._global is not None:
                    self._global.semaphore.release()
        finally:
            self._per_array.release()

    # --- Retry-After ---------------------------------------------------------------------------

    def _check_retry_after(self, what: str) -> None:
        if self._clock() < self.not_before:
            raise ApiUnreachable(f"{what}: the array asked us to wait (Retry-After) until "
                                 f"{time.strftime('%H:%M:%S', time.gmtime(self.not_before))} UTC")

    def retry_after(self, header: str | None) -> float | None:
        """Honour a Retry-After header (seconds or an HTTP date); returns the wait in seconds."""
        if not header:
            return None
        header = header.strip()
        now = self._clock()
        try:
            wait = float(header)
        except ValueError:
            try:
                wait = email.utils.parsedate_to_datetime(header).timestamp() - now
            except (TypeError, ValueError, IndexError):
                return None
        wait = min(max(0.0, wait), MAX_RETRY_AFTER_SECONDS)
        with self._lock:
            self.not_before = max(self.not_before, now + wait)
        return wait

    # --- login budget ----------------------------------------------------------------------------

    def check_login_allowed(self, user: str) -> None:
        now = self._clock()
        if now < self.login_blocked_until:
            raise ApiAuthError(
                f"login as user {user!r} suspended for {self.login_blocked_until - now:.0f} s "
                f"after {self.login_failures} rejected login(s), to keep the account from "
                "being locked; fix the credentials and reload"
            )

    def login_rejected(self) -> None:
        with self._lock:
            self.login_failures += 1
            self.login_failures_total += 1
            backoff = min(LOGIN_BACKOFF_MAX_SECONDS,
                          LOGIN_BACKOFF_START_SECONDS * 2 ** (self.login_failures - 1))
            self.login_blocked_until = self._clock() + backoff

    def login_accepted(self) -> None:
        with self._lock:
            self.login_failures = 0
            self.login_blocked_until = 0.0
