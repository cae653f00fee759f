"""Configuration: YAML -> frozen dataclasses, with every problem reported at once.

`load_config(path)` returns a `Config` or raises `ConfigError` whose `problems` list names the
key and the array of each problem, so an admin fixes a file in one pass instead of one error per
restart. Defaults are merged into each array; `${ENV}` is expanded in every string; a
`password_file` is read here so the rest of the program only ever sees a resolved password.
"""

from __future__ import annotations

import logging
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
import urllib3
import yaml

from qsan_exporter.api.answer import DEFAULT_MAX_RESPONSE_MIB
from qsan_exporter.metrics import COLLECTOR_NAMES

log = logging.getLogger(__name__)

# 300 arrays take ~150 KB and ~10 000 values; these refuse only what cannot be a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_YAML_NODES = 1_000_000
MAX_PASSWORD_FILE_BYTES = 4096
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Labels the exporter sets itself; a user label with one of these names would clash.
_RESERVED_LABELS = frozenset(
    {"array", "job", "instance", "collector", "endpoint", "code", "le", "quantile"}
)


@dataclass(frozen=True)
class ArrayConfig:
    name: str
    url: str
    username: str
    password: str = field(repr=False)
    password_encoding: str = "plain"
    api: str = "auto"
    product: str = "auto"
    verify_tls: bool = True
    ca_file: str | None = None
    timeout_seconds: float = 10.0
    interval_seconds: float = 60.0
    collectors: tuple[str, ...] = COLLECTOR_NAMES
    collector_intervals: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    max_concurrent_requests: int = 1
    backoff_max_seconds: float = 600.0
    max_response_mib: float = DEFAULT_MAX_RESPONSE_MIB

    @property
    def poll_deadline_seconds(self) -> float:
        """A poll must end before the next is due: 80 % of the interval."""
        return self.interval_seconds * 0.8

    def interval_for(self, collector: str) -> float:
        return self.collector_intervals.get(collector, self.interval_seconds)

    @property
    def verify(self) -> bool | str:
        """The `verify` argument for requests: a CA bundle path, or on/off."""
        if not self.verify_tls:
            return False
        return self.ca_file or True


@dataclass(frozen=True)
class Config:
    arrays: tuple[ArrayConfig, ...]

    def array(self, name: str) -> ArrayConfig | None:
        return next((a for a in self.arrays if a.name == name), None)


class ConfigError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))

    def report(self, prog: str, path: object) -> str:
        """Every problem, one per line, as the command line prints them."""
        return "\n".join([f"{prog}: {path}: invalid configuration:",
                          *(f"  - {problem}" for problem in self.problems)])


