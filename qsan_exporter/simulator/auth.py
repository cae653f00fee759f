"""Token state of `/auth/get`, `/auth/refresh` and `/auth/revoke`, as the manual describes it.

The limit that matters to the exporter is "at most 10 refresh tokens per user, the oldest
rotated out": an exporter that logs in on every poll silently logs the administrator out. So the
store counts logins, refreshes and revokes and keeps the high-water mark of live token sets,
which is what the exporter's tests assert on. All state sits behind one lock because the HTTP
server answers on many threads.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from qsan_exporter.simulator.stats import Stats

MAX_REFRESH_TOKENS = 10
# The body keys `/auth/refresh` and `/auth/revoke` accept (readings.py `refresh-body-key`): the
# default array takes both spellings; a literal one only the examples' "refreshToken " and
# answers 400 to the tables' spelling, the exporter's first try.
LENIENT_REFRESH_KEYS = ("refreshToken", "refreshToken ")
LITERAL_REFRESH_KEYS = ("refreshToken ",)


def refresh_keys(literal: bool) -> tuple[str, ...]:
    return LITERAL_REFRESH_KEYS if literal else LENIENT_REFRESH_KEYS


def login_refused_status(literal: bool) -> int:
    """How a wrong user name or password is answered (readings.py `login-refused-status`):
    401 by default, 400 by a literal array (the manual names no status for it)."""
    return 400 if literal else 401


def new_token() -> str:
    """UUID-style and upper case, like the manual's examples."""
    return str(uuid.uuid4()).upper()


class TokenStore:
    """Access and refresh tokens of one array's single configured user."""

    def __init__(self, username: str, password: str, lifetime: float, password_encoding: str,
                 stats: Stats, lock: threading.Lock,
                 clock: Callable[[], float] = time.time) -> None:
        self._username = username
        self._passwords = _accepted(password, password_encoding)
        self._lifetime = lifetime
        self._stats = stats
        self._lock = lock
        self._clock = clock
        # refresh token -> access tokens issued from it; insertion order = age.
        self._sets: OrderedDict[str, set[str]] = OrderedDict()
        # access token -> (expiry, refresh token it came from or None).
        self._access: dict[str, tuple[float, str | None]] = {}

    def login(self, user: Any, password: Any, offline: bool) -> dict[str, Any] | None:
        """`/auth/get`: a new token set, or None (401) on wrong credentials."""
        with self._lock:
            if user != self._username or not isinstance(password, str) or (
                    password not in self._passwords):
                self._stats.failed_logins += 1
                return None
            self._stats.logins += 1
            now = self._clock()
            self._forget_expired(now)
            refresh = None
            if offline:
                refresh = new_token()
                self._sets[refresh] = set()
                while len(self._sets) > MAX_REFRESH_TOKENS:
                    self._drop(next(iter(self._sets)))
                    self._stats.evicted_token_sets += 1
                self._stats.max_live_token_sets = max(self._stats.max_live_token_sets,
                                                      len(self._sets))
            body = self._issue(refresh, now)
            if refresh is not None:
                body["refreshToken"] = refresh
            return body

    def refresh(self, refresh: Any) -> dict[str, Any] | None:
        """`/auth/refresh`: a new access token, or None (401) for an unknown refresh token."""
        with self._lock:
            if not isinstance(refresh, str) or refresh not in self._sets:
                return None
            self._stats.refreshes += 1
            now = self._clock()
            self._forget_expired(now)
            return self._issue(refresh, now)

    def revoke(self, refresh: Any) -> bool:
        """`/auth/revoke`: forget a refresh token and every access token issued from it."""
        with self._lock:
            if not isinstance(refresh, str) or refresh not in self._sets:
                return False
            self._stats.revokes += 1
            self._drop(refresh)
            return True

    def revoke_all(self) -> int:
        """Forget every token, as an administrator or a reboot would; returns how many access
        tokens died. Counted as `forced_revokes`, not as the client's `revokes`."""
        with self._lock:
            killed = len(self._access)
            self._sets.clear()
            self._access.clear()
            self._stats.forced_revokes += 1
            return killed

    def valid(self, access: str) -> bool:
        """True if `access` was issued, has not expired, and its set was not revoked."""
        with self._lock:
            entry = self._access.get(access)
            return entry is not None and self._clock() < entry[0]

    def live_token_sets(self) -> int:
        with self._lock:
            return len(self._sets)

    def held(self) -> set[str]:
        """Every access and refresh token still held, expired or not."""
        with self._lock:
            return set(self._access) | set(self._sets)

    # -- under the lock ----------------------------------------------------------------------
    def _issue(self, refresh: str | None, now: float) -> dict[str, Any]:
        access = new_token()
        expiry = now + self._lifetime
        self._access[access] = (expiry, refresh)
        if refresh is not None:
            self._sets[refresh].add(access)
        return {"accessToken": access, "expireTime": int(expiry)}

    def _drop(self, refresh: str) -> None:
        for access in self._sets.pop(refresh, ()):
            self._access.pop(access, None)

    def _forget_expired(self, now: float) -> None:
        """Keep memory flat under short lifetimes; only on login/refresh, which are rare."""
        expired = [token for token, (expiry, _) in self._access.items() if expiry <= now]
        for token in expired:
            _, refresh = self._access.pop(token)
            if refresh is not None and refresh in self._sets:
                self._sets[refresh].discard(token)


def _accepted(password: str, encoding: str) -> frozenset[str]:
    """The password strings `/auth/get` accepts (the manual's "Password encode" is missing)."""
    encoded = base64.b64encode(password.encode()).decode()
    return frozenset({"plain": {password}, "base64": {encoded},
                      "any": {password, encoded}}[encoding])

