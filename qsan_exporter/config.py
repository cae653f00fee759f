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
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from qsan_exporter.config_hints import ENV_RE, did_you_mean, warn_if_shell_style
from qsan_exporter.config_input import (
    MAX_CONFIG_BYTES,
    MAX_PASSWORD_FILE_BYTES,
    ConfigError,
    FileProblem,
    load_yaml,
    read_text,
    warn_if_others_can_read,
)
from qsan_exporter.config_settings import (
    ALL_KEYS,
    SETTINGS,
    backoff_max_default,
    check_array,
    check_value,
    default,
)

__all__ = ["ALL_KEYS", "ArrayConfig", "Config", "ConfigError", "load_config", "parse_config"]

log = logging.getLogger(__name__)

_ENV_RE = ENV_RE  # ${VAR}, defined with the hints that explain the forms it does not expand


class _FromInterval(float):
    """The type of `_FROM_INTERVAL`: a float, so the field is one, yet told apart from any
    value given (a given NaN or 0 is checked and refused, never taken for "not given")."""


_FROM_INTERVAL = _FromInterval("nan")


@dataclass(frozen=True)
class ArrayConfig:
    """One array's settings, checked when built (config_settings.py holds each key's type,
    range and default): an instance is valid, whoever builds it."""

    name: str
    url: str
    username: str
    password: str = field(repr=False)
    password_encoding: str = default("password_encoding")
    api: str = default("api")
    product: str = default("product")
    verify_tls: bool = default("verify_tls")
    ca_file: str | None = None
    timeout_seconds: float = default("timeout_seconds")
    interval_seconds: float = default("interval_seconds")
    collectors: tuple[str, ...] = default("collectors")
    collector_intervals: Mapping[str, float] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    timezone: str = default("timezone")
    max_concurrent_requests: int = default("max_concurrent_requests")
    # Not given: backoff_max_default(interval_seconds), set when built.
    backoff_max_seconds: float = _FROM_INTERVAL
    max_response_mib: float = default("max_response_mib")

    def __post_init__(self) -> None:
        if isinstance(self.backoff_max_seconds, _FromInterval):
            object.__setattr__(self, "backoff_max_seconds",
                               backoff_max_default(self.interval_seconds))
        where = f"array {self.name!r}"
        problems: list[str] = []
        values = {f.name: getattr(self, f.name) for f in fields(self)
                  if getattr(self, f.name) is not None}
        for key, value in values.items():
            check_value(key, dict(value) if isinstance(value, Mapping) else value, where,
                        problems)
        check_array(values, where, problems, 0)
        if problems:
            raise ConfigError(problems)

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


_FIELDS = frozenset(f.name for f in fields(ArrayConfig))


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
        if key not in SETTINGS:
            problems.append(f"defaults.{key}: unknown key{did_you_mean(key, SETTINGS)}")
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
        if key not in ALL_KEYS:
            problems.append(f"{where}: unknown key {key!r}{did_you_mean(key, ALL_KEYS)}")
    # An array that names its own credential source does not inherit the defaults' one.
    merged = {k: v for k, v in defaults.items() if k in SETTINGS}
    if "password" in raw or "password_file" in raw:
        merged.pop("password", None)
        merged.pop("password_file", None)
    merged.update({k: v for k, v in raw.items() if k in ALL_KEYS})
    values: dict[str, Any] = {}
    for key, value in merged.items():
        warn_if_shell_style(value, key, where)
        value = _expand_env(value, key, where, problems)
        if check_value(key, value, where, problems):
            values[key] = value
    password: list[str | None] = []
    check_array(values, where, problems, before,
                lambda: password.append(_resolve_password(values, where, problems, base_dir)))
    ca_file = values.get("ca_file")
    if ca_file and base_dir is not None and not _readable(base_dir / ca_file):
        problems.append(f"{where}: ca_file {ca_file!r} cannot be read")
    if len(problems) > before:
        return None
    return _build(values, password[0] or "", base_dir)


def _build(values: dict[str, Any], password: str, base_dir: Path | None) -> ArrayConfig:
    """The checked values as an ArrayConfig; a key not given keeps the table's default."""
    given = {k: v for k, v in values.items() if k in _FIELDS}
    ca_file = values.get("ca_file")
    if ca_file and base_dir is not None:
        given["ca_file"] = str(base_dir / ca_file)
    for key in ("timeout_seconds", "interval_seconds", "backoff_max_seconds",
                "max_response_mib"):
        if key in given:
            given[key] = float(given[key])
    if "collectors" in given:
        given["collectors"] = tuple(dict.fromkeys(given["collectors"]))
    if "collector_intervals" in given:
        given["collector_intervals"] = {k: float(v)
                                        for k, v in given["collector_intervals"].items()}
    if "labels" in given:
        given["labels"] = {k: str(v) for k, v in given["labels"].items()}
    return ArrayConfig(**{**given, "url": values["url"].rstrip("/"), "password": password})


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