# key -> (python types accepted, description for messages)
_SETTINGS: dict[str, tuple[tuple[type, ...], str]] = {
    "username": ((str,), "a string"),
    "password": ((str,), "a string"),
    "password_file": ((str,), "a file path"),
    "password_encoding": ((str,), "plain or base64"),
    "api": ((str,), "unified, legacy or auto"),
    "product": ((str,), "san, fas, nas or auto"),
    "verify_tls": ((bool,), "true or false"),
    "ca_file": ((str,), "a file path"),
    "timeout_seconds": ((int, float), "a number of seconds"),
    "interval_seconds": ((int, float), "a number of seconds"),
    "collectors": ((list,), f"a list of {', '.join(COLLECTOR_NAMES)}"),
    "collector_intervals": ((dict,), "a mapping of collector name to seconds"),
    "labels": ((dict,), "a mapping of label name to value"),
    "timezone": ((str,), "an IANA time zone such as Europe/Berlin"),
    "max_concurrent_requests": ((int,), "a whole number >= 1 (requests in flight to the array)"),
    "backoff_max_seconds": ((int, float), "a number of seconds"),
    "max_response_mib": ((int, float), "a size in MiB (the largest answer read from the array)"),
}
# (low, high): every number is finite and within these (low excluded when it is 0).
_DAY, _WEEK = 86400.0, 7 * 86400.0
_RANGES: dict[str, tuple[float, float]] = {
    "timeout_seconds": (0, 3600.0),
    "interval_seconds": (0, _DAY),
    "backoff_max_seconds": (0, _WEEK),
    "max_concurrent_requests": (1, 64),
    "max_response_mib": (0, 1024.0),
}
_COLLECTOR_INTERVAL_RANGE = (0, _WEEK)
_ARRAY_ONLY = {"name": ((str,), "a string"), "url": ((str,), "a URL such as https://10.1.2.3")}
_ALL_KEYS = {**_SETTINGS, **_ARRAY_ONLY}
_CHOICES = {
    "password_encoding": ("plain", "base64"),
    "api": ("unified", "legacy", "auto"),
    "product": ("san", "fas", "nas", "auto"),
}


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read, validate and resolve a config file. Raises ConfigError listing every problem."""
    path = Path(path)
    text = read_text(path, MAX_CONFIG_BYTES, "config file")
    try:
        document = yaml.load(text, Loader=_BoundedLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{path}: not valid YAML{where}"]) from None
    except _TooLarge as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    config = parse_config(document, base_dir=path.parent)
    _warn_if_world_readable(path, document)
    return config


def read_text(path: Path, limit: int, what: str) -> str:
    """A small text file, read at most `limit` bytes deep (never /dev/zero to the end), as
    UTF-8 without NUL bytes; ConfigError naming `what` otherwise."""
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise ConfigError([f"{what} {str(path)!r} cannot be read ({exc.strerror or exc})"]) \
            from None
    shown = repr(str(path))
    if len(data) > limit:
        raise ConfigError([f"{what} {shown} is larger than {limit} bytes: not the file meant"])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{what} {shown} is not UTF-8 text (byte {exc.start + 1})"]) from None
    if "\x00" in text:
        raise ConfigError([f"{what} {shown} holds binary data (NUL bytes), not text"])
    return text


class _TooLarge(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a document whose aliases expand past MAX_YAML_NODES (an alias
    bomb of a few hundred bytes expands to billions of nodes)."""

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        sizes: dict[int, int] = {}
        if node is not None and _expanded_size(node, sizes) > MAX_YAML_NODES:
            raise _TooLarge(f"YAML aliases expand to more than {MAX_YAML_NODES} values "
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


def parse_config(document: Any, *, base_dir: Path | None = None) -> Config:
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ConfigError(["config: the top level must be a mapping with 'arrays:'"])
    for key in document:
        if key not in ("defaults", "arrays"):
            problems.append(f"config: unknown top-level key {key!r} (expected defaults, arrays)")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("defaults: must be a mapping")
        defaults = {}
    for key in defaults:
        if key not in _SETTINGS:
            problems.append(f"defaults.{key}: unknown key")
    raw_arrays = document.get("arrays")
    if not isinstance(raw_arrays, list) or not raw_arrays:
        problems.append("arrays: must be a non-empty list of arrays")
        raw_arrays = []

    arrays: list[ArrayConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_arrays):
        where = f"arrays[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping with name and url")
            continue
        name = raw.get("name")
        if isinstance(name, str) and name:
            where = f"array {name!r}"
            if name in seen:
                problems.append(f"{where}: duplicate name (names must be unique)")
            seen.add(name)
        array = _parse_array(raw, defaults, where, problems, base_dir)
        if array is not None:
            arrays.append(array)
    if problems:
        raise ConfigError(problems)
    return Config(arrays=tuple(arrays))


def _parse_array(
    raw: dict[str, Any],
    defaults: dict[str, Any],
    where: str,
    problems: list[str],
    base_dir: Path | None,
) -> ArrayConfig | None:
    before = len(problems)
    for key in raw:
        if key not in _SETTINGS and key not in _ARRAY_ONLY:
            problems.append(f"{where}: unknown key {key!r}")
    # An array that names its own credential source does not inherit the defaults' one.
    merged = {k: v for k, v in defaults.items() if k in _SETTINGS}
    if "password" in raw or "password_file" in raw:
        merged.pop("password", None)
        merged.pop("password_file", None)
    merged.update({k: v for k, v in raw.items() if k in _SETTINGS or k in _ARRAY_ONLY})
    values = _typed_values(merged, where, problems)

    for required in ("name", "url", "username"):
        if not values.get(required) and not any(required in p for p in problems[before:]):
            problems.append(f"{where}: {required} is required")
    if values.get("url"):
        _check_url(values["url"], where, problems)
    password = _resolve_password(values, where, problems, base_dir)
    _check_timing(values, where, problems)
    _check_collectors(values, where, problems)
    _check_labels(values.get("labels", {}), where, problems)
    _check_other(values, where, problems, base_dir)
    if len(problems) > before:
        return None
    return _build(values, password or "", base_dir)


