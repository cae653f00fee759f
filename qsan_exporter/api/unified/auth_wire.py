"""The three `/auth/*` calls of the Unified REST API on the wire, and what each answer means.

unified.py decides when to log in, refresh and revoke, and how many token sets may live; this
module only speaks: it builds each request, reads each answer and says what it means. Two of the
manual's contradictions are read both ways here (`AUTH_READINGS` in qsan_exporter/readings.py):

- `refresh-body-key`: the tables name the refresh token `refreshToken`, both examples send
  `"refreshToken "`. The table's spelling goes first; a 400 is retried once with the other, and
  the spelling the array understood (2xx, 401 or 403: it looked the token up) is kept in
  `refresh_key` for every later refresh and revoke of that array.
- `login-refused-status`: a login refused with any 4xx but 429 spends the login budget
  (`guard.spends_login_budget`), whether the array says 401 or 400.

`expireTime` is a unix time on the ARRAY's clock, which may be minutes or hours off ours: the
offset is estimated from the `Date` header of the answer (none assumed without one), so a token
is refreshed when it really nears its end. The password and tokens only ever travel in a request
body or header; every message is built from method, endpoint, status, URL and user name.
"""

from __future__ import annotations

import email.utils
import enum
import logging
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

import requests

from qsan_exporter.api.diagnose import FIX_LOGIN, status_hint
from qsan_exporter.api.errors import ApiAuthError, ApiFormatError, ApiUnreachable
from qsan_exporter.api.guard import spends_login_budget
from qsan_exporter.api.token_store import TokenSet
from qsan_exporter.api.transport import Transport, encode_password

log = logging.getLogger(__name__)

AUTH_GET, AUTH_REFRESH, AUTH_REVOKE = "/auth/get", "/auth/refresh", "/auth/revoke"
# readings.py `refresh-body-key`: (first, second).
REFRESH_KEYS = ("refreshToken", "refreshToken ")
ASSUMED_LIFETIME_SECONDS = 3600.0  # the manual's 60 minutes, when expireTime cannot be used


class Outcome(enum.Enum):
    DONE = "done"  # refreshed, or revoked
    DEAD = "dead"  # 401/403: the array does not know the refresh token; nothing to revoke
    NOT_UNDERSTOOD = "not understood"  # 400 to both spellings: the set may still be live
    FAILED = "failed"  # revoke: another answer, a bad one, or none; the set may still be live
    UNREACHABLE = "unreachable"  # revoke: no answer at all


