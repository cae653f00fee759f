"""Untrusted input of the configuration: files, YAML, numbers and URLs, checked to the end.

Every check here turns what could crash, hang or eat memory later into a one-line problem now:
a `password_file` of /dev/zero is read 4 KiB deep, not to the end; a 447-byte YAML alias bomb
is refused before it expands; `.nan` is not a number of seconds; a URL is parsed exactly as
requests will parse it, and one that carries credentials is refused without being echoed.
"""

from __future__ import annotations

import logging
import math
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
import yaml

log = logging.getLogger("qsan_exporter.config")

# 300 arrays take ~150 KB and ~10 000 values; these refuse only what cannot be a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_YAML_NODES = 1_000_000
MAX_PASSWORD_FILE_BYTES = 4096


class ConfigError(Exception):
    """The problems found in one configuration file (the exporter's or the web one), each a
    line naming the key, so an admin fixes a file in one pass instead of one per restart."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def report(self, prog: str, path: object, what: str = "configuration") -> str:
        """Every problem, one per line, as the command line prints them."""
        return "\n".join([f"{prog}: {path}: invalid {what}:",
                          *(f"  - {problem}" for problem in self.problems)])


class FileProblem(Exception):
    """A file that cannot be the one meant; its text is one line, safe to show."""


def load_yaml(text: str) -> Any:
    """yaml.safe_load, bounded: raises FileProblem for an alias bomb or an absurd nesting,
    YAMLError for what is not YAML."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)
    except RecursionError:  # PyYAML composes recursively: [[[[... thousands deep
        raise FileProblem("YAML nested too deep") from None


def read_text(path: Path, limit: int, what: str) -> str:
    """A small text file, read at most `limit` bytes deep (never /dev/zero to the end), as
    UTF-8 without NUL bytes; FileProblem naming `what` otherwise."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise FileProblem(f"{what} {str(path)!r} cannot be read ({exc.strerror or exc})") \
            from None
    shown = repr(str(path))
    if len(data) > limit:
        raise FileProblem(f"{what} {shown} is larger than {limit} bytes: not the file meant")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(f"{what} {shown} is not UTF-8 text (byte {exc.start + 1})") from None
    if "\x00" in text:
        raise FileProblem(f"{what} {shown} holds binary data (NUL bytes), not text")
    return text


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a document whose aliases expand past MAX_YAML_NODES (an alias
    bomb of a few hundred bytes expands to billions of nodes)."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        sizes: dict[int, int] = {}
        if node is not None and _expanded_size(node, sizes) > MAX_YAML_NODES:
            raise FileProblem(f"YAML aliases expand to more than {MAX_YAML_NODES} values "
                              "(anchors and * references nested too far)")
        return node


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """Values in `node` with every alias expanded; each shared node is counted once per use
    but walked once (memo by id), so the count is cheap even for a bomb."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = 0  # a recursive alias counts as nothing more
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    sizes[id(node)] = total
    return total


def in_range(value: Any, low: float, high: float) -> bool:
    """A finite number within [low, high] (low itself excluded when it is 0: no zero waits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (value > 0 if low == 0 else value >= low) and value <= high


def range_text(low: float, high: float) -> str:
    return f"> 0 and <= {high:g}" if low == 0 else f"from {low:g} to {high:g}"


def short(value: Any) -> str:
    """A number as messages show it: 26 digits are not worth echoing whole."""
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


def check_url(url: str, where: str, problems: list[str]) -> None:
    """The URL as requests will parse it: http(s), a host, a valid port, nothing else."""
    # A URL with credentials is never echoed: the password would reach the log.
    shown = repr(url) if "@" not in url else "(not shown: it holds credentials)"
    try:
        parts = urlsplit(url)
        port = parts.port
        requests.PreparedRequest().prepare_url(url, None)
    except (ValueError, requests.RequestException, urllib3.exceptions.HTTPError):
        problems.append(f"{where}: url {shown} is not a valid URL (scheme://host[:port]; "
                        "an IPv6 address goes in brackets: https://[fd00::1])")
        return
    if parts.username is not None or parts.password is not None:
        problems.append(f"{where}: url must not hold credentials (user:password@host): set "
                        "username, and password_file (or password), instead")
    elif parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{where}: url {shown} must be http(s)://host[:port]")
    elif parts.path not in ("", "/") or parts.query or parts.fragment:
        problems.append(f"{where}: url must be scheme + host[:port] only, without a path")
    elif port == 0:
        problems.append(f"{where}: url {shown} has an invalid port (1-65535)")


def warn_if_others_can_read(path: Path, what: str) -> None:
    """A secret file anyone on the host can read is worth a warning, not a refusal."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) and mode & stat.S_IROTH:
        log.warning("%s %s is readable by every user on this host; chmod o-r it", what, path)
