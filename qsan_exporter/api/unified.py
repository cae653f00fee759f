"""Client of the Unified REST API (`/auth/*` + `/rest/v1/*`): one session, one token set.

Why it looks the way it does:
- The array keeps at most 10 refresh tokens per user and rotates the oldest out, so a client
  that logs in on every poll silently logs the administrator out. This client logs in once,
  refreshes the access token before it expires, and revokes its refresh token on `close()`.
- `expireTime` is a unix time on the ARRAY's clock, which may be minutes or hours off ours. The
  offset is estimated from the `Date` header of the auth answer (none assumed without one), so
  the refresh happens when the token really nears its end, not on every call or never.
- The password and tokens only ever travel in a request body or header. Every message is built
  here from method, endpoint, status, URL and user name; the text of a requests exception (URLs,
  sometimes bodies) is never used, and the exception chain is cut (`from None`).
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import requests

from qsan_exporter.api.diagnose import FIX_LOGIN
from qsan_exporter.api.errors import (
    ApiAuthError,
    ApiFormatError,
    ApiHTTPError,
    ApiUnreachable,
)
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.transport import (
    MAX_RESPONSE_BYTES,
    Transport,
    check_password_encoding,
    encode_password,
)

log = logging.getLogger(__name__)

AUTH_GET, AUTH_REFRESH, AUTH_REVOKE = "/auth/get", "/auth/refresh", "/auth/revoke"
MAX_REFRESH_MARGIN_SECONDS = 300.0
ASSUMED_LIFETIME_SECONDS = 3600.0  # the manual's 60 minutes, when expireTime cannot be used
REVOKE_BUDGET_SECONDS = 3.0  # shutdown must not hang on a dead array


@dataclass(frozen=True, repr=False)
class _Tokens:
    """One token set; `expires_at` is on OUR clock. repr=False: never print a token."""

    access: str
    refresh: str | None
    expires_at: float
    lifetime: float

    @property
    def refresh_margin(self) -> float:
        return min(MAX_REFRESH_MARGIN_SECONDS, self.lifetime / 2)

    @property
    def times(self) -> tuple[float, float]:
        """When it is refreshed and when it expires: what the debug view may show of it."""
        return self.expires_at - self.refresh_margin, self.expires_at


class UnifiedClient:
    """One array's API client. Keep it across polls: the token set lives as long as it does."""

    def __init__(self, base_url: str, username: str, password: str, *, verify: bool | str = True,
                 timeout: float = 10.0, password_encoding: str = "plain",
                 stats: ApiStats | None = None, clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None, guard: RequestGuard | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        check_password_encoding(password_encoding)
        self._http = Transport.for_array(
            base_url, verify=verify, timeout=timeout, stats=stats, guard=guard,
            session=session, clock=clock, max_bytes=max_response_bytes)
        self.base_url, self.stats, self.guard = (
            self._http.base_url, self._http.stats, self._http.guard)
        self._session = self._http.session
        self._username = username
        self._password = password
        self._encoding = password_encoding
        self._clock = clock
        self._lock = threading.RLock()  # token state, and auth calls so two logins never race
        self._tokens: _Tokens | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"UnifiedClient({self.base_url!r}, user={self._username!r})"

    @property
    def has_token(self) -> bool:
        with self._lock:
            return self._tokens is not None

    # --- public calls ---------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a `/rest/v1/...` path and return its parsed JSON (an object or a list).

        A 401 means the array forgot or revoked our token: renew once (refresh, else log in)
        and retry once; a second 401 is an authentication failure, not a loop.
        """
        endpoint = path.split("?", 1)[0]
        access = self._current_access()
        response = self._send("GET", path, token=access, params=params)
        if response.status_code == 401:
            access = self._renew_after_401(access)
            response = self._send("GET", path, token=access, params=params)
            if response.status_code == 401:
                raise ApiAuthError(f"GET {endpoint} at {self.base_url}: still HTTP 401 after "
                                   f"re-authenticating as user {self._username!r}")
        return self._http.document(response, "GET", endpoint)

    def close(self) -> None:
        """Revoke the refresh token (best effort, one request) and close the session.

        Idempotent; after it, calls fail with ApiUnreachable instead of logging in again, so a
        poll still running at shutdown cannot leave a fresh token set behind.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            tokens, self._tokens = self._tokens, None
            if tokens is not None and tokens.refresh:
                self._revoke(tokens, deadline=self._clock() + REVOKE_BUDGET_SECONDS,
                             last_request=True)
            self._session.close()

    # --- token lifecycle (callers hold no lock; these take it) ----------------------------------

    def _current_access(self) -> str:
        """A usable access token: log in if there is none, refresh if it nears expiry."""
        with self._lock:
            self._check_open()
            tokens = self._tokens
            if tokens is None:
                return self._authenticate().access
            remaining = tokens.expires_at - self._clock()
            if remaining >= tokens.refresh_margin:
                return tokens.access
            try:
                renewed = self._refresh(tokens) if tokens.refresh else None
            except (ApiHTTPError, ApiFormatError) as exc:
                if remaining <= 0:
                    raise
                # Early refresh is a courtesy: a 5xx must not fail a poll the token still covers.
                log.warning("array=%s: early token refresh failed, using the current token: %s",
                            self.guard.name, exc)
                return tokens.access
            return (renewed or self._authenticate()).access

    def _renew_after_401(self, stale: str) -> str:
        with self._lock:
            self._check_open()
            tokens = self._tokens
            if tokens is not None and tokens.access != stale:
                return tokens.access  # renewed meanwhile by another caller
            renewed = self._refresh(tokens) if tokens is not None and tokens.refresh else None
            return (renewed or self._authenticate()).access

    def _check_open(self) -> None:
        if self._closed:
            raise ApiUnreachable(f"client for {self.base_url} is closed")

    def _authenticate(self) -> _Tokens:
        """Log in; any failure to do so fails the whole poll (qsan_up 0), not one collector."""
        try:
            return self._login()
        except (ApiHTTPError, ApiFormatError) as exc:
            raise ApiAuthError(f"could not log in: {exc}") from None

    def _login(self) -> _Tokens:
        self.guard.check_login_allowed(self._username)
        old = self._tokens
        if old is not None and old.refresh:
            self._revoke(old)  # never hold two sets: the array only keeps ten per user
        self._tokens = None
        password = encode_password(self._password, self._encoding)
        body = {"user": self._username, "password": password, "offlineAccess": True}
        response = self._send("POST", AUTH_GET, body=body)
        if response.status_code in (401, 403):
            self.guard.login_rejected()
            raise ApiAuthError(f"login as user {self._username!r} at {self.base_url} rejected "
                               f"(HTTP {response.status_code}): {FIX_LOGIN}")
        self._http.check_status(response, "POST", AUTH_GET)
        answer = self._token_answer(response, AUTH_GET)
        refresh = answer.get("refreshToken")
        if not (isinstance(refresh, str) and refresh):
            log.info("array=%s: login gave no refresh token; will log in again at expiry",
                     self.guard.name)
            refresh = None
        self._tokens = self._new_tokens(response, answer, refresh)
        self.guard.login_accepted()
        self.stats.count_login(*self._tokens.times)
        log.debug("array=%s: logged in as user %r", self.guard.name, self._username)
        return self._tokens

    def _refresh(self, tokens: _Tokens) -> _Tokens | None:
        """A renewed set, or None when the array will not refresh (the caller logs in)."""
        response = self._send("POST", AUTH_REFRESH, body={"refreshToken": tokens.refresh})
        status = response.status_code
        if status in (401, 403):
            log.info("array=%s: refresh token rejected (HTTP %d); logging in again",
                     self.guard.name, status)
            self._tokens = None  # the set is dead: nothing to revoke
            return None
        if status == 400:
            # Not understood, so the set may still be live: _login revokes it first.
            log.warning("array=%s: refresh not understood (HTTP 400); logging in again",
                        self.guard.name)
            return None
        self._http.check_status(response, "POST", AUTH_REFRESH)
        answer = self._token_answer(response, AUTH_REFRESH)
        rotated = answer.get("refreshToken")
        refresh = rotated if isinstance(rotated, str) and rotated else tokens.refresh
        self._tokens = self._new_tokens(response, answer, refresh)
        self.stats.count_refresh(*self._tokens.times)
        return self._tokens

    def _revoke(self, tokens: _Tokens, deadline: float | None = None, *,
                last_request: bool = False) -> None:
        """Best effort: a failure is logged, never raised (we are dropping the set anyway).
        `last_request`: the revoke at close, sent even while Retry-After holds other calls."""
        try:
            response = self._send("POST", AUTH_REVOKE, token=tokens.access,
                                  body={"refreshToken": tokens.refresh}, deadline=deadline,
                                  last_request=last_request)
        except ApiUnreachable as exc:
            log.warning("array=%s: could not revoke the refresh token: %s", self.guard.name, exc)
            return
        if not response.ok:
            log.warning("array=%s: revoking the refresh token failed (HTTP %d)",
                        self.guard.name, response.status_code)

    def _token_answer(self, response: requests.Response, endpoint: str) -> dict[str, Any]:
        answer = self._http.json(response, "POST", endpoint)
        if not isinstance(answer, dict):
            raise ApiFormatError(f"POST {endpoint} at {self.base_url}: expected a JSON object")
        if not isinstance(answer.get("accessToken"), str) or not answer["accessToken"]:
            raise ApiFormatError(f"POST {endpoint} at {self.base_url}: no accessToken in answer")
        return answer

    def _new_tokens(self, response: requests.Response, answer: Mapping[str, Any],
                    refresh: str | None) -> _Tokens:
        """Convert expireTime (array clock) to our clock via the answer's Date header."""
        now = self._clock()
        array_now = _date_header(response)
        offset = array_now - now if array_now is not None else 0.0
        expire = _unix_time(answer.get("expireTime"))
        lifetime = expire - (now + offset) if expire is not None else 0.0
        if lifetime <= 0:
            log.warning("array=%s: unusable expireTime; assuming a %.0f s token lifetime",
                        self.guard.name, ASSUMED_LIFETIME_SECONDS)
            lifetime = ASSUMED_LIFETIME_SECONDS
        return _Tokens(answer["accessToken"], refresh, now + lifetime, lifetime)

    # --- HTTP -------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, token: str | None = None,
              params: Mapping[str, Any] | None = None,
              body: Mapping[str, Any] | None = None,
              deadline: float | None = None,
              last_request: bool = False) -> requests.Response:
        """One request, counted; transport failures become ApiUnreachable with our own text."""
        endpoint = path.split("?", 1)[0]
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = token  # the manual's scheme: no "Bearer"
        return self._http.send(method, path, endpoint, headers=headers, params=params,
                               body=body, deadline=deadline, last_request=last_request)


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
    return seconds / 1000 if seconds > 1e11 else seconds
