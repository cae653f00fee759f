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

On disk (`--state.directory`; optional): one file per array, `tokens-<hash of its name>.json`,
mode 0600, in a directory this process owns with mode 0700, replaced atomically (a temporary
file in the same directory, fsync, rename). A file that is not a regular file of ours, is too
large, or is not what we write is ignored with a warning; one that others could read is trusted
for revocation only (its sets are revoked, never reused). Tokens are never logged: `TokenSet`
and `Held` print no token.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_LIVE_TOKEN_SETS = 2  # the one in use and the one replacing it (or being revoked)
REFRESH_TOKEN_LIFETIME_SECONDS = 180 * 86400.0  # the manual's line 133
MAX_REFRESH_MARGIN_SECONDS = 300.0
MAX_FILE_BYTES = 64 * 1024
FILE_VERSION = 1
_ORPHANED = 0  # the owner of sets no open client holds


@dataclass(frozen=True, repr=False)
class TokenSet:
    """One token set; `expires_at` (of the access token) is on OUR clock."""

    access: str
    refresh: str | None
    expires_at: float
    lifetime: float

    @property
    def refresh_margin(self) -> float:
        return min(MAX_REFRESH_MARGIN_SECONDS, self.lifetime / 2)

    def __repr__(self) -> str:
        refresh = "yes" if self.refresh else "no"
        return f"TokenSet(refresh={refresh}, expires_at={self.expires_at:.0f})"


