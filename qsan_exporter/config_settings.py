"""The table of per-array settings: one row per key (type, range, choices, default, doc line),
and the checks that read it. The one place a setting's default or limit is written.

`check_value` is the per-key validator; `check_array` the checks across keys. config.py runs
both on a YAML file, and `ArrayConfig` runs them on itself when built, so a program cannot build
an invalid one either. Each problem is one line naming the array and the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qsan_exporter.config_input import check_url, in_range, range_text, short
from qsan_exporter.metrics import COLLECTOR_NAMES

# The largest answer read from an array, by default; why 8 MiB: qsan_exporter/api/answer.py.
DEFAULT_MAX_RESPONSE_MIB = 8.0

_DAY, _WEEK = 86400.0, 7 * 86400.0
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Labels the exporter sets itself; a user label with one of these names would clash.
_RESERVED_LABELS = frozenset(
    {"array", "job", "instance", "collector", "endpoint", "code", "le", "quantile"}
)
COLLECTOR_INTERVAL_RANGE = (0, _WEEK)


def backoff_max_default(interval_seconds: float) -> float:
    """Ten minutes, or the interval when it is longer: a backoff never polls more often."""
    return max(600.0, interval_seconds)


@dataclass(frozen=True)
class Setting:
    types: tuple[type, ...]
    description: str  # as messages say it: "<key> must be <description>"
    doc: str
    default: Any = None  # None: unset unless given (or required, or see the doc line)
    bounds: tuple[float, float] | None = None  # finite, within; low excluded when it is 0
    choices: tuple[str, ...] = ()


_SECONDS = ((int, float), "a number of seconds")
# Keys both `defaults:` and an array may set.
SETTINGS: Mapping[str, Setting] = MappingProxyType({
    "username": Setting((str,), "a string", "the API account (required)"),
    "password": Setting((str,), "a string", "its password; or password_file"),
    "password_file": Setting((str,), "a file path", "a file holding the password"),
    "password_encoding": Setting((str,), "plain or base64", "how the password is sent",
                                 "plain", choices=("plain", "base64")),
    "api": Setting((str,), "unified, legacy or auto", "the array's API", "auto",
                   choices=("unified", "legacy", "auto")),
    "product": Setting((str,), "san, fas, nas or auto", "the product line", "auto",
                       choices=("san", "fas", "nas", "auto")),
    "verify_tls": Setting((bool,), "true or false", "check the array's certificate", True),
    "ca_file": Setting((str,), "a file path", "a CA bundle for the array's certificate"),
    "timeout_seconds": Setting(*_SECONDS, "per request; below interval_seconds", 10.0,
                               bounds=(0, 3600.0)),
    "interval_seconds": Setting(*_SECONDS, "between polls", 60.0, bounds=(0, _DAY)),
    "collectors": Setting((list, tuple), f"a list of {', '.join(COLLECTOR_NAMES)}",
                          "the areas polled (default: all)", COLLECTOR_NAMES),
    "collector_intervals": Setting((dict,), "a mapping of collector name to seconds",
                                   "a slower interval per collector"),
    "labels": Setting((dict,), "a mapping of label name to value",
                      "labels added to every series of the array"),
    "timezone": Setting((str,), "an IANA time zone such as Europe/Berlin",
                        "the zone the array's clock shows", "UTC"),
    "max_concurrent_requests": Setting(
        (int,), "a whole number >= 1 (requests in flight to the array)",
        "requests in flight to the array", 1, bounds=(1, 64)),
    "backoff_max_seconds": Setting(*_SECONDS, "the longest wait between failing polls "
                                   "(default: 600, or interval_seconds when longer)",
                                   bounds=(0, _WEEK)),
    "max_response_mib": Setting(
        (int, float), "a size in MiB (the largest answer read from the array)",
        "the largest answer read from the array", DEFAULT_MAX_RESPONSE_MIB,
        bounds=(0, 1024.0)),
})
# Keys only an array sets.
ARRAY_ONLY: Mapping[str, Setting] = MappingProxyType({
    "name": Setting((str,), "a string", "the array label (required, unique)"),
    "url": Setting((str,), "a URL such as https://10.1.2.3", "scheme://host[:port] (required)"),
})
ALL_KEYS: Mapping[str, Setting] = MappingProxyType({**SETTINGS, **ARRAY_ONLY})


def default(key: str) -> Any:
    return SETTINGS[key].default


def check_value(key: str, value: Any, where: str, problems: list[str]) -> bool:
    """Type, choice and range of one value; False (and one problem) when it is not valid."""
    setting = ALL_KEYS[key]
    if isinstance(value, bool) and bool not in setting.types:
        problems.append(f"{where}: {key} must be {setting.description}, got {value!r}")
    elif not isinstance(value, setting.types):
        problems.append(f"{where}: {key} must be {setting.description}, "
                        f"got {type(value).__name__}")
    elif setting.choices and value not in setting.choices:
        problems.append(f"{where}: {key} must be one of {', '.join(setting.choices)}")
    elif setting.bounds is not None and not in_range(value, *setting.bounds):
        problems.append(f"{where}: {key} must be {range_text(*setting.bounds)}, "
                        f"got {short(value)}")
    else:
        return True
    return False


def check_array(values: Mapping[str, Any], where: str, problems: list[str], before: int,
                password: Callable[[], object] = lambda: None) -> None:
    """The checks across keys, in the order messages are reported; `password` resolves the
    credential at its place in that order (the parser reads password_file there)."""
    for required in ("name", "url", "username"):
        if not values.get(required) and not any(required in p for p in problems[before:]):
            problems.append(f"{where}: {required} is required")
    if values.get("url"):
        check_url(values["url"], where, problems)
    password()
    _check_timing(values, where, problems)
    _check_collectors(values, where, problems)
    _check_labels(values.get("labels", {}), where, problems)
    zone = values.get("timezone", default("timezone"))
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        problems.append(f"{where}: timezone {short(zone)} is not a known IANA time zone")


def _check_timing(values: Mapping[str, Any], where: str, problems: list[str]) -> None:
    timeout = values.get("timeout_seconds", default("timeout_seconds"))
    interval = values.get("interval_seconds", default("interval_seconds"))
    if timeout >= interval:
        problems.append(f"{where}: timeout_seconds ({timeout}) must be below interval_seconds "
                        f"({interval}) so a poll can finish before the next one is due")
    low, high = COLLECTOR_INTERVAL_RANGE
    for name, seconds in values.get("collector_intervals", {}).items():
        if name not in COLLECTOR_NAMES:
            problems.append(f"{where}: collector_intervals: unknown collector {name!r}")
        elif not in_range(seconds, low, high):
            problems.append(f"{where}: collector_intervals.{name} must be a number of seconds "
                            f"{range_text(low, high)}")
        elif seconds < interval:
            problems.append(f"{where}: collector_intervals.{name} must be >= interval_seconds")
    backoff_max = values.get("backoff_max_seconds", backoff_max_default(interval))
    if backoff_max < interval:
        problems.append(f"{where}: backoff_max_seconds must be >= interval_seconds")


def _check_collectors(values: Mapping[str, Any], where: str, problems: list[str]) -> None:
    collectors = values.get("collectors", default("collectors"))
    for name in collectors:
        if not isinstance(name, str) or name not in COLLECTOR_NAMES:
            problems.append(f"{where}: collectors: unknown collector {short(name)} "
                            f"(known: {', '.join(COLLECTOR_NAMES)})")
    if not collectors:
        problems.append(f"{where}: collectors must not be empty")


def _check_labels(labels: Mapping[Any, Any], where: str, problems: list[str]) -> None:
    for label, value in labels.items():
        if not isinstance(label, str) or not _LABEL_RE.match(label) or label.startswith("__"):
            problems.append(f"{where}: labels: {short(label)} is not a valid Prometheus label "
                            "name")
        elif label in _RESERVED_LABELS:
            problems.append(f"{where}: labels: {label!r} is reserved by the exporter")
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            problems.append(f"{where}: labels.{label} must be a string")