class AuthWire:
    """One array's `/auth/*` calls; `refresh_key` is what the array has shown it understands."""

    def __init__(self, http: Transport, username: str, password: str, encoding: str,
                 clock: Callable[[], float]) -> None:
        self._http = http
        self._username = username
        self._password = password
        self._encoding = encoding
        self._clock = clock
        self.refresh_key = REFRESH_KEYS[0]

    def login(self, offline: bool) -> TokenSet:
        """A new token set (with a refresh token if `offline` and the array gives one).

        Raises ApiAuthError when refused (the login budget is spent) or suspended by the budget,
        ApiHTTPError for other statuses, ApiFormatError for an unusable 2xx answer, and
        ApiUnreachable.
        """
        guard = self._http.guard
        guard.check_login_allowed(self._username)
        password = encode_password(self._password, self._encoding)
        body = {"user": self._username, "password": password, "offlineAccess": offline}
        response = self._post(AUTH_GET, body)
        status = response.status_code
        if spends_login_budget(status):  # readings.py `login-refused-status`
            guard.login_rejected()
            # A 404 says no Unified API answers here, not that the password is wrong.
            why = (f"HTTP 404 from POST {AUTH_GET}){status_hint(status, AUTH_GET)}"
                   if status == 404 else f"HTTP {status}): {FIX_LOGIN}")
            raise ApiAuthError(f"login as user {self._username!r} at {self._http.base_url} "
                               f"rejected ({why}")
        self._http.check_status(response, "POST", AUTH_GET)
        answer = self._token_answer(response, AUTH_GET)
        refresh = answer.get("refreshToken")
        if not (isinstance(refresh, str) and refresh):
            if offline:
                log.info("array=%s: login gave no refresh token; will log in again at expiry",
                         guard.name)
            refresh = None
        tokens = self._new_tokens(response, answer, refresh)
        guard.login_accepted()
        self._http.stats.count_login(*tokens.times)
        log.debug("array=%s: logged in as user %r", guard.name, self._username)
        return tokens

    def refresh(self, tokens: TokenSet) -> tuple[Outcome, TokenSet | None]:
        """(DONE, renewed set) or (DEAD | NOT_UNDERSTOOD, None); other statuses raise
        ApiHTTPError, an unusable 2xx answer ApiFormatError, no answer ApiUnreachable."""
        response = self._keyed(AUTH_REFRESH, tokens)
        status = response.status_code
        if status in (401, 403):
            log.info("array=%s: refresh token rejected (HTTP %d)", self._http.guard.name, status)
            return Outcome.DEAD, None
        if status == 400:
            log.warning("array=%s: refresh not understood (HTTP 400 to both spellings of its "
                        "key)", self._http.guard.name)
            return Outcome.NOT_UNDERSTOOD, None
        self._http.check_status(response, "POST", AUTH_REFRESH)
        answer = self._token_answer(response, AUTH_REFRESH)
        rotated = answer.get("refreshToken")
        refresh = rotated if isinstance(rotated, str) and rotated else tokens.refresh
        renewed = self._new_tokens(response, answer, refresh)
        self._http.stats.count_refresh(*renewed.times)
        return Outcome.DONE, renewed

    def revoke(self, tokens: TokenSet, *, deadline: float | None = None,
               last_request: bool = False) -> Outcome:
        """Best effort: never raises. `last_request`: the revokes at close, sent even while
        Retry-After holds other calls."""
        try:
            response = self._keyed(AUTH_REVOKE, tokens, access=tokens.access, deadline=deadline,
                                   last_request=last_request)
        except ApiUnreachable as exc:
            log.warning("array=%s: could not revoke a refresh token: %s",
                        self._http.guard.name, exc)
            return Outcome.UNREACHABLE
        except ApiFormatError as exc:
            log.warning("array=%s: could not revoke a refresh token: %s",
                        self._http.guard.name, exc)
            return Outcome.FAILED
        status = response.status_code
        if 200 <= status < 300:
            return Outcome.DONE
        if status in (401, 403):
            return Outcome.DEAD
        log.warning("array=%s: revoking a refresh token failed (HTTP %d)",
                    self._http.guard.name, status)
        return Outcome.NOT_UNDERSTOOD if status == 400 else Outcome.FAILED

    # --- the body key, both readings -----------------------------------------------------------

    def _keyed(self, endpoint: str, tokens: TokenSet, *, access: str | None = None,
               deadline: float | None = None, last_request: bool = False) -> requests.Response:
        """POST the refresh token under the spelling this array understands; a 400 is retried
        once under the other (readings.py `refresh-body-key`)."""
        options: dict[str, Any] = {"access": access, "deadline": deadline,
                                   "last_request": last_request}
        key = self.refresh_key
        response = self._post(endpoint, {key: tokens.refresh}, **options)
        if response.status_code != 400:
            return response
        other = REFRESH_KEYS[1] if key == REFRESH_KEYS[0] else REFRESH_KEYS[0]
        retry = self._post(endpoint, {other: tokens.refresh}, **options)
        if 200 <= retry.status_code < 300 or retry.status_code in (401, 403):
            log.info("%s at %s: the array wants the key %r, not %r; keeping that spelling",
                     endpoint, self._http.base_url, other, key)
            self.refresh_key = other
        return retry

    # --- HTTP and answers ------------------------------------------------------------------------

    def _post(self, endpoint: str, body: Mapping[str, Any], *, access: str | None = None,
              deadline: float | None = None, last_request: bool = False) -> requests.Response:
        headers = {"Accept": "application/json"}
        if access is not None:
            headers["Authorization"] = access  # the manual's scheme: no "Bearer"
        return self._http.send("POST", endpoint, endpoint, headers=headers, body=body,
                               deadline=deadline, last_request=last_request)

    def _token_answer(self, response: requests.Response, endpoint: str) -> dict[str, Any]:
        answer = self._http.json(response, "POST", endpoint)
        if not isinstance(answer, dict):
            raise ApiFormatError(f"POST {endpoint} at {self._http.base_url}: expected a JSON "
                                 "object")
        if not isinstance(answer.get("accessToken"), str) or not answer["accessToken"]:
            raise ApiFormatError(f"POST {endpoint} at {self._http.base_url}: no accessToken "
                                 "in answer")
        return answer

    def _new_tokens(self, response: requests.Response, answer: Mapping[str, Any],
                    refresh: str | None) -> TokenSet:
        """Convert expireTime (array clock) to our clock via the answer's Date header."""
        now = self._clock()
        array_now = _date_header(response)
        offset = array_now - now if array_now is not None else 0.0
        expire = _unix_time(answer.get("expireTime"))
        lifetime = expire - (now + offset) if expire is not None else 0.0
        if lifetime <= 0:
            log.warning("unusable expireTime from %s; assuming a %.0f s token lifetime",
                        self._http.base_url, ASSUMED_LIFETIME_SECONDS)
            lifetime = ASSUMED_LIFETIME_SECONDS
        return TokenSet(answer["accessToken"], refresh, now + lifetime, lifetime)


def _date_header(response: requests.Response) -> float | None:
    """The array's clock at answer time, from the HTTP Date header (1 s resolution)."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # "-0000": HTTP dates are GMT anyway
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _unix_time(value: Any) -> float | None:
    """expireTime as seconds; accepts numeric strings, and milliseconds from odd firmware."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return seconds / 1000 if seconds > 1e11 else seconds
