"""Hints for the config's most common slips: a misspelt key, shell syntax in a secret.

Kept apart from config.py's validation: these only explain, they never decide what is valid.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("qsan_exporter.config")

ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # the one form config.py expands
_SHELL_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)|\$\{([A-Za-z_][A-Za-z0-9_]*)[:?+=-][^}]*\}")


def did_you_mean(key: object, known: Iterable[str]) -> str:
    """' (did you mean 'password'?)' for a near miss, '' otherwise."""
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def warn_if_shell_style(value: Any, key: str, where: str) -> None:
    """`$VAR` and `${VAR:-default}` are shell syntax this file does not expand: taken as they
    are, they become the password and the array rejects the login (and locks the account)."""
    if key not in ("username", "password", "password_file") or not isinstance(value, str):
        return
    if not _SHELL_RE.search(ENV_RE.sub("", value)):
        return
    whole = _SHELL_RE.fullmatch(value.strip())
    # Name the variable only when the whole value is a reference: a real password that merely
    # contains a "$" is never quoted.
    hint = f"write ${{{whole.group(1) or whole.group(2)}}}" if whole else "write ${VAR}"
    log.warning("%s: %s looks like shell expansion ($VAR or ${VAR:-default}) but is used "
                "literally: only the ${VAR} form is expanded, without defaults; %s",
                where, key, hint)
