"""Client of the Unified REST API (`/auth/*` + `/rest/v1/*`): one session, one token set.

Why it looks the way it does:
- The array keeps at most 10 refresh tokens per user and rotates the oldest out, so a client
  that logs in on every poll silently logs the administrator out. This client logs in once,
  refreshes the access token before it expires, and revokes its refresh token on `close()`.
- Whatever fails, an array holds at most two token sets of this exporter (`token_ledger`): a
  replaced set is revoked before the login that replaces it; one that cannot be revoked yet
  (the array refuses, garbles or drops the revoke) is kept to be revoked at the next login, at
  the next refresh or at close; and while two sets may still be live (counting logins whose
  answer was lost, and the sets of a client this one replaces), a login asks for no refresh
  token at all (`offlineAccess: false`), which makes no set.
- A crash cannot leave a set behind when the ledger keeps a state directory: the next client of
  the array adopts what the last one held, reuses the set in use (no login, no new set: the
  array's session list does not grow by one per restart) and revokes the others.
- How each `/auth/*` answer is read, including the manual's two readings of the refresh body
  key and of a refused login, is auth_wire.py's. The password and tokens only ever travel in a
  request body or header; the text of a requests exception is never used.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from qsan_exporter.api.errors import (
    ApiAuthError,
    ApiFormatError,
    ApiHTTPError,
    ApiUnreachable,
)
from qsan_exporter.api.guard import RequestGuard
from qsan_exporter.api.stats import ApiStats
from qsan_exporter.api.token_ledger import MAX_LIVE_TOKEN_SETS, Held, TokenLedger, TokenSet
from qsan_exporter.api.transport import (
    MAX_RESPONSE_BYTES,
    Transport,
    check_password_encoding,
)
from qsan_exporter.api.unified.auth_wire import AuthWire, Outcome

log = logging.getLogger(__name__)

REVOKE_BUDGET_SECONDS = 3.0  # shutdown must not hang on a dead array
_GONE = (Outcome.DONE, Outcome.DEAD)


class UnifiedClient:
    """One array's API client. Keep it across polls: the token set lives as long as it does.

    `ledger` is the process's record of token sets (shared by every client, so a client that
    replaces another counts both; with a state directory it outlives the process); `name` the
    array's name in it. Without one the client keeps a private ledger in memory.
    """

    def __init__(self, base_url: str, username: str, password: str, *, verify: bool | str = True,
                 timeout: float = 10.0, password_encoding: str = "plain",
                 stats: ApiStats | None = None, clock: Callable[[], float] = time.time,
                 session: requests.Session | None = None, guard: RequestGuard | None = None,
                 max_response_bytes: int = MAX_RESPONSE_BYTES,
                 ledger: TokenLedger | None = None, name: str | None = None) -> None:
        check_password_encoding(password_encoding)
        self._http = Transport.for_array(
            base_url, verify=verify, timeout=timeout, stats=stats, guard=guard,
            session=session, clock=clock, max_bytes=max_response_bytes)
        self.base_url, self.stats, self.guard = (
            self._http.base_url, self._http.stats, self._http.guard)
        self._session = self._http.session
        self._username = username
        self._clock = clock
        self._wire = AuthWire(self._http, username, password, password_encoding, clock)
        ledger = ledger if ledger is not None else TokenLedger(clock=clock)
        self._book = ledger.account(name or self.base_url, self.base_url, username)
        self._lock = threading.RLock()  # token state, and auth calls so two logins never race
        self._tokens: TokenSet | None = None
        self._since = 0.0  # when the current set was obtained (its refresh token's age)
        self._spare: list[Held] = []  # replaced sets not yet revoked, logins whose answer was lost
        self._adopted = False
        self._budget_warned = False
        self._closed = False

    def __repr__(self) -> str:
        return f"UnifiedClient({self.base_url!r}, user={self._username!r})"

    @property
    def has_token(self) -> bool:
        with self._lock:
            return self._tokens is not None

    @property
    def refresh_key(self) -> str:
        """The refresh body key this array understands, as far as the client knows."""
        return self._wire.refresh_key

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

    @property
    def session(self) -> requests.Session:
        """The HTTP session: its cookie jar is this client's, its pools maybe shared."""
        return self._session

    def close(self) -> None:
        """Revoke every refresh token held (best effort, bounded) and close the session.

        Idempotent; after it, calls fail with ApiUnreachable instead of logging in again, so a
        poll still running at shutdown cannot leave a fresh token set behind. What could not be
        revoked stays in the ledger for the next client of the array (the next start).
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            tokens, self._tokens = self._tokens, None
            if tokens is not None and tokens.refresh:
                self._spare.insert(0, self._held(tokens))
            if self._spare:
                self._sweep(deadline=self._clock() + REVOKE_BUDGET_SECONDS, last_request=True)
            self._book.release()
            self._session.close()

    # --- token lifecycle (callers hold no lock; these take it) ----------------------------------

    def _current_access(self) -> str:
        """A usable access token: log in if there is none, refresh if it nears expiry."""
        with self._lock:
            self._check_open()
            self._adopt()
            tokens = self._tokens
            if tokens is None:
                return self._authenticate().access
            remaining = tokens.expires_at - self._clock()
            if remaining >= tokens.refresh_margin:
                return tokens.access
            try:
                renewed = self._refresh(tokens) if tokens.refresh else None
            except (ApiHTTPError, ApiFormatError) as exc:
                if remaining > 0:
                    # Early refresh is a courtesy: a 5xx must not fail a poll the token covers.
                    log.warning("array=%s: early token refresh failed, using the current "
                                "token: %s", self.guard.name, exc)
                    return tokens.access
                log.warning("array=%s: token refresh failed and the token has expired; "
                            "logging in again: %s", self.guard.name, exc)
                renewed = None
            return (renewed or self._authenticate()).access

    def _renew_after_401(self, stale: str) -> str:
        with self._lock:
            self._check_open()
            tokens = self._tokens
            if tokens is not None and tokens.access != stale:
                return tokens.access  # renewed meanwhile by another caller
            renewed = None
            if tokens is not None and tokens.refresh:
                try:
                    renewed = self._refresh(tokens)
                except (ApiHTTPError, ApiFormatError) as exc:
                    log.warning("array=%s: token refresh after a 401 failed; logging in again: %s",
                                self.guard.name, exc)
            return (renewed or self._authenticate()).access

    def _check_open(self) -> None:
        if self._closed:
            raise ApiUnreachable(f"client for {self.base_url} is closed")

    def _adopt(self) -> None:
        """Take over what earlier clients of this array left (a crash, a reload): reuse the set
        that was in use, and keep the rest to be revoked."""
        if self._adopted:
            return
        self._adopted = True
        inherited = self._book.adopt()
        reusable = [h for h in inherited if h.current and h.tokens is not None]
        if self._tokens is None and reusable:
            newest = max(reusable, key=lambda h: h.since)
            inherited.remove(newest)
            self._tokens, self._since = newest.tokens, newest.since
            log.info("array=%s: reusing the token set of an earlier run", self.guard.name)
        self._spare.extend(inherited)
        self._tidy()
        self._save()

    def _authenticate(self) -> TokenSet:
        """Log in; any failure to do so fails the whole poll (qsan_up 0), not one collector."""
        try:
            return self._login()
        except (ApiHTTPError, ApiFormatError) as exc:
            raise ApiAuthError(f"could not log in: {exc}") from None

    def _login(self) -> TokenSet:
        self.guard.check_login_allowed(self._username)
        self._retire()
        self._tidy()  # never log in beside a set we could still revoke
        offline = self._budget() > 0
        lost = self._book.asked() if offline else None  # a set nobody can name, until answered
        if lost is not None:
            self._spare.append(lost)
            self._save()  # recorded before the request: a crash now counts it too
        unnamed = True  # whether the array may have made a set we cannot name
        try:
            tokens = self._wire.login(offline)
        except ApiUnreachable as exc:
            unnamed = exc.may_have_acted  # else it never reached the array
            raise
        except (ApiAuthError, ApiHTTPError):
            unnamed = False  # refused: no set was made
            raise
        else:  # an unusable answer (ApiFormatError) leaves `lost` counted
            unnamed = False
            self._tokens, self._since = tokens, self._clock()
            return tokens
        finally:
            if lost is not None and not unnamed:
                self._spare.remove(lost)
            self._save()

    def _refresh(self, tokens: TokenSet) -> TokenSet | None:
        """A renewed set, or None when the array will not refresh (the caller logs in)."""
        outcome, renewed = self._wire.refresh(tokens)
        if outcome is Outcome.DEAD:
            self._tokens = None  # the set is dead: nothing to revoke
            self._save()
            return None
        if renewed is None:
            return None  # not understood: the set may be live, `_login` retires it
        if tokens.refresh and renewed.refresh != tokens.refresh:
            # Rotated: the old refresh token should be dead; revoke it to be sure.
            self._spare.append(self._held(tokens))
            self._since = self._clock()
        self._tokens = renewed
        self._tidy()  # a refresh is the quiet moment to revoke what is left over
        self._save()
        return renewed

    def _tidy(self) -> None:
        """Adopt what replaced clients left meanwhile, forget sets past a refresh token's
        lifetime, and revoke every spare set we can name."""
        now = self._clock()
        self._spare = [h for h in self._spare + self._book.adopt() if not h.expired(now)]
        if any(h.tokens is not None for h in self._spare):
            self._sweep()

    def _retire(self) -> None:
        """The current set is being replaced: keep it to be revoked."""
        old, self._tokens = self._tokens, None
        if old is not None and old.refresh:
            self._spare.append(self._held(old))

    def _sweep(self, deadline: float | None = None, *, last_request: bool = False) -> None:
        """Revoke every spare set that can be named; stop at the first unanswered revoke."""
        for held in [h for h in self._spare if h.tokens is not None]:
            assert held.tokens is not None
            outcome = self._wire.revoke(held.tokens, deadline=deadline,
                                        last_request=last_request)
            if outcome in _GONE:
                self._spare.remove(held)
            elif outcome is Outcome.UNREACHABLE:
                break
        self._save()

    def _budget(self) -> int:
        """How many more token sets this client may ask for (after `_tidy`)."""
        left = MAX_LIVE_TOKEN_SETS - len(self._spare) - self._book.others()
        if left <= 0 and not self._budget_warned:
            log.warning("array=%s may still hold %d token set(s) of this exporter that could "
                        "not be revoked (or logins whose answer was lost): logging in without "
                        "a refresh token until they are gone", self.guard.name,
                        MAX_LIVE_TOKEN_SETS - left)
        self._budget_warned = left <= 0
        return left

    def _held(self, tokens: TokenSet, *, current: bool = False) -> Held:
        """`tokens` (the current set, or the one it replaces) as the ledger keeps it."""
        return Held(self.base_url, self._username, self._since, tokens, current)

    def _save(self) -> None:
        """Record every set this client may hold (the ledger writes only what changed)."""
        held = list(self._spare)
        if self._tokens is not None and self._tokens.refresh:
            held.insert(0, self._held(self._tokens, current=True))
        self._book.record(held)

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

