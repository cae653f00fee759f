"""One array's HTTP, shared by the Unified and the legacy client.

Everything that protects the array and the exporter happens here, once: the guard's request
slots and poll deadline, Retry-After, the response size cap, counting each request under its
endpoint template, and turning every transport failure into our own error text (a requests
exception quotes the URL, which for a legacy login holds the password).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.cookies import extract_cookies_to_jar
from requests.hooks import dispatch_hook
from requests.structures import CaseInsensitiveDict
from requests.utils import get_auth_from_url, get_netrc_auth

from qsan_exporter.api import answer
from qsan_exporter.api.adapter import ArrayAdapter
from qsan_exporter.api.diagnose import status_hint, unreachable_reason
from qsan_exporter.api.errors import ApiFormatError, ApiHTTPError, ApiUnreachable
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.wire import NotConnected
from qsan_exporter.config_settings import DEFAULT_MAX_RESPONSE_MIB

log = logging.getLogger(__name__)

# Per array: max_response_mib; why this default, see api/answer.py.
MAX_RESPONSE_BYTES = int(DEFAULT_MAX_RESPONSE_MIB * 1024 * 1024)
_URL_CACHE_SIZE = 64  # URLs and header sets kept: a poll asks ~12 paths with a few header sets
PASSWORD_ENCODINGS = ("plain", "base64")
_NO_HOOKS: dict[str, list[Any]] = {"response": []}  # requests' default_hooks(), as sessions start


def check_password_encoding(encoding: str) -> None:
    if encoding not in PASSWORD_ENCODINGS:
        raise ValueError(f"password_encoding must be one of {', '.join(PASSWORD_ENCODINGS)}")


def encode_password(password: str, encoding: str) -> str:
    """The password as the array expects it: some firmware wants it base64-encoded."""
    if encoding == "base64":
        return base64.b64encode(password.encode("utf-8")).decode("ascii")
    return password


def without_credentials(url: str) -> str:
    """What messages and logs show: credentials someone put in the URL are dropped."""
    parts = urlsplit(url.rstrip("/"))
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class ArraySession(requests.Session):
    """A session `array_session` made: the transport may send through its adapter directly
    (its `request` is requests' own, never overridden)."""


def array_session(session: requests.Session | None) -> requests.Session:
    """The given session, or a new one that skips proxy/netrc environment lookups (they cost
    ~5 % of a poll's CPU in the bench profile, and an array is not reached through a proxy)."""
    if session is not None:
        return session
    session = ArraySession()
    session.trust_env = False
    # Its adapter sends over wire.py's keep-alive connections, each handed to the poll
    # deadline's watch (api/adapter.py, api/watchdog.py).
    for prefix in ("http://", "https://"):
        session.mount(prefix, ArrayAdapter())
    return session


def _failure(exc: requests.RequestException, timeout: float) -> str:
    """Our own words for a failed request (the exception's text may quote the URL)."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake or certificate verification failed"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


def may_have_acted(exc: requests.RequestException) -> bool:
    """Whether the array may have received, and carried out, the failed request: not when no
    connection was made (refused, DNS, connect timeout, TLS handshake), else yes (the answer
    timed out or the connection broke after the request went out)."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError | NotConnected):
        return False
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return not isinstance(reason, urllib3.exceptions.NewConnectionError | ConnectionRefusedError)


@dataclass
class Transport:
    root: str  # the configured URL, credentials included if any: requests are sent here
    base_url: str  # the same without credentials: what messages name
    session: requests.Session
    verify: bool | str
    timeout: float
    stats: ApiStats
    guard: RequestGuard
    max_bytes: int = MAX_RESPONSE_BYTES
    # Our own session (array_session made it, also when `make_source` hands one to both of
    # an `api: auto` array's clients): sent through its adapter directly. A caller's session
    # goes through its `request`, which it may have overridden.
    direct: bool = False
    # What `Session.request` would work out again on every call, worked out once (see _prepare).
    _headers: CaseInsensitiveDict[Any] = field(init=False, repr=False)
    _settings: dict[str, Any] = field(init=False, repr=False)
    _auth: Any = field(init=False, repr=False)
    _urls: dict[Any, str] = field(init=False, repr=False)
    _ready_headers: dict[Any, CaseInsensitiveDict[Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """The session's settings for this array, read once: its default headers, its proxies,
        CA bundle and client certificate, merged with the environment's when the session
        trusts it (a caller's session may: ours does not), and its or netrc's credentials."""
        session = self.session
        self._headers = CaseInsensitiveDict(session.headers)
        self._settings = dict(session.merge_environment_settings(
            self.root + "/", {}, True, self.verify, None))
        auth = get_netrc_auth(self.root) if session.trust_env and not session.auth else None
        in_url = get_auth_from_url(self.root)
        self._auth = auth or session.auth or (in_url if any(in_url) else None)
        self._urls = {}
        self._ready_headers = {}


    @property
    def settings(self) -> dict[str, Any]:
        """What each request is sent with (proxies, CA bundle, client certificate), worked out
        once for the array."""
        return dict(self._settings)

    @property
    def cached_header_sets(self) -> int:
        """How many prepared header sets are kept (one per distinct set of request headers)."""
        return len(self._ready_headers)

    @property
    def cached_urls(self) -> int:
        """How many request URLs are kept built (at most one per path and parameters)."""
        return len(self._urls)
    def send(self, method: str, path: str, endpoint: str, *, headers: Mapping[str, str],
             params: Mapping[str, Any] | None = None, body: Mapping[str, Any] | None = None,
             deadline: float | None = None, last_request: bool = False) -> requests.Response:
        """One request, counted under `endpoint` and recorded for the debug view; redirects
        are never followed."""
        where = f"{method} {endpoint} at {self.base_url}"
        timeout = self.timeout
        started = time.perf_counter()
        try:
            with self.guard.slot(where, deadline, last_request=last_request):
                timeout = self.guard.timeout(self.timeout, deadline)
                response = self._exchange(method, path, where, deadline, timeout, dict(headers),
                                          params=params, json=body)
        except (ApiUnreachable, ApiFormatError) as exc:
            self._failed(method, endpoint, started, str(exc).removeprefix(where + ": "))
            raise
        except (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError) as exc:
            # The array answered but the body broke off: a bad answer for this endpoint only.
            reason = f"answer cut short ({type(exc).__name__})"
            self._failed(method, endpoint, started, reason)
            raise ApiFormatError(f"{where}: {reason}") from None
        except requests.RequestException as exc:
            reason = unreachable_reason(exc, self.base_url, timeout, self.verify)
            acted = may_have_acted(exc)
        else:
            self.stats.count_request(endpoint, str(response.status_code))
            self.stats.record(method, endpoint, str(response.status_code),
                              len(response.content), time.perf_counter() - started)
            log.debug("array=%s %s -> HTTP %d", self.guard.name, where, response.status_code)
            if response.status_code in (429, 503):
                wait = self.guard.retry_after(response.headers.get("Retry-After"))
                if wait is not None:
                    log.warning("array=%s %s: HTTP %d, Retry-After %.0f s honoured",
                                self.guard.name, where, response.status_code, wait)
            return response
        self._failed(method, endpoint, started, reason)
        log.debug("array=%s %s -> %s", self.guard.name, where, reason)
        raise ApiUnreachable(f"{where}: {reason}", may_have_acted=acted) from None

    def _failed(self, method: str, endpoint: str, started: float, reason: str) -> None:
        self.stats.count_request(endpoint, "error")
        self.stats.record(method, endpoint, f"error: {reason}", 0,
                          time.perf_counter() - started)

    def _exchange(self, method: str, path: str, where: str, deadline: float | None,
                  timeout: float, headers: dict[str, str], **data: Any) -> requests.Response:
        """Send and read the whole answer within `timeout` in all: the watchdog cuts the
        connection then, however the array trickles its headers or body."""
        with self.guard.watchdog.watching(timeout) as watch:
            try:
                if self.direct:
                    response = self._request(self._prepare(method, path, headers, **data),
                                             timeout)
                else:
                    response = self.session.request(
                        method, self.root + path, headers=headers, timeout=timeout,
                        verify=self.verify, allow_redirects=False, stream=True, **data)
                self._read_body(response, where, deadline)
            except requests.RequestException:
                if not watch.fired:
                    raise
            if watch.fired:  # the read may have ended "normally" at the cut
                left = self.guard.remaining(deadline)
                why = ": poll deadline exceeded" if left is not None and left <= 0.05 else ""
                raise ApiUnreachable(f"{where}: no complete answer within {timeout:g} s{why}",
                                     may_have_acted=True)
        return response

    def _prepare(self, method: str, path: str, headers: dict[str, str], *,
                  params: Mapping[str, Any] | None, json: Mapping[str, Any] | None,
                  ) -> requests.PreparedRequest:
        """The request `Session.request` would prepare (no redirects followed, streamed), in
        its order, without merging what is constant per array again on every call."""
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.url = self._url(path, params)
        prepared.headers = self._prepared_headers(headers)
        if self.session.cookies:  # an empty jar adds no Cookie header
            prepared.prepare_cookies(self.session.cookies.copy())
        prepared.prepare_body(None, None, json)
        if self._auth:
            prepared.prepare_auth(self._auth)
        if self.session.hooks != _NO_HOOKS:  # requests' empty default is what it already has
            prepared.prepare_hooks(self.session.hooks)
        return prepared

    def _prepared_headers(self, headers: dict[str, str]) -> CaseInsensitiveDict[Any]:
        """`prepare_headers` of the session's headers and `headers`, kept: every request of a
        poll sends the same few (the token changes only now and then)."""
        key = tuple(headers.items())
        ready = self._ready_headers.get(key)
        if ready is None:
            merged = self._headers.copy()
            merged.update(headers)
            probe = requests.PreparedRequest()
            probe.prepare_headers({k: v for k, v in merged.items() if v is not None})
            ready = probe.headers
            if len(self._ready_headers) >= _URL_CACHE_SIZE:
                self._ready_headers.clear()
            self._ready_headers[key] = ready
        return ready.copy()  # the body, cookies and auth add to it

    def _url(self, path: str, params: Mapping[str, Any] | None) -> str:
        """requests' own URL for `path` and `params`, kept: the same few come every poll."""
        merged = dict(cast(Mapping[str, Any], self.session.params))
        merged.update(params or {})
        merged = {k: v for k, v in merged.items() if v is not None}  # as requests merges
        try:
            key: Any = (path, tuple(merged.items()))
            return self._urls[key]
        except TypeError:  # an unhashable parameter value: prepared every time
            key = None
        except KeyError:
            pass
        prepared = requests.PreparedRequest()
        prepared.prepare_url(self.root + path, merged)
        if key is not None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            self._urls[key] = cast(str, prepared.url)
        return cast(str, prepared.url)

    def _request(self, prepared: requests.PreparedRequest, timeout: float) -> requests.Response:
        """Send as `Session.send` does for a request that follows no redirects: through the
        session's adapter, its hooks, and the session's cookie jar fed from the answer."""
        adapter = self.session.get_adapter(cast(str, prepared.url))
        response = adapter.send(prepared, timeout=timeout, **self._settings)
        response = dispatch_hook("response", prepared.hooks, response)
        if "Set-Cookie" in response.headers or "Set-Cookie2" in response.headers:
            extract_cookies_to_jar(self.session.cookies, prepared, response.raw)
        return response

    def _read_body(self, response: requests.Response, where: str,
                   deadline: float | None) -> None:
        """Read the body within the size cap and the poll deadline (a trickling array is cut)."""
        body = bytearray()  # grown in place: never the chunks and their joined copy at once
        try:
            announced = response.headers.get("Content-Length", "")
            if announced.isdigit() and int(announced) > self.max_bytes:
                raise self._too_big(where)  # refused before a byte of it is read
            for chunk in response.iter_content(65536):
                if len(body) + len(chunk) > self.max_bytes:
                    raise self._too_big(where)
                left = self.guard.remaining(deadline)
                if left is not None and left <= 0:
                    raise ApiUnreachable(f"{where}: poll deadline exceeded while reading",
                                         may_have_acted=True)
                body += chunk
        finally:
            response.close()
        # What .json(), .text and answer.parse read, as it is: they take any bytes-like body,
        # and a bytes copy would double the peak memory of the largest answers.
        response._content = cast(bytes, body)

    def _too_big(self, where: str) -> ApiFormatError:
        # Made only when raised: not an exception and its message per answer read.
        return ApiFormatError(f"{where}: answer larger than {self.max_bytes / 1048576:g} MiB, "
                              "not read (raise max_response_mib if this array needs it)")

    def check_status(self, response: requests.Response, method: str, endpoint: str) -> None:
        status = response.status_code
        if not 200 <= status < 300:
            # Redirects are not followed: a re-sent login must not go to another host.
            hint = status_hint(status, endpoint)
            raise ApiHTTPError(f"HTTP {status} from {method} {endpoint} at {self.base_url}{hint}",
                               status=status, endpoint=endpoint)

    @classmethod
    def for_array(cls, base_url: str, *, verify: bool | str, timeout: float,
                  stats: ApiStats | None, guard: RequestGuard | None,
                  session: requests.Session | None, clock: Callable[[], float],
                  max_bytes: int) -> Transport:
        """One array's transport; what the caller does not share is made here."""
        shown = without_credentials(base_url)
        return cls(base_url.rstrip("/"), shown, array_session(session), verify, timeout,
                   stats if stats is not None else ApiStats(),
                   guard if guard is not None else RequestGuard(shown, clock=clock),
                   max_bytes, direct=type(session) is ArraySession or session is None)

    def document(self, response: requests.Response, method: str, endpoint: str) -> Any:
        """A 2xx answer's JSON object or list; anything else is an API error."""
        self.check_status(response, method, endpoint)
        body = self.json(response, method, endpoint)
        if not isinstance(body, dict | list):
            raise ApiFormatError(f"{method} {endpoint} at {self.base_url}: expected a JSON "
                                 f"object or list, got {type(body).__name__}")
        return body

    def json(self, response: requests.Response, method: str, endpoint: str) -> Any:
        """The answer's JSON, refused when its shape would cost too much to parse."""
        return answer.parse(response.content, f"{method} {endpoint} at {self.base_url}",
                            response.status_code)
