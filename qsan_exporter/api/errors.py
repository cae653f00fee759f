"""What can go wrong talking to an array, split by what the poller should do about it.

`ArrayPoll` stops a poll at the first `ApiUnreachable` or `ApiAuthError` (asking a dead or
locked-out array six more times only delays the answer) and fails a single collector on the
others. Messages are built by the client from method, endpoint, status, URL and user name only:
never from a requests exception or a response body, which could carry the password or a token.
"""

from __future__ import annotations

from dataclasses import dataclass


class ApiError(Exception):
    """Any failure of an API call; the message is safe to log and to show on the status page."""


class ApiUnreachable(ApiError):
    """No usable answer: connection refused or reset, timeout, TLS failure, client closed.

    `may_have_acted`: the request may have reached the array, which may have carried it out
    (an answer that timed out or broke off), as opposed to one that was never sent (refused
    connection, deadline or Retry-After wait). A login in that state may have made a token set
    the client cannot name, and it is counted as one (api/token_ledger.py).
    """

    def __init__(self, message: str, *, may_have_acted: bool = False) -> None:
        super().__init__(message)
        self.may_have_acted = may_have_acted


class ApiAuthError(ApiError):
    """The array refused our credentials: login rejected, or still 401 after re-authenticating."""


class ApiHTTPError(ApiError):
    """A non-2xx answer other than an authentication failure (e.g. 404 for an unsupported API)."""

    def __init__(self, message: str, *, status: int, endpoint: str) -> None:
        super().__init__(message)
        self.status = status
        self.endpoint = endpoint


class ApiFormatError(ApiError):
    """A 2xx answer whose body is not JSON, or not of the top-level type the API documents."""


@dataclass(frozen=True)
class Refused:
    """A task list the array refused (HTTP 400/404) although its product must have it.

    Not raised but handed over in place of the answer: the source gives it to the tasks
    collector, which fails the area with `reason` (status page, `qsan_collector_success 0`)
    after exporting the task types that did answer.
    """

    kind: str
    status: int
    reason: str
