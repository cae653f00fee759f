"""Configuration: YAML -> frozen dataclasses, with every problem reported at once.

`load_config(path)` returns a `Config` or raises `ConfigError` whose `problems` list names the
key and the array of each problem, so an admin fixes a file in one pass instead of one error per
restart. Defaults are merged into each array; `${ENV}` is expanded in every string; a
`password_file` is read here so the rest of the program only ever sees a resolved password.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from qsan_exporter.api.answer import DEFAULT_MAX_RESPONSE_MIB
from qsan_exporter.config_hints import ENV_RE, did_you_mean, warn_if_shell_style
from qsan_exporter.config_input import (
    MAX_CONFIG_BYTES,
    MAX_PASSWORD_FILE_BYTES,
    FileProblem,
    check_url,
    in_range,
    load_yaml,
    range_text,
    read_text,
    short,
    warn_if_others_can_read,
)
from qsan_exporter.metrics import COLLECTOR_NAMES

log = logging.getLogger(__name__)

_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ENV_RE = ENV_RE  # ${VAR}, defined with the hints that explain the forms it does not expand
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


def load_config(path: str | os.PathLike[str], *, only: str | None = None) -> Config:
    """Read, validate and resolve a config file. Raises ConfigError listing every problem.

    `only`: resolve just the array of that name (`dump --array`), so another array's unset
    secret does not stop a one-array tool."""
    path = Path(path)
    try:
        text = read_text(path, MAX_CONFIG_BYTES, "config file")
    except FileProblem as exc:
        raise ConfigError([str(exc)]) from None
    try:
        document = load_yaml(text)
    except FileProblem as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        # PyYAML says "found character '\t' that cannot start any token": say it plainly.
        tab = (": a tab character; YAML indents with spaces only"
               if "'\\t'" in str(getattr(exc, "problem", "")) else "")
        raise ConfigError([f"{path}: not valid YAML{where}{tab}"]) from None
    config = parse_config(document, base_dir=path.parent, only=only)
    _warn_if_world_readable(path, document)
    return config


def parse_config(document: Any, *, base_dir: Path | None = None,
                 only: str | None = None) -> Config:
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ConfigError(["config: the top level must be a mapping with 'arrays:'"])
    for key in document:
        if key not in ("defaults", "arrays"):
            problems.append(f"config: unknown top-level key {key!r}"
                            f"{did_you_mean(key, ('defaults', 'arrays'))} "
                            "(expected defaults, arrays)")
    defaults = document.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append("defaults: must be a mapping")
        defaults = {}
    for key in defaults:
        if key not in _SETTINGS:
            problems.append(f"defaults.{key}: unknown key{did_you_mean(key, _SETTINGS)}")
    raw_arrays = document.get("arrays")
    if not isinstance(raw_arrays, list) or not raw_arrays:
        problems.append("arrays: must be a non-empty list of arrays")
        raw_arrays = []
    if only is not None:
        raw_arrays = [r for r in raw_arrays if isinstance(r, dict) and r.get("name") == only]

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
            problems.append(f"{where}: unknown key {key!r}{did_you_mean(key, _ALL_KEYS)}")
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
        check_url(values["url"], where, problems)
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
        warn_if_shell_style(value, key, where)
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
        if key in _RANGES and not in_range(value, *_RANGES[key]):
            problems.append(f"{where}: {key} must be {range_text(*_RANGES[key])}, "
                            f"got {short(value)}")
            continue
        values[key] = value
    return values


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
        elif not in_range(seconds, low, high):
            problems.append(f"{where}: collector_intervals.{name} must be a number of seconds "
                            f"{range_text(low, high)}")
        elif seconds < interval:
            problems.append(f"{where}: collector_intervals.{name} must be >= interval_seconds")
    backoff_max = values.get("backoff_max_seconds", max(600.0, interval))
    if backoff_max < interval:
        problems.append(f"{where}: backoff_max_seconds must be >= interval_seconds")


def _check_collectors(values: dict[str, Any], where: str, problems: list[str]) -> None:
    collectors = values.get("collectors", list(COLLECTOR_NAMES))
    for name in collectors:
        if not isinstance(name, str) or name not in COLLECTOR_NAMES:
            problems.append(f"{where}: collectors: unknown collector {short(name)} "
                            f"(known: {', '.join(COLLECTOR_NAMES)})")
    if not collectors:
        problems.append(f"{where}: collectors must not be empty")


def _check_labels(labels: dict[Any, Any], where: str, problems: list[str]) -> None:
    for label, value in labels.items():
        if not isinstance(label, str) or not _LABEL_RE.match(label) or label.startswith("__"):
            problems.append(f"{where}: labels: {short(label)} is not a valid Prometheus label "
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
        problems.append(f"{where}: timezone {short(zone)} is not a known IANA time zone")
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
        except FileProblem as exc:
            problems.append(f"{where}: {exc}")
            return None
        warn_if_others_can_read(path, "password_file")
        # A trailing newline is an editor's, not part of the password.
        return text.rstrip("\r\n")
    if "password" in values:
        return values["password"]
    problems.append(f"{where}: password or password_file is required")
    return None


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
