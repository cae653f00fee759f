"""Every token set this exporter may still hold on each array: counted, bounded, kept on disk.

Why it exists:
- An array keeps at most ten refresh tokens per user and evicts the oldest, so every token set
  (a refresh token and the access tokens issued from it) left alive occupies one of the
  administrator's sessions. The promise: at most `MAX_LIVE_TOKEN_SETS` per array from this
  exporter whatever fails, and a replaced set is revoked.
- A set counts from the moment the login asking for it is sent until the array has said it is
  gone (a revoke answered 2xx, a refresh or revoke answered 401/403). A login whose answer never
  arrived (timed out, garbled, cut short, the process killed meanwhile) may have made a set that
  nobody can name, let alone revoke: it counts as "unknown" until a refresh token's lifetime is
  over (180 days, the manual's line 133).
- One ledger per process, one page per array name: a client that replaces another (a reload)
  is counted together with the one it replaces, and what a closed client could not revoke is
  adopted by the next client of that array, in this process or, through the state directory,
  in the next one. After a crash the next start therefore reuses the set that was in use and
  revokes the others, instead of logging in beside them.

On disk (`--state.directory`; optional) through token_store.py: a file that cannot be used is
ignored with a warning, never a crash; one that others could read is trusted for revocation
only (its sets are revoked, never reused). Tokens are never logged.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from qsan_exporter.api.token_store import (
    REFRESH_TOKEN_LIFETIME_SECONDS,
    Held,
    TokenSet,
    TokenStore,
    default_state_directory,
    why,
)

__all__ = ["MAX_LIVE_TOKEN_SETS", "REFRESH_TOKEN_LIFETIME_SECONDS", "Account", "Held",
           "TokenLedger", "TokenSet", "default_state_directory"]

log = logging.getLogger(__name__)

MAX_LIVE_TOKEN_SETS = 2  # the one in use and the one replacing it (or being revoked)
_ORPHANED = 0  # the owner of sets no open client holds


class TokenLedger:
    """The process's record of possibly-live token sets, per array name; thread-safe."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._pages: dict[str, dict[int, list[Held]]] = {}
        self._written: dict[str, bytes | None] = {}
        self._ids = itertools.count(_ORPHANED + 1)
        self._write_warned = False
        self.store = TokenStore.open(Path(directory)) if directory else None

    @property
    def directory(self) -> Path | None:
        """The state directory in use, or None (counted in memory only)."""
        return None if self.store is None else self.store.directory

    def account(self, array: str, url: str, user: str) -> Account:
        """One client's page: the sets of `array` it holds, and those others hold."""
        with self._lock:
            return Account(self, next(self._ids), array, url, user)

    def count(self, array: str) -> int:
        """How many sets of `array` may be live (every client's and the orphaned ones)."""
        with self._lock:
            return sum(len(sets) for sets in self._page(array).values())

    # --- for Account (under no lock) ------------------------------------------------------------

    def _now(self) -> float:
        return self._clock()

    def _adopt(self, account: Account) -> list[Held]:
        with self._lock:
            page = self._page(account.array)
            orphans = page.get(_ORPHANED, [])
            mine = [h for h in orphans if (h.url, h.user) == (account.url, account.user)]
            if len(mine) < len(orphans):
                log.warning("array=%s: %d token set(s) recorded for another URL or user are "
                            "forgotten, not revoked: revoke them on the array if it still "
                            "lists them", account.array, len(orphans) - len(mine))
            page[_ORPHANED] = []
            page.setdefault(account.id, []).extend(mine)
            self._save(account.array, page)
            return mine

    def _others(self, account: Account) -> int:
        with self._lock:
            page = self._page(account.array)
            return sum(len(sets) for owner, sets in page.items() if owner != account.id)

    def _record(self, account: Account, held: list[Held]) -> None:
        with self._lock:
            page = self._page(account.array)
            page[account.id] = held
            self._save(account.array, page)

    def _release(self, account: Account) -> None:
        with self._lock:
            page = self._page(account.array)
            page.setdefault(_ORPHANED, []).extend(
                replace(h, current=False) for h in page.pop(account.id, []))
            self._save(account.array, page)

    # --- under the lock -------------------------------------------------------------------------

    def _page(self, array: str) -> dict[int, list[Held]]:
        page = self._pages.get(array)
        if page is None:
            page = self._pages[array] = {_ORPHANED: self._load(array)}
        now = self._clock()
        page[_ORPHANED] = [h for h in page.get(_ORPHANED, []) if not h.expired(now)]
        return page

    def _load(self, array: str) -> list[Held]:
        if self.store is None:
            return []
        path = self.store.path(array)
        try:
            data, held, loose = self.store.load(array)
        except FileNotFoundError:
            self._written[array] = None
            return []
        except (OSError, ValueError) as exc:
            log.warning("array=%s: token state file %s ignored: %s", array, path, why(exc))
            return []
        if loose:
            log.warning("array=%s: token state file %s was readable by others: its token sets "
                        "are revoked, not reused", array, path)
            held = [replace(h, current=False) for h in held]
        self._written[array] = data
        if held:
            log.info("array=%s: %d token set(s) recorded by an earlier run", array, len(held))
        return held

    def _save(self, array: str, page: Mapping[int, list[Held]]) -> None:
        if self.store is None:
            return
        data = self.store.encode(array, [h for owner in sorted(page) for h in page[owner]])
        if self._written.get(array, b"") == data:
            return
        try:
            self.store.write(array, data)
            self._written[array] = data
        except OSError as exc:
            (log.debug if self._write_warned else log.warning)(
                "array=%s: could not record its token sets in %s (%s): a crash now may leave "
                "one behind on the array", array, self.store.path(array), why(exc))
            self._write_warned = True


class Account:
    """One client's page of the ledger (made by `TokenLedger.account`)."""

    def __init__(self, ledger: TokenLedger, account_id: int, array: str, url: str,
                 user: str) -> None:
        self._ledger = ledger
        self.id = account_id
        self.array, self.url, self.user = array, url, user

    def __repr__(self) -> str:
        return f"Account({self.array!r}, {self.url!r}, user={self.user!r})"

    def asked(self) -> Held:
        """A set of this array asked for now, not named yet (a login in flight)."""
        return Held(self.url, self.user, self._ledger._now())

    def adopt(self) -> list[Held]:
        """Sets of this array (this URL and user) that no open client holds, now this one's."""
        return self._ledger._adopt(self)

    def others(self) -> int:
        """Sets of this array held by other clients, or by none (not yet adopted)."""
        return self._ledger._others(self)

    def record(self, held: Iterable[Held]) -> None:
        """This client's possibly-live sets, all of them (recorded on disk when configured)."""
        self._ledger._record(self, list(held))

    def release(self) -> None:
        """The client is closed: what it still holds is left for the next one to adopt."""
        self._ledger._release(self)
