"""Client of the older XCubeSAN SANOS 4.0 REST API (`/rest/login/...`, `/rest/dashboard/*`, ...).

What the manual tells (the rest is inferred; see docs/legacy-api.md):
- login is `POST /rest/login/account/<user>/password/<password>`: the password travels in the
  URL path. Both parts are percent-encoded with no safe characters, so '/', '%', '#', '?' and
  non-ASCII cannot change the path.
- `GET /rest/` lists the APIs the array offers; every other call is a GET; the only POSTs besides
  login change the array (snapshots, LUN maps), so this client refuses any POST but login.

What the manual does not tell (its examples were screenshots) and how this client copes:
- what login returns: cookies are kept by the `requests.Session`; if the JSON answer also carries
  a session token under a common name (`SESSION_FIELDS`), it is sent back as `Authorization`.
- how long a session lives: it is reused until the array shows it is gone — HTTP 401/403, a
  redirect (to the login page), or an HTML login page instead of JSON — then the client logs in
  again once and retries once. There is no logout in the manual, so none is sent; one session
  per array is kept for the client's lifetime.

A password in a URL leaks where URLs go: urllib3 logs each request line at DEBUG, requests'
exception texts quote URLs, and a per-endpoint counter would carry it as a label. So: the
urllib3 loggers get a filter rewriting the login path to its template (`redaction`); every
message here is built from the path template, never from a URL or a requests exception (the
chain is cut with `from None`); and requests are counted under the template.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from qsan_exporter.api.diagnose import FIX_LOGIN, FIX_NOT_QSAN
from qsan_exporter.api.errors import ApiAuthError, ApiFormatError, ApiHTTPError, ApiUnreachable
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.legacy.redaction import LOGIN_TEMPLATE, install_log_redaction
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.transport import (
    MAX_RESPONSE_BYTES,
    Transport,
    check_password_encoding,
    encode_password,
)

log = logging.getLogger(__name__)

HELP_PATH = "/rest/"
# Names under which a login answer may carry a session token (a guess: the answer is unknown).
SESSION_FIELDS = ("token", "sessionId", "session_id", "sessionID", "sid", "accessToken", "session")
# Words in a JSON login answer that mean "refused" although the status was 2xx.
_FAILURE_WORDS = frozenset({"fail", "failed", "failure", "error", "false", "denied", "invalid"})
_RESULT_FIELDS = ("result", "status", "success", "login")
DISCOVERY_TTL_SECONDS = 6 * 3600.0
@dataclass(frozen=True)
class ProbeAnswer:
    """What an unauthenticated GET met: its status and whether the body was JSON."""

    status: int
    json: bool


class LegacyClient:
    """One SANOS 4.0 array's client. Keep it across polls: its session lives as long as it does."""

    def __init__(self, base_url: str, username: str, password: str, *, verify: bool | str = True,
                 timeout: float = 10.0, password_encoding: str = "plain",
                 stats: ApiStats | None = None, clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None, guard: RequestGuard | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES) -> None:
        check_password_encoding(password_encoding)
        install_log_redaction()
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
        self._lock = threading.RLock()
        self._logged_in = False
        self._token: str | None = None
        self._generation = 0  # increases with every login; a retry after 401 compares it
        self._offered: frozenset[str] | None = None
        self._discovered_at: float | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"LegacyClient({self.base_url!r}, user={self._username!r})"

    @property
    def has_session(self) -> bool:
        with self._lock:
            return self._logged_in

    # --- public calls ---------------------------------------------------------------------------

    def get(self, path: str, endpoint: str | None = None) -> Any:
        """GET a legacy path and return its JSON; `endpoint` is the template to count it under.

        A session the array forgot (401/403, redirect, login page) is renewed by one login and
        the request retried once; still refused is an authentication failure, not a loop.
        """
        endpoint = endpoint or path
        generation = self._ensure_session()
        response = self._send("GET", path, endpoint)
        if _session_gone(response):
            log.info("array=%s: session expired (%s); logging in again", self.guard.name,
                     _why_gone(response))
            self._renew(generation)
            response = self._send("GET", path, endpoint)
            if _session_gone(response):
                raise ApiAuthError(f"GET {endpoint} at {self.base_url}: still refused "
                                   f"({_why_gone(response)}) after logging in again as user "
                                   f"{self._username!r}")
        return self._http.document(response, "GET", endpoint)

    def offered(self) -> frozenset[str] | None:
        """The API paths `GET /rest/` lists (e.g. "/rest/storage/diskinfo"), or None if unknown.

        The help answer's shape is unknown, so every `/rest/...` path and every bare word in it
        is collected; callers check their endpoint's last path segment against it. Read once
        per six hours (a firmware upgrade may add APIs) and after `forget_discovery()`.
        """
        with self._lock:
            now = self._clock()
            if (self._discovered_at is not None
                    and now - self._discovered_at < DISCOVERY_TTL_SECONDS):
                return self._offered
        try:
            body = self.get(HELP_PATH)
        except (ApiHTTPError, ApiFormatError) as exc:
            log.info("array=%s: API list (GET /rest/) not readable, trying every endpoint: %s",
                     self.guard.name, exc)
            words: frozenset[str] | None = None
        else:
            words = _words(body) or None
            if words is None:
                log.info("array=%s: GET /rest/ lists no API path; trying every endpoint",
                         self.guard.name)
            else:
                log.debug("array=%s: GET /rest/ lists %d words", self.guard.name, len(words))
        with self._lock:
            self._offered, self._discovered_at = words, self._clock()
        return words

    def help_words(self) -> frozenset[str] | None:
        """Words of an unauthenticated `GET /rest/` (flavour detection); None unless 2xx JSON."""
        response = self._send("GET", HELP_PATH, HELP_PATH, anonymous=True)
        if not 200 <= response.status_code < 300:
            return None
        try:
            return _words(self._http.json(response, "GET", HELP_PATH))
        except ApiFormatError:
            return None

    def forget_discovery(self) -> None:
        with self._lock:
            self._discovered_at = None

    def probe(self, path: str) -> ProbeAnswer:
        """One GET without any session (flavour detection): counted, guarded, never retried."""
        response = self._send("GET", path, path, anonymous=True)
        try:
            self._http.json(response, "GET", path)
            is_json = True
        except ApiFormatError:
            is_json = False
        return ProbeAnswer(response.status_code, is_json)

    @property
    def session(self) -> requests.Session:
        """The HTTP session: its cookie jar is this client's, its pools maybe shared."""
        return self._session

    def close(self) -> None:
        """Close the session. The manual has no logout; the array's session simply times out."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._logged_in, self._token = False, None
            self._session.close()

    # --- session lifecycle ------------------------------------------------------------------------

    def _ensure_session(self) -> int:
        with self._lock:
            if self._closed:
                raise ApiUnreachable(f"client for {self.base_url} is closed")
            if not self._logged_in:
                self._login()
            return self._generation

    def _renew(self, stale_generation: int) -> None:
        with self._lock:
            if self._closed:
                raise ApiUnreachable(f"client for {self.base_url} is closed")
            if self._generation != stale_generation and self._logged_in:
                return  # renewed meanwhile by another caller
            self._logged_in, self._token = False, None
            self._login()

    def _login(self) -> None:
        """Log in (lock held); any failure fails the whole poll (ApiAuthError), as Unified."""
        self.guard.check_login_allowed(self._username)
        self._session.cookies.clear()  # a stale session cookie must not ride along
        password = encode_password(self._password, self._encoding)
        path = (f"/rest/login/account/{quote(self._username, safe='')}"
                f"/password/{quote(password, safe='')}")
        response = self._send("POST", path, LOGIN_TEMPLATE, anonymous=True)
        status = response.status_code
        answer: Any = None
        with contextlib.suppress(ApiFormatError):
            answer = self._http.json(response, "POST", LOGIN_TEMPLATE)
        if status in (401, 403) or (200 <= status < 300 and _refused(answer)):
            self.guard.login_rejected()
            raise ApiAuthError(f"login as user {self._username!r} at {self.base_url} rejected "
                               f"(HTTP {status}): {FIX_LOGIN}")
        if not 200 <= status < 300:
            hint = f" (not found: {FIX_NOT_QSAN})" if status in (404, 405) else ""
            raise ApiAuthError(f"could not log in: HTTP {status} from POST {LOGIN_TEMPLATE} at "
                               f"{self.base_url}{hint}")
        self._token = _session_token(answer)
        if self._token is None and not self._session.cookies:
            log.info("array=%s: login returned neither a cookie nor a session token; relying on "
                     "the connection", self.guard.name)
        self._logged_in = True
        self._generation += 1
        self.guard.login_accepted()
        self.stats.count_login()
        log.debug("array=%s: logged in as user %r", self.guard.name, self._username)

    # --- HTTP -------------------------------------------------------------------------------------

    def _send(self, method: str, path: str, endpoint: str, *,
              anonymous: bool = False) -> requests.Response:
        """One request, counted under `endpoint`; failures become errors with our own text."""
        if method != "GET" and endpoint != LOGIN_TEMPLATE:
            raise ValueError("the legacy client is read-only: no POST other than login")
        headers = {"Accept": "application/json"}
        if self._token is not None and not anonymous:
            headers["Authorization"] = self._token
        return self._http.send(method, path, endpoint, headers=headers)


def _session_gone(response: requests.Response) -> bool:
    """The array no longer knows our session: 401/403, a redirect, or its login page."""
    status = response.status_code
    if status in (401, 403) or 300 <= status < 400:
        return True
    if 200 <= status < 300 and "html" in response.headers.get("Content-Type", "").lower():
        return b"login" in response.content[:65536].lower()
    return False


def _why_gone(response: requests.Response) -> str:
    status = response.status_code
    if 300 <= status < 400:
        return f"HTTP {status} redirect"
    if status in (401, 403):
        return f"HTTP {status}"
    return "login page instead of JSON"


def _refused(answer: Any) -> bool:
    """A 2xx login answer that says it failed ({"result": "fail"}, {"success": false}, ...)."""
    if not isinstance(answer, dict):
        return False
    for key in _RESULT_FIELDS:
        if key in answer:
            value = answer[key]
            if value is False:
                return True
            if isinstance(value, str) and value.strip().lower() in _FAILURE_WORDS:
                return True
    return False


def _session_token(answer: Any) -> str | None:
    if not isinstance(answer, dict):
        return None
    for container in (answer, answer.get("data")):
        if not isinstance(container, dict):
            continue
        for key in SESSION_FIELDS:
            value = container.get(key)
            if isinstance(value, str) and value:
                return value
    return None


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _words(body: Any) -> frozenset[str]:
    """Every path segment and word of a help answer, lowercased (its shape is unknown)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(key)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.update(word.lower() for word in _WORD.findall(node))

    walk(body)
    return frozenset(found)
