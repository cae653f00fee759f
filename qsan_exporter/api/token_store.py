"""How a token set is kept on disk: one owner-only file per array, replaced atomically.

The state directory (`--state.directory`) holds `tokens-<hash of the array's name>.json`, mode
0600, in a directory this process owns with mode 0700 (created so, tightened if ours and looser,
refused with a warning if someone else's). A write goes to a temporary file in the same
directory, is fsynced and renamed over the old one, so a crash leaves the old record or the new
one, never half of one (a leftover temporary file is removed at the next start). Reading trusts
nothing: a file that is not a regular file of ours, is larger than any record, or is not what
`_encode` writes raises, and the ledger (token_ledger.py) logs it and carries on. Tokens never
reach a log: `TokenSet` and `Held` print none, and errors name the path, not the content.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REFRESH_TOKEN_LIFETIME_SECONDS = 180 * 86400.0  # the manual's line 133
MAX_REFRESH_MARGIN_SECONDS = 300.0
MAX_FILE_BYTES = 64 * 1024
FILE_VERSION = 1


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

    @property
    def times(self) -> tuple[float, float]:
        """When it is refreshed and when it expires: what the debug view may show of it."""
        return self.expires_at - self.refresh_margin, self.expires_at

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


class TokenStore:
    """One state directory; `open` makes (or refuses) it; `load`, `encode` and `write` one
    array's record."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def open(cls, directory: Path) -> TokenStore | None:
        """The store in `directory`, or None (with a warning) when it cannot be used."""
        prepared = prepare_directory(directory)
        return None if prepared is None else cls(prepared)

    def path(self, array: str) -> Path:
        digest = hashlib.sha256(array.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return self.directory / f"tokens-{digest}.json"

    def load(self, array: str) -> tuple[bytes, list[Held], bool]:
        """The record's bytes, its sets, and whether others could read it. Raises
        FileNotFoundError when there is none, OSError or ValueError when it cannot be used."""
        data, loose = _read_private(self.path(array))
        try:
            return data, _decode(data, array), loose
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a token record ({type(exc).__name__})") from None

    def encode(self, array: str, held: list[Held]) -> bytes | None:
        """The record of `held` as `write` takes it (None: no sets, no file)."""
        return _encode(array, held) if held else None

    def write(self, array: str, data: bytes | None) -> None:
        """Replace the array's record with `data` (from `encode`), or remove it (None)."""
        path = self.path(array)
        if data is not None:
            _write_atomically(path, data)
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            _fsync_directory(path.parent)


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
                    "directory of this user's own", directory, why(exc))
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


def why(exc: BaseException) -> str:
    """An OSError's reason without its path (named by the caller), else the message."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