def _typed_values(merged: dict[str, Any], where: str, problems: list[str]) -> dict[str, Any]:
    """Each value of the right type, each number finite and in its sane range."""
    values: dict[str, Any] = {}
    for key, value in merged.items():
        accepted, description = _ALL_KEYS[key]
        value = _expand_env(value, key, where, problems)
        if isinstance(value, bool) and bool not in accepted:
            problems.append(f"{where}: {key} must be {description}, got {value!r}")
            continue
        if not isinstance(value, accepted):
            problems.append(f"{where}: {key} must be {description}, got {type(value).__name__}")
            continue
        if key in _CHOICES and value not in _CHOICES[key]:
            problems.append(f"{where}: {key} must be one of {', '.join(_CHOICES[key])}")
            continue
        if key in _RANGES and not _in_range(value, *_RANGES[key]):
            problems.append(f"{where}: {key} must be {_range_text(*_RANGES[key])}, "
                            f"got {_short(value)}")
            continue
        values[key] = value
    return values


def _in_range(value: Any, low: float, high: float) -> bool:
    """A finite number within [low, high] (low itself excluded when it is 0: no zero waits)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return (value > 0 if low == 0 else value >= low) and value <= high


def _range_text(low: float, high: float) -> str:
    return f"> 0 and <= {high:g}" if low == 0 else f"from {low:g} to {high:g}"


def _short(value: Any) -> str:
    """A number as messages show it: 26 digits are not worth echoing whole."""
    text = repr(value)
    return text if len(text) <= 20 else text[:17] + "..."


def _check_url(url: str, where: str, problems: list[str]) -> None:
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


def _check_timing(values: dict[str, Any], where: str, problems: list[str]) -> None:
    timeout = values.get("timeout_seconds", 10.0)
    interval = values.get("interval_seconds", 60.0)
    if timeout >= interval:
        problems.append(f"{where}: timeout_seconds ({timeout}) must be below interval_seconds "
                        f"({interval}) so a poll can finish before the next one is due")
    low, high = _COLLECTOR_INTERVAL_RANGE
    for name, seconds in values.get("collector_intervals", {}).items():
        if name not in COLLECTOR_NAMES:
            problems.append(f"{where}: collector_intervals: unknown collector {name!r}")
        elif not _in_range(seconds, low, high):
            problems.append(f"{where}: collector_intervals.{name} must be a number of seconds "
                            f"{_range_text(low, high)}")
        elif seconds < interval:
            problems.append(f"{where}: collector_intervals.{name} must be >= interval_seconds")
    backoff_max = values.get("backoff_max_seconds", max(600.0, interval))
    if backoff_max < interval:
        problems.append(f"{where}: backoff_max_seconds must be >= interval_seconds")


def _check_collectors(values: dict[str, Any], where: str, problems: list[str]) -> None:
    collectors = values.get("collectors", list(COLLECTOR_NAMES))
    for name in collectors:
        if not isinstance(name, str) or name not in COLLECTOR_NAMES:
            problems.append(f"{where}: collectors: unknown collector {_short(name)} "
                            f"(known: {', '.join(COLLECTOR_NAMES)})")
    if not collectors:
        problems.append(f"{where}: collectors must not be empty")


def _check_labels(labels: dict[Any, Any], where: str, problems: list[str]) -> None:
    for label, value in labels.items():
        if not isinstance(label, str) or not _LABEL_RE.match(label) or label.startswith("__"):
            problems.append(f"{where}: labels: {_short(label)} is not a valid Prometheus label "
                            "name")
        elif label in _RESERVED_LABELS:
            problems.append(f"{where}: labels: {label!r} is reserved by the exporter")
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            problems.append(f"{where}: labels.{label} must be a string")


def _check_other(values: dict[str, Any], where: str, problems: list[str],
                 base_dir: Path | None) -> None:
    zone = values.get("timezone", "UTC")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        problems.append(f"{where}: timezone {_short(zone)} is not a known IANA time zone")
    ca_file = values.get("ca_file")
    if ca_file and base_dir is not None and not _readable(base_dir / ca_file):
        problems.append(f"{where}: ca_file {ca_file!r} cannot be read")


def _build(values: dict[str, Any], password: str, base_dir: Path | None) -> ArrayConfig:
    ca_file = values.get("ca_file")
    interval = float(values.get("interval_seconds", 60.0))
    return ArrayConfig(
        name=values["name"],
        url=values["url"].rstrip("/"),
        username=values["username"],
        password=password,
        password_encoding=values.get("password_encoding", "plain"),
        api=values.get("api", "auto"),
        product=values.get("product", "auto"),
        verify_tls=values.get("verify_tls", True),
        ca_file=str(base_dir / ca_file) if ca_file and base_dir is not None else ca_file,
        timeout_seconds=float(values.get("timeout_seconds", 10.0)),
        interval_seconds=interval,
        collectors=tuple(dict.fromkeys(values.get("collectors", COLLECTOR_NAMES))),
        collector_intervals={k: float(v)
                             for k, v in values.get("collector_intervals", {}).items()},
        labels={k: str(v) for k, v in values.get("labels", {}).items()},
        timezone=values.get("timezone", "UTC"),
        max_concurrent_requests=values.get("max_concurrent_requests", 1),
        backoff_max_seconds=float(values.get("backoff_max_seconds", max(600.0, interval))),
        max_response_mib=float(values.get("max_response_mib", DEFAULT_MAX_RESPONSE_MIB)),
    )


def _expand_env(value: Any, key: str, where: str, problems: list[str]) -> Any:
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable not in os.environ:
            problems.append(f"{where}: {key} refers to ${{{variable}}}, which is not set")
            return ""
        return os.environ[variable]

    return _ENV_RE.sub(substitute, value)


def _resolve_password(
    values: dict[str, Any], where: str, problems: list[str], base_dir: Path | None
) -> str | None:
    if "password" in values and "password_file" in values:
        problems.append(f"{where}: set either password or password_file, not both")
        return None
    if "password_file" in values:
        path = Path(values["password_file"])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            text = read_text(path, MAX_PASSWORD_FILE_BYTES, "password_file")
        except ConfigError as exc:
            problems.extend(f"{where}: {problem}" for problem in exc.problems)
            return None
        warn_if_others_can_read(path, "password_file")
        # A trailing newline is an editor's, not part of the password.
        return text.rstrip("\r\n")
    if "password" in values:
        return values["password"]
    problems.append(f"{where}: password or password_file is required")
    return None


def warn_if_others_can_read(path: Path, what: str) -> None:
    """A secret file anyone on the host can read is worth a warning, not a refusal."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if stat.S_ISREG(mode) and mode & stat.S_IROTH:
        log.warning("%s %s is readable by every user on this host; chmod o-r it", what, path)


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


def _warn_if_world_readable(path: Path, document: Any) -> None:
    """An inline password in a file everyone can read is worth a warning, not a refusal."""
    def has_inline_password(node: Any) -> bool:
        if isinstance(node, dict):
            return any(
                (k == "password" and isinstance(v, str) and not _ENV_RE.fullmatch(v.strip()))
                or has_inline_password(v)
                for k, v in node.items()
            )
        if isinstance(node, list):
            return any(has_inline_password(v) for v in node)
        return False

    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & stat.S_IROTH and has_inline_password(document):
        log.warning(
            "config file %s is world-readable and holds an inline password; "
            "use password_file or ${ENV}, or chmod o-r it", path,
        )