@dataclass(frozen=True, repr=False)
class Held:
    """A token set that may be live on the array; `tokens` None: a login whose answer was never
    seen. `current`: the set in use when recorded (reused after a restart; the others are only
    ever revoked)."""

    url: str
    user: str
    since: float
    tokens: TokenSet | None = None
    current: bool = False

    def __repr__(self) -> str:
        kind = "unknown" if self.tokens is None else "current" if self.current else "retired"
        return f"Held({kind}, since={self.since:.0f})"

    def expired(self, now: float) -> bool:
        return now - self.since >= REFRESH_TOKEN_LIFETIME_SECONDS


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
        self.directory = prepare_directory(Path(directory)) if directory else None

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

    def _path(self, array: str) -> Path:
        assert self.directory is not None
        digest = hashlib.sha256(array.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self.directory / f"tokens-{digest}.json"

    def _load(self, array: str) -> list[Held]:
        if self.directory is None:
            return []
        path = self._path(array)
        try:
            data, loose = _read_private(path)
        except FileNotFoundError:
            self._written[array] = None
            return []
        except (OSError, ValueError) as exc:
            log.warning("array=%s: token state file %s ignored: %s", array, path, _why(exc))
            return []
        try:
            held = _decode(data, array)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("array=%s: token state file %s ignored: not a token record (%s)",
                        array, path, _why(exc))
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
        if self.directory is None:
            return
        held = [h for owner in sorted(page) for h in page[owner]]
        data = _encode(array, held) if held else None
        if self._written.get(array, b"") == data:
            return
        path = self._path(array)
        try:
            if data is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    _fsync_directory(path.parent)
            else:
                _write_atomically(path, data)
        except OSError as exc:
            (log.debug if self._write_warned else log.warning)(
                "array=%s: could not record its token sets in %s (%s): a crash now may leave "
                "one behind on the array", array, path, _why(exc))
            self._write_warned = True
            return
        self._written[array] = data


class Account:
    """One client's page of the ledger (made by `TokenLedger.account`)."""

    def __init__(self, ledger: TokenLedger, account_id: int, array: str, url: str,
                 user: str) -> None:
        self._ledger = ledger
        self.id = account_id
        self.array, self.url, self.user = array, url, user

    def __repr__(self) -> str:
        return f"Account({self.array!r}, {self.url!r}, user={self.user!r})"

    def held(self, tokens: TokenSet | None = None, *, current: bool = False) -> Held:
        """A `Held` for a set of this array obtained (or, `tokens` None, asked for) now."""
        return Held(self.url, self.user, self._ledger._now(), tokens, current)

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


# --- the file -------------------------------------------------------------------------------------


def default_state_directory(environ: Mapping[str, str] = os.environ) -> str:
    """systemd's `$STATE_DIRECTORY` (its first entry), else `$XDG_STATE_HOME/qsan-exporter`
    (`~/.local/state/qsan-exporter`): the XDG place for state kept across restarts."""
    systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    if systemd:
        return systemd
    base = environ.get("XDG_STATE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "qsan-exporter")


def prepare_directory(directory: Path) -> Path | None:
    """The directory, created 0700 if missing and tightened to 0700 if ours; None (with a
    warning) when it cannot be used: token sets are then counted in memory only."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
        if not stat.S_ISDIR(info.st_mode):
            raise NotADirectoryError("not a directory")
        if info.st_uid != os.geteuid():
            raise PermissionError(f"owned by uid {info.st_uid}, not by this process's uid "
                                  f"{os.geteuid()}")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(directory, 0o700)
            log.info("state directory %s: permissions set to 0700", directory)
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
        for stale in directory.glob(".tokens-*.tmp"):  # a write cut short by a crash
            with contextlib.suppress(OSError):
                stale.unlink()
    except OSError as exc:
        log.warning("state directory %s cannot be used (%s): token sets are not recorded, so "
                    "a crash may leave one behind on each array; set --state.directory to a "
                    "directory of this user's own", directory, _why(exc))
        return None
    return directory


def _read_private(path: Path) -> tuple[bytes, bool]:
    """The file's bytes and whether others could read it; ValueError/OSError when it is not a
    regular file of ours or is too large."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_uid != os.geteuid():
            raise ValueError(f"owned by uid {info.st_uid}, not by this process's uid "
                             f"{os.geteuid()}")
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
    return data, bool(stat.S_IMODE(info.st_mode) & 0o077)


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(prefix=".tokens-", suffix=".tmp", dir=path.parent)  # 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _encode(array: str, held: list[Held]) -> bytes:
    sets: list[dict[str, Any]] = []
    for h in held:
        entry: dict[str, Any] = {"url": h.url, "user": h.user, "since": h.since}
        if h.tokens is None:
            entry["unknown"] = True
        else:
            entry.update(current=h.current, access=h.tokens.access, refresh=h.tokens.refresh,
                         expires_at=h.tokens.expires_at, lifetime=h.tokens.lifetime)
        sets.append(entry)
    document = {"version": FILE_VERSION, "array": array, "sets": sets}
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _decode(data: bytes, array: str) -> list[Held]:
    document = json.loads(data)
    if not isinstance(document, dict) or document.get("version") != FILE_VERSION:
        raise ValueError(f"no version {FILE_VERSION} record")
    if document.get("array") != array:
        raise ValueError("recorded for another array")
    held = []
    for entry in document["sets"]:
        url, user, since = entry["url"], entry["user"], entry["since"]
        if not (isinstance(url, str) and isinstance(user, str) and _number(since)):
            raise ValueError("a set without url, user or time")
        if entry.get("unknown") is True:
            held.append(Held(url, user, float(since)))
            continue
        access, refresh = entry["access"], entry["refresh"]
        expires_at, lifetime = entry["expires_at"], entry["lifetime"]
        if not (isinstance(access, str) and isinstance(refresh, str) and refresh
                and _number(expires_at) and _number(lifetime) and lifetime > 0):
            raise ValueError("a set without its tokens or times")
        tokens = TokenSet(access, refresh, float(expires_at), float(lifetime))
        held.append(Held(url, user, float(since), tokens, entry.get("current") is True))
    return held


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value \
        and abs(value) != float("inf")


def _why(exc: BaseException) -> str:
    """An OSError's reason without its path (named by the caller), else the message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
