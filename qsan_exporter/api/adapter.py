"""requests' adapter for the exporter's own array sessions, minus its per-request constant work.

A poll sends ~11 requests to one array over one keep-alive connection, and `HTTPAdapter.send`
works out again for each what cannot have changed since the last: whether a proxy applies (the
sessions `array_session` makes have none), which connection pool serves the host (two more URL
parses, the TLS settings and a pool key), and a cookie-jar pass over answers that set no cookie.
That was ~15 % of the adapter's CPU in the bench profile.

`ArrayAdapter` overrides only the methods requests documents for subclasses, never `send`
itself (the `responses` test library patches `HTTPAdapter.send`), and leaves every case it does
not shorten to requests' own code: a proxy setting, an answer that sets a cookie.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from requests.models import Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3 import BaseHTTPResponse, HTTPHeaderDict
from urllib3.connectionpool import port_by_scheme

from qsan_exporter.api.tls import shared_context
from qsan_exporter.api.watchdog import WatchedAdapter

if TYPE_CHECKING:  # urllib3 and requests' stubs define these for type checkers only
    from requests import PreparedRequest
    from urllib3.connectionpool import ConnectionPool
    from urllib3.poolmanager import PoolKey

# Pools remembered per adapter: an array's session reaches one host (a few if its URL is
# written more than one way); the bound only stops a caller's odd URLs from piling up.
MAX_KEPT_POOLS = 16


def origin(url: str) -> str:
    """`url` up to the path: the same text always names the same scheme, host and port (the
    whole URL when it has no path, which only makes the text longer, never ambiguous)."""
    start = url.find("://")
    end = url.find("/", start + 3) if start >= 0 else -1
    return url if end < 0 else url[:end]


class ArrayAdapter(WatchedAdapter):
    """The adapter `array_session` mounts: `WatchedAdapter` (deadline watch, shared TLS
    contexts) that remembers its pool per host and builds answers without constant work."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Remembered pools never outlive the manager that made them (also after unpickling).
        self._kept: dict[tuple[Any, ...], tuple[PoolKey, ConnectionPool]] = {}

    def close(self) -> None:
        super().close()
        self._kept.clear()  # the manager forgot its pools: so do we

    @property
    def kept_pools(self) -> int:
        """How many pools are remembered (never more than MAX_KEPT_POOLS)."""
        return len(self._kept)

    def get_connection_with_tls_context(
            self, request: PreparedRequest, verify: bool | str | None,
            proxies: Mapping[str, str] | None = None,
            cert: str | tuple[str, str] | None = None) -> ConnectionPool:
        # Saves a proxy lookup, two URL parses, the pool key and its lookup on every request.
        if proxies:  # a proxy may apply: requests' own choice
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        url = cast(str, request.url)
        # The TLS context is part of the pool key: a replaced CA bundle gets a new pool.
        https = url[:6].lower() == "https:" and not cert
        context = shared_context(cast(bool | str, verify)) if https else None
        key = (origin(url), verify, cert, context)
        kept = self._kept.get(key)
        # Only while the manager still holds the pool under its key (its LRU may have dropped
        # it): the lookup also keeps the manager's LRU order what requests' own path makes it.
        if kept is not None and self.poolmanager.pools.get(kept[0]) is kept[1]:
            return kept[1]
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        pool_key = self._pool_key(request, verify, cert)
        if self.poolmanager.pools.get(pool_key) is pool:
            if len(self._kept) >= MAX_KEPT_POOLS:
                self._kept.clear()
            self._kept[key] = (pool_key, pool)
        return pool

    def _pool_key(self, request: PreparedRequest, verify: bool | str | None,
                  cert: str | tuple[str, str] | None) -> PoolKey:
        """The key the pool manager filed the request's pool under (its `connection_from_host`
        merging the adapter's pool arguments into its own)."""
        host, pool_kwargs = self.build_connection_pool_key_attributes(
            request, cast(bool | str, verify), cert)
        manager = self.poolmanager
        context = dict(manager.connection_pool_kw)
        for name, value in dict(pool_kwargs).items():
            if value is None:
                context.pop(name, None)
            else:
                context[name] = value
        scheme = host["scheme"] or "http"
        port = host["port"]
        context.update(scheme=scheme, host=host["host"],
                       port=port_by_scheme.get(scheme.lower(), 80) if port is None else port)
        return manager.key_fn_by_scheme[scheme.lower()](context)

    def request_url(self, request: PreparedRequest, proxies: Mapping[str, str] | None) -> str:
        # With no proxies nothing can apply: requests' answer without its two URL parses.
        if proxies:
            return super().request_url(request, proxies)
        return request.path_url

    def build_response(self, req: PreparedRequest, resp: BaseHTTPResponse) -> Response:
        # requests' own Response, without its cookie-jar pass (a mock request and response
        # around the answer) when the answer sets no cookie (urllib3's headers: any case).
        headers = getattr(resp, "headers", None)
        if (not isinstance(headers, HTTPHeaderDict) or "Set-Cookie" in headers
                or "Set-Cookie2" in headers):
            return super().build_response(req, resp)
        response = Response()
        response.status_code = getattr(resp, "status", None)  # type: ignore[assignment]
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason  # type: ignore[assignment]  # as requests sets it
        url = req.url
        response.url = url.decode("utf-8") if isinstance(url, bytes) else cast(str, url)
        response.request = req
        response.connection = self
        return response
